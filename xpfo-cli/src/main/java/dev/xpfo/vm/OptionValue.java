package dev.xpfo.vm;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The argument of a QEMU option in its {@code key=value,key=value} form, where the first element
 * may give the value of an implied key ({@code -m 256M}, {@code -machine q35}, {@code -object
 * memory-backend-memfd,...}) and {@code ,,} stands for a comma inside a value. Kept in order, so a
 * rewritten argument reads like the original with only the changed keys differing.
 */
final class OptionValue {
    /** One element; {@code implied} if it was written without its key. A bare key has a null value (on). */
    record Entry(String key, String value, boolean implied) {
        String text() {
            String escaped = value == null ? null : value.replace(",", ",,");
            return implied ? escaped : value == null ? key : key + "=" + escaped;
        }
    }

    private final List<Entry> entries;

    private OptionValue(List<Entry> entries) {
        this.entries = entries;
    }

    /** Parses {@code text}; {@code impliedKey} names a first element without {@code =} (null: none). */
    static OptionValue parse(String text, String impliedKey) {
        List<Entry> entries = new ArrayList<>();
        for (String element : split(text)) {
            int equals = element.indexOf('=');
            if (equals >= 0) {
                entries.add(new Entry(element.substring(0, equals), element.substring(equals + 1), false));
            } else if (entries.isEmpty() && impliedKey != null) {
                entries.add(new Entry(impliedKey, element, true));
            } else {
                entries.add(new Entry(element, null, false));
            }
        }
        return new OptionValue(entries);
    }

    private static List<String> split(String text) {
        List<String> elements = new ArrayList<>();
        StringBuilder current = new StringBuilder();
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (c == ',' && i + 1 < text.length() && text.charAt(i + 1) == ',') {
                current.append(',');
                i++;
            } else if (c == ',') {
                elements.add(current.toString());
                current.setLength(0);
            } else {
                current.append(c);
            }
        }
        elements.add(current.toString());
        return elements;
    }

    /** The value of {@code key}: the last one given, as QEMU takes it; "on" for a bare key. */
    Optional<String> get(String key) {
        String found = null;
        boolean present = false;
        for (Entry entry : entries) {
            if (entry.key().equals(key)) {
                present = true;
                found = entry.value() == null ? "on" : entry.value();
            }
        }
        return present ? Optional.of(found) : Optional.empty();
    }

    /** A copy with {@code key} set to {@code value}: every occurrence replaced, or appended if absent. */
    OptionValue with(String key, String value) {
        List<Entry> changed = new ArrayList<>();
        boolean replaced = false;
        for (Entry entry : entries) {
            if (entry.key().equals(key)) {
                changed.add(new Entry(key, value, entry.implied()));
                replaced = true;
            } else {
                changed.add(entry);
            }
        }
        if (!replaced) {
            changed.add(new Entry(key, value, false));
        }
        return new OptionValue(changed);
    }

    String text() {
        return String.join(",", entries.stream().map(Entry::text).toList());
    }

    @Override
    public String toString() {
        return text();
    }
}
