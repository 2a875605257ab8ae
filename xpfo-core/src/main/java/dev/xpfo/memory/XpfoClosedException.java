package dev.xpfo.memory;

/** A file or mapping was used after {@code close()}. */
public final class XpfoClosedException extends XpfoException {
    public XpfoClosedException(String what) {
        super(what + " is closed");
    }
}
