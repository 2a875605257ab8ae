// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.crypto.symmetric;

import java.util.HexFormat;

/** Test vectors are written in hex. */
final class Hex {
    private Hex() {
    }

    static byte[] bytes(String hex) {
        return HexFormat.of().parseHex(hex.replace(" ", ""));
    }

    static String hex(byte[] bytes) {
        return HexFormat.of().formatHex(bytes);
    }
}
