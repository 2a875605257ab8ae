// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.protocol;

/** The protocol's fixed numbers ({@code docs/protocol.md}). */
public final class Protocol {
    /** The version this code speaks. */
    public static final int VERSION = 1;
    /** First four bytes of a HELLO payload: "XPFO" in ASCII. */
    public static final int MAGIC = 0x4F465058;
    /** The largest payload the service accepts from a client; requests are a few bytes. */
    public static final int MAX_REQUEST_PAYLOAD = 256;
    /** The largest payload a client must accept from the service (a STATUS_REPLY is the only big one). */
    public static final int MAX_REPLY_PAYLOAD = 1 << 20;
    /** The most descriptors the service attaches to one CHUNKS frame. */
    public static final int MAX_FDS_PER_FRAME = 250;
    /** GRANT flag: refuse with POOL_EXHAUSTED rather than populate missing chunks while the client waits. */
    public static final int GRANT_WARM_ONLY = 1;

    private Protocol() {
    }
}
