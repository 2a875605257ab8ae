// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.secret;

import com.sun.management.HotSpotDiagnosticMXBean;
import dev.xpfo.pool.PagePool;

import java.lang.management.ManagementFactory;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Run by {@link HeapDumpTest}: holds a random marker in a {@link Secret} (made from a {@code byte[]},
 * which is wiped) and another in an ordinary {@code byte[]}, dumps its heap to {@code args[0]}, then
 * prints what the secret holds so the test can tell that the secret really had the marker.
 */
public final class HeapDumpChild {
    /** The control: a marker on the heap, where a heap dump must find it. */
    static byte[] control;

    public static void main(String[] args) throws Exception {
        byte[] marker = new byte[32];
        ThreadLocalRandom.current().nextBytes(marker);
        control = new byte[32];
        ThreadLocalRandom.current().nextBytes(control);
        System.out.println("secret-marker " + hex(marker));
        System.out.println("control-marker " + hex(control));
        try (PagePool pool = PagePool.open(); SecretStore store = SecretStore.open(pool);
             Secret secret = store.copyOf(marker)) {
            HotSpotDiagnosticMXBean diagnostics = ManagementFactory.getPlatformMXBean(HotSpotDiagnosticMXBean.class);
            diagnostics.dumpHeap(args[0], false);
            byte[] after = new byte[32];
            secret.read(0, after, 0, 32);
            System.out.println("secret-after-dump " + hex(after));
        }
    }

    private static String hex(byte[] bytes) {
        StringBuilder text = new StringBuilder();
        for (byte b : bytes) {
            text.append(Character.forDigit((b >> 4) & 0xf, 16)).append(Character.forDigit(b & 0xf, 16));
        }
        return text.toString();
    }
}
