package org.subsim.applet;

import javacard.security.RandomData;

/** A RandomData whose bytes a test chooses: subclasses say what nextBytes writes. */
abstract class TestRandom extends RandomData {
  @Override
  public void generateData(byte[] buf, short off, short len) {
    nextBytes(buf, off, len);
  }

  @Override
  public void setSeed(byte[] buf, short off, short len) {}

  @Override
  public byte getAlgorithm() {
    return ALG_SECURE_RANDOM;
  }
}
