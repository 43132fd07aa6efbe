package com.licel.jcardsim.crypto;

import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;

/**
 * Workaround "real random source" (replaces jCardSim 3.0.6.0's class of this name, which the
 * runner's class path puts first).
 *
 * <p>jCardSim's own class is a SHA-1 digest generator that nobody seeds: every key pair it
 * generated (KeyPairImpl) and every ECDSA nonce it drew (AsymmetricSignatureImpl.init) came out
 * the same in every fresh process, so two cards had the same keys and two signatures shared
 * {@code r}, which gives the private key away. This one draws from the operating system's
 * generator (NativePRNGNonBlocking: /dev/urandom), a fresh instance wherever jCardSim asks.
 * {@code setSeed} adds to it, as SecureRandom's contract says, and never replaces it.
 */
class SecureRandomNullProvider extends SecureRandom {
    private static final long serialVersionUID = 1L;

    /** Tells a test that this class, not jCardSim's, was loaded. */
    static final String WORKAROUND = "real random source";

    SecureRandomNullProvider() {
        super(system(), null);
    }

    private static java.security.SecureRandomSpi system() {
        try {
            SecureRandom os = SecureRandom.getInstance("NativePRNGNonBlocking");
            return new java.security.SecureRandomSpi() {
                private static final long serialVersionUID = 1L;

                @Override
                protected void engineSetSeed(byte[] seed) {
                    os.setSeed(seed);
                }

                @Override
                protected void engineNextBytes(byte[] bytes) {
                    os.nextBytes(bytes);
                }

                @Override
                protected byte[] engineGenerateSeed(int n) {
                    return os.generateSeed(n);
                }
            };
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("no operating-system random source (NativePRNGNonBlocking)", e);
        }
    }
}
