package dev.xpfo.service;

import dev.xpfo.host.SecretMemoryHolders;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicReference;

import static org.assertj.core.api.Assertions.assertThat;

/** When a released or abandoned grant stops counting, from what a scan of every process saw. */
class HoldingsTest {
    private final List<String> events = new CopyOnWriteArrayList<>();
    private final AtomicReference<SecretMemoryHolders> seen =
            new AtomicReference<>(new SecretMemoryHolders(Set.of(), Set.of()));

    private Holdings holdings() {
        return new Holdings(g -> events.add("quota-" + g.id()), g -> events.add("stock-" + g.id()),
                g -> events.add("charge-" + g.id()), seen::get);
    }

    private static Holdings.Grant grant(long id, int uid, long... inodes) {
        Set<Long> files = new java.util.HashSet<>();
        for (long inode : inodes) {
            files.add(inode);
        }
        return new Holdings.Grant(id, uid, 1, files);
    }

    @Test
    void aReleaseFreesTheQuotaAtOnceAndTheStockOnlyWhenAScanConfirms() throws Exception {
        try (Holdings holdings = holdings()) {
            holdings.release(grant(1, 1000, 11));
            assertThat(events).startsWith("quota-1");
            assertThat(Services.eventually(Duration.ofSeconds(3), () -> events.contains("stock-1"))).isTrue();
            assertThat(events).containsExactly("quota-1", "stock-1");
        }
    }

    @Test
    void aReleasedGrantStillHeldIsChargedAgainAndFreedWhenClosed() throws Exception {
        seen.set(new SecretMemoryHolders(Set.of(11L), Set.of()));
        try (Holdings holdings = holdings()) {
            holdings.release(grant(1, 1000, 11, 12));
            assertThat(Services.eventually(Duration.ofSeconds(3), () -> events.contains("charge-1"))).isTrue();
            assertThat(events).doesNotContain("stock-1");
            assertThat(holdings.pendingGrants()).isEqualTo(1);
            seen.set(new SecretMemoryHolders(Set.of(), Set.of()));
            assertThat(Services.eventually(Duration.ofSeconds(3), () -> events.contains("stock-1"))).isTrue();
            assertThat(events).containsExactly("quota-1", "charge-1", "quota-1", "stock-1");
        }
    }

    @Test
    void aProcessThatCannotBeInspectedIsAssumedToHoldItsOwnersGrants() throws Exception {
        seen.set(new SecretMemoryHolders(Set.of(), Set.of(1000)));
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
    void aFailingScanIsRetriedNotFatal() throws Exception {
        AtomicReference<Boolean> fail = new AtomicReference<>(true);
        try (Holdings holdings = new Holdings(g -> events.add("quota-" + g.id()), g -> events.add("stock-" + g.id()),
                g -> events.add("charge-" + g.id()), () -> {
                    if (fail.getAndSet(false)) {
                        throw new IllegalStateException("cannot list /proc");
                    }
                    return new SecretMemoryHolders(Set.of(), Set.of());
                })) {
            holdings.detach(grant(1, 1000, 11));
            assertThat(Services.eventually(Duration.ofSeconds(5), () -> events.contains("stock-1"))).isTrue();
        }
    }
}
