package dev.xpfo.vm;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.BooleanNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.node.TextNode;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The argument of a QEMU option in its {@code key=value,key=value} form, where the first element
 * may give the value of an implied key ({@code -m 256M}, {@code -machine q35}, {@code -object
 * memory-backend-memfd,...}) and {@code ,,} stands for a comma inside a value. Kept in order, so a
 * rewritten argument reads like the original with only the changed keys differing. The JSON form
 * QEMU also takes ({@code -object '{"qom-type":...}'}) is read as the same keys, nested objects as
 * dotted keys ({@code cache.direct}), and written back as JSON.
 */
final class OptionValue {
    private static final ObjectMapper JSON = new ObjectMapper();

    /** One element; {@code implied} if it was written without its key. A bare key has a null value (on). */
    record Entry(String key, String value, boolean implied) {
        String text() {
            String escaped = value == null ? null : value.replace(",", ",,");
            return implied ? escaped : value == null ? key : key + "=" + escaped;
        }
    }

    private final List<Entry> entries;
    /** The JSON form, or null for key=value. */
    private final ObjectNode json;

    private OptionValue(List<Entry> entries, ObjectNode json) {
        this.entries = entries;
        this.json = json;
    }

    /**
     * Parses {@code text}; {@code impliedKey} names a first element without {@code =} (null: none).
     *
     * @throws IllegalArgumentException if it starts like JSON but is not a JSON object
     */
    static OptionValue parse(String text, String impliedKey) {
        if (text.stripLeading().startsWith("{")) {
            try {
                JsonNode node = JSON.readTree(text);
                if (node instanceof ObjectNode object) {
                    return fromJson(object);
                }
            } catch (JsonProcessingException e) {
                // reported below
            }
            throw new IllegalArgumentException("not a JSON object: " + text);
        }
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
        return new OptionValue(entries, null);
    }

    private static OptionValue fromJson(ObjectNode object) {
        List<Entry> entries = new ArrayList<>();
        flatten("", object, entries);
        return new OptionValue(entries, object);
    }

    private static void flatten(String prefix, JsonNode node, List<Entry> into) {
        for (Map.Entry<String, JsonNode> field : node.properties()) {
            String key = prefix + field.getKey();
            if (field.getValue().isObject()) {
                flatten(key + ".", field.getValue(), into);
            } else {
                into.add(new Entry(key, field.getValue().isValueNode() ? field.getValue().asText()
                        : field.getValue().toString(), false));
            }
        }
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

    /** Every key, in order (dotted for nested JSON objects). */
    List<String> keys() {
        return entries.stream().map(Entry::key).toList();
    }

    /**
     * A copy with {@code key} set to {@code value}: every occurrence replaced, or appended if absent.
     * In JSON, "on" and "off" are written as booleans.
     */
    OptionValue with(String key, String value) {
        if (json != null) {
            ObjectNode copy = json.deepCopy();
            String[] path = key.split("\\.");
            ObjectNode parent = copy;
            for (int i = 0; i < path.length - 1; i++) {
                parent = parent.get(path[i]) instanceof ObjectNode child ? child : parent.putObject(path[i]);
            }
            parent.set(path[path.length - 1], switch (value) {
                case "on" -> BooleanNode.TRUE;
                case "off" -> BooleanNode.FALSE;
                default -> TextNode.valueOf(value);
            });
            return fromJson(copy);
        }
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
        return new OptionValue(changed, null);
    }

    String text() {
        if (json != null) {
            return json.toString();
        }
        return String.join(",", entries.stream().map(Entry::text).toList());
    }

    @Override
    public String toString() {
        return text();
    }
}
