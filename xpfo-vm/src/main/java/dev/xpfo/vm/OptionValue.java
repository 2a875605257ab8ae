// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.vm;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.BooleanNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.node.TextNode;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * The argument of a QEMU option, read exactly as QEMU 7.2 reads it, in one of its three grammars:
 * <ul>
 *   <li>{@link Grammar#QEMU_OPTS} ({@code util/qemu-option.c}, {@code opts_do_parse}): elements split
 *       at single commas, {@code ,,} a comma inside a value; a first element without {@code =} is the
 *       value of the option's implied key (the text before the first comma, leading whitespace
 *       included); a later bare {@code name} is {@code name=on} and {@code noname} is
 *       {@code name=off}; the last value of a key wins, except {@code id}, where the first does.</li>
 *   <li>{@link Grammar#KEYVAL} ({@code util/keyval.c}): the same elements, but an implied first value
 *       ends at the first comma or {@code =} (no {@code ,,}), a bare later key is an error, and keys
 *       are QAPI names joined by dots; the last value of a key wins.</li>
 *   <li>JSON, only for the options whose {@link Syntax} takes it, and only when the very first byte is
 *       {@code {}; read as the same keys, nested objects as dotted keys ({@code cache.direct}), and
 *       written back as JSON. Duplicate keys, single quotes and text after the object are refused.</li>
 * </ul>
 * An argument that starts like JSON (after whitespace) where QEMU does not read it as JSON is refused:
 * QEMU would take it as {@code key=value} elements that a reader (and a check) would miss. Kept in
 * order, so a rewritten argument reads like the original with only the changed keys differing.
 */
final class OptionValue {
    private static final ObjectMapper JSON = new ObjectMapper()
            .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);
    /** What QEMU's options take as a key; anything else is refused rather than guessed at. */
    private static final Pattern OPTS_KEY = Pattern.compile("[A-Za-z0-9_][A-Za-z0-9_.-]*");
    /** One fragment of a keyval key: a QAPI name, or (after the first) a list index. */
    private static final Pattern KEYVAL_FRAGMENT = Pattern.compile("_?[A-Za-z][A-Za-z0-9_-]*");
    private static final Pattern INDEX = Pattern.compile("[0-9]+");

    /** The two key=value grammars of QEMU. */
    enum Grammar { QEMU_OPTS, KEYVAL }

    /**
     * How QEMU 7.2 reads one option's argument ({@code softmmu/vl.c}).
     *
     * @param grammar    its key=value grammar
     * @param impliedKey the key of a first element given without one, or null
     * @param json       whether an argument whose first byte is {@code {} is read as JSON
     */
    record Syntax(Grammar grammar, String impliedKey, boolean json) {
        static final Syntax OBJECT = new Syntax(Grammar.QEMU_OPTS, "qom-type", true);
        static final Syntax DEVICE = new Syntax(Grammar.QEMU_OPTS, "driver", true);
        /** {@code -netdev}; the {@code stream} and {@code dgram} types are then re-read as {@link #NETDEV_MODERN}. */
        static final Syntax NETDEV = new Syntax(Grammar.QEMU_OPTS, "type", true);
        static final Syntax NETDEV_MODERN = new Syntax(Grammar.KEYVAL, "type", true);
        static final Syntax BLOCKDEV = new Syntax(Grammar.KEYVAL, "driver", true);
        /** {@code -machine} and {@code -M}: keyval, every occurrence merged into one (last wins), no JSON. */
        static final Syntax MACHINE = new Syntax(Grammar.KEYVAL, "type", false);
        static final Syntax ACCEL = new Syntax(Grammar.QEMU_OPTS, "accel", false);
        /** {@code -m}: every occurrence merged into one (last wins). */
        static final Syntax MEMORY = new Syntax(Grammar.QEMU_OPTS, "size", false);
        static final Syntax NUMA = new Syntax(Grammar.QEMU_OPTS, "type", false);
        /** {@code -drive}: no implied key (a bare first word is a flag). */
        static final Syntax DRIVE = new Syntax(Grammar.QEMU_OPTS, null, false);
        static final Syntax NET = new Syntax(Grammar.QEMU_OPTS, "type", false);
        static final Syntax CHARDEV = new Syntax(Grammar.QEMU_OPTS, "backend", false);
        static final Syntax MON = new Syntax(Grammar.QEMU_OPTS, "chardev", false);
    }

    /** One element; {@code implied} if it was written without its key. A bare key has a null value (on). */
    record Entry(String key, String value, boolean implied) {
        String text() {
            String escaped = value == null ? null : value.replace(",", ",,");
            return implied ? escaped : value == null ? key : key + "=" + escaped;
        }
    }

    private final List<Entry> entries;
    private final Grammar grammar;
    /** The JSON form, or null for key=value. */
    private final ObjectNode json;

    private OptionValue(List<Entry> entries, Grammar grammar, ObjectNode json) {
        this.entries = entries;
        this.grammar = grammar;
        this.json = json;
    }

    /**
     * Parses {@code text} as QEMU reads an option of {@code syntax}.
     *
     * @throws IllegalArgumentException if QEMU would refuse it, or would read it differently than it looks
     *                                  (JSON-looking text read as key=value, keys QEMU does not take)
     */
    static OptionValue parse(String text, Syntax syntax) {
        if (syntax.json() && text.startsWith("{")) {
            try {
                if (JSON.readTree(text) instanceof ObjectNode object) {
                    return fromJson(object);
                }
            } catch (JsonProcessingException e) {
                // reported below
            }
            throw new IllegalArgumentException("not a JSON object as QEMU reads it (one object, double quotes, no "
                    + "duplicate keys): " + text);
        }
        if (text.stripLeading().startsWith("{")) {
            throw new IllegalArgumentException("'" + text + "' looks like JSON but QEMU 7.2 reads it as key=value "
                    + (syntax.json() ? "(it reads JSON only when the very first character is '{')"
                    : "(this option takes no JSON)") + ", with keys hidden inside the quotes: write it as key=value");
        }
        return syntax.grammar() == Grammar.QEMU_OPTS ? parseOpts(text, syntax.impliedKey())
                : parseKeyval(text, syntax.impliedKey());
    }

    /** {@code opts_do_parse} and {@code get_opt_name_value}. */
    private static OptionValue parseOpts(String text, String firstName) {
        List<Entry> entries = new ArrayList<>();
        int p = 0;
        while (p < text.length()) {
            int nameEnd = endOfName(text, p);
            if (nameEnd == text.length() || text.charAt(nameEnd) != '=') {
                if (firstName != null) {
                    StringBuilder value = new StringBuilder();
                    p = optValue(text, p, value);
                    entries.add(new Entry(firstName, value.toString(), true));
                } else {
                    String name = key(text.substring(p, nameEnd), text);
                    p = nameEnd;
                    entries.add(name.startsWith("no")
                            ? new Entry(key(name.substring(2), text), "off", false) : new Entry(name, null, false));
                }
            } else {
                String name = key(text.substring(p, nameEnd), text);
                StringBuilder value = new StringBuilder();
                p = optValue(text, nameEnd + 1, value);
                entries.add(new Entry(name, value.toString(), false));
            }
            if (p < text.length()) {
                p++; // the comma
            }
            firstName = null;
        }
        if (entries.stream().filter(e -> e.key().equals("id")).count() > 1) {
            throw new IllegalArgumentException("'" + text + "' gives id= twice (QEMU takes the first, every other key "
                    + "the last): give it once");
        }
        return new OptionValue(entries, Grammar.QEMU_OPTS, null);
    }

    /** Where the name starting at {@code from} ends: at the first '=' or ',' (QEMU's {@code strcspn(p, "=,")}). */
    private static int endOfName(String text, int from) {
        int i = from;
        while (i < text.length() && text.charAt(i) != '=' && text.charAt(i) != ',') {
            i++;
        }
        return i;
    }

    /** {@code get_opt_value}: up to a single comma, {@code ,,} read as one; returns where it stopped. */
    private static int optValue(String text, int from, StringBuilder value) {
        int i = from;
        while (i < text.length()) {
            char c = text.charAt(i);
            if (c == ',') {
                if (i + 1 < text.length() && text.charAt(i + 1) == ',') {
                    value.append(',');
                    i += 2;
                    continue;
                }
                break;
            }
            value.append(c);
            i++;
        }
        return i;
    }

    private static String key(String name, String text) {
        if (!OPTS_KEY.matcher(name).matches()) {
            throw new IllegalArgumentException("'" + text + "' has a key QEMU would not read as one: '" + name + "'");
        }
        return name;
    }

    /** {@code keyval_parse_one}. */
    private static OptionValue parseKeyval(String text, String impliedKey) {
        List<Entry> entries = new ArrayList<>();
        int s = 0;
        while (s < text.length()) {
            int length = endOfName(text, s) - s;
            if (length > 0 && (s + length == text.length() || text.charAt(s + length) != '=') && impliedKey != null) {
                entries.add(new Entry(impliedKey, text.substring(s, s + length), true));
                s += length;
                if (s < text.length()) {
                    s++; // the comma
                }
                impliedKey = null;
                continue;
            }
            String name = text.substring(s, s + length);
            String[] fragments = name.split("\\.", -1);
            for (int i = 0; i < fragments.length; i++) {
                if (!KEYVAL_FRAGMENT.matcher(fragments[i]).matches() && (i == 0 || !INDEX.matcher(fragments[i]).matches())) {
                    throw new IllegalArgumentException("'" + text + "': QEMU refuses the parameter '" + name + "'");
                }
            }
            if (s + length == text.length() || text.charAt(s + length) != '=') {
                throw new IllegalArgumentException("'" + text + "': QEMU expects '=' after parameter '" + name + "'");
            }
            StringBuilder value = new StringBuilder();
            s = optValue(text, s + length + 1, value);
            if (s < text.length()) {
                s++; // the comma
            }
            entries.add(new Entry(name, value.toString(), false));
            impliedKey = null;
        }
        return new OptionValue(entries, Grammar.KEYVAL, null);
    }

    private static OptionValue fromJson(ObjectNode object) {
        List<Entry> entries = new ArrayList<>();
        flatten("", object, entries);
        return new OptionValue(entries, null, object);
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

    /**
     * The value of {@code key} as QEMU takes it: the last one given ("on" for a bare key), except
     * {@code id} in the QemuOpts grammar, where the first is the one.
     */
    Optional<String> get(String key) {
        String found = null;
        boolean present = false;
        for (Entry entry : entries) {
            if (entry.key().equals(key)) {
                if (present && key.equals("id") && grammar == Grammar.QEMU_OPTS) {
                    break;
                }
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
        return new OptionValue(changed, grammar, null);
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
