/** The {@code xpfo} command and the xpfo service ({@code xpfo serve}). */
module dev.xpfo.cli {
    requires dev.xpfo.core;
    requires info.picocli;
    requires me.tongfei.progressbar;
    requires com.fasterxml.jackson.databind;
    requires micrometer.core;
    requires micrometer.registry.prometheus;
    requires jdk.httpserver;
    requires java.logging;
    requires java.management;

    exports dev.xpfo.service;
    exports dev.xpfo.vm;
    exports dev.xpfo.audit;
    opens dev.xpfo.cli to info.picocli;
}
