package org.subsim.tools;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;

import javax.tools.JavaCompiler;
import javax.tools.ToolProvider;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.subsim.tools.SubsetChecker.Violation;

/** The checker refuses each deliberately bad class, for the right reason, and passes good code. */
class SubsetCheckerTest {

    /** The fixtures, compiled as the applet is: Java 8 class files with debug tables. */
    private static Path fixtures;

    @BeforeAll
    static void compileFixtures() throws IOException {
        fixtures = Files.createTempDirectory("subset-fixtures");
        JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
        int rc = javac.run(null, null, null, "--release", "8", "-g", "-nowarn", "-d", fixtures.toString(),
                "-cp", System.getProperty("java.class.path"), "src/test/fixtures/org/subsim/tools/bad/Fixtures.java");
        assertEquals(0, rc, "the fixtures compile");
    }

    private static List<Violation> check(String nested) throws IOException {
        Path f = fixtures.resolve("org/subsim/tools/bad/Fixtures$" + nested + ".class");
        List<byte[]> classes = new ArrayList<>();
        classes.add(Files.readAllBytes(f));
        return SubsetChecker.check(classes);
    }

    @Test
    void goodAppletCodePasses() throws IOException {
        assertEquals(List.of(), check("Good"));
    }

    @ParameterizedTest(name = "{0} is refused: {1}")
    @CsvSource(delimiter = '|', value = {
        "LongArithmetic    | long/float/double opcode",
        "FloatValue        | long/float/double opcode",
        "DoubleValue       | Double constant",
        "IntField          | field of type int",
        "IntParameter      | parameter of type int",
        "IntArray          | new int array",
        "IntLocal          | local variable wide of type int",
        "UsesString        | String constant",
        "UsesString        | uses java.lang.String",
        "UsesStringBuilder | uses java.lang.StringBuilder",
        "OtherClass        | uses java.util.ArrayList",
        "MultiDimensional  | multi-dimensional array",
        "Synchronized      | synchronized method",
        "Synchronized      | synchronized block",
        "ComputedStaticInit | static initialiser does a branch",
        "StaticObject      | static initialiser does new java.lang.Object",
        "Lambda            | invokedynamic",
        "CharValue         | of type char",
        "AllocatesAfterInstall | process(Ljavacard/framework/APDU;)V: allocates after install: newarray",
        "AllocatesAfterInstall | fresh()[B: allocates after install: javacard.framework.JCSystem.makeTransientByteArray",
        "WritesFieldAfterInstall | process(Ljavacard/framework/APDU;)V: writes a field after install",
    })
    void badCodeIsRefused(String fixture, String rule) throws IOException {
        List<Violation> v = check(fixture);
        String all = v.stream().map(Violation::toString).collect(Collectors.joining("\n"));
        assertTrue(all.contains(rule), fixture + ": expected a violation containing \"" + rule + "\", got:\n" + all);
    }

    @Test
    void theInstallOnlyClosureMayAllocateAndWriteFields() throws IOException {
        // The constructors, install and what only they call: no violation for those.
        String all = check("WritesFieldAfterInstall").stream().map(Violation::toString)
                .collect(Collectors.joining("\n"));
        assertEquals(1, check("WritesFieldAfterInstall").size(), all);
        assertTrue(!all.contains("<init>"), all);
        assertEquals(2, check("AllocatesAfterInstall").size(),
                check("AllocatesAfterInstall").stream().map(Violation::toString).collect(Collectors.joining("\n")));
    }

    @Test
    void onlyJavaLangsObjectAndExceptionsAreAllowed() {
        assertTrue(SubsetChecker.JAVA_LANG.contains("java/lang/NullPointerException"));
        assertTrue(!SubsetChecker.JAVA_LANG.contains("java/lang/String"));
        assertTrue(!SubsetChecker.JAVA_LANG.contains("java/lang/Integer"));
    }
}
