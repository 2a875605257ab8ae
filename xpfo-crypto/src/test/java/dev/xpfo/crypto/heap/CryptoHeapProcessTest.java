// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.crypto.heap;

import dev.xpfo.crypto.CryptoHeapException;
import dev.xpfo.crypto.libcrypto.LibCrypto;
import dev.xpfo.testing.TestJvm;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** libcrypto's heap over a whole process's life: installing, refusing, and exiting. */
class CryptoHeapProcessTest {
    /**
     * A key made from a {@code Secret} before any XPFO provider exists (the public
     * {@code XpfoSecretKey.fromSecret}) installs libcrypto's heap first: its bytes never reach the
     * ordinary heap, and the provider made afterwards works.
     */
    @Test
    void aKeyMadeBeforeTheProviderStillLivesInTheHeap() throws Exception {
        TestJvm.Result result = TestJvm.run(KeyBeforeProvider.class);
        assertThat(result.exitCode()).as(result.output()).isZero();
        assertThat(result.output()).contains("key made first: XpfoSecretKey[AES, 256 bits]; provider XPFO");
    }

    /**
     * In a JVM of its own, where nothing else uses libcrypto (in the test JVM other tests' cleaners free
     * libcrypto objects meanwhile): 4 threads x 20,000 allocations and frees leave the bytes in use,
     * foreign frees and failed allocations as they were.
     */
    @Test
    void fourThreadsAllocatingAndFreeingLeaveNothingBehind() throws Exception {
        TestJvm.Result result = TestJvm.run(Churn.class);
        assertThat(result.exitCode()).as(result.output()).isZero();
        assertThat(result.output()).contains("in use before and after: ");
    }

    @Test
    void aProcessThatUsedLibcryptoOnItsHeapExitsNormally() throws Exception {
        // libcrypto frees per-thread state from thread-exit destructors and at exit, after the JVM
        // detached the thread: a Java allocator would abort here ("Could not attach thread for upcall")
        TestJvm.Result result = TestJvm.run(UseAndExit.class);
        assertThat(result.output()).contains("used libcrypto");
        assertThat(result.exitCode()).as(result.output()).isZero();
    }

    @Test
    void libcryptoUsedBeforeInstallingIsRefused() throws Exception {
        TestJvm.Result result = TestJvm.run(AllocateFirst.class);
        assertThat(result.exitCode()).as(result.output()).isEqualTo(3);
        assertThat(result.output()).contains("refused twice: libcrypto was used before xpfo could take over its heap")
                .contains("CRYPTO_set_mem_functions returned 0").contains("Remedy");
    }

    @Test
    void anotherAllocatorHookedIntoLibcryptoIsRefusedNotReplaced() throws Exception {
        // CRYPTO_set_mem_functions would return 1 over somebody else's hook: only the defaults check sees it
        TestJvm.Result result = TestJvm.run(HookedByAnother.class);
        assertThat(result.exitCode()).as(result.output()).isEqualTo(3);
        assertThat(result.output()).contains("refused: libcrypto was used before xpfo could take over its heap")
                .contains("CRYPTO_get_mem_functions returned another allocator");
    }

    /**
     * A busy server holding ever more keys (every JSSE key share is an XPFO key until the GC runs) must not
     * lock all memory: at the maximum ({@value CryptoHeap#MAX_BYTES_PROPERTY}, 4 MiB here) key generation
     * fails with an error naming the heap and the remedy, and the heap holds no chunk past the maximum.
     */
    @Test
    void theHeapStopsGrowingAtItsMaximumWithAClearError() throws Exception {
        TestJvm.Result result = TestJvm.run(FillToMaximum.class, "4m");
        assertThat(result.exitCode()).as(result.output()).isEqualTo(3);
        assertThat(result.output()).contains("full after ").contains("within the maximum: true")
                .contains("libcrypto's secret-memory heap is full").contains("maximum 4194304 bytes")
                .contains("Remedy: raise RLIMIT_MEMLOCK").contains("-Dxpfo.crypto.heap.maxBytes");
    }

    @Test
    void aMaximumThatIsNoSizeIsRefused() throws Exception {
        TestJvm.Result result = TestJvm.run(FillToMaximum.class, "lots");
        assertThat(result.exitCode()).as(result.output()).isEqualTo(4);
        assertThat(result.output()).contains("refused: xpfo.crypto.heap.maxBytes=lots is not a size").contains("Remedy");
    }

    /**
     * Sets the maximum to args[0], then holds EC P-256 key pairs until generation fails: exit 3 then (printing
     * why), 4 if installing refused, 5 if 20,000 key pairs (about 42 MiB) fitted.
     */
    public static final class FillToMaximum {
        public static void main(String[] args) throws Exception {
            System.setProperty(CryptoHeap.MAX_BYTES_PROPERTY, args[0]);
            try {
                CryptoHeap.ensureInstalled();
            } catch (CryptoHeapException e) {
                System.out.println("refused: " + e.getMessage());
                System.exit(4);
            }
            java.security.KeyPairGenerator ec = java.security.KeyPairGenerator.getInstance("EC", new dev.xpfo.crypto.XpfoProvider());
            List<java.security.KeyPair> held = new ArrayList<>();
            try {
                while (held.size() < 20_000) {
                    held.add(ec.generateKeyPair());
                }
            } catch (RuntimeException e) {
                CryptoHeapStats stats = CryptoHeap.stats();
                System.out.println("full after " + held.size() + " key pairs: " + stats + "; within the maximum: "
                        + (stats.arenaBytes() <= 4L << 20 && stats.maxBytes() == 4L << 20));
                for (Throwable t = e; t != null; t = t.getCause()) {
                    System.out.println(t);
                }
                System.exit(3);
            }
            System.out.println("20,000 key pairs fitted: " + CryptoHeap.stats());
            System.exit(5);
        }
    }

    @Test
    void anOrdinaryUserWithATinyMemlockLimitIsRefusedClearly() throws Exception {
        TestJvm.Result result = TestJvm.runUnprivileged(64 * 1024, InstallOnly.class);
        assertThat(result.exitCode()).as(result.output()).isEqualTo(3);
        assertThat(result.output()).contains("refused: libcrypto's heap needs secret memory and cannot get it")
                .contains("memlock");
    }

    /**
     * libcrypto's secure heap turned on after xpfo installed its heap (by other native code, say): its
     * arena is in the direct map and takes private BIGNUMs (keys, signing nonces) out of the hook. Key
     * generation of each kind, signing with a key made before, and key agreement are refused, saying why.
     */
    @Test
    void theSecureHeapTurnedOnAfterInstallingIsRefusedForEveryNewKeyAndSignature() throws Exception {
        TestJvm.Result result = TestJvm.run(SecureHeapAfterInstall.class);
        assertThat(result.exitCode()).as(result.output()).isEqualTo(3);
        assertThat(result.output()).contains("before: EC key, signature, AES key")
                .contains("EC key pair refused: libcrypto's secure heap was initialised after xpfo installed its heap")
                .contains("AES key refused: libcrypto's secure heap").contains("signing refused: libcrypto's secure heap")
                .contains("ECDH refused: libcrypto's secure heap").contains("Remedy");
    }

    /** Makes a key and signs, turns libcrypto's secure heap on, then tries again; exit 3 if everything was refused. */
    public static final class SecureHeapAfterInstall {
        public static void main(String[] args) throws Exception {
            java.security.Provider xpfo = new dev.xpfo.crypto.XpfoProvider();
            java.security.KeyPairGenerator ec = java.security.KeyPairGenerator.getInstance("EC", xpfo);
            java.security.KeyPair pair = ec.generateKeyPair();
            java.security.Signature signature = java.security.Signature.getInstance("SHA256withECDSA", xpfo);
            signature.initSign(pair.getPrivate());
            signature.update(new byte[] {1, 2, 3});
            signature.sign();
            javax.crypto.KeyGenerator aes = javax.crypto.KeyGenerator.getInstance("AES", xpfo);
            aes.generateKey();
            System.out.println("before: EC key, signature, AES key");
            if (LibCrypto.cryptoSecureMallocInit(1 << 16, 32) != 1 || LibCrypto.cryptoSecureMallocInitialized() != 1) {
                System.out.println("could not turn the secure heap on");
                System.exit(5);
            }
            int refused = 0;
            refused += refused("EC key pair", ec::generateKeyPair);
            refused += refused("AES key", aes::generateKey);
            refused += refused("signing", () -> {
                java.security.Signature again = java.security.Signature.getInstance("SHA256withECDSA", xpfo);
                again.initSign(pair.getPrivate());
                again.update(new byte[] {1, 2, 3});
                return again.sign();
            });
            refused += refused("ECDH", () -> {
                javax.crypto.KeyAgreement agreement = javax.crypto.KeyAgreement.getInstance("ECDH", xpfo);
                agreement.init(pair.getPrivate());
                agreement.doPhase(pair.getPublic(), true);
                return agreement.generateSecret();
            });
            System.exit(refused == 4 ? 3 : 4);
        }

        private static int refused(String what, java.util.concurrent.Callable<?> action) {
            try {
                action.call();
                System.out.println(what + " went ahead with the secure heap on");
                return 0;
            } catch (CryptoHeapException e) {
                System.out.println(what + " refused: " + e.getMessage());
                return 1;
            } catch (Exception e) {
                System.out.println(what + " failed otherwise: " + e);
                return 0;
            }
        }
    }

    /** Installs, has libcrypto allocate on this and other threads (which then end), and returns from main. */
    public static final class UseAndExit {
        public static void main(String[] args) throws Exception {
            CryptoHeap.ensureInstalled();
            List<Thread> threads = new ArrayList<>();
            for (int t = 0; t < 4; t++) {
                threads.add(Thread.ofPlatform().start(() -> {
                    LibCrypto.errClearError(); // creates this thread's error state in our heap
                    for (int i = 0; i < 1000; i++) {
                        LibCrypto.cryptoFree(LibCrypto.cryptoMalloc(1 + i * 37L % 20_000));
                    }
                }));
            }
            for (Thread thread : threads) {
                thread.join();
            }
            LibCrypto.errClearError(); // the main thread's error state too, freed when it ends after the JVM
            MemorySegment kept = LibCrypto.cryptoMalloc(4096); // left for the exit
            CryptoHeapStats stats = CryptoHeap.stats();
            if (kept.address() == 0 || stats.inUseBytes() == 0 || stats.foreignFrees() != 0) {
                System.out.println("unexpected: " + stats);
                System.exit(4);
            }
            System.out.println("used libcrypto: " + stats);
        }
    }

    /** Lets libcrypto allocate on its own heap, then tries to install. */
    public static final class AllocateFirst {
        public static void main(String[] args) {
            LibCrypto.cryptoFree(LibCrypto.cryptoMalloc(16));
            try {
                CryptoHeap.ensureInstalled();
                System.out.println("installed after libcrypto had allocated");
                System.exit(4);
            } catch (CryptoHeapException first) {
                try {
                    CryptoHeap.ensureInstalled();
                    System.out.println("installed on the second try");
                    System.exit(4);
                } catch (CryptoHeapException again) {
                    System.out.println("refused twice: " + again.getMessage());
                    System.exit(3);
                }
            }
        }
    }

    /** Hooks libc's malloc, realloc and free into libcrypto (as other native code could), then tries to install. */
    public static final class HookedByAnother {
        public static void main(String[] args) {
            SymbolLookup libc = SymbolLookup.libraryLookup("libc.so.6", Arena.global());
            int set = LibCrypto.cryptoSetMemFunctions(libc.findOrThrow("malloc"), libc.findOrThrow("realloc"),
                    libc.findOrThrow("free"));
            if (set != 1) {
                System.out.println("could not hook: " + set);
                System.exit(4);
            }
            InstallOnly.main(args);
        }
    }

    /** Installs, and says how that ended. */
    public static final class InstallOnly {
        public static void main(String[] args) {
            try {
                CryptoHeap.ensureInstalled();
                System.out.println("installed: " + CryptoHeap.stats());
            } catch (CryptoHeapException e) {
                System.out.println("refused: " + e.getMessage());
                System.exit(3);
            }
        }
    }


    /** Churns the heap on 4 threads; exits 1 if anything is left behind. */
    static final class Churn {
        public static void main(String[] args) throws Exception {
            CryptoHeap.ensureInstalled();
            CryptoHeapStats before = CryptoHeap.stats();
            try (java.util.concurrent.ExecutorService threads = java.util.concurrent.Executors.newFixedThreadPool(4)) {
                java.util.List<java.util.concurrent.Future<Void>> done = new java.util.ArrayList<>();
                for (int t = 0; t < 4; t++) {
                    int seed = t;
                    done.add(threads.submit(() -> CryptoHeapTest.churn(seed)));
                }
                for (java.util.concurrent.Future<Void> f : done) {
                    f.get();
                }
            }
            CryptoHeapStats after = CryptoHeap.stats();
            if (after.inUseBytes() != before.inUseBytes() || after.foreignFrees() != before.foreignFrees()
                    || after.failedMallocs() != before.failedMallocs()) {
                System.out.println("left behind: before " + before + ", after " + after);
                System.exit(1);
            }
            System.out.println("in use before and after: " + after.inUseBytes() + " bytes");
        }
    }

    /** fromSecret first, then the provider. */
    static final class KeyBeforeProvider {
        public static void main(String[] args) {
            try (dev.xpfo.secret.SecretStore store = dev.xpfo.secret.SecretStore.open();
                 dev.xpfo.secret.Secret secret = store.allocate(32)) {
                secret.readWrite(view -> view.fill((byte) 7));
                dev.xpfo.crypto.symmetric.XpfoSecretKey key = dev.xpfo.crypto.symmetric.XpfoSecretKey.fromSecret(secret, "AES");
                System.out.println("key made first: " + key + "; provider " + new dev.xpfo.crypto.XpfoProvider().getName());
            }
        }
    }
}
