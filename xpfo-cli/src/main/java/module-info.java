/** The {@code xpfo} command: probe, check, pool, and (later) the service. */
module dev.xpfo.cli {
    requires dev.xpfo.core;
    requires info.picocli;
    requires me.tongfei.progressbar;
    requires com.fasterxml.jackson.databind;

    opens dev.xpfo.cli to info.picocli;
}
