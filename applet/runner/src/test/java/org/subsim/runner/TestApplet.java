package org.subsim.runner;

import javacard.framework.APDU;
import javacard.framework.Applet;
import javacard.framework.ISO7816;
import javacard.framework.ISOException;
import javacard.framework.JCSystem;
import javacard.framework.Util;
import javacard.security.CryptoException;
import javacard.security.ECPublicKey;
import javacard.security.KeyBuilder;
import javacard.security.KeyPair;
import javacard.security.RSAPublicKey;
import javacard.security.RandomData;
import javacard.security.Signature;
import javacardx.crypto.Cipher;

/**
 * A trivial applet for the runner's own tests: it uses exactly the jCardSim services the
 * workarounds repair (key generation, ECDSA, raw RSA, RandomData), plus one command that
 * throws. A CryptoException with reason R is answered 64 0R.
 */
public class TestApplet extends Applet implements javacardx.apdu.ExtendedLength {
    static final byte INS_EC_GENERATE = 0x10;
    static final byte INS_EC_SIGN = 0x12;
    static final byte INS_RSA_GENERATE = 0x14;
    static final byte INS_RSA_RAW_DECRYPT = 0x16;
    static final byte INS_RSA_RAW_ENCRYPT = 0x17;
    static final byte INS_RANDOM = 0x18;
    static final byte INS_THROW = 0x1A;
    static final byte INS_SESSION_SET = 0x1C;
    static final byte INS_SESSION_GET = 0x1E;
    /** Answers Nc (2 bytes), the last data byte and Ne (2 bytes), as the applet saw them. */
    static final byte INS_LENGTHS = 0x20;

    private final KeyPair ec = new KeyPair(KeyPair.ALG_EC_FP, KeyBuilder.LENGTH_EC_FP_256);
    private final KeyPair rsa = new KeyPair(KeyPair.ALG_RSA_CRT, KeyBuilder.LENGTH_RSA_1024);
    private final Signature ecdsa = Signature.getInstance(Signature.ALG_ECDSA_SHA_256, false);
    private final Cipher raw = Cipher.getInstance(Cipher.ALG_RSA_NOPAD, false);
    private final RandomData random = RandomData.getInstance(RandomData.ALG_SECURE_RANDOM);
    private final byte[] scratch = new byte[256];
    private Object nothing;
    /** A session flag, as an applet keeps its PIN's verified state. */
    private final byte[] session = JCSystem.makeTransientByteArray((short) 1, JCSystem.CLEAR_ON_DESELECT);

    public static void install(byte[] b, short off, byte len) {
        new TestApplet().register();
    }

    @Override
    public void process(APDU apdu) {
        if (selectingApplet()) {
            return;
        }
        byte[] buf = apdu.getBuffer();
        short lc = apdu.setIncomingAndReceive();
        try {
            switch (buf[ISO7816.OFFSET_INS]) {
                case INS_EC_GENERATE:
                    ec.genKeyPair();
                    send(apdu, ((ECPublicKey) ec.getPublic()).getW(buf, (short) 0));
                    return;
                case INS_EC_SIGN:
                    ecdsa.init(ec.getPrivate(), Signature.MODE_SIGN);
                    short n = ecdsa.sign(buf, ISO7816.OFFSET_CDATA, lc, scratch, (short) 0);
                    Util.arrayCopyNonAtomic(scratch, (short) 0, buf, (short) 0, n);
                    send(apdu, n);
                    return;
                case INS_RSA_GENERATE:
                    rsa.genKeyPair();
                    send(apdu, ((RSAPublicKey) rsa.getPublic()).getModulus(buf, (short) 0));
                    return;
                case INS_RSA_RAW_DECRYPT:
                case INS_RSA_RAW_ENCRYPT:
                    raw.init(rsa.getPrivate(),
                            buf[ISO7816.OFFSET_INS] == INS_RSA_RAW_DECRYPT ? Cipher.MODE_DECRYPT : Cipher.MODE_ENCRYPT);
                    short m = raw.doFinal(buf, ISO7816.OFFSET_CDATA, lc, scratch, (short) 0);
                    Util.arrayCopyNonAtomic(scratch, (short) 0, buf, (short) 0, m);
                    send(apdu, m);
                    return;
                case INS_RANDOM:
                    random.generateData(buf, (short) 0, (short) 16);
                    send(apdu, (short) 16);
                    return;
                case INS_SESSION_SET:
                    session[0] = 1;
                    return;
                case INS_SESSION_GET:
                    buf[0] = session[0];
                    send(apdu, (short) 1);
                    return;
                case INS_LENGTHS:
                    short nc = apdu.getIncomingLength();
                    byte last = nc > 0 ? buf[(short) (apdu.getOffsetCdata() + nc - 1)] : 0;
                    short ne = apdu.setOutgoing();
                    Util.setShort(buf, (short) 0, nc);
                    buf[2] = last;
                    Util.setShort(buf, (short) 3, ne);
                    apdu.setOutgoingLength((short) 5);
                    apdu.sendBytes((short) 0, (short) 5);
                    return;
                case INS_THROW:
                    nothing.hashCode();
                    return;
                default:
                    ISOException.throwIt(ISO7816.SW_INS_NOT_SUPPORTED);
            }
        } catch (CryptoException e) {
            ISOException.throwIt((short) (0x6400 | e.getReason()));
        }
    }

    private static void send(APDU apdu, short len) {
        apdu.setOutgoingAndSend((short) 0, len);
    }
}
