// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.service;

import dev.xpfo.memory.PageSize;
import dev.xpfo.memory.XpfoFile;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** The service's copies of sent files: closed off the connection's thread, and never left open. */
class SentFileCloserTest {
    private static List<XpfoFile> files(int count) {
        List<XpfoFile> files = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            files.add(XpfoFile.create(PageSize.BYTES));
        }
        return files;
    }

    @Test
    void everyFileHandedOverIsClosedByTheTimeTheCloserStops() {
        List<XpfoFile> files = files(8);
        SentFileCloser closer = new SentFileCloser();
        closer.closeLater(files);
        closer.close();
        assertThat(files).noneMatch(XpfoFile::isOpen);
    }

    @Test
    void moreFilesThanFitAreClosedByTheCallerNoneLeftOpen() {
        List<XpfoFile> files = files(64);
        SentFileCloser closer = new SentFileCloser(1);
        closer.closeLater(files);
        closer.close();
        assertThat(files).noneMatch(XpfoFile::isOpen);
    }

    @Test
    void afterStoppingAFileIsClosedBeforeCloseLaterReturns() {
        SentFileCloser closer = new SentFileCloser();
        closer.close();
        List<XpfoFile> files = files(3);
        closer.closeLater(files);
        assertThat(files).noneMatch(XpfoFile::isOpen);
    }
}
