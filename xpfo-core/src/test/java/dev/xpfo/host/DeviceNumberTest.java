// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.host;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** A device number as maps prints it and as {@code stat} gives it. */
class DeviceNumberTest {
    @Test
    void mapsNotationIsHexadecimalWithOrWithoutPadding() {
        assertThat(DeviceNumber.parse("00:0d")).isEqualTo(new DeviceNumber(0, 0x0d)).isEqualTo(DeviceNumber.parse("0:d"));
        assertThat(DeviceNumber.parse("103:2f")).isEqualTo(new DeviceNumber(0x103, 0x2f));
        assertThat(new DeviceNumber(0, 0x0d)).hasToString("00:0d");
        for (String text : new String[]{"000d", ":0d", "00:", "0g:0d", "-1:0d"}) {
            assertThatThrownBy(() -> DeviceNumber.parse(text)).as(text).isInstanceOf(IllegalArgumentException.class);
        }
    }
}
