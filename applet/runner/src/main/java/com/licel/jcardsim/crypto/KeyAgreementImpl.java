package com.licel.jcardsim.crypto;

import java.math.BigInteger;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;

import com.licel.jcardsim.bouncycastle.crypto.params.ECDomainParameters;
import com.licel.jcardsim.bouncycastle.crypto.params.ECPrivateKeyParameters;
import com.licel.jcardsim.bouncycastle.math.ec.ECPoint;
import javacard.framework.Util;
import javacard.security.CryptoException;
import javacard.security.KeyAgreement;
import javacard.security.PrivateKey;

/**
 * Workaround "an invalid public point is a CryptoException" (replaces jCardSim 3.0.6.0's class
 * of this name, which the runner's class path puts first).
 *
 * <p>jCardSim's key agreement let BouncyCastle's IllegalArgumentException for a point off the
 * curve escape, and the simulator answered 6F00, as for a bug in the applet. The Java Card 3.0.5
 * API has {@code generateSecret} throw {@code CryptoException.ILLEGAL_VALUE} for public data it
 * cannot use (the applet answers 6A80). Here the elliptic-curve agreements: the shared point
 * S = d·Q (with the cofactor for the DHC forms), its x coordinate at the field's length (the
 * PLAIN forms), its SHA-1 (ALG_EC_SVDP_DH and DHC), or the whole uncompressed point (PLAIN_XY).
 * Finite-field DH and PACE's generic mapping are not here (the sub-SIM applet uses neither):
 * NO_SUCH_ALGORITHM.
 */
public class KeyAgreementImpl extends KeyAgreement {
    private final byte algorithm;
    private ECPrivateKeyParameters key;

    public KeyAgreementImpl(byte algorithm) {
        switch (algorithm) {
            case ALG_EC_SVDP_DH:
            case ALG_EC_SVDP_DHC:
            case ALG_EC_SVDP_DH_PLAIN:
            case ALG_EC_SVDP_DHC_PLAIN:
            case ALG_EC_SVDP_DH_PLAIN_XY:
                break;
            default:
                CryptoException.throwIt(CryptoException.NO_SUCH_ALGORITHM);
        }
        this.algorithm = algorithm;
    }

    @Override
    public void init(PrivateKey privateKey) throws CryptoException {
        if (privateKey == null) {
            CryptoException.throwIt(CryptoException.UNINITIALIZED_KEY);
        }
        if (!(privateKey instanceof ECPrivateKeyImpl)) {
            CryptoException.throwIt(CryptoException.ILLEGAL_VALUE);
        }
        if (!privateKey.isInitialized()) {
            CryptoException.throwIt(CryptoException.UNINITIALIZED_KEY);
        }
        key = (ECPrivateKeyParameters) ((ECPrivateKeyImpl) privateKey).getParameters();
    }

    @Override
    public byte getAlgorithm() {
        return algorithm;
    }

    @Override
    public short generateSecret(byte[] pub, short pubOff, short pubLen, byte[] secret, short secretOff)
            throws CryptoException {
        if (key == null) {
            CryptoException.throwIt(CryptoException.INVALID_INIT);
        }
        ECDomainParameters domain = key.getParameters();
        byte[] encoded = new byte[pubLen];
        Util.arrayCopyNonAtomic(pub, pubOff, encoded, (short) 0, pubLen);
        ECPoint peer;
        try {
            peer = domain.getCurve().decodePoint(encoded);
        } catch (RuntimeException e) {
            CryptoException.throwIt(CryptoException.ILLEGAL_VALUE); // off the curve, or no point at all
            return 0;
        }
        boolean cofactor = algorithm == ALG_EC_SVDP_DHC || algorithm == ALG_EC_SVDP_DHC_PLAIN;
        BigInteger d = cofactor ? key.getD().multiply(domain.getH()).mod(domain.getN()) : key.getD();
        ECPoint shared = peer.multiply(d).normalize();
        if (shared.isInfinity()) {
            CryptoException.throwIt(CryptoException.ILLEGAL_VALUE);
        }
        byte[] out;
        if (algorithm == ALG_EC_SVDP_DH_PLAIN_XY) {
            out = shared.getEncoded(false);
        } else {
            out = shared.getAffineXCoord().getEncoded(); // the field's length, leading zeros kept
            if (algorithm == ALG_EC_SVDP_DH || algorithm == ALG_EC_SVDP_DHC) {
                out = sha1(out);
            }
        }
        Util.arrayCopyNonAtomic(out, (short) 0, secret, secretOff, (short) out.length);
        return (short) out.length;
    }

    private static byte[] sha1(byte[] b) {
        try {
            return MessageDigest.getInstance("SHA-1").digest(b);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every JDK has SHA-1", e);
        }
    }
}
