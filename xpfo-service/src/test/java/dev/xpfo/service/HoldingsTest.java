// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.service;

import dev.xpfo.host.SecretMemoryHolders;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.OptionalLong;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Supplier;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * When a released or abandoned grant stops counting: when the kernel's count says its memory is gone,
 * never on a scan's word alone (which can only keep it charged). The sweeper scans every few
 * milliseconds here, and each test waits for the sweep that follows what it changed
 * ({@link Holdings#awaitSweep}), then asserts what that sweep did or did not do.
 */
class HoldingsTest {
    private static final Duration INTERVAL = Duration.ofMillis(5);
    /** A bound on a wait that ends as soon as the sweep is applied, not a timing claim. */
    private static final Duration SWEEP = Duration.ofSeconds(30);
    private final List<String> events = new CopyOnWriteArrayList<>();
    private final AtomicReference<SecretMemoryHolders> seen =
            new AtomicReference<>(new SecretMemoryHolders(Set.of(), Set.of()));
    /** Chunks the kernel says are gone; empty: unsettled. */
    private final AtomicReference<OptionalLong> surplus = new AtomicReference<>(OptionalLong.empty());

    private Holdings holdings() {
        return holdings(seen::get, surplus::get);
    }

    private Holdings holdings(Supplier<SecretMemoryHolders> scanner, Holdings.KernelSurplus kernel) {
        return new Holdings(g -> events.add("quota-" + g.id()), g -> events.add("stock-" + g.id()), scanner, kernel,
                INTERVAL);
    }

    private static Holdings.Grant grant(long id, int uid, long... inodes) {
        Set<Long> files = new HashSet<>();
        for (long inode : inodes) {
            files.add(inode);
        }
        return new Holdings.Grant(id, uid, 1, files);
    }

    @Test
    void aReleasedGrantNobodyIsSeenHoldingStaysChargedUntilTheKernelCountsItGone() throws Exception {
        try (Holdings holdings = holdings()) {
            holdings.release(grant(1, 1000, 11));
            assertThat(holdings.awaitSweep(SWEEP)).isTrue();
            assertThat(events).as("no process is seen holding it, but the kernel has not confirmed").isEmpty();
            surplus.set(OptionalLong.of(0));
            assertThat(holdings.awaitSweep(SWEEP)).isTrue();
            assertThat(events).as("the kernel still holds every charged byte (a descriptor parked somewhere)").isEmpty();
            assertThat(holdings.pendingChunks(1000)).isEqualTo(1);
            surplus.set(OptionalLong.of(1));
            assertThat(holdings.awaitSweep(SWEEP)).isTrue();
            assertThat(events).containsExactly("quota-1", "stock-1");
            assertThat(holdings.pendingChunks(1000)).isZero();
        }
    }

    @Test
    void aGrantTheScanSeesHeldIsNotConfirmedWhateverTheKernelSays() throws Exception {
        seen.set(new SecretMemoryHolders(Set.of(11L), Set.of()));
        surplus.set(OptionalLong.of(100));
        try (Holdings holdings = holdings()) {
            holdings.release(grant(1, 1000, 11, 12));
            holdings.release(grant(2, 2000, 21));
            assertThat(holdings.awaitSweep(SWEEP)).isTrue();
            assertThat(holdings.awaitSweep(SWEEP)).isTrue();
            assertThat(events).as("two sweeps later").containsExactly("quota-2", "stock-2");
            assertThat(holdings.pendingGrants()).isEqualTo(1);
            seen.set(new SecretMemoryHolders(Set.of(), Set.of()));
            assertThat(holdings.awaitSweep(SWEEP)).isTrue();
            assertThat(events).containsExactly("quota-2", "stock-2", "quota-1", "stock-1");
        }
    }

    @Test
    void theKernelsSurplusConfirmsGrantsInTheOrderTheyWereLetGoAndNoMoreThanItCovers() throws Exception {
        java.util.concurrent.atomic.AtomicLong gone = new java.util.concurrent.atomic.AtomicLong(2);
        java.util.concurrent.atomic.AtomicBoolean readable = new java.util.concurrent.atomic.AtomicBoolean();
        // As the kernel's count would: a confirmed grant no longer counts as charged, so the surplus shrinks.
        try (Holdings holdings = new Holdings(g -> events.add("quota-" + g.id()), g -> {
            events.add("stock-" + g.id());
            gone.addAndGet(-g.chunks());
        }, seen::get, () -> readable.get() ? OptionalLong.of(gone.get()) : OptionalLong.empty(), INTERVAL)) {
            holdings.detach(grant(3, 1000, 31));
            holdings.release(grant(1, 2000, 11));
            holdings.release(grant(2, 1000, 21));
            assertThat(holdings.awaitSweep(SWEEP)).isTrue();
            assertThat(events).as("the kernel's count cannot be read: nothing is confirmed").isEmpty();
            readable.set(true);
            assertThat(holdings.awaitSweep(SWEEP)).isTrue();
            assertThat(holdings.awaitSweep(SWEEP)).isTrue();
            assertThat(events).as("two sweeps later").containsExactly("quota-3", "stock-3", "quota-1", "stock-1");
            assertThat(holdings.pendingChunks(1000)).isEqualTo(1);
        }
    }

    @Test
    void withoutAKernelCountTheScanAloneDecides() throws Exception {
        seen.set(new SecretMemoryHolders(Set.of(11L), Set.of()));
        try (Holdings holdings = holdings(seen::get, Holdings.KernelSurplus.NONE)) {
            holdings.release(grant(1, 1000, 11));
            assertThat(holdings.awaitSweep(SWEEP)).isTrue();
            assertThat(events).as("its file is seen held").isEmpty();
            seen.set(new SecretMemoryHolders(Set.of(), Set.of()));
            assertThat(holdings.awaitSweep(SWEEP)).isTrue();
            assertThat(events).containsExactly("quota-1", "stock-1");
        }
    }

    @Test
    void aProcessThatCannotBeInspectedIsAssumedToHoldItsOwnersGrants() throws Exception {
        seen.set(new SecretMemoryHolders(Set.of(), Set.of(1000)));
        surplus.set(OptionalLong.of(100));
        try (Holdings holdings = holdings()) {
            holdings.detach(grant(1, 1000, 11));
            holdings.detach(grant(2, 2000, 21));
            assertThat(holdings.awaitSweep(SWEEP)).isTrue();
            assertThat(holdings.awaitSweep(SWEEP)).isTrue();
            assertThat(events).as("two sweeps later").containsExactly("quota-2", "stock-2");
            assertThat(holdings.pendingGrants()).isEqualTo(1);
        }
    }

    @Test
    void aGrantOverItsQuotaWaitsForItsUsersReleasesToBeConfirmed() throws Exception {
        surplus.set(OptionalLong.of(1));
        try (Holdings holdings = holdings()) {
            holdings.release(grant(1, 1000, 11));
            assertThat(holdings.awaitConfirmed(1000, () -> events.contains("quota-1"), Duration.ofSeconds(5))).isTrue();
            assertThat(holdings.awaitConfirmed(2000, () -> false, Duration.ofSeconds(5)))
                    .as("nothing of its own waits to be confirmed: no wait").isFalse();
        }
    }

    /**
     * The walk of /proc takes long on a busy host; it runs off the holdings' lock, so a grant's quota
     * check ({@link Holdings#awaitConfirmed}) and another release answer while a sweep is scanning.
     */
    @Test
    void aGrantIsNotHeldUpByASweepStillScanning() throws Exception {
        CountDownLatch scanning = new CountDownLatch(1);
        CountDownLatch finish = new CountDownLatch(1);
        surplus.set(OptionalLong.of(1));
        try (Holdings holdings = holdings(() -> {
            scanning.countDown();
            try {
                finish.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            return new SecretMemoryHolders(Set.of(), Set.of());
        }, surplus::get)) {
            try {
                holdings.release(grant(1, 1000, 11));
                assertThat(scanning.await(SWEEP.toSeconds(), TimeUnit.SECONDS)).isTrue();
                CompletableFuture<Boolean> grantPath = CompletableFuture.supplyAsync(() -> {
                    try {
                        holdings.release(grant(2, 2000, 21));
                        return holdings.awaitConfirmed(1000, () -> true, SWEEP) && holdings.pendingGrants() == 2;
                    } catch (InterruptedException e) {
                        throw new IllegalStateException(e);
                    }
                });
                // A bound on a call that answers at once, not a timing claim: on a lock held across the
                // scan, it would wait for the scan (which waits for this test) and time out.
                assertThat(grantPath.get(SWEEP.toSeconds(), TimeUnit.SECONDS)).isTrue();
                assertThat(events).as("the sweep is still scanning").isEmpty();
            } finally {
                finish.countDown();
            }
            assertThat(holdings.awaitConfirmed(1000, () -> events.contains("stock-1"), SWEEP)).isTrue();
        }
    }

    @Test
    void aFailingScanIsRetriedNotFatal() throws Exception {
        AtomicInteger scans = new AtomicInteger();
        surplus.set(OptionalLong.of(1));
        try (Holdings holdings = holdings(() -> {
            if (scans.incrementAndGet() == 1) {
                throw new IllegalStateException("cannot list /proc");
            }
            return new SecretMemoryHolders(Set.of(), Set.of());
        }, surplus::get)) {
            holdings.detach(grant(1, 1000, 11));
            assertThat(holdings.awaitConfirmed(1000, () -> events.contains("stock-1"), SWEEP)).isTrue();
            assertThat(events).containsExactly("quota-1", "stock-1");
            assertThat(scans).as("the first scan failed, the next was applied").hasValue(2);
        }
    }
}
