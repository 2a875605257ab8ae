// SPDX-License-Identifier: Apache-2.0
/** The {@code xpfo} command: every subcommand, over the library, the service and the VM launcher. */
module dev.xpfo.cli {
    requires dev.xpfo.core;
    requires dev.xpfo.service;
    requires dev.xpfo.vm;
    requires dev.xpfo.crypto;
    requires info.picocli;
    requires me.tongfei.progressbar;
    requires com.fasterxml.jackson.databind;
    requires java.logging;
    requires java.management;

    opens dev.xpfo.cli to info.picocli;
}
