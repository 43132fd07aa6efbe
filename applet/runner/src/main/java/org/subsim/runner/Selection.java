package org.subsim.runner;

/**
 * Workarounds of jCardSim's application selection, as a card's runtime selects (Java Card
 * 3.0.5 RE specification, 4.5; ISO 7816-4, 11.2.2), and as the model's transport layer does:
 *
 * <ul>
 *   <li>SELECT by DF name of an AID no applet has answers 6A82 and keeps the applet selected
 *       (jCardSim answered 6999 and deselected it, so ykman stopped at its first probe);
 *   <li>a partial AID selects only from 5 bytes on, the RID (jCardSim matched any length; an
 *       AID is 5 to 16 bytes, Java Card 3.0.5 API, javacard.framework.AID);
 *   <li>with nothing selected, a command answers 6D00 (ISO 7816-4, 5.6: no application to
 *       know it), SELECT other than by DF name 6A86, GET RESPONSE as the transport layer
 *       does, a class byte asking for secure messaging 6882 (jCardSim answered 6986 to
 *       everything). With the applet selected, these are the applet's to answer.
 * </ul>
 */
final class Selection {
    static final byte[] NOT_FOUND = {0x6A, (byte) 0x82};
    static final byte[] INS_NOT_SUPPORTED = {0x6D, 0x00};
    static final byte[] INCORRECT_P1P2 = {0x6A, (byte) 0x86};
    static final byte[] CONDITIONS = {0x69, (byte) 0x85};
    static final byte[] SM_NOT_SUPPORTED = {0x68, (byte) 0x82};

    private Selection() { }

    /** Interindustry class (b8 = 0), INS A4, P1 04. */
    static boolean isSelectByName(byte[] a) {
        return (a[0] & 0x80) == 0 && a[1] == (byte) 0xA4 && a[2] == 0x04;
    }

    /** The command's data length: short Lc, or extended (00 Lc Lc). */
    private static int lc(byte[] a) {
        int body = a.length - 4;
        if (body <= 1) {
            return 0; // no data, maybe Le
        }
        if (a[4] != 0) {
            return a[4] & 0xFF;
        }
        return body == 3 ? 0 : ((a[5] & 0xFF) << 8) | (a[6] & 0xFF); // 00 Le Le, or 00 Lc Lc
    }

    /** Whether the SELECT's AID is the applet's, whole or a prefix of 5 bytes or more. */
    static boolean matches(byte[] a, byte[] aid) {
        int n = lc(a);
        int off = (a[4] & 0xFF) != 0 ? 5 : 7;
        if (n < 5 || n > 16 || n > aid.length) {
            return false;
        }
        for (int i = 0; i < n; i++) {
            if (a[off + i] != aid[i]) {
                return false;
            }
        }
        return true;
    }

    /** The answer to a command when no applet is selected. */
    static byte[] nothingSelected(byte[] a) {
        if (ApduGuard.secureMessaging(a[0])) {
            return SM_NOT_SUPPORTED.clone(); // ISO 7816-4, 5.4.1 and 5.6; the transport layer's first refusal
        }
        boolean interindustry = (a[0] & 0x80) == 0;
        if (interindustry && a[1] == (byte) 0xA4) {
            return INCORRECT_P1P2.clone();
        }
        if (interindustry && a[1] == (byte) 0xC0) {
            if (a[2] != 0 || a[3] != 0) {
                return INCORRECT_P1P2.clone();
            }
            return lc(a) > 0 && a.length > 5 ? ApduGuard.WRONG_LENGTH.clone() : CONDITIONS.clone();
        }
        return INS_NOT_SUPPORTED.clone();
    }
}
