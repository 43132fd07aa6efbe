package org.subsim.runner;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;

/**
 * Two fresh processes, two different cards: the pitfall was per process (jCardSim's
 * generators start from the same state in every JVM), so only fresh JVMs can show it.
 */
class FreshProcessTest {

    /** Runs KeyDump in a new JVM; {@code stock}: jCardSim's classes first, as it ships. */
    static String dump(boolean stock) throws IOException, InterruptedException {
        String cp = System.getProperty("java.class.path");
        if (stock) {
            // jCardSim's own SecureRandomNullProvider and AsymmetricCipherImpl win when it comes first.
            List<String> parts = new ArrayList<>(List.of(cp.split(File.pathSeparator)));
            String jcardsim = parts.stream().filter(p -> p.contains("jcardsim")).findFirst().orElseThrow();
            parts.remove(jcardsim);
            parts.add(0, jcardsim);
            cp = String.join(File.pathSeparator, parts);
        }
        String java = System.getProperty("java.home") + "/bin/java";
        List<String> cmd = new ArrayList<>(List.of(java, "-cp", cp, KeyDump.class.getName()));
        if (stock) {
            cmd.add("stock");
        }
        Process p = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.INHERIT).start();
        String all = new String(p.getInputStream().readAllBytes(), StandardCharsets.US_ASCII).trim();
        // jCardSim prints chatter on stdout: KeyDump's line is the last.
        String out = all.substring(all.lastIndexOf('\n') + 1);
        assertEquals(0, p.waitFor(), "KeyDump exited");
        assertTrue(out.split(" ").length >= 2 && out.contains("9000"), out);
        return out;
    }

    @Test
    void twoFreshProcessesGenerateDifferentKeys() throws Exception {
        String a = dump(false);
        String b = dump(false);
        String[] ka = a.split(" ");
        String[] kb = b.split(" ");
        for (int i = 0; i < ka.length; i++) {
            assertNotEquals(ka[i], kb[i], "item " + i + " (P-256 key, RSA modulus, RandomData) repeats across processes");
        }
    }

    /**
     * The control: stock jCardSim 3.0.6.0 makes the same keys in every fresh process. When a
     * jCardSim release fixes that, this fails: the workaround may then go.
     */
    @Test
    void stockJCardSimRepeatsItsKeysAcrossProcesses() throws Exception {
        assertEquals(dump(true), dump(true), "stock jCardSim no longer repeats keys: revisit the workaround");
    }
}
