// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.crypto;

import java.util.List;

/**
 * A libcrypto call failed: names the call, what it was doing, and the errors libcrypto queued for
 * this thread (its own words, e.g. {@code error:1E08010C:DECODER routines::unsupported}).
 */
public class OpenSslException extends RuntimeException {
    private final String call;
    private final List<String> errors;

    public OpenSslException(String call, String explanation, List<String> errors) {
        super(call + " failed: " + explanation + (errors.isEmpty() ? "" : " (libcrypto: " + String.join("; ", errors) + ")"));
        this.call = call;
        this.errors = List.copyOf(errors);
    }

    /** The libcrypto function that failed. */
    public String call() {
        return call;
    }

    /** libcrypto's queued errors, oldest first; empty if it queued none. */
    public List<String> errors() {
        return errors;
    }
}
