/** The {@code xpfo} command: probe, check, and (later) the service. */
module dev.xpfo.cli {
    requires dev.xpfo.core;
    requires info.picocli;
    requires com.fasterxml.jackson.databind;

    opens dev.xpfo.cli to info.picocli;
}
