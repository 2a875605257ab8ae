// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.service;

import java.util.Map;
import java.util.TreeMap;
import java.util.function.LongSupplier;

/**
 * Per-user accounting: bytes granted and not yet confirmed gone ({@link Holdings}: a RELEASE alone
 * frees nothing), and a token bucket of requests. Thread safe.
 */
final class Quotas {
    private final ServiceSettings.Quota limits;
    /** The token buckets' clock ({@link System#nanoTime()} but in tests). */
    private final LongSupplier nanoTime;
    private final Map<Integer, Long> outstanding = new TreeMap<>();
    private final Map<Integer, Bucket> buckets = new TreeMap<>();

    Quotas(ServiceSettings.Quota limits, LongSupplier nanoTime) {
        this.limits = limits;
        this.nanoTime = nanoTime;
    }

    private static final class Bucket {
        double tokens;
        long refilledAt;
    }

    /** Takes one request token for {@code uid}; false if the user is over its requests per second. */
    synchronized boolean admitRequest(int uid) {
        double rate = limits.requestsPerSecond();
        if (rate <= 0) {
            return true;
        }
        double capacity = Math.max(1, rate);
        long now = nanoTime.getAsLong();
        Bucket bucket = buckets.computeIfAbsent(uid, key -> {
            Bucket fresh = new Bucket();
            fresh.tokens = capacity;
            fresh.refilledAt = now;
            return fresh;
        });
        bucket.tokens = Math.min(capacity, bucket.tokens + (now - bucket.refilledAt) * rate / 1e9);
        bucket.refilledAt = now;
        if (bucket.tokens < 1) {
            return false;
        }
        bucket.tokens -= 1;
        return true;
    }

    /** Counts {@code bytes} against {@code uid} if that stays within its quota; false otherwise. */
    synchronized boolean reserve(int uid, long bytes) {
        long now = outstanding.getOrDefault(uid, 0L);
        if (now + bytes > limits.outstandingBytes()) {
            return false;
        }
        outstanding.put(uid, now + bytes);
        return true;
    }

    synchronized void release(int uid, long bytes) {
        long left = outstanding.getOrDefault(uid, 0L) - bytes;
        if (left < 0) {
            System.getLogger("dev.xpfo.service").log(System.Logger.Level.WARNING, "uid " + uid + " released "
                    + bytes + " bytes more than it held (" + (-left) + "): accounting error, clamped at 0");
        }
        if (left > 0) {
            outstanding.put(uid, left);
        } else {
            outstanding.remove(uid);
        }
    }

    synchronized long outstanding(int uid) {
        return outstanding.getOrDefault(uid, 0L);
    }

    /** Outstanding bytes of every user holding some, by uid. */
    synchronized Map<Integer, Long> outstandingByUid() {
        return new TreeMap<>(outstanding);
    }

    ServiceSettings.Quota limits() {
        return limits;
    }
}
