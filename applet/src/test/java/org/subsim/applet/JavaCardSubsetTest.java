package org.subsim.applet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * The Java Card 3.0.5 classic subset, without the int option, checked on the applet's class
 * files (no converter resolves here to check it: docs/applet.md). Reads {@code javap -v -c -p -l}
 * of every class in target/classes/org/subsim/applet and fails on:
 * <ul>
 *   <li>a field, method or local variable of type int, long, float or double, or a String;
 *   <li>an instruction on long, float or double, a multi-dimensional array, synchronized code;
 *   <li>a constant the converter cannot hold (an int outside the short range, long, float, double, String);
 *   <li>a class outside javacard.framework, javacard.security, javacardx.crypto and java.lang's
 *       Java Card classes;
 *   <li>a static initialiser doing more than filling constant primitive arrays (JCVM 2.2.4.6);
 *   <li>allocation (new, newarray, anewarray, makeTransient*, getInstance, buildKey) outside the
 *       constructors, static initialisers, install, and the class's own methods only they call;
 *   <li>a field written outside those (an object's fields are persistent on a card: a write per
 *       command wears EEPROM and is slow; state that changes per command belongs in arrays).
 * </ul>
 * int arithmetic in the bytecode is not itself a fault: javac widens short arithmetic to int and
 * the converter narrows it back where the result is cast to short, which the locals rule covers.
 */
class JavaCardSubsetTest {
  private static final File CLASSES = new File("target/classes/org/subsim/applet");

  private static final List<String> ALLOWED_PACKAGES =
      Arrays.asList("javacard/framework/", "javacard/security/", "javacardx/crypto/", "javacardx/apdu/", "org/subsim/applet/");
  private static final Set<String> JAVA_LANG = new HashSet<>(Arrays.asList(
      "java/lang/Object", "java/lang/Throwable", "java/lang/Exception", "java/lang/RuntimeException",
      "java/lang/ArithmeticException", "java/lang/ArrayIndexOutOfBoundsException", "java/lang/ArrayStoreException",
      "java/lang/ClassCastException", "java/lang/IndexOutOfBoundsException", "java/lang/NegativeArraySizeException",
      "java/lang/NullPointerException", "java/lang/SecurityException"));
  private static final Set<String> ALLOCATING_CALLS = new HashSet<>(Arrays.asList(
      "makeTransientByteArray", "makeTransientShortArray", "makeTransientBooleanArray", "makeTransientObjectArray",
      "getInstance", "buildKey"));
  private static final Set<String> ALLOWED_D_L_F = new HashSet<>(Arrays.asList(
      "dup", "dup_x1", "dup_x2", "dup2", "dup2_x1", "dup2_x2", "ldc", "ldc_w", "lookupswitch"));

  /** What a static initialiser may do: fill constant primitive arrays (JCVM 3.0.5, 2.2.4.6). */
  private static final Set<String> CLINIT_OPS = new HashSet<>(Arrays.asList(
      "iconst_m1", "iconst_0", "iconst_1", "iconst_2", "iconst_3", "iconst_4", "iconst_5", "bipush", "sipush",
      "newarray", "dup", "bastore", "sastore", "putstatic", "return"));
  private static final Pattern INSTRUCTION = Pattern.compile("^\\s+\\d+: (\\w+)\\s*(.*)$");
  private static final Pattern CONSTANT = Pattern.compile("^\\s+#\\d+ = (\\w+)\\s+(.*)$");
  private static final Pattern OWN_CALL = Pattern.compile("// (?:Interface)?Method ([\\w$]+|\"<init>\"):");

  /** javap's listing of each class file, by file name. */
  static Map<String, List<String>> javap(File... classFiles) throws IOException, InterruptedException {
    List<String> cmd = new ArrayList<>(Arrays.asList("javap", "-v", "-c", "-p", "-l"));
    for (File f : classFiles) {
      cmd.add(f.getPath());
    }
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    Map<String, List<String>> out = new HashMap<>();
    List<String> current = new ArrayList<>();
    try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
      for (String line; (line = r.readLine()) != null; ) {
        if (line.startsWith("Classfile ")) {
          current = new ArrayList<>();
          out.put(new File(line.substring(10).trim()).getName(), current);
        }
        current.add(line);
      }
    }
    assertEquals(0, p.waitFor(), "javap failed: " + out);
    return out;
  }

  /** The faults in one class's javap listing. */
  static List<String> check(String classFileName, List<String> lines) {
    List<String> faults = new ArrayList<>();
    String simple = classFileName.replace(".class", "");
    String method = null;
    boolean inLocals = false;
    Map<String, Set<String>> callers = new HashMap<>();
    Map<String, List<String>> allocations = new HashMap<>();
    Map<String, List<String>> fieldWrites = new HashMap<>();
    for (String line : lines) {
      Matcher c = CONSTANT.matcher(line);
      if (c.matches()) {
        String kind = c.group(1);
        String value = c.group(2);
        if (kind.equals("Long") || kind.equals("Float") || kind.equals("Double") || kind.equals("String")) {
          faults.add("constant " + kind + " " + value);
        } else if (kind.equals("Integer")) {
          long v = Long.parseLong(value.trim());
          if (v < Short.MIN_VALUE || v > Short.MAX_VALUE) {
            faults.add("int constant " + v);
          }
        } else if (kind.equals("Class")) {
          String name = value.substring(value.indexOf("// ") + 3).trim().replace("\"", "");
          if (!name.startsWith("[") && !JAVA_LANG.contains(name) && ALLOWED_PACKAGES.stream().noneMatch(name::startsWith)) {
            faults.add("class " + name);
          }
        }
        continue;
      }
      if (line.startsWith("  ") && !line.startsWith("   ") && line.endsWith(";")) {
        // A member's header: "  public short draw(byte[], short);" or "  static {};"
        String h = line.trim();
        if (h.equals("static {};")) {
          method = "<clinit>";
        } else if (h.contains("(")) {
          String before = h.substring(0, h.indexOf('('));
          String name = before.substring(before.lastIndexOf(' ') + 1);
          method = name.endsWith(simple) ? "<init>" : name;
        } else {
          method = null; // a field
        }
        inLocals = false;
        continue;
      }
      String t = line.trim();
      if (t.startsWith("descriptor: ")) {
        String d = t.substring(12).replaceAll("L[^;]*;", "");
        if (d.matches(".*[IJFD].*")) {
          faults.add((method == null ? "field" : method) + " has type " + t.substring(12));
        }
        if (t.contains("Ljava/lang/String;")) {
          faults.add((method == null ? "field" : method) + " uses String");
        }
        continue;
      }
      if (t.startsWith("LocalVariableTable:")) {
        inLocals = true;
        continue;
      }
      if (inLocals && t.startsWith("Start")) {
        continue; // the table's header
      }
      if (inLocals) {
        String[] parts = t.split("\\s+");
        if (parts.length == 5 && parts[0].matches("\\d+")) {
          String sig = parts[4];
          if (sig.matches("\\[*[IJFD]")) {
            faults.add(method + ": local " + parts[3] + " of type " + sig);
          }
          continue;
        }
        inLocals = false;
      }
      Matcher i = INSTRUCTION.matcher(line);
      if (i.matches() && method != null) {
        String op = i.group(1);
        String rest = i.group(2);
        char first = op.charAt(0);
        if (((first == 'l' || first == 'f' || first == 'd') && !ALLOWED_D_L_F.contains(op))
            || op.matches("i2[lfd]|ldc2_w|multianewarray|monitorenter|monitorexit")) {
          faults.add(method + ": instruction " + op);
        }
        if (method.equals("<clinit>") && !CLINIT_OPS.contains(op)) {
          faults.add("static initialiser does more than fill constant arrays: " + op + " " + rest);
        }
        boolean allocates = op.equals("new") || op.equals("newarray") || op.equals("anewarray");
        if (op.startsWith("invoke")) {
          for (String call : ALLOCATING_CALLS) {
            if (rest.contains("." + call + ":")) {
              allocates = true;
            }
          }
          Matcher own = OWN_CALL.matcher(rest);
          if (own.find()) {
            callers.computeIfAbsent(own.group(1).replace("\"", ""), k -> new HashSet<>()).add(method);
          }
        }
        if (allocates) {
          allocations.computeIfAbsent(method, k -> new ArrayList<>()).add(op + " " + rest);
        }
        if (op.equals("putfield") || (op.equals("putstatic") && !method.equals("<clinit>"))) {
          fieldWrites.computeIfAbsent(method, k -> new ArrayList<>()).add(op + " " + rest);
        }
      }
    }
    // Methods that run only at install: constructors, static initialisers, install, and own
    // methods every one of whose callers runs only at install.
    Set<String> installOnly = new HashSet<>(Arrays.asList("<init>", "<clinit>", "install"));
    for (boolean grew = true; grew; ) {
      grew = false;
      for (Map.Entry<String, Set<String>> e : callers.entrySet()) {
        if (!installOnly.contains(e.getKey()) && installOnly.containsAll(e.getValue())) {
          grew = installOnly.add(e.getKey());
        }
      }
    }
    for (Map.Entry<String, List<String>> e : allocations.entrySet()) {
      if (!installOnly.contains(e.getKey())) {
        faults.add(e.getKey() + " allocates after install: " + e.getValue());
      }
    }
    for (Map.Entry<String, List<String>> e : fieldWrites.entrySet()) {
      if (!installOnly.contains(e.getKey())) {
        faults.add(e.getKey() + " writes a field after install (fields are persistent: EEPROM writes, outside"
            + " any transaction unless the caller opened one; keep such state in arrays): " + e.getValue());
      }
    }
    return faults;
  }

  @Test
  void every_class_keeps_to_the_subset() throws Exception {
    File[] files = CLASSES.listFiles((d, n) -> n.endsWith(".class"));
    assertTrue(files != null && files.length >= 4, "no class files in " + CLASSES);
    List<String> all = new ArrayList<>();
    for (Map.Entry<String, List<String>> e : javap(files).entrySet()) {
      for (String fault : check(e.getKey(), e.getValue())) {
        all.add(e.getKey() + ": " + fault);
      }
    }
    System.out.println("Java Card subset: " + files.length + " class files checked, " + all.size() + " faults");
    assertTrue(all.isEmpty(), String.join("\n", all));
  }

  /** Breaks the field rule on purpose, for the check's own test. */
  private int written;

  void write() {
    written++;
  }

  @Test
  void the_check_finds_what_it_is_for() throws Exception {
    // This test class itself breaks every rule: ints, Strings, allocation in any method, java.util.
    File self = new File("target/test-classes/org/subsim/applet/JavaCardSubsetTest.class");
    File keypad = new File(CLASSES, "Keypad.class");
    Map<String, List<String>> listings = javap(self, keypad);
    List<String> faults = check(self.getName(), listings.get(self.getName()));
    String joined = String.join("\n", faults);
    for (String expected : new String[] {"has type", "constant String", "class java/util/", "allocates after install",
        "local ", "writes a field after install"}) {
      assertTrue(joined.contains(expected), "the check missed '" + expected + "' in:\n" + joined);
    }
    List<String> ok = check(keypad.getName(), listings.get(keypad.getName()));
    assertTrue(ok.isEmpty(), String.join("\n", ok));
  }
}
