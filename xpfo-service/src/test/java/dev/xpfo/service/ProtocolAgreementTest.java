// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.service;

import dev.xpfo.client.ErrorCode;
import dev.xpfo.protocol.Frame;
import dev.xpfo.protocol.FrameType;
import dev.xpfo.protocol.Protocol;
import dev.xpfo.service.testing.CClient;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

import static org.assertj.core.api.Assertions.assertThat;

/** docs/protocol.md, the C header and the Java code say the same numbers. */
class ProtocolAgreementTest {
    private static final Path ROOT = CClient.sources().getParent().getParent();

    private static String read(String path) throws Exception {
        return Files.readString(ROOT.resolve(path));
    }

    /** Rows {@code | 3 | `NAME` | ...} of the table under {@code heading}, as code to the rest of the row. */
    private static Map<Integer, String[]> table(String document, String heading) {
        String section = document.substring(document.indexOf("## " + heading));
        section = section.substring(0, section.indexOf("\n## ", 3));
        Map<Integer, String[]> rows = new LinkedHashMap<>();
        Matcher row = Pattern.compile("(?m)^\\| (\\d+) \\| `([A-Z_]+)` \\| ([^|]*) \\|").matcher(section);
        while (row.find()) {
            rows.put(Integer.parseInt(row.group(1)), new String[]{row.group(2), row.group(3).trim()});
        }
        return rows;
    }

    private static Map<String, Long> defines(String header, String prefix) {
        Matcher define = Pattern.compile("(?m)^#define " + prefix + "([A-Z_]+) \\(?(-?(?:0x)?[0-9A-Fa-f]+)u?\\)?").matcher(header);
        Map<String, Long> values = new LinkedHashMap<>();
        while (define.find()) {
            values.put(define.group(1), Long.decode(define.group(2)));
        }
        return values;
    }

    @Test
    void frameTypesAgree() throws Exception {
        Map<Integer, String> documented = table(read("docs/protocol.md"), "Frame types").entrySet().stream()
                .collect(Collectors.toMap(Map.Entry::getKey, e -> e.getValue()[0]));
        Map<Integer, String> java = Arrays.stream(FrameType.values()).collect(Collectors.toMap(FrameType::code, Enum::name));
        Map<Integer, String> c = defines(read("clients/c/xpfo_client.h"), "XPFO_FRAME_").entrySet().stream()
                .collect(Collectors.toMap(e -> e.getValue().intValue(), Map.Entry::getKey));
        assertThat(documented).isEqualTo(java).isEqualTo(c);
    }

    @Test
    void errorCodesAgreeOnNumbersNamesAndWhichCloseTheConnection() throws Exception {
        Map<Integer, String[]> documented = table(read("docs/protocol.md"), "Error codes");
        assertThat(documented.keySet()).containsExactlyElementsOf(Arrays.stream(ErrorCode.values()).map(ErrorCode::code).toList());
        for (ErrorCode code : ErrorCode.values()) {
            assertThat(documented.get(code.code())[0]).isEqualTo(code.name());
            assertThat(documented.get(code.code())[1]).as(code.name()).isEqualTo(code.closesConnection() ? "yes" : "no");
        }
        Map<String, Long> c = defines(read("clients/c/xpfo_client.h"), "XPFO_ERR_");
        for (ErrorCode code : ErrorCode.values()) {
            assertThat(c).containsEntry(code.name(), (long) code.code());
        }
        Matcher names = Pattern.compile("names\\[\\] = \\{([^}]*)}").matcher(read("clients/c/xpfo_client.c"));
        assertThat(names.find()).isTrue();
        assertThat(Arrays.stream(names.group(1).split(",")).map(s -> s.trim().replace("\"", "")).skip(1).toList())
                .containsExactlyElementsOf(Arrays.stream(ErrorCode.values()).map(Enum::name).toList());
    }

    @Test
    void limitsAndMagicAgree() throws Exception {
        String document = read("docs/protocol.md");
        Map<String, Long> c = defines(read("clients/c/xpfo_client.h"), "XPFO_");
        assertThat(c).containsEntry("PROTOCOL_VERSION", (long) Protocol.VERSION)
                .containsEntry("MAGIC", (long) Protocol.MAGIC)
                .containsEntry("HEADER_BYTES", (long) Frame.HEADER_BYTES)
                .containsEntry("MAX_REQUEST_PAYLOAD", (long) Protocol.MAX_REQUEST_PAYLOAD)
                .containsEntry("MAX_FDS_PER_FRAME", (long) Protocol.MAX_FDS_PER_FRAME)
                .containsEntry("GRANT_WARM_ONLY", (long) Protocol.GRANT_WARM_ONLY);
        assertThat(document).contains("# The xpfo service protocol, version " + Protocol.VERSION)
                .contains(String.format("0x%08X", Protocol.MAGIC))
                .contains("a " + Frame.HEADER_BYTES + "-byte header")
                .contains("at most **" + Protocol.MAX_REQUEST_PAYLOAD + "** payload bytes")
                .contains("(" + Protocol.MAX_REPLY_PAYLOAD + ";")
                .contains("at most **" + Protocol.MAX_FDS_PER_FRAME + "** descriptors")
                .contains("flag " + Protocol.GRANT_WARM_ONLY + " = `WARM_ONLY`");
        assertThat(read("clients/c/xpfo_client.h")).contains("#define XPFO_MAX_REPLY_PAYLOAD (1u << 20)");
        assertThat(Protocol.MAX_REPLY_PAYLOAD).isEqualTo(1 << 20);
    }
}
