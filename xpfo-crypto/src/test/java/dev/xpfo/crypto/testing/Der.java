// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.crypto.testing;

import java.io.ByteArrayOutputStream;

/** TEST ONLY: hand-built DER, for keys and parameters no provider would produce. */
public final class Der {
    private Der() {
    }

    /** A DER element: {@code tag}, its definite length (up to 65,535 bytes), then the parts one after another. */
    public static byte[] der(int tag, byte[]... parts) {
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        for (byte[] part : parts) {
            body.writeBytes(part);
        }
        int length = body.size();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.write(tag);
        if (length >= 256) {
            out.write(0x82);
            out.write(length >> 8);
        } else if (length >= 128) {
            out.write(0x81);
        }
        out.write(length & 0xff);
        out.writeBytes(body.toByteArray());
        return out.toByteArray();
    }
}
