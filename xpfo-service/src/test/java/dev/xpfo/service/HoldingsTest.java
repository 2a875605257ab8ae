package dev.xpfo.service;

import dev.xpfo.service.testing.Services;
import dev.xpfo.host.SecretMemoryHolders;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.OptionalLong;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicReference;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * When a released or abandoned grant stops counting: when the kernel's count says its memory is gone,
 * never on a scan's word alone (which can only keep it charged).
 */
class HoldingsTest {
    private final List<String> events = new CopyOnWriteArrayList<>();
    private final AtomicReference<SecretMemoryHolders> seen =
            new AtomicReference<>(new SecretMemoryHolders(Set.of(), Set.of()));
    /** Chunks the kernel says are gone; empty: unsettled. */
    private final AtomicReference<OptionalLong> surplus = new AtomicReference<>(OptionalLong.empty());

    private Holdings holdings() {
        return new Holdings(g -> events.add("quota-" + g.id()), g -> events.add("stock-" + g.id()), seen::get,
                surplus::get);
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
            Thread.sleep(1500);
            assertThat(events).as("no process is seen holding it, but the kernel has not confirmed").isEmpty();
            surplus.set(OptionalLong.of(0));
            Thread.sleep(1500);
            assertThat(events).as("the kernel still holds every charged byte (a descriptor parked somewhere)").isEmpty();
            assertThat(holdings.pendingChunks(1000)).isEqualTo(1);
            surplus.set(OptionalLong.of(1));
            assertThat(Services.eventually(Duration.ofSeconds(3), () -> events.contains("stock-1"))).isTrue();
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
            assertThat(Services.eventually(Duration.ofSeconds(3), () -> events.contains("stock-2"))).isTrue();
            Thread.sleep(1200);
            assertThat(events).containsExactly("quota-2", "stock-2");
            assertThat(holdings.pendingGrants()).isEqualTo(1);
            seen.set(new SecretMemoryHolders(Set.of(), Set.of()));
            assertThat(Services.eventually(Duration.ofSeconds(3), () -> events.contains("stock-1"))).isTrue();
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
        }, seen::get, () -> readable.get() ? OptionalLong.of(gone.get()) : OptionalLong.empty())) {
            holdings.detach(grant(3, 1000, 31));
            holdings.release(grant(1, 2000, 11));
            holdings.release(grant(2, 1000, 21));
            readable.set(true);
            assertThat(Services.eventually(Duration.ofSeconds(3), () -> events.size() == 4)).isTrue();
            Thread.sleep(1200);
            assertThat(events).containsExactly("quota-3", "stock-3", "quota-1", "stock-1");
            assertThat(holdings.pendingChunks(1000)).isEqualTo(1);
        }
    }

    @Test
    void withoutAKernelCountTheScanAloneDecides() throws Exception {
        try (Holdings holdings = new Holdings(g -> events.add("quota-" + g.id()), g -> events.add("stock-" + g.id()),
                seen::get, Holdings.KernelSurplus.NONE)) {
            holdings.release(grant(1, 1000, 11));
            assertThat(Services.eventually(Duration.ofSeconds(3), () -> events.contains("stock-1"))).isTrue();
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
            assertThat(Services.eventually(Duration.ofSeconds(3), () -> events.contains("stock-2"))).isTrue();
            Thread.sleep(1500);
            assertThat(events).containsExactly("quota-2", "stock-2");
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

    @Test
    void aFailingScanIsRetriedNotFatal() throws Exception {
        AtomicReference<Boolean> fail = new AtomicReference<>(true);
        surplus.set(OptionalLong.of(1));
        try (Holdings holdings = new Holdings(g -> events.add("quota-" + g.id()), g -> events.add("stock-" + g.id()),
                () -> {
                    if (fail.getAndSet(false)) {
                        throw new IllegalStateException("cannot list /proc");
                    }
                    return new SecretMemoryHolders(Set.of(), Set.of());
                }, surplus::get)) {
            holdings.detach(grant(1, 1000, 11));
            assertThat(Services.eventually(Duration.ofSeconds(5), () -> events.contains("stock-1"))).isTrue();
        }
    }
}
