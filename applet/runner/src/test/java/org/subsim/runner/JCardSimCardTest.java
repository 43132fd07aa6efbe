package org.subsim.runner;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.subsim.runner.Apdus.command;
import static org.subsim.runner.Apdus.data;
import static org.subsim.runner.Apdus.sw;

import java.math.BigInteger;
import java.util.Arrays;
import java.util.HashSet;
import java.util.Set;

import org.junit.jupiter.api.Test;

/** Each of the runner's workarounds, on the test applet in this JVM. */
class JCardSimCardTest {

    /** r of a DER ECDSA signature: SEQUENCE { INTEGER r, INTEGER s }. */
    static BigInteger r(byte[] der) {
        int off = 2;
        if ((der[1] & 0x80) != 0) {
            off += der[1] & 0x7F;
        }
        int len = der[off + 1] & 0xFF;
        return new BigInteger(1, Arrays.copyOfRange(der, off + 2, off + 2 + len));
    }

    @Test
    void theReplacementClassesAreTheOnesLoaded() throws Exception {
        for (String k : new String[] {"SecureRandomNullProvider", "AsymmetricCipherImpl", "KeyAgreementImpl"}) {
            Class<?> c = Class.forName("com.licel.jcardsim.crypto." + k);
            String where = c.getProtectionDomain().getCodeSource().getLocation().toString();
            assertTrue(!where.contains("jcardsim-3.0.6.0.jar"),
                    k + " loaded from " + where + ": the runner's classes must come before jCardSim's");
        }
    }

    @Test
    void noTwoEcdsaSignaturesShareR() {
        JCardSimCard card = Apdus.selectedCard();
        assertEquals(0x9000, sw(card.transmit(command(TestApplet.INS_EC_GENERATE, new byte[0]))));
        Set<BigInteger> rs = new HashSet<>();
        for (int i = 0; i < 40; i++) {
            // The same message each time too: a fresh nonce must still give a fresh r.
            byte[] answer = card.transmit(command(TestApplet.INS_EC_SIGN, new byte[] {(byte) (i % 2)}));
            assertEquals(0x9000, sw(answer));
            assertTrue(rs.add(r(data(answer))), "signature " + i + " repeats an r");
        }
    }

    @Test
    void twoCardsInOneProcessGenerateDifferentKeys() {
        JCardSimCard a = Apdus.selectedCard();
        JCardSimCard b = Apdus.selectedCard();
        byte[] ka = card(a, TestApplet.INS_EC_GENERATE);
        byte[] kb = card(b, TestApplet.INS_EC_GENERATE);
        assertTrue(!Arrays.equals(ka, kb), "two cards made the same P-256 key");
        assertTrue(!Arrays.equals(card(a, TestApplet.INS_RANDOM), card(b, TestApplet.INS_RANDOM)));
    }

    private static byte[] card(JCardSimCard c, int ins) {
        byte[] r = c.transmit(command(ins, new byte[0]));
        assertEquals(0x9000, sw(r));
        return data(r);
    }

    @Test
    void rawRsaTakesAFullLengthBlockInBothModesAndKeepsLeadingZeros() {
        JCardSimCard card = Apdus.selectedCard();
        BigInteger n = new BigInteger(1, card(card, TestApplet.INS_RSA_GENERATE));
        assertEquals(1024, n.bitLength());
        // m = 1: m^d mod n = 1, which is 127 zero bytes and a 01 as a modulus-long block.
        byte[] one = new byte[128];
        one[127] = 1;
        for (int ins : new int[] {TestApplet.INS_RSA_RAW_DECRYPT, TestApplet.INS_RSA_RAW_ENCRYPT}) {
            byte[] r = card.transmit(command(ins, one));
            assertEquals(0x9000, sw(r), "raw RSA, INS " + ins);
            assertArrayEquals(one, data(r), "1^d is 1, a full block");
        }
        // A random block below n: s^e = m (e = 65537).
        byte[] m = n.subtract(BigInteger.valueOf(12345)).toByteArray();
        m = Arrays.copyOfRange(m, m.length - 128, m.length);
        byte[] s = data(card.transmit(command(TestApplet.INS_RSA_RAW_DECRYPT, m)));
        assertEquals(128, s.length);
        assertEquals(new BigInteger(1, m), new BigInteger(1, s).modPow(BigInteger.valueOf(65537), n));
        // A block at the modulus, or a short one: refused (ILLEGAL_USE, reason 5), not a crash.
        byte[] nb = n.toByteArray();
        nb = Arrays.copyOfRange(nb, nb.length - 128, nb.length);
        assertEquals(0x6405, sw(card.transmit(command(TestApplet.INS_RSA_RAW_DECRYPT, nb))));
        assertEquals(0x6405, sw(card.transmit(command(TestApplet.INS_RSA_RAW_ENCRYPT, Arrays.copyOf(one, 127)))));
    }

    @Test
    void aMalformedApduIsAnsweredWrongLength() {
        JCardSimCard card = Apdus.selectedCard();
        byte[][] bad = {
            {}, {0x00}, {0x00, 0x01, 0x02},
            {0x00, 0x01, 0x02, 0x03, 0x05, 0x01},           // Lc 5, one byte
            {0x00, 0x01, 0x02, 0x03, 0x01, 0x09, 0x09, 0x09}, // Lc 1, three bytes
            {0x00, 0x01, 0x02, 0x03, 0x00, 0x00},           // short Lc 0
            {0x00, 0x01, 0x02, 0x03, 0x00, 0x00, 0x00, 0x05}, // extended Lc 0
        };
        for (byte[] a : bad) {
            assertEquals(0x6700, sw(card.transmit(a)), JCardSimCard.hex(a));
        }
        assertTrue(ApduGuard.wellFormed(new byte[] {0, 1, 2, 3}));
        assertTrue(ApduGuard.wellFormed(new byte[] {0, 1, 2, 3, 0, 1, 0}));
        assertTrue(ApduGuard.wellFormed(new byte[] {0, 1, 2, 3, 1, 9, 0}));
        // The card still works after them.
        assertEquals(0x9000, sw(card.transmit(Apdus.select())));
    }

    @Test
    void commandsForOtherLogicalChannelsAreRefusedNotRunOnTheBasicOne() {
        JCardSimCard card = Apdus.selectedCard();
        for (int cla : new int[] {0x81, 0x01, 0x03, 0x41, 0x4F, 0xC1}) {
            byte[] a = command(TestApplet.INS_RANDOM, new byte[0]);
            a[0] = (byte) cla;
            assertEquals(0x6881, sw(card.transmit(a)), String.format("CLA %02X", cla));
        }
        assertEquals(0x6881, sw(card.transmit(new byte[] {0x00, 0x70, 0x00, 0x00, 0x01})), "MANAGE CHANNEL open");
        // As in the model: a malformed MANAGE CHANNEL is a length error first, another channel's command is not.
        assertEquals(0x6700, sw(card.transmit(new byte[] {0x00, 0x70, 0x61, 0x72, 0x05, 0x01})), "malformed");
        assertEquals(0x6881, sw(card.transmit(new byte[] {0x01, 0x20, 0x00, (byte) 0x80, 0x05, 0x01})), "channel 1");
        // Secure messaging comes first: with nothing selected the runner's 6882 (the applet gives its own).
        JCardSimCard fresh = new JCardSimCard(TestApplet.class, Apdus.AID, System.err);
        assertEquals(0x6882, sw(fresh.transmit(new byte[] {0x0C, 0x70, 0x1A, 0x0D})), "MANAGE CHANNEL with SM");
        // The basic channel, and the chaining bit, as before.
        assertEquals(0x9000, sw(card.transmit(command(TestApplet.INS_RANDOM, new byte[0]))));
        byte[] chained = command(TestApplet.INS_RANDOM, new byte[0]);
        chained[0] = (byte) 0x90;
        assertTrue(sw(card.transmit(chained)) != 0x6881);
    }

    @Test
    void aPointOffTheCurveIsACryptoExceptionNotARuntimeOne() {
        javacard.security.KeyPair kp = new javacard.security.KeyPair(
                javacard.security.KeyPair.ALG_EC_FP, javacard.security.KeyBuilder.LENGTH_EC_FP_256);
        kp.genKeyPair();
        javacard.security.KeyAgreement ka = javacard.security.KeyAgreement.getInstance(
                javacard.security.KeyAgreement.ALG_EC_SVDP_DH_PLAIN, false);
        ka.init(kp.getPrivate());
        byte[] own = new byte[65];
        ((javacard.security.ECPublicKey) kp.getPublic()).getW(own, (short) 0);
        byte[] out = new byte[32];
        assertEquals(32, ka.generateSecret(own, (short) 0, (short) 65, out, (short) 0), "a good point agrees");
        own[64] ^= 1;
        javacard.security.CryptoException e = org.junit.jupiter.api.Assertions.assertThrows(
                javacard.security.CryptoException.class,
                () -> ka.generateSecret(own, (short) 0, (short) 65, out, (short) 0));
        assertEquals(javacard.security.CryptoException.ILLEGAL_VALUE, e.getReason());
    }

    @Test
    void anExceptionInTheAppletIsAnswered6F00() {
        JCardSimCard card = Apdus.selectedCard();
        assertEquals(0x6F00, sw(card.transmit(command(TestApplet.INS_THROW, new byte[0]))));
        assertEquals(0x9000, sw(card.transmit(command(TestApplet.INS_RANDOM, new byte[0]))));
    }

    @Test
    void powerCycleDeselectsAndNothingSelectedIsAnsweredAsTheModelDoes() {
        JCardSimCard card = Apdus.selectedCard();
        card.powerCycle();
        assertEquals(0x6D00, sw(card.transmit(command(TestApplet.INS_RANDOM, new byte[0]))), "not jCardSim's 6986");
        assertEquals(0x6A86, sw(card.transmit(new byte[] {0, (byte) 0xA4, 0, 0, 2, 0x3F, 0})), "SELECT by file ID");
        assertEquals(0x6985, sw(card.transmit(new byte[] {0, (byte) 0xC0, 0, 0, 0})), "GET RESPONSE, nothing pending");
        assertEquals(0x6A86, sw(card.transmit(new byte[] {0, (byte) 0xC0, 1, 0, 0})));
        assertEquals(0x6882, sw(card.transmit(new byte[] {0x0C, 0x20, 0, (byte) 0x80})), "secure messaging");
    }

    @Test
    void selectionMatchesWholeAidsAndPrefixesFromTheRidOn() {
        JCardSimCard card = Apdus.selectedCard();
        // An AID no applet has: 6A82, and the applet stays selected.
        assertEquals(0x6A82, sw(card.transmit(Apdus.select(JCardSimCard.hex("A0000000030000")))));
        assertEquals(0x9000, sw(card.transmit(command(TestApplet.INS_RANDOM, new byte[0]))));
        // Four bytes are no AID (5 to 16); five bytes of it are a partial AID that selects.
        assertEquals(0x6A82, sw(card.transmit(Apdus.select(JCardSimCard.hex("F0000000")))));
        assertEquals(0x9000, sw(card.transmit(Apdus.select(JCardSimCard.hex("F000000001")))));
        // Longer than the applet's AID: no match.
        assertEquals(0x6A82, sw(card.transmit(Apdus.select(JCardSimCard.hex("F0000000010102")))));
    }

    @Test
    void reSelectionKeepsTheSessionAPowerCycleDoesNot() {
        JCardSimCard card = Apdus.selectedCard();
        assertEquals(0x9000, sw(card.transmit(command(TestApplet.INS_SESSION_SET, new byte[0]))));
        assertEquals(0x9000, sw(card.transmit(Apdus.select())));
        assertArrayEquals(new byte[] {1}, card(card, TestApplet.INS_SESSION_GET), "re-selection kept CLEAR_ON_DESELECT");
        card.powerCycle();
        assertEquals(0x9000, sw(card.transmit(Apdus.select())));
        assertArrayEquals(new byte[] {0}, card(card, TestApplet.INS_SESSION_GET), "a power cycle clears it");
    }

    @Test
    void theClassByteIsCheckedBeforeTheLength() {
        JCardSimCard card = Apdus.selectedCard();
        assertEquals(0x6E00, sw(card.transmit(new byte[] {(byte) 0xFF, 0x20})));
        assertEquals(0x6E00, sw(card.transmit(new byte[] {0x2D, (byte) 0xC1})));
        assertEquals(0x6881, sw(card.transmit(new byte[] {0x41, 0x20, 0x00})));
        assertEquals(0x6700, sw(card.transmit(new byte[] {0x00, 0x20, 0x00})));
    }

    @Test
    void aFullShortCase4CommandReachesTheApplet() {
        // 255 data bytes and an Le: 261 bytes, one more than jCardSim's short buffer (6F00).
        JCardSimCard card = Apdus.selectedCard();
        byte[] data = new byte[255];
        data[254] = 0x5A;
        for (int le : new int[] {0, 5}) {
            byte[] a = command(TestApplet.INS_LENGTHS, data);
            a[a.length - 1] = (byte) le;
            assertEquals(261, a.length);
            byte[] r = card.transmit(a);
            assertEquals(0x9000, sw(r), "Le " + le);
            int ne = le == 0 ? 256 : le;
            assertArrayEquals(new byte[] {0x00, (byte) 0xFF, 0x5A, (byte) (ne >> 8), (byte) ne}, data(r));
        }
        // Other lengths go as they are: 254 bytes and an Le, short.
        byte[] r = card.transmit(command(TestApplet.INS_LENGTHS, new byte[254]));
        assertArrayEquals(new byte[] {0x00, (byte) 0xFE, 0x00, 0x01, 0x00}, data(r));
    }

    @Test
    void anExtendedLeOf65536ReachesTheAppletAs32767() {
        JCardSimCard card = Apdus.selectedCard();
        // Case 4E: 00 CB-like header, Lc 00 00 02, two bytes, Le 00 00 (Ne = 65536), then Le 01 00.
        for (int[] le : new int[][] {{0x00, 0x00, 0x7FFF}, {0x01, 0x00, 0x0100}, {0x80, 0x00, 0x7FFF}}) {
            byte[] a = {0x00, TestApplet.INS_LENGTHS, 0, 0, 0, 0, 2, 1, 2, (byte) le[0], (byte) le[1]};
            byte[] r = card.transmit(a);
            assertEquals(0x9000, sw(r));
            assertArrayEquals(new byte[] {0x00, 0x02, 0x02, (byte) (le[2] >> 8), (byte) le[2]}, data(r),
                    String.format("Le %02X%02X", le[0], le[1]));
        }
        // Case 2E: 00 00 00.
        byte[] r = card.transmit(new byte[] {0x00, TestApplet.INS_LENGTHS, 0, 0, 0, 0, 0});
        assertArrayEquals(new byte[] {0x00, 0x00, 0x00, 0x7F, (byte) 0xFF}, data(r));
    }

    @Test
    void anExtendedSelectSelects() {
        JCardSimCard card = new JCardSimCard(TestApplet.class, Apdus.AID, System.err);
        byte[] sel = new byte[7 + Apdus.AID.length + 2];
        sel[1] = (byte) 0xA4;
        sel[2] = 0x04;
        sel[6] = (byte) Apdus.AID.length;
        System.arraycopy(Apdus.AID, 0, sel, 7, Apdus.AID.length);
        assertEquals(0x9000, sw(card.transmit(sel)), "extended SELECT, Le 0000 (65536: not short)");
        sel[sel.length - 1] = 0x10;
        assertEquals(0x9000, sw(card.transmit(sel)), "extended SELECT, Le 0010");
        assertEquals(0x9000, sw(card.transmit(command(TestApplet.INS_RANDOM, new byte[0]))));
    }
}
