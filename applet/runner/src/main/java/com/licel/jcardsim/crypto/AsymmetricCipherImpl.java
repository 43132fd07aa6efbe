package com.licel.jcardsim.crypto;

import java.math.BigInteger;
import java.security.SecureRandom;
import java.util.Arrays;

import com.licel.jcardsim.bouncycastle.crypto.AsymmetricBlockCipher;
import com.licel.jcardsim.bouncycastle.crypto.CipherParameters;
import com.licel.jcardsim.bouncycastle.crypto.InvalidCipherTextException;
import com.licel.jcardsim.bouncycastle.crypto.encodings.OAEPEncoding;
import com.licel.jcardsim.bouncycastle.crypto.encodings.PKCS1Encoding;
import com.licel.jcardsim.bouncycastle.crypto.engines.RSAEngine;
import com.licel.jcardsim.bouncycastle.crypto.params.ParametersWithRandom;
import com.licel.jcardsim.bouncycastle.crypto.params.RSAKeyParameters;
import javacard.framework.Util;
import javacard.security.CryptoException;
import javacard.security.Key;
import javacardx.crypto.Cipher;

/**
 * Workaround "RSA without padding on a full-length block" (replaces jCardSim 3.0.6.0's class of
 * this name, which the runner's class path puts first).
 *
 * <p>jCardSim's RSA cipher refused {@code ALG_RSA_NOPAD} on a block as long as the modulus in
 * {@code MODE_ENCRYPT} (licel/jcardsim issues 18, 106, 224), answered a block at or above the
 * modulus with an uncaught runtime exception, and cut the leading zero bytes of a result, so a
 * raw RSA operation (SP 800-73-4 GENERAL AUTHENTICATE with an RSA key) was one byte short about
 * once in 256. Here, as the Java Card 3.0.5 API says for RSA ciphers: NOPAD takes exactly one
 * modulus-long block below the modulus, in either mode, and gives one modulus-long block back;
 * otherwise {@code CryptoException.ILLEGAL_USE}. PKCS#1 v1.5 and OAEP are BouncyCastle's
 * encodings, as in jCardSim, with a real random source for encryption padding.
 */
public class AsymmetricCipherImpl extends Cipher {
    private final byte algorithm;
    private RSAKeyParameters key;
    private byte mode;
    private AsymmetricBlockCipher engine;
    private byte[] buffer;
    private short length;

    public AsymmetricCipherImpl(byte algorithm) {
        if (algorithm != ALG_RSA_NOPAD && algorithm != ALG_RSA_PKCS1 && algorithm != ALG_RSA_PKCS1_OAEP) {
            CryptoException.throwIt(CryptoException.NO_SUCH_ALGORITHM);
        }
        this.algorithm = algorithm;
    }

    @Override
    public void init(Key theKey, byte theMode) throws CryptoException {
        if (theKey == null || !theKey.isInitialized()) {
            CryptoException.throwIt(CryptoException.UNINITIALIZED_KEY);
        }
        if (!(theKey instanceof KeyWithParameters)
                || !(((KeyWithParameters) theKey).getParameters() instanceof RSAKeyParameters)) {
            CryptoException.throwIt(CryptoException.ILLEGAL_VALUE);
        }
        if (theMode != MODE_ENCRYPT && theMode != MODE_DECRYPT) {
            CryptoException.throwIt(CryptoException.ILLEGAL_VALUE);
        }
        key = (RSAKeyParameters) ((KeyWithParameters) theKey).getParameters();
        mode = theMode;
        boolean encrypt = mode == MODE_ENCRYPT;
        if (algorithm == ALG_RSA_NOPAD) {
            engine = new RSAEngine();
            engine.init(encrypt, key);
        } else {
            engine = algorithm == ALG_RSA_PKCS1 ? new PKCS1Encoding(new RSAEngine()) : new OAEPEncoding(new RSAEngine());
            CipherParameters p = encrypt ? new ParametersWithRandom(key, new SecureRandom()) : key;
            engine.init(encrypt, p);
        }
        buffer = new byte[modulusLength()];
        length = 0;
    }

    @Override
    public void init(Key theKey, byte theMode, byte[] bArray, short bOff, short bLen) throws CryptoException {
        // RSA takes no initial vector (Java Card 3.0.5 API, Cipher.init).
        CryptoException.throwIt(CryptoException.ILLEGAL_VALUE);
    }

    private short modulusLength() {
        return (short) ((key.getModulus().bitLength() + 7) / 8);
    }

    @Override
    public byte getAlgorithm() {
        return algorithm;
    }

    @Override
    public byte getCipherAlgorithm() {
        return CIPHER_RSA;
    }

    @Override
    public byte getPaddingAlgorithm() {
        switch (algorithm) {
            case ALG_RSA_PKCS1:
                return PAD_PKCS1;
            case ALG_RSA_PKCS1_OAEP:
                return PAD_PKCS1_OAEP;
            default:
                return PAD_NOPAD;
        }
    }

    @Override
    public short update(byte[] inBuff, short inOffset, short inLength, byte[] outBuff, short outOffset)
            throws CryptoException {
        if (key == null) {
            CryptoException.throwIt(CryptoException.INVALID_INIT);
        }
        if (inLength > buffer.length - length) {
            CryptoException.throwIt(CryptoException.ILLEGAL_USE);
        }
        length = Util.arrayCopyNonAtomic(inBuff, inOffset, buffer, length, inLength);
        return 0;
    }

    @Override
    public short doFinal(byte[] inBuff, short inOffset, short inLength, byte[] outBuff, short outOffset)
            throws CryptoException {
        update(inBuff, inOffset, inLength, outBuff, outOffset);
        byte[] in = Arrays.copyOf(buffer, length);
        Arrays.fill(buffer, (byte) 0);
        length = 0;
        byte[] out = algorithm == ALG_RSA_NOPAD ? raw(in) : padded(in);
        short n = Util.arrayCopyNonAtomic(out, (short) 0, outBuff, outOffset, (short) out.length);
        Arrays.fill(out, (byte) 0);
        return (short) (n - outOffset);
    }

    /** One modulus-long block in, one out: leading zeros kept. */
    private byte[] raw(byte[] in) {
        int k = modulusLength();
        if (in.length != k || new BigInteger(1, in).compareTo(key.getModulus()) >= 0) {
            CryptoException.throwIt(CryptoException.ILLEGAL_USE);
        }
        byte[] r;
        try {
            r = engine.processBlock(in, 0, in.length);
        } catch (InvalidCipherTextException e) {
            CryptoException.throwIt(CryptoException.ILLEGAL_USE);
            return null;
        }
        byte[] out = new byte[k];
        int from = Math.max(0, r.length - k);
        System.arraycopy(r, from, out, k - (r.length - from), r.length - from);
        return out;
    }

    private byte[] padded(byte[] in) {
        if (in.length > engine.getInputBlockSize()) {
            CryptoException.throwIt(CryptoException.ILLEGAL_USE);
        }
        try {
            byte[] r = engine.processBlock(in, 0, in.length);
            if (mode == MODE_ENCRYPT && r.length < modulusLength()) {
                byte[] out = new byte[modulusLength()];
                System.arraycopy(r, 0, out, out.length - r.length, r.length);
                return out;
            }
            return r;
        } catch (InvalidCipherTextException | RuntimeException e) {
            CryptoException.throwIt(CryptoException.ILLEGAL_USE);
            return null;
        }
    }
}
