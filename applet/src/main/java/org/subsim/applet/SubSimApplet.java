package org.subsim.applet;

import javacard.framework.APDU;
import javacard.framework.Applet;
import javacard.framework.ISO7816;
import javacard.framework.ISOException;
import javacard.framework.JCSystem;
import javacard.framework.OwnerPIN;
import javacard.framework.Util;
import javacard.security.AESKey;
import javacard.security.CryptoException;
import javacard.security.DESKey;
import javacard.security.KeyBuilder;
import javacard.security.RandomData;
import javacardx.apdu.ExtendedLength;
import javacardx.crypto.Cipher;

/**
 * The sub-SIM applet (Java Card 3.0.5 classic): PIV (NIST SP 800-73-4 part 2) with Yubico's
 * management commands and the class-80 sub-SIM extensions, answering command for command as
 * the Rust model (apdu-sim/src/applet, apdu-sim/src/iso.rs) does. Every constant comes from
 * {@link Spec}, generated from applet-spec.
 *
 * <p>Transport (the model's iso.rs, the part an applet can do): the class byte (6E00, 6882),
 * command chaining (6883, at most MAX_COMMAND_DATA bytes), 61xx and GET RESPONSE for answers
 * longer than Le (short APDUs). Logical channels and MANAGE CHANNEL are the runtime's.
 *
 * <p>Handlers check in the model's order: P1/P2 (6A86), data shape (6700/6A80), security
 * (6982/6985), then act. Every object is allocated in the constructor.
 */
public final class SubSimApplet extends Applet implements ExtendedLength {
  // ---- install parameters ---------------------------------------------------------
  /** Heap size when the install parameters do not give one (bytes). */
  static final short DEFAULT_HEAP = (short) 28672;

  // ---- entries of the heap: data objects, the BIT group, then one per key slot -------
  private static final short OBJ_BIT_GROUP = Spec.OBJ_WRITABLE_COUNT;
  private static final short KEY_BASE = (short) (Spec.OBJ_WRITABLE_COUNT + 1);
  private static final short ENTRIES = (short) (KEY_BASE + Spec.SLOT_COUNT);

  // ---- persistent configuration bytes (cfg) -----------------------------------------
  private static final short CFG_PIN_IDX = 0;
  private static final short CFG_PUK_IDX = 1;
  private static final short CFG_PIN_DEFAULT = 2;
  private static final short CFG_PUK_DEFAULT = 3;
  private static final short CFG_PIN_ENTRY = 4;
  private static final short CFG_MGM_ALG = 5;
  private static final short CFG_BINDING_LEN = 6;
  private static final short CFG_BINDING_TRIES = 7;
  private static final short CFG_SIZE = 8;

  // ---- transient session state (st, CLEAR_ON_DESELECT) --------------------------------
  private static final short ST_PIN_VERIFIED = 0;
  private static final short ST_PIN_ALWAYS = 1;
  private static final short ST_MGM_AUTH = 2;
  private static final short ST_MGM_PENDING = 3; // 0 none, 1 witness, 2 challenge
  private static final short ST_BINDING_PRESENTED = 4;
  private static final short ST_CHAINING = 5;
  private static final short ST_CHAIN_HEADER = 6; // 4 bytes: CLA (no chain bit), INS, P1, P2
  private static final short ST_SIZE = 10;
  private static final byte PENDING_WITNESS = 1;
  private static final byte PENDING_CHALLENGE = 2;

  // ---- transient shorts (ts) ----------------------------------------------------------
  private static final short TS_CHAIN_LEN = 0;
  private static final short TS_OUT_OFF = 1;
  private static final short TS_OUT_LEN = 2;
  private static final short TS_SIZE = 3;

  /** Response data written in RAM: the largest answer but ATTEST and objects (RSA-4096). */
  private static final short OUT_SIZE = 640;

  private final Heap heap;
  private final Keys keys;
  private final RandomData rng;
  private final Keypad keypad;
  private final Attestation attestation;
  private final OwnerPIN[] pins = new OwnerPIN[Spec.MAX_TRIES];
  private final OwnerPIN[] puks = new OwnerPIN[Spec.MAX_TRIES];
  private final byte[] cfg = new byte[CFG_SIZE];
  private final byte[] serial = new byte[4];
  private final byte[] guid = new byte[Spec.GUID_LEN];
  private final byte[] changes = new byte[4];
  private final byte[] mgmKey = new byte[32];
  private final byte[] binding = new byte[Spec.BINDING_MAX_LEN];
  private final byte[] importForbidden = new byte[Spec.SLOT_COUNT];
  /** Chained command data and long answers (ATTEST); wiped after each use. */
  private final byte[] scratch = new byte[(short) (Spec.MAX_COMMAND_DATA + 16)];

  private final DESKey mgm3des;
  private final AESKey mgmAes128;
  private final AESKey mgmAes192;
  private final AESKey mgmAes256;
  private final Cipher desEcb;
  private final Cipher aesEcb;

  private final byte[] st;
  private final short[] ts;
  private final short[] tlv;
  private final short[] parts;
  private final byte[] out;
  private final byte[] mgmBlock;
  private final Object[] outSrc;

  private SubSimApplet(byte[] params, short off, short len) {
    short heapSize = DEFAULT_HEAP;
    if (len >= 2) {
      heapSize = Util.getShort(params, off);
      if (heapSize < 1024) {
        heapSize = DEFAULT_HEAP;
      }
    }
    heap = new Heap(heapSize, ENTRIES);
    rng = RandomData.getInstance(RandomData.ALG_SECURE_RANDOM);
    keys = new Keys(rng);
    keypad = new Keypad(rng, Spec.PIN_MIN_LEN, Spec.PIN_BLOCK_LEN);
    attestation = new Attestation(rng, Spec.VERSION, Spec.TOUCH_POLICY_NEVER, Spec.FORM_FACTOR_UNKNOWN);
    for (short i = 0; i < Spec.MAX_TRIES; i++) {
      pins[i] = new OwnerPIN((byte) (i + 1), Spec.PIN_BLOCK_LEN);
      puks[i] = new OwnerPIN((byte) (i + 1), Spec.PIN_BLOCK_LEN);
    }
    mgm3des = (DESKey) KeyBuilder.buildKey(KeyBuilder.TYPE_DES, KeyBuilder.LENGTH_DES3_3KEY, false);
    mgmAes128 = (AESKey) KeyBuilder.buildKey(KeyBuilder.TYPE_AES, KeyBuilder.LENGTH_AES_128, false);
    mgmAes192 = (AESKey) KeyBuilder.buildKey(KeyBuilder.TYPE_AES, KeyBuilder.LENGTH_AES_192, false);
    mgmAes256 = (AESKey) KeyBuilder.buildKey(KeyBuilder.TYPE_AES, KeyBuilder.LENGTH_AES_256, false);
    desEcb = Cipher.getInstance(Cipher.ALG_DES_ECB_NOPAD, false);
    aesEcb = Cipher.getInstance(Cipher.ALG_AES_BLOCK_128_ECB_NOPAD, false);

    // Session state: CLEAR_ON_RESET, and cleared by deselect() (another applet selected);
    // a re-SELECT of this applet keeps it (the model's rule), where the runtime does not
    // deselect (JCRE 3.0.5: re-selection calls select() only).
    st = JCSystem.makeTransientByteArray(ST_SIZE, JCSystem.CLEAR_ON_RESET);
    ts = JCSystem.makeTransientShortArray(TS_SIZE, JCSystem.CLEAR_ON_DESELECT);
    tlv = JCSystem.makeTransientShortArray(Tlv.SIZE, JCSystem.CLEAR_ON_DESELECT);
    parts = JCSystem.makeTransientShortArray((short) 10, JCSystem.CLEAR_ON_DESELECT);
    out = JCSystem.makeTransientByteArray(OUT_SIZE, JCSystem.CLEAR_ON_DESELECT);
    mgmBlock = JCSystem.makeTransientByteArray((short) 16, JCSystem.CLEAR_ON_DESELECT);
    outSrc = JCSystem.makeTransientObjectArray((short) 1, JCSystem.CLEAR_ON_DESELECT);

    // Manufacture: serial (install parameter bytes 2-5, else random), GUID, factory state.
    if (len >= 6) {
      Util.arrayCopyNonAtomic(params, (short) (off + 2), serial, (short) 0, (short) 4);
    } else {
      rng.nextBytes(serial, (short) 0, (short) 4);
      serial[0] &= 0x03; // below 99 999 999, as the model's serials
      serial[3] |= 0x01; // never zero
    }
    rng.nextBytes(guid, (short) 0, Spec.GUID_LEN);
    factory();
    writeFixedObjects();
  }

  /**
   * Installs the applet. Install parameters (the application-specific part of GlobalPlatform's
   * INSTALL [for install] data, all optional): heap size in bytes (2 bytes, big-endian; default
   * 28672), then the card serial (4 bytes; default random).
   */
  public static void install(byte[] bArray, short bOffset, byte bLength) {
    short pOff = 0;
    short pLen = 0;
    short aidOff = 0;
    byte aidLen = 0;
    if (bLength > 0) {
      // GlobalPlatform install data: [len AID] [len privileges] [len parameters].
      aidLen = bArray[bOffset];
      aidOff = (short) (bOffset + 1);
      short p = (short) (aidOff + aidLen);
      short end = (short) (bOffset + (bLength & 0xFF));
      if (p < end) {
        p = (short) (p + 1 + (bArray[p] & 0xFF));
        if (p < end) {
          pLen = (short) (bArray[p] & 0xFF);
          pOff = (short) (p + 1);
          if ((short) (pOff + pLen) > end) {
            pLen = 0;
          }
        }
      }
    }
    SubSimApplet applet = new SubSimApplet(bArray, pOff, pLen);
    if (aidLen >= 5 && aidLen <= 16) {
      applet.register(bArray, aidOff, aidLen);
    } else {
      applet.register();
    }
  }

  // ---- factory state ------------------------------------------------------------------

  /** PIN, PUK, management key and policies as from the factory (inside a transaction or at install). */
  private void factory() {
    short pinIdx = (short) (Spec.PIN_TRIES - 1);
    short pukIdx = (short) (Spec.PUK_TRIES - 1);
    pins[pinIdx].update(Spec.DEFAULT_PIN_BLOCK, (short) 0, Spec.PIN_BLOCK_LEN);
    pins[pinIdx].resetAndUnblock();
    puks[pukIdx].update(Spec.DEFAULT_PUK_BLOCK, (short) 0, Spec.PIN_BLOCK_LEN);
    puks[pukIdx].resetAndUnblock();
    cfg[CFG_PIN_IDX] = (byte) pinIdx;
    cfg[CFG_PUK_IDX] = (byte) pukIdx;
    cfg[CFG_PIN_DEFAULT] = 1;
    cfg[CFG_PUK_DEFAULT] = 1;
    cfg[CFG_PIN_ENTRY] = Spec.PIN_ENTRY_ANY;
    cfg[CFG_MGM_ALG] = Spec.ALG_3DES;
    cfg[CFG_BINDING_LEN] = 0;
    cfg[CFG_BINDING_TRIES] = 0;
    zero(mgmKey);
    Util.arrayCopy(Spec.DEFAULT_MGM_KEY, (short) 0, mgmKey, (short) 0, (short) Spec.DEFAULT_MGM_KEY.length);
    zero(binding);
    zero(importForbidden);
  }

  /** Zeroes a persistent array with ordinary writes, so a transaction can undo them. */
  private static void zero(byte[] a) {
    for (short i = 0; i < (short) a.length; i++) {
      if (a[i] != 0) {
        a[i] = 0;
      }
    }
  }

  /** The CHUID (GUID in tag 34) and the CCC (card identifier from the GUID), at install. */
  private void writeFixedObjects() {
    short l = (short) Spec.CHUID_TEMPLATE.length;
    short at = newObject(l);
    short v = (short) (at + 1 + Tlv.lenSize(l));
    Util.arrayCopyNonAtomic(Spec.CHUID_TEMPLATE, (short) 0, heap.mem, v, l);
    Util.arrayCopyNonAtomic(guid, (short) 0, heap.mem, (short) (v + Spec.CHUID_GUID_OFFSET), Spec.GUID_LEN);
    heap.set(objectId(Spec.OBJ_CHUID), at, (short) (1 + Tlv.lenSize(l) + l));
    l = (short) Spec.CCC_TEMPLATE.length;
    at = newObject(l);
    v = (short) (at + 1 + Tlv.lenSize(l));
    Util.arrayCopyNonAtomic(Spec.CCC_TEMPLATE, (short) 0, heap.mem, v, l);
    Util.arrayCopyNonAtomic(guid, (short) 0, heap.mem, (short) (v + Spec.CCC_CARD_ID_OFFSET), Spec.CARD_ID_LEN);
    heap.set(objectId(Spec.OBJ_CCC), at, (short) (1 + Tlv.lenSize(l) + l));
    heap.endCommand();
  }

  /** Allocates a data object block for a value of l bytes and writes its 53 header; returns the block. */
  private short newObject(short l) {
    short at = heap.allocate((short) (1 + Tlv.lenSize(l) + l));
    Tlv.header(heap.mem, at, Spec.TAG_DATA, l);
    return at;
  }

  // ---- selection ----------------------------------------------------------------------

  public boolean select() {
    // Re-selection drops the keypad layout and a half-done 9B authentication (the model's
    // select); PIN and 9B state are the runtime's CLEAR_ON_DESELECT business.
    keypad.clear();
    st[ST_MGM_PENDING] = 0;
    dropChainAndAnswer();
    return true;
  }

  public void deselect() {
    keypad.clear();
    for (short i = 0; i < ST_SIZE; i++) {
      st[i] = 0;
    }
    wipeScratch();
  }

  private void dropChainAndAnswer() {
    st[ST_CHAINING] = 0;
    ts[TS_CHAIN_LEN] = 0;
    ts[TS_OUT_LEN] = 0;
    outSrc[0] = null;
  }

  /**
   * Zeroes scratch where it holds anything: reads are cheap and writes are not on EEPROM,
   * so only a used prefix is written.
   */
  private void wipeScratch() {
    short end = (short) scratch.length;
    while (end > 0 && scratch[(short) (end - 1)] == 0) {
      end--;
    }
    if (end > 0) {
      Util.arrayFillNonAtomic(scratch, (short) 0, end, (byte) 0);
    }
  }

  // ---- the transport layer ------------------------------------------------------------

  public void process(APDU apdu) {
    byte[] buf = apdu.getBuffer();
    heap.endCommand();
    byte cla = buf[ISO7816.OFFSET_CLA];
    byte info = Spec.CLA_TABLE[(short) (cla & 0xFF)];
    if (info == 0) {
      ISOException.throwIt(Spec.SW_CLA_NOT_SUPPORTED);
    }
    if ((info & Spec.CLA_IS_SECURE_MESSAGING) != 0) {
      dropChainAndAnswer();
      ISOException.throwIt(Spec.SW_SECURE_MESSAGING_NOT_SUPPORTED);
    }
    // The answer left from the previous command: only GET RESPONSE may take it.
    short leftLen = ts[TS_OUT_LEN];
    short leftOff = ts[TS_OUT_OFF];
    Object leftSrc = outSrc[0];
    ts[TS_OUT_LEN] = 0;
    outSrc[0] = null;

    // Short or extended (ISO 7816-4 5.1): the runtime says where the data starts and how
    // long it is; an extended command's data (at most MAX_COMMAND_DATA) fits the buffer
    // the runtime gives an ExtendedLength applet.
    short got = apdu.setIncomingAndReceive();
    short lc = apdu.getIncomingLength();
    short cdata = apdu.getOffsetCdata();
    if (lc < 0 || lc > Spec.MAX_COMMAND_DATA || buf.length < (short) (cdata + lc)) {
      dropChainAndAnswer();
      ISOException.throwIt(Spec.SW_WRONG_LENGTH);
    }
    while (got < lc) {
      short more = apdu.receiveBytes((short) (cdata + got));
      if (more <= 0) {
        break;
      }
      got += more;
    }
    byte[] data = buf;
    short dOff = cdata;
    short dLen = got;
    byte plainCla = (byte) (cla & ~Spec.CLA_CHAIN);
    boolean chained = (info & Spec.CLA_IS_CHAINED) != 0;
    boolean usedScratch = false;
    if (st[ST_CHAINING] != 0) {
      st[ST_CHAINING] = 0;
      if (st[ST_CHAIN_HEADER] != plainCla
          || st[(short) (ST_CHAIN_HEADER + 1)] != buf[ISO7816.OFFSET_INS]
          || st[(short) (ST_CHAIN_HEADER + 2)] != buf[ISO7816.OFFSET_P1]
          || st[(short) (ST_CHAIN_HEADER + 3)] != buf[ISO7816.OFFSET_P2]) {
        ts[TS_CHAIN_LEN] = 0;
        wipeScratch();
        ISOException.throwIt(Spec.SW_LAST_COMMAND_OF_CHAIN_EXPECTED);
      }
      short have = ts[TS_CHAIN_LEN];
      ts[TS_CHAIN_LEN] = 0;
      if ((short) (have + got) > Spec.MAX_COMMAND_DATA) {
        wipeScratch();
        ISOException.throwIt(Spec.SW_WRONG_LENGTH);
      }
      Util.arrayCopyNonAtomic(buf, cdata, scratch, have, got);
      data = scratch;
      dOff = 0;
      dLen = (short) (have + got);
      usedScratch = true;
    }
    if (chained) {
      if (data != scratch) {
        Util.arrayCopyNonAtomic(buf, cdata, scratch, (short) 0, got);
      }
      st[ST_CHAINING] = 1;
      st[ST_CHAIN_HEADER] = plainCla;
      st[(short) (ST_CHAIN_HEADER + 1)] = buf[ISO7816.OFFSET_INS];
      st[(short) (ST_CHAIN_HEADER + 2)] = buf[ISO7816.OFFSET_P1];
      st[(short) (ST_CHAIN_HEADER + 3)] = buf[ISO7816.OFFSET_P2];
      ts[TS_CHAIN_LEN] = dLen;
      return;
    }
    boolean proprietary = (info & Spec.CLA_IS_PROPRIETARY) != 0;
    byte ins = buf[ISO7816.OFFSET_INS];
    byte p1 = buf[ISO7816.OFFSET_P1];
    byte p2 = buf[ISO7816.OFFSET_P2];
    try {
      if (!proprietary && ins == Spec.INS_GET_RESPONSE) {
        getResponse(p1, p2, dLen, leftSrc, leftOff, leftLen);
      } else if (!proprietary) {
        dispatchIso(ins, p1, p2, data, dOff, dLen);
      } else {
        dispatchProprietary(ins, p1, p2, data, dOff, dLen);
      }
    } catch (CryptoException e) {
      ISOException.throwIt(Spec.SW_UNKNOWN_ERROR);
    } finally {
      if (usedScratch && outSrc[0] != scratch) {
        wipeScratch();
      }
    }
    send(apdu);
  }

  /** Sends at most Ne bytes of the answer; keeps the rest for GET RESPONSE (61xx). */
  private void send(APDU apdu) {
    short len = ts[TS_OUT_LEN];
    byte[] src = (byte[]) outSrc[0];
    if (len == 0 || src == null) {
      ts[TS_OUT_LEN] = 0;
      outSrc[0] = null;
      return;
    }
    // Ne: a short Le gives at most 256 (61xx for the rest); an extended Le gives up to
    // 32767 (Le 0000 = 65536, 32767 from the runtime), so the whole answer goes at once.
    // No Le (0) still answers, at most 256 bytes, as the model does.
    short ne = apdu.setOutgoing();
    if (ne <= 0) {
      ne = Spec.SHORT_MAX_NE;
    }
    short n = len > ne ? ne : len;
    short off = ts[TS_OUT_OFF];
    apdu.setOutgoingLength(n);
    apdu.sendBytesLong(src, off, n);
    short left = (short) (len - n);
    if (left == 0) {
      ts[TS_OUT_LEN] = 0;
      outSrc[0] = null;
      if (src == scratch) {
        wipeScratch(); // an attestation, all sent
      }
      return;
    }
    ts[TS_OUT_OFF] = (short) (off + n);
    ts[TS_OUT_LEN] = left;
    ISOException.throwIt(
        (short) (Spec.SW_BYTES_REMAINING_00 | (left >= Spec.SHORT_MAX_NE ? 0 : left)));
  }

  /** The answer: len bytes of src from off (sent by send()). */
  private void answer(byte[] src, short off, short len) {
    outSrc[0] = src;
    ts[TS_OUT_OFF] = off;
    ts[TS_OUT_LEN] = len;
  }

  private void answerOut(short len) {
    answer(out, (short) 0, len);
  }

  private void getResponse(byte p1, byte p2, short dLen, Object src, short off, short len) {
    if (p1 != 0 || p2 != 0) {
      ISOException.throwIt(Spec.SW_INCORRECT_P1_P2);
    }
    if (dLen != 0) {
      ISOException.throwIt(Spec.SW_WRONG_LENGTH);
    }
    if (len == 0 || src == null) {
      ISOException.throwIt(Spec.SW_CONDITIONS_NOT_SATISFIED);
    }
    answer((byte[]) src, off, len);
  }

  private void dispatchIso(byte ins, byte p1, byte p2, byte[] d, short o, short l) {
    switch (ins) {
      case Spec.INS_SELECT:
        selectCommand(p1, p2, d, o, l);
        return;
      case Spec.INS_GET_DATA:
        getData(p1, p2, d, o, l);
        return;
      case Spec.INS_PUT_DATA:
        putData(p1, p2, d, o, l);
        return;
      case Spec.INS_VERIFY:
        verify(p1, p2, d, o, l);
        return;
      case Spec.INS_CHANGE_REFERENCE_DATA:
        changeReferenceData(p1, p2, d, o, l);
        return;
      case Spec.INS_RESET_RETRY_COUNTER:
        resetRetryCounter(p1, p2, d, o, l);
        return;
      case Spec.INS_GENERAL_AUTHENTICATE:
        generalAuthenticate(p1, p2, d, o, l);
        return;
      case Spec.INS_GENERATE_ASYMMETRIC_KEY_PAIR:
        generate(p1, p2, d, o, l);
        return;
      case Spec.INS_SET_MANAGEMENT_KEY:
        setManagementKey(p1, p2, d, o, l);
        return;
      case Spec.INS_GET_SERIAL:
        p1p2(p1, p2, (byte) 0, (byte) 0);
        noData(l);
        answer(serial, (short) 0, (short) 4);
        return;
      case Spec.INS_GET_VERSION:
        p1p2(p1, p2, (byte) 0, (byte) 0);
        noData(l);
        answer(Spec.VERSION, (short) 0, (short) Spec.VERSION.length);
        return;
      case Spec.INS_GET_METADATA:
        getMetadata(p1, p2, l);
        return;
      case Spec.INS_ATTEST:
        attest(p1, p2, l);
        return;
      case Spec.INS_SET_PIN_RETRIES:
        setPinRetries(p1, p2, l);
        return;
      case Spec.INS_RESET:
        p1p2(p1, p2, (byte) 0, (byte) 0);
        noData(l);
        if (!(blocked(pin()) && blocked(puk()))) {
          ISOException.throwIt(Spec.SW_CONDITIONS_NOT_SATISFIED);
        }
        backToFactory();
        return;
      case Spec.INS_IMPORT_KEY:
        importKey(p1, p2, d, o, l);
        return;
      case Spec.INS_MOVE_KEY:
        moveKey(p1, p2, l);
        return;
      default:
        ISOException.throwIt(Spec.SW_INS_NOT_SUPPORTED);
    }
  }

  private void dispatchProprietary(byte ins, byte p1, byte p2, byte[] d, short o, short l) {
    switch (ins) {
      case Spec.INS_GET_KEYPAD:
        p1p2(p1, p2, (byte) 0, (byte) 0);
        noData(l);
        answerOut(keypad.draw(out, (short) 0));
        return;
      case Spec.INS_VERIFY_KEYPAD:
        verifyKeypad(p1, p2, d, o, l);
        return;
      case Spec.INS_SET_PIN_POLICY:
        setPinPolicy(p1, p2, l);
        return;
      case Spec.INS_SET_BINDING:
        setBinding(p1, p2, d, o, l);
        return;
      case Spec.INS_PRESENT_BINDING:
        presentBinding(p1, p2, d, o, l);
        return;
      case Spec.INS_GET_STATUS:
        getStatus(p1, p2, l);
        return;
      case Spec.INS_TERMINATE:
        p1p2(p1, p2, (byte) 0, (byte) 0);
        noData(l);
        if (!(st[ST_MGM_AUTH] != 0 || (blocked(pin()) && blocked(puk())))) {
          ISOException.throwIt(Spec.SW_SECURITY_STATUS_NOT_SATISFIED);
        }
        backToFactory();
        return;
      case Spec.INS_SET_IMPORT_POLICY:
        setImportPolicy(p1, p2, l);
        return;
      default:
        ISOException.throwIt(Spec.SW_INS_NOT_SUPPORTED);
    }
  }

  // ---- common checks --------------------------------------------------------------------

  private static void p1p2(byte p1, byte p2, byte w1, byte w2) {
    if (p1 != w1 || p2 != w2) {
      ISOException.throwIt(Spec.SW_INCORRECT_P1_P2);
    }
  }

  private static void noData(short l) {
    if (l != 0) {
      ISOException.throwIt(Spec.SW_WRONG_LENGTH);
    }
  }

  private void requireMgm() {
    if (st[ST_MGM_AUTH] == 0) {
      ISOException.throwIt(Spec.SW_SECURITY_STATUS_NOT_SATISFIED);
    }
  }

  private void bumpChanges() {
    for (short i = 3; i >= 0; i--) {
      changes[i]++;
      if (changes[i] != 0) {
        return;
      }
    }
  }

  /** The slot index (Spec.SLOT_REFS) of a key reference, or -1. */
  private static short slotIndex(byte ref) {
    for (short i = 0; i < Spec.SLOT_COUNT; i++) {
      if (Spec.SLOT_REFS[i] == ref) {
        return i;
      }
    }
    return -1;
  }

  // ---- SELECT ----------------------------------------------------------------------------

  /** Whether d[o, o+l) is our AID or a prefix of it at least the RID long. */
  private static boolean aidMatches(byte[] d, short o, short l) {
    return l >= (short) Spec.PIV_RID.length
        && l <= (short) Spec.PIV_AID.length
        && Util.arrayCompare(d, o, Spec.PIV_AID, (short) 0, l) == 0;
  }

  private void selectCommand(byte p1, byte p2, byte[] d, short o, short l) {
    if (p1 != Spec.SELECT_P1_BY_NAME) {
      ISOException.throwIt(Spec.SW_INCORRECT_P1_P2);
    }
    if (!aidMatches(d, o, l)) {
      ISOException.throwIt(Spec.SW_FILE_NOT_FOUND);
    }
    if (p2 == Spec.SELECT_P2_ANSWER) {
      answerOut(selectAnswer(out, (short) 0));
    } else if (p2 != Spec.SELECT_P2_NO_ANSWER) {
      ISOException.throwIt(Spec.SW_INCORRECT_P1_P2);
    }
    if (!selectingApplet()) {
      keypad.clear();
      st[ST_MGM_PENDING] = 0;
    }
  }

  /**
   * The application property template, without the AC templates of key algorithms this
   * platform lacks (the list says which the card has).
   */
  private short selectAnswer(byte[] b, short at) {
    byte[] t = Spec.SELECT_RESPONSE;
    if (!Tlv.ber(t, (short) 0, (short) t.length, tlv)) {
      ISOException.throwIt(Spec.SW_UNKNOWN_ERROR);
    }
    short p = tlv[Tlv.VAL_OFF];
    short end = (short) (p + tlv[Tlv.VAL_LEN]);
    short w = (short) (at + 3); // room for 61 and a long length
    while (p < end) {
      Tlv.ber(t, p, end, tlv);
      short next = tlv[Tlv.NEXT];
      boolean keep = true;
      if (tlv[Tlv.TAG] == (short) (Spec.TAG_CONTROL_REF & 0xFF)) {
        // AC { 80 01 alg, 06 01 00 }: the algorithm byte is the 80's value.
        short v = tlv[Tlv.VAL_OFF];
        byte alg = t[(short) (v + 2)];
        if (isKeyAlgorithm(alg) && !keys.isSupported(alg)) {
          keep = false;
        }
      }
      if (keep) {
        w = Util.arrayCopyNonAtomic(t, p, b, w, (short) (next - p));
      }
      p = next;
    }
    short inner = (short) (w - at - 3);
    short h = (short) (1 + Tlv.lenSize(inner));
    Util.arrayCopyNonAtomic(b, (short) (at + 3), b, (short) (at + h), inner);
    b[at] = t[0];
    Tlv.putLen(b, (short) (at + 1), inner);
    return (short) (h + inner);
  }

  private static boolean isKeyAlgorithm(byte alg) {
    for (short i = 0; i < (short) Spec.KEY_ALGS.length; i++) {
      if (Spec.KEY_ALGS[i] == alg) {
        return true;
      }
    }
    return false;
  }

  // ---- data objects -----------------------------------------------------------------------

  /** The heap entry of a writable object's tag (low two bytes of 5Fxxxx), or -1. */
  private static short objectId(short tag) {
    short base = 0;
    for (short i = 0; i < (short) Spec.OBJ_WRITABLE_RANGES.length; i += 2) {
      short lo = Spec.OBJ_WRITABLE_RANGES[i];
      short hi = Spec.OBJ_WRITABLE_RANGES[(short) (i + 1)];
      // Unsigned comparison of the two tag bytes.
      if ((short) (tag ^ (short) 0x8000) >= (short) (lo ^ (short) 0x8000)
          && (short) (tag ^ (short) 0x8000) <= (short) (hi ^ (short) 0x8000)) {
        return (short) (base + (short) (tag - lo));
      }
      base += (short) (hi - lo + 1);
    }
    return -1;
  }

  /**
   * Reads the object tag in 5C's value at tlv (GET/PUT DATA): answers the heap entry, or
   * -2 for discovery, -3 for the card state, -1 for any other complete tag; 6A80 if the
   * tag is not complete. tagOut[0] gets the low two bytes of a 5Fxxxx tag.
   */
  private short objectFromTag(byte[] d, short v, short vl, short[] tagOut) {
    if (!Tlv.completeTag(d, v, vl)) {
      ISOException.throwIt(Spec.SW_INCORRECT_DATA);
    }
    tagOut[0] = 0;
    if (vl == 1) {
      return d[v] == Spec.TAG_DISCOVERY ? (short) -2 : (short) -1;
    }
    if (vl == 2) {
      return Util.getShort(d, v) == Spec.TAG_BIT_GROUP ? OBJ_BIT_GROUP : (short) -1;
    }
    if (d[v] != Spec.TAG_OBJECT_FIRST) {
      return -1;
    }
    short t = Util.getShort(d, (short) (v + 1));
    tagOut[0] = t;
    if (t == Spec.OBJ_CARD_STATE) {
      return -3;
    }
    return objectId(t);
  }

  private static boolean pinProtected(short tag) {
    for (short i = 0; i < (short) Spec.OBJ_PIN_PROTECTED.length; i++) {
      if (Spec.OBJ_PIN_PROTECTED[i] == tag) {
        return true;
      }
    }
    return false;
  }

  private void getData(byte p1, byte p2, byte[] d, short o, short l) {
    p1p2(p1, p2, Spec.DATA_P1, Spec.DATA_P2);
    short end = (short) (o + l);
    if (!Tlv.ber(d, o, end, tlv) || tlv[Tlv.NEXT] != end || tlv[Tlv.TAG] != (short) (Spec.TAG_TAG_LIST & 0xFF)) {
      ISOException.throwIt(Spec.SW_INCORRECT_DATA);
    }
    short id = objectFromTag(d, tlv[Tlv.VAL_OFF], tlv[Tlv.VAL_LEN], parts);
    if (id == -2) {
      answer(Spec.DISCOVERY_OBJECT, (short) 0, (short) Spec.DISCOVERY_OBJECT.length);
      return;
    }
    if (id == -3) {
      short w = Tlv.header(out, (short) 0, Spec.TAG_DATA, (short) 12);
      w = Tlv.header(out, w, Spec.TAG_CS_SERIAL, (short) 4);
      w = Util.arrayCopyNonAtomic(serial, (short) 0, out, w, (short) 4);
      w = Tlv.header(out, w, Spec.TAG_CS_CHANGES, (short) 4);
      w = Util.arrayCopyNonAtomic(changes, (short) 0, out, w, (short) 4);
      answerOut(w);
      return;
    }
    if (pinProtected(parts[0]) && st[ST_PIN_VERIFIED] == 0) {
      ISOException.throwIt(Spec.SW_SECURITY_STATUS_NOT_SATISFIED);
    }
    if (id < 0 || !heap.present(id)) {
      ISOException.throwIt(Spec.SW_FILE_NOT_FOUND);
    }
    answer(heap.mem, heap.offset(id), heap.length(id));
  }

  private void putData(byte p1, byte p2, byte[] d, short o, short l) {
    p1p2(p1, p2, Spec.DATA_P1, Spec.DATA_P2);
    short end = (short) (o + l);
    if (!Tlv.ber(d, o, end, tlv) || tlv[Tlv.TAG] != (short) (Spec.TAG_TAG_LIST & 0xFF)) {
      ISOException.throwIt(Spec.SW_INCORRECT_DATA);
    }
    short tv = tlv[Tlv.VAL_OFF];
    short tl = tlv[Tlv.VAL_LEN];
    short second = tlv[Tlv.NEXT];
    if (!Tlv.ber(d, second, end, tlv) || tlv[Tlv.NEXT] != end || tlv[Tlv.TAG] != (short) (Spec.TAG_DATA & 0xFF)) {
      ISOException.throwIt(Spec.SW_INCORRECT_DATA);
    }
    short vOff = tlv[Tlv.VAL_OFF];
    short vLen = tlv[Tlv.VAL_LEN];
    short id = objectFromTag(d, tv, tl, parts);
    if (id < 0) {
      ISOException.throwIt(Spec.SW_INCORRECT_DATA);
    }
    if (vLen > Spec.MAX_OBJECT_LEN) {
      ISOException.throwIt(Spec.SW_NOT_ENOUGH_MEMORY);
    }
    requireMgm();
    short at = 0;
    short blockLen = 0;
    if (vLen != 0) {
      at = newObject(vLen);
      blockLen = (short) (1 + Tlv.lenSize(vLen) + vLen);
      Util.arrayCopyNonAtomic(d, vOff, heap.mem, (short) (at + blockLen - vLen), vLen);
    }
    boolean retired = retiredCertObject(parts[0]);
    short kh = retired ? reserveKeyHistory() : (short) 0;
    JCSystem.beginTransaction();
    heap.set(id, at, blockLen);
    if (retired) {
      writeKeyHistory(kh);
    }
    bumpChanges();
    JCSystem.commitTransaction();
  }

  private static boolean retiredCertObject(short tag) {
    for (short i = 0; i < Spec.SLOT_COUNT; i++) {
      if (Spec.SLOT_RETIRED[i] != 0 && Spec.SLOT_CERT_TAGS[i] == tag) {
        return true;
      }
    }
    return false;
  }

  /**
   * Key History (SP 800-73-4 part 1, table 19), kept in step inside the caller's transaction:
   * C1 retired keys whose certificate is on the card, C2 those without, the issuer's F3
   * kept; nothing written while no retired slot has a key and no history exists.
   */
  /** The URL (F3) of the current Key History, if it parses: offset in parts[8], length in parts[9] (-1: none). */
  private void keyHistoryUrl() {
    short kh = objectId(Spec.OBJ_KEY_HISTORY);
    parts[8] = 0;
    parts[9] = -1;
    if (heap.present(kh)) {
      short b = heap.offset(kh);
      if (Tlv.ber(heap.mem, b, (short) (b + heap.length(kh)), tlv)) {
        short v = tlv[Tlv.VAL_OFF];
        short e = (short) (v + tlv[Tlv.VAL_LEN]);
        if (Tlv.flatSequence(heap.mem, v, e, tlv) && Tlv.flatFind(heap.mem, v, e, Spec.TAG_KH_URL, tlv)) {
          parts[8] = tlv[Tlv.VAL_OFF];
          parts[9] = tlv[Tlv.VAL_LEN];
        }
      }
    }
  }

  private short keyHistoryValueLength() {
    keyHistoryUrl();
    short len = (short) (3 + 3 + 2);
    if (parts[9] >= 0) {
      len += (short) (1 + Tlv.lenSize(parts[9]) + parts[9]);
    }
    return len;
  }

  /**
   * A block for the Key History, taken before the transaction that will fill it, so a full
   * heap is 6A84 before anything changed. Its size does not depend on the counts.
   */
  private short reserveKeyHistory() {
    return newObject(keyHistoryValueLength());
  }

  /**
   * Key History (SP 800-73-4 part 1, table 19), kept in step inside the caller's transaction
   * (block from reserveKeyHistory): C1 retired keys whose certificate is on the card, C2
   * those without, the issuer's F3 kept; nothing written while no retired slot has a key
   * and no history exists.
   */
  private void writeKeyHistory(short at) {
    short kh = objectId(Spec.OBJ_KEY_HISTORY);
    short on = 0;
    short off = 0;
    for (short i = 0; i < Spec.SLOT_COUNT; i++) {
      if (Spec.SLOT_RETIRED[i] != 0 && heap.present((short) (KEY_BASE + i))) {
        if (heap.present(objectId(Spec.SLOT_CERT_TAGS[i]))) {
          on++;
        } else {
          off++;
        }
      }
    }
    if (on == 0 && off == 0 && !heap.present(kh)) {
      return;
    }
    short len = keyHistoryValueLength();
    short urlOff = parts[8];
    short urlLen = parts[9];
    short w = (short) (at + 1 + Tlv.lenSize(len));
    w = Tlv.header(heap.mem, w, Spec.TAG_KH_ON_CARD, (short) 1);
    heap.mem[w++] = (byte) on;
    w = Tlv.header(heap.mem, w, Spec.TAG_KH_OFF_CARD, (short) 1);
    heap.mem[w++] = (byte) off;
    if (urlLen >= 0) {
      w = Tlv.header(heap.mem, w, Spec.TAG_KH_URL, urlLen);
      w = Util.arrayCopyNonAtomic(heap.mem, urlOff, heap.mem, w, urlLen);
    }
    w = Tlv.header(heap.mem, w, Spec.TAG_ERROR_DETECTION, (short) 0);
    heap.set(kh, at, (short) (w - at));
  }

  // ---- PIN and PUK ------------------------------------------------------------------------

  private OwnerPIN pin() {
    return pins[cfg[CFG_PIN_IDX]];
  }

  private OwnerPIN puk() {
    return puks[cfg[CFG_PUK_IDX]];
  }

  private static boolean blocked(OwnerPIN p) {
    return p.getTriesRemaining() == 0;
  }

  /** applet-spec's is_valid_pin_block: 6-8 bytes, FF-padded, no FF inside, digits for a PIN. */
  private static boolean validBlock(byte[] b, short o, boolean digitsOnly) {
    short len = Spec.PIN_BLOCK_LEN;
    for (short i = 0; i < Spec.PIN_BLOCK_LEN; i++) {
      if (b[(short) (o + i)] == (byte) 0xFF) {
        len = i;
        break;
      }
    }
    for (short i = len; i < Spec.PIN_BLOCK_LEN; i++) {
      if (b[(short) (o + i)] != (byte) 0xFF) {
        return false;
      }
    }
    if (len < Spec.PIN_MIN_LEN) {
      return false;
    }
    if (digitsOnly) {
      for (short i = 0; i < len; i++) {
        byte c = b[(short) (o + i)];
        if (c < (byte) '0' || c > (byte) '9') {
          return false;
        }
      }
    }
    return true;
  }

  private static boolean isDefault(byte[] b, short o, byte[] factory) {
    return Util.arrayCompare(b, o, factory, (short) 0, Spec.PIN_BLOCK_LEN) == 0;
  }

  /**
   * The reference check: blocked is 6983; OwnerPIN spends the try before comparing; a
   * mismatch is 63Cx.
   */
  private void check(OwnerPIN ref, byte[] b, short o) {
    if (blocked(ref)) {
      ISOException.throwIt(Spec.SW_AUTH_METHOD_BLOCKED);
    }
    if (!ref.check(b, o, Spec.PIN_BLOCK_LEN)) {
      ISOException.throwIt((short) (Spec.SW_TRIES_LEFT_0 | ref.getTriesRemaining()));
    }
  }

  private void verifyPinBlock(byte[] b, short o) {
    st[ST_PIN_VERIFIED] = 0;
    st[ST_PIN_ALWAYS] = 0;
    check(pin(), b, o);
    st[ST_PIN_VERIFIED] = 1;
    st[ST_PIN_ALWAYS] = 1;
  }

  private void verify(byte p1, byte p2, byte[] d, short o, short l) {
    if (p1 != Spec.VERIFY_P1_CHECK && p1 != Spec.VERIFY_P1_LOGOUT) {
      ISOException.throwIt(Spec.SW_INCORRECT_P1_P2);
    }
    if (p2 != Spec.KEY_REF_PIN) {
      ISOException.throwIt(Spec.SW_REFERENCE_NOT_FOUND);
    }
    if (p1 == Spec.VERIFY_P1_LOGOUT) {
      noData(l);
      st[ST_PIN_VERIFIED] = 0;
      st[ST_PIN_ALWAYS] = 0;
      return;
    }
    OwnerPIN p = pin();
    if (l == 0) {
      if (blocked(p)) {
        ISOException.throwIt(Spec.SW_AUTH_METHOD_BLOCKED);
      }
      if (st[ST_PIN_VERIFIED] == 0) {
        ISOException.throwIt((short) (Spec.SW_TRIES_LEFT_0 | p.getTriesRemaining()));
      }
      return;
    }
    if (l != Spec.PIN_BLOCK_LEN) {
      ISOException.throwIt(Spec.SW_INCORRECT_DATA);
    }
    if (cfg[CFG_PIN_ENTRY] == Spec.PIN_ENTRY_KEYPAD_ONLY) {
      ISOException.throwIt(Spec.SW_CONDITIONS_NOT_SATISFIED);
    }
    verifyPinBlock(d, o);
  }

  private void changeReferenceData(byte p1, byte p2, byte[] d, short o, short l) {
    if (p1 != 0) {
      ISOException.throwIt(Spec.SW_INCORRECT_P1_P2);
    }
    boolean isPin = p2 == Spec.KEY_REF_PIN;
    if (!isPin && p2 != Spec.KEY_REF_PUK) {
      ISOException.throwIt(Spec.SW_REFERENCE_NOT_FOUND);
    }
    if (l != (short) (2 * Spec.PIN_BLOCK_LEN)) {
      ISOException.throwIt(Spec.SW_INCORRECT_DATA);
    }
    short n = (short) (o + Spec.PIN_BLOCK_LEN);
    if (!validBlock(d, n, isPin)) {
      ISOException.throwIt(Spec.SW_INCORRECT_DATA);
    }
    OwnerPIN ref = isPin ? pin() : puk();
    if (isPin) {
      st[ST_PIN_VERIFIED] = 0;
      st[ST_PIN_ALWAYS] = 0;
    }
    check(ref, d, o);
    JCSystem.beginTransaction();
    ref.update(d, n, Spec.PIN_BLOCK_LEN);
    cfg[isPin ? CFG_PIN_DEFAULT : CFG_PUK_DEFAULT] =
        isDefault(d, n, isPin ? Spec.DEFAULT_PIN_BLOCK : Spec.DEFAULT_PUK_BLOCK) ? (byte) 1 : (byte) 0;
    JCSystem.commitTransaction();
    if (isPin) {
      st[ST_PIN_VERIFIED] = 1;
    }
  }

  private void resetRetryCounter(byte p1, byte p2, byte[] d, short o, short l) {
    if (p1 != 0) {
      ISOException.throwIt(Spec.SW_INCORRECT_P1_P2);
    }
    if (p2 != Spec.KEY_REF_PIN) {
      ISOException.throwIt(Spec.SW_REFERENCE_NOT_FOUND);
    }
    if (l != (short) (2 * Spec.PIN_BLOCK_LEN)) {
      ISOException.throwIt(Spec.SW_INCORRECT_DATA);
    }
    short n = (short) (o + Spec.PIN_BLOCK_LEN);
    boolean wellFormed = validBlock(d, n, true);
    OwnerPIN p = puk();
    if (blocked(p)) {
      ISOException.throwIt(Spec.SW_AUTH_METHOD_BLOCKED);
    }
    byte before = p.getTriesRemaining();
    if (!p.check(d, o, Spec.PIN_BLOCK_LEN)) {
      st[ST_PIN_VERIFIED] = 0;
      st[ST_PIN_ALWAYS] = 0;
      ISOException.throwIt((short) (Spec.SW_TRIES_LEFT_0 | p.getTriesRemaining()));
    }
    if (!wellFormed) {
      // A right PUK with a malformed new PIN: the PUK's counter as it was before (the
      // model's second write). OwnerPIN reset it to the limit: spend the difference on
      // checks that cannot match (a value of the wrong length).
      while (p.getTriesRemaining() > before) {
        p.check(d, o, (byte) 1);
      }
      ISOException.throwIt(Spec.SW_INCORRECT_DATA);
    }
    JCSystem.beginTransaction();
    OwnerPIN np = pin();
    np.update(d, n, Spec.PIN_BLOCK_LEN);
    np.resetAndUnblock();
    cfg[CFG_PIN_DEFAULT] = isDefault(d, n, Spec.DEFAULT_PIN_BLOCK) ? (byte) 1 : (byte) 0;
    JCSystem.commitTransaction();
  }

  private void verifyKeypad(byte p1, byte p2, byte[] d, short o, short l) {
    if (p1 != 0 || p2 != Spec.KEY_REF_PIN) {
      keypad.clear(); // the layout is used up whatever the outcome
      ISOException.throwIt(Spec.SW_INCORRECT_P1_P2);
    }
    keypad.toPinBlock(d, o, l, out, (short) 0);
    try {
      verifyPinBlock(out, (short) 0);
    } finally {
      Util.arrayFillNonAtomic(out, (short) 0, Spec.PIN_BLOCK_LEN, (byte) 0);
    }
  }

  private void setPinPolicy(byte p1, byte p2, short l) {
    if (p1 != Spec.PIN_ENTRY_ANY && p1 != Spec.PIN_ENTRY_KEYPAD_ONLY) {
      ISOException.throwIt(Spec.SW_INCORRECT_P1_P2);
    }
    if (p2 != 0) {
      ISOException.throwIt(Spec.SW_INCORRECT_P1_P2);
    }
    noData(l);
    requireMgm();
    cfg[CFG_PIN_ENTRY] = p1;
  }

  private void setPinRetries(byte p1, byte p2, short l) {
    if (p1 < 1 || p1 > Spec.MAX_TRIES || p2 < 1 || p2 > Spec.MAX_TRIES) {
      ISOException.throwIt(Spec.SW_INCORRECT_P1_P2);
    }
    noData(l);
    requireMgm();
    if (st[ST_PIN_VERIFIED] == 0) {
      ISOException.throwIt(Spec.SW_SECURITY_STATUS_NOT_SATISFIED);
    }
    JCSystem.beginTransaction();
    OwnerPIN np = pins[(short) (p1 - 1)];
    np.update(Spec.DEFAULT_PIN_BLOCK, (short) 0, Spec.PIN_BLOCK_LEN);
    np.resetAndUnblock();
    OwnerPIN nk = puks[(short) (p2 - 1)];
    nk.update(Spec.DEFAULT_PUK_BLOCK, (short) 0, Spec.PIN_BLOCK_LEN);
    nk.resetAndUnblock();
    cfg[CFG_PIN_IDX] = (byte) (p1 - 1);
    cfg[CFG_PUK_IDX] = (byte) (p2 - 1);
    cfg[CFG_PIN_DEFAULT] = 1;
    cfg[CFG_PUK_DEFAULT] = 1;
    JCSystem.commitTransaction();
    st[ST_PIN_VERIFIED] = 0;
    st[ST_PIN_ALWAYS] = 0;
  }

  // ---- management key ----------------------------------------------------------------------

  private static short mgmIndex(byte alg) {
    for (short i = 0; i < (short) Spec.MGM_ALGS.length; i++) {
      if (Spec.MGM_ALGS[i] == alg) {
        return i;
      }
    }
    return -1;
  }

  /** Encrypts one block with the management key (ECB, one block). */
  private void mgmEncrypt(byte[] in, short inOff, byte[] o, short oOff) {
    byte alg = cfg[CFG_MGM_ALG];
    short i = mgmIndex(alg);
    Cipher c;
    if (alg == Spec.ALG_3DES) {
      mgm3des.setKey(mgmKey, (short) 0);
      c = desEcb;
      c.init(mgm3des, Cipher.MODE_ENCRYPT);
    } else {
      AESKey k = alg == Spec.ALG_AES128 ? mgmAes128 : (alg == Spec.ALG_AES192 ? mgmAes192 : mgmAes256);
      k.setKey(mgmKey, (short) 0);
      c = aesEcb;
      c.init(k, Cipher.MODE_ENCRYPT);
    }
    c.doFinal(in, inOff, Spec.MGM_BLOCK_LENS[i], o, oOff);
  }

  /** Constant-time comparison of two byte strings (lengths differing: false). */
  private static boolean same(byte[] a, short ao, short al, byte[] b, short bo, short bl) {
    if (al != bl) {
      return false;
    }
    byte diff = 0;
    for (short i = 0; i < al; i++) {
      diff |= (byte) (a[(short) (ao + i)] ^ b[(short) (bo + i)]);
    }
    return diff == 0;
  }

  private void generalAuthenticate(byte p1, byte p2, byte[] d, short o, short l) {
    if (p2 == Spec.KEY_REF_MANAGEMENT) {
      mgmAuthenticate(p1, d, o, l);
      return;
    }
    short slot = slotIndex(p2);
    if (slot < 0) {
      ISOException.throwIt(Spec.SW_INCORRECT_P1_P2);
    }
    privateKeyOperation(p1, slot, d, o, l);
  }

  // Dynamic authentication template items: offsets (-1 absent) and lengths, in parts[].
  private static final short DA_W_OFF = 0;
  private static final short DA_W_LEN = 1;
  private static final short DA_C_OFF = 2;
  private static final short DA_C_LEN = 3;
  private static final short DA_R_OFF = 4;
  private static final short DA_R_LEN = 5;
  private static final short DA_E_OFF = 6;
  private static final short DA_E_LEN = 7;
  private static final short DA_COUNT = 8;

  /**
   * Reads 7C { 80 / 81 / 82 / 85 } (the first of each kept, as applet-spec's find does);
   * false if the bytes are not one 7C template of primitive items. Whether 85 came, and in
   * which order, is in parts[DA_COUNT] (items) and the offsets.
   */
  private boolean dynamicAuth(byte[] d, short o, short l) {
    for (short i = 0; i < 8; i += 2) {
      parts[i] = -1;
      parts[(short) (i + 1)] = 0;
    }
    parts[DA_COUNT] = 0;
    short end = (short) (o + l);
    if (!Tlv.ber(d, o, end, tlv) || tlv[Tlv.NEXT] != end || tlv[Tlv.TAG] != (short) (Spec.TAG_DYNAMIC_AUTH & 0xFF)) {
      return false;
    }
    short p = tlv[Tlv.VAL_OFF];
    short e = (short) (p + tlv[Tlv.VAL_LEN]);
    short count = 0;
    while (p < e) {
      if (!Tlv.ber(d, p, e, tlv)) {
        return false;
      }
      short tag = tlv[Tlv.TAG];
      short slot;
      if (tag == (short) (Spec.TAG_WITNESS & 0xFF)) {
        slot = DA_W_OFF;
      } else if (tag == (short) (Spec.TAG_CHALLENGE & 0xFF)) {
        slot = DA_C_OFF;
      } else if (tag == (short) (Spec.TAG_RESPONSE & 0xFF)) {
        slot = DA_R_OFF;
      } else if (tag == (short) (Spec.TAG_EXPONENTIATION & 0xFF)) {
        slot = DA_E_OFF;
      } else {
        return false;
      }
      if (parts[slot] < 0) {
        parts[slot] = tlv[Tlv.VAL_OFF];
        parts[(short) (slot + 1)] = tlv[Tlv.VAL_LEN];
      }
      count++;
      p = tlv[Tlv.NEXT];
    }
    parts[DA_COUNT] = count;
    return true;
  }

  private boolean has(short slot) {
    return parts[slot] >= 0;
  }

  private boolean requested(short slot) {
    return parts[slot] >= 0 && parts[(short) (slot + 1)] == 0;
  }

  private boolean nonEmpty(short slot) {
    return parts[slot] >= 0 && parts[(short) (slot + 1)] != 0;
  }

  /** One item: 7C { tag L value } into out; returns its length. */
  private short dynamicAuthAnswer(byte tag, byte[] v, short vo, short vl) {
    short inner = (short) (1 + Tlv.lenSize(vl) + vl);
    short w = Tlv.header(out, (short) 0, (byte) Spec.TAG_DYNAMIC_AUTH, inner);
    w = Tlv.header(out, w, tag, vl);
    if (v != out || vo != w) {
      w = Util.arrayCopyNonAtomic(v, vo, out, w, vl);
    } else {
      w += vl;
    }
    return w;
  }

  private void mgmAuthenticate(byte p1, byte[] d, short o, short l) {
    byte pending = st[ST_MGM_PENDING];
    st[ST_MGM_PENDING] = 0;
    byte alg = cfg[CFG_MGM_ALG];
    boolean ok = dynamicAuth(d, o, l);
    if (!ok || has(DA_E_OFF)) {
      ISOException.throwIt(Spec.SW_INCORRECT_DATA);
    }
    boolean challengeRequest = requested(DA_C_OFF) && !has(DA_W_OFF) && !has(DA_R_OFF);
    boolean algOk = p1 == alg || (alg == Spec.ALG_3DES && p1 == 0);
    if (!(algOk || (p1 == 0 && challengeRequest))) {
      ISOException.throwIt(Spec.SW_INCORRECT_P1_P2);
    }
    short bl = Spec.MGM_BLOCK_LENS[mgmIndex(alg)];
    if (challengeRequest) {
      rng.nextBytes(mgmBlock, (short) 0, bl);
      st[ST_MGM_PENDING] = PENDING_CHALLENGE;
      answerOut(dynamicAuthAnswer((byte) Spec.TAG_CHALLENGE, mgmBlock, (short) 0, bl));
      return;
    }
    if (requested(DA_W_OFF) && !has(DA_C_OFF) && !has(DA_R_OFF)) {
      rng.nextBytes(mgmBlock, (short) 0, bl);
      // The answer's value goes where dynamicAuthAnswer puts it: 7C L 80 L value.
      short v = (short) (2 + 2);
      mgmEncrypt(mgmBlock, (short) 0, out, v);
      st[ST_MGM_PENDING] = PENDING_WITNESS;
      answerOut(dynamicAuthAnswer((byte) Spec.TAG_WITNESS, out, v, bl));
      return;
    }
    if (nonEmpty(DA_W_OFF) && nonEmpty(DA_C_OFF) && !has(DA_R_OFF)) {
      if (pending != PENDING_WITNESS) {
        ISOException.throwIt(Spec.SW_CONDITIONS_NOT_SATISFIED);
      }
      boolean match =
          parts[DA_C_LEN] == bl && same(mgmBlock, (short) 0, bl, d, parts[DA_W_OFF], parts[DA_W_LEN]);
      st[ST_MGM_AUTH] = match ? (byte) 1 : (byte) 0;
      Util.arrayFillNonAtomic(mgmBlock, (short) 0, (short) 16, (byte) 0);
      if (!match) {
        ISOException.throwIt(Spec.SW_SECURITY_STATUS_NOT_SATISFIED);
      }
      short v = (short) (2 + 2);
      mgmEncrypt(d, parts[DA_C_OFF], out, v);
      answerOut(dynamicAuthAnswer((byte) Spec.TAG_RESPONSE, out, v, bl));
      return;
    }
    if (!has(DA_W_OFF) && !has(DA_C_OFF) && nonEmpty(DA_R_OFF)) {
      if (pending != PENDING_CHALLENGE) {
        ISOException.throwIt(Spec.SW_CONDITIONS_NOT_SATISFIED);
      }
      mgmEncrypt(mgmBlock, (short) 0, out, (short) 0);
      boolean match = same(out, (short) 0, bl, d, parts[DA_R_OFF], parts[DA_R_LEN]);
      Util.arrayFillNonAtomic(mgmBlock, (short) 0, (short) 16, (byte) 0);
      Util.arrayFillNonAtomic(out, (short) 0, (short) 16, (byte) 0);
      st[ST_MGM_AUTH] = match ? (byte) 1 : (byte) 0;
      if (!match) {
        ISOException.throwIt(Spec.SW_SECURITY_STATUS_NOT_SATISFIED);
      }
      return;
    }
    ISOException.throwIt(Spec.SW_INCORRECT_DATA);
  }

  private void setManagementKey(byte p1, byte p2, byte[] d, short o, short l) {
    if (p1 != Spec.SET_MGM_P1 || (p2 != Spec.SET_MGM_P2 && p2 != Spec.SET_MGM_P2_TOUCH)) {
      ISOException.throwIt(Spec.SW_INCORRECT_P1_P2);
    }
    if (l < 3 || d[(short) (o + 1)] != Spec.KEY_REF_MANAGEMENT || (short) (d[(short) (o + 2)] & 0xFF) != (short) (l - 3)) {
      ISOException.throwIt(Spec.SW_INCORRECT_DATA);
    }
    byte alg = d[o];
    short i = mgmIndex(alg);
    if (i < 0 || (short) (l - 3) != Spec.MGM_KEY_LENS[i]) {
      ISOException.throwIt(Spec.SW_INCORRECT_DATA);
    }
    requireMgm();
    JCSystem.beginTransaction();
    zero(mgmKey);
    Util.arrayCopy(d, (short) (o + 3), mgmKey, (short) 0, (short) (l - 3));
    cfg[CFG_MGM_ALG] = alg;
    JCSystem.commitTransaction();
  }

  // ---- asymmetric keys ------------------------------------------------------------------------

  private short keyEntry(short slot) {
    return (short) (KEY_BASE + slot);
  }

  /** Writes a new key record (already in the heap at rec) for the slot, in one transaction. */
  private void commitKey(short slot, short rec, short recLen) {
    boolean retired = Spec.SLOT_RETIRED[slot] != 0;
    short kh = retired ? reserveKeyHistory() : (short) 0;
    JCSystem.beginTransaction();
    heap.set(keyEntry(slot), rec, recLen);
    if (retired) {
      writeKeyHistory(kh);
    }
    bumpChanges();
    JCSystem.commitTransaction();
    heap.wipeFreed();
  }

  /** Parses GENERATE's AC { 80 alg ... }: the algorithm byte; 6A80 if malformed. */
  private byte generateAlgorithm(byte[] d, short o, short l) {
    short end = (short) (o + l);
    if (!Tlv.flat(d, o, end, tlv) || tlv[Tlv.NEXT] != end || d[o] != Spec.TAG_CONTROL_REF) {
      ISOException.throwIt(Spec.SW_INCORRECT_DATA);
    }
    short v = tlv[Tlv.VAL_OFF];
    short e = (short) (v + tlv[Tlv.VAL_LEN]);
    if (!Tlv.flatSequence(d, v, e, tlv)) {
      ISOException.throwIt(Spec.SW_INCORRECT_DATA);
    }
    // Only 80, AA and AB inside; 80 of one byte; a policy (the first of its tag) of one byte.
    for (short p = v; p < e; p = tlv[Tlv.NEXT]) {
      Tlv.flat(d, p, e, tlv);
      byte t = d[p];
      if (t != Spec.TAG_ALGORITHM && t != Spec.TAG_PIN_POLICY && t != Spec.TAG_TOUCH_POLICY) {
        ISOException.throwIt(Spec.SW_INCORRECT_DATA);
      }
    }
    if (!Tlv.flatFind(d, v, e, Spec.TAG_ALGORITHM, tlv) || tlv[Tlv.VAL_LEN] != 1) {
      ISOException.throwIt(Spec.SW_INCORRECT_DATA);
    }
    byte alg = d[tlv[Tlv.VAL_OFF]];
    policiesWellFormed(d, v, e);
    parts[0] = v;
    parts[1] = e;
    return alg;
  }

  /**
   * The PIN policy code in force for a key going into slot, from the items in d[v, e): AA
   * (absent or 00: the slot's default) and AB (absent or 00: never). A policy the card
   * cannot enforce (match-*, touch) or the slot does not allow (9C: only always; F9: only
   * never) is 6A80 (applet-spec's PinPolicy::requested, TouchPolicy::requested).
   */
  private byte requestedPinPolicy(short slot, byte[] d, short v, short e) {
    short code = 0;
    if (Tlv.flatFind(d, v, e, Spec.TAG_PIN_POLICY, tlv)) {
      code = (short) (d[tlv[Tlv.VAL_OFF]] & 0xFF);
    }
    short touch = 0;
    if (Tlv.flatFind(d, v, e, Spec.TAG_TOUCH_POLICY, tlv)) {
      touch = (short) (d[tlv[Tlv.VAL_OFF]] & 0xFF);
    }
    if (code >= Spec.POLICY_CODES || touch >= Spec.POLICY_CODES || Spec.TOUCH_POLICY_FOR_CODE[touch] == 0) {
      ISOException.throwIt(Spec.SW_INCORRECT_DATA);
    }
    byte policy = Spec.SLOT_PIN_POLICY_FOR_CODE[(short) (slot * Spec.POLICY_CODES + code)];
    if (policy == 0) {
      ISOException.throwIt(Spec.SW_INCORRECT_DATA);
    }
    return policy;
  }

  /** AA and AB (the first of each), when present, hold one byte (applet-spec's parse_policies). */
  private void policiesWellFormed(byte[] d, short v, short e) {
    if (Tlv.flatFind(d, v, e, Spec.TAG_PIN_POLICY, tlv) && tlv[Tlv.VAL_LEN] != 1) {
      ISOException.throwIt(Spec.SW_INCORRECT_DATA);
    }
    if (Tlv.flatFind(d, v, e, Spec.TAG_TOUCH_POLICY, tlv) && tlv[Tlv.VAL_LEN] != 1) {
      ISOException.throwIt(Spec.SW_INCORRECT_DATA);
    }
  }

  private void generate(byte p1, byte p2, byte[] d, short o, short l) {
    short slot = slotIndex(p2);
    if (p1 != 0 || slot < 0) {
      ISOException.throwIt(Spec.SW_INCORRECT_P1_P2);
    }
    byte alg = generateAlgorithm(d, o, l);
    if (!isKeyAlgorithm(alg)) {
      ISOException.throwIt(Spec.SW_INCORRECT_DATA);
    }
    byte policy = requestedPinPolicy(slot, d, parts[0], parts[1]);
    requireMgm();
    short ai = keys.index(alg);
    if (ai < 0) {
      // Known to applet-spec, not on this platform (Ed25519, X25519; RSA 3072/4096 on
      // some chips): refused as the model refuses an algorithm it lacks.
      ISOException.throwIt(Spec.SW_INCORRECT_DATA);
    }
    short recLen = Keys.recordLength(ai);
    short rec = heap.allocate(recLen);
    byte[] m = heap.mem;
    m[(short) (rec + Keys.REC_ALG)] = alg;
    m[(short) (rec + Keys.REC_ORIGIN)] = Spec.ORIGIN_GENERATED;
    m[(short) (rec + Keys.REC_PIN_POLICY)] = policy;
    keys.generate(ai, m, rec, out);
    commitKey(slot, rec, recLen);
    answerOut(keys.publicTemplate(m, rec, out, (short) 0));
  }

  /** The PIN a slot's key needs; every private-key operation uses the fresh entry up. */
  private void checkPinFor(byte policy) {
    boolean fresh = st[ST_PIN_ALWAYS] != 0;
    st[ST_PIN_ALWAYS] = 0;
    boolean ok;
    if (policy == Spec.PIN_POLICY_NEVER) {
      ok = true;
    } else if (policy == Spec.PIN_POLICY_ONCE) {
      ok = st[ST_PIN_VERIFIED] != 0;
    } else {
      ok = fresh;
    }
    if (!ok) {
      ISOException.throwIt(Spec.SW_SECURITY_STATUS_NOT_SATISFIED);
    }
  }

  private void privateKeyOperation(byte p1, short slot, byte[] d, short o, short l) {
    if (!isKeyAlgorithm(p1)) {
      ISOException.throwIt(Spec.SW_INCORRECT_P1_P2);
    }
    boolean parsed = dynamicAuth(d, o, l);
    boolean sign;
    if (parsed && !has(DA_E_OFF)) {
      // 7C { 82 00, 81 <block> } and nothing else of 80.
      if (!has(DA_W_OFF) && nonEmpty(DA_C_OFF) && requested(DA_R_OFF)) {
        sign = true;
      } else {
        ISOException.throwIt(Spec.SW_INCORRECT_DATA);
        return;
      }
    } else if (parsed
        && parts[DA_COUNT] == 2
        && requested(DA_R_OFF)
        && has(DA_E_OFF)
        && parts[DA_R_OFF] < parts[DA_E_OFF]
        && !has(DA_W_OFF)
        && !has(DA_C_OFF)) {
      sign = false; // 7C { 82 00, 85 <point> }: ECDH
    } else {
      ISOException.throwIt(Spec.SW_INCORRECT_DATA);
      return;
    }
    short e = keyEntry(slot);
    if (!heap.present(e)) {
      ISOException.throwIt(Spec.SW_REFERENCE_NOT_FOUND);
    }
    byte[] m = heap.mem;
    short rec = heap.offset(e);
    if (m[(short) (rec + Keys.REC_ALG)] != p1) {
      ISOException.throwIt(Spec.SW_INCORRECT_P1_P2);
    }
    short ai = keys.recordIndex(m, rec);
    short size = Keys.size(ai);
    boolean rsa = Keys.isRsa(ai);
    if (rsa && (!sign || parts[DA_C_LEN] != size)) {
      ISOException.throwIt(Spec.SW_INCORRECT_DATA);
    }
    if (!rsa && sign && parts[DA_C_LEN] > 64) {
      ISOException.throwIt(Spec.SW_INCORRECT_DATA);
    }
    if (Spec.SLOT_USABLE_BY_HOST[slot] == 0) {
      // F9 signs as on a YubiKey, but only for the issuer (9B): the key that vouches for
      // the card's keys never signs a holder's data.
      requireMgm();
    }
    if (cfg[CFG_BINDING_LEN] != 0 && st[ST_BINDING_PRESENTED] == 0) {
      ISOException.throwIt(Spec.SW_CONDITIONS_NOT_SATISFIED);
    }
    checkPinFor(m[(short) (rec + Keys.REC_PIN_POLICY)]);
    // The result goes after the 7C L 82 L header (at most 8 bytes).
    short v = 8;
    short n;
    if (rsa) {
      if (!keys.belowModulus(m, rec, d, parts[DA_C_OFF])) {
        ISOException.throwIt(Spec.SW_INCORRECT_DATA);
      }
      n = keys.rsaPrivate(m, rec, d, parts[DA_C_OFF], out, v);
    } else if (sign) {
      n = keys.ecSign(m, rec, d, parts[DA_C_OFF], parts[DA_C_LEN], scratchHash, out, v);
    } else {
      n = keys.ecdh(m, rec, d, parts[DA_E_OFF], parts[DA_E_LEN], out, v);
    }
    short inner = (short) (1 + Tlv.lenSize(n) + n);
    short h = (short) (1 + Tlv.lenSize(inner) + 1 + Tlv.lenSize(n));
    short start = (short) (v - h);
    short w = Tlv.header(out, start, (byte) Spec.TAG_DYNAMIC_AUTH, inner);
    Tlv.header(out, w, (byte) Spec.TAG_RESPONSE, n);
    answer(out, start, (short) (h + n));
  }

  /** 48 bytes of RAM for the fitted hash of ECDSA. */
  private final byte[] scratchHash = JCSystem.makeTransientByteArray((short) 48, JCSystem.CLEAR_ON_DESELECT);

  // ---- Yubico: metadata, attestation, import -----------------------------------------------

  private void getMetadata(byte p1, byte p2, short l) {
    if (p1 != 0) {
      ISOException.throwIt(Spec.SW_INCORRECT_P1_P2);
    }
    noData(l);
    short w = 0;
    if (p2 == Spec.KEY_REF_PIN || p2 == Spec.KEY_REF_PUK) {
      boolean isPin = p2 == Spec.KEY_REF_PIN;
      OwnerPIN ref = isPin ? pin() : puk();
      w = Tlv.header(out, w, Spec.TAG_MD_ALGORITHM, (short) 1);
      out[w++] = Spec.METADATA_ALGORITHM_PIN;
      w = Tlv.header(out, w, Spec.TAG_MD_DEFAULT, (short) 1);
      out[w++] = cfg[isPin ? CFG_PIN_DEFAULT : CFG_PUK_DEFAULT];
      w = Tlv.header(out, w, Spec.TAG_MD_RETRIES, (short) 2);
      out[w++] = (byte) ((isPin ? cfg[CFG_PIN_IDX] : cfg[CFG_PUK_IDX]) + 1);
      out[w++] = ref.getTriesRemaining();
    } else if (p2 == Spec.KEY_REF_MANAGEMENT) {
      byte alg = cfg[CFG_MGM_ALG];
      w = Tlv.header(out, w, Spec.TAG_MD_ALGORITHM, (short) 1);
      out[w++] = alg;
      w = Tlv.header(out, w, Spec.TAG_MD_POLICY, (short) 2);
      out[w++] = 0;
      out[w++] = Spec.TOUCH_POLICY_NEVER;
      w = Tlv.header(out, w, Spec.TAG_MD_DEFAULT, (short) 1);
      out[w++] =
          (alg == Spec.ALG_3DES
                  && Util.arrayCompare(mgmKey, (short) 0, Spec.DEFAULT_MGM_KEY, (short) 0, (short) Spec.DEFAULT_MGM_KEY.length)
                      == 0)
              ? (byte) 1
              : (byte) 0;
    } else {
      short slot = slotIndex(p2);
      if (slot < 0 || !heap.present(keyEntry(slot))) {
        ISOException.throwIt(Spec.SW_REFERENCE_NOT_FOUND);
      }
      byte[] m = heap.mem;
      short rec = heap.offset(keyEntry(slot));
      short ai = keys.recordIndex(m, rec);
      w = Tlv.header(out, w, Spec.TAG_MD_ALGORITHM, (short) 1);
      out[w++] = m[(short) (rec + Keys.REC_ALG)];
      w = Tlv.header(out, w, Spec.TAG_MD_POLICY, (short) 2);
      out[w++] = m[(short) (rec + Keys.REC_PIN_POLICY)];
      out[w++] = Spec.TOUCH_POLICY_NEVER;
      w = Tlv.header(out, w, Spec.TAG_MD_ORIGIN, (short) 1);
      out[w++] = m[(short) (rec + Keys.REC_ORIGIN)];
      w = Tlv.header(out, w, Spec.TAG_MD_PUBLIC_KEY, Keys.publicInnerLength(ai));
      w = keys.publicInner(m, rec, out, w);
      w = Tlv.header(out, w, Spec.TAG_MD_IMPORT_FORBIDDEN, (short) 1);
      out[w++] = importForbidden[slot];
    }
    answerOut(w);
  }

  private void attest(byte p1, byte p2, short l) {
    short slot = slotIndex(p1);
    if (slot < 0 || Spec.SLOT_USABLE_BY_HOST[slot] == 0 || p2 != 0) {
      ISOException.throwIt(Spec.SW_INCORRECT_P1_P2);
    }
    noData(l);
    if (!heap.present(keyEntry(slot))) {
      ISOException.throwIt(Spec.SW_REFERENCE_NOT_FOUND);
    }
    byte[] m = heap.mem;
    short rec = heap.offset(keyEntry(slot));
    if (m[(short) (rec + Keys.REC_ORIGIN)] == Spec.ORIGIN_IMPORTED) {
      ISOException.throwIt(Spec.SW_INCORRECT_DATA);
    }
    short f9 = keyEntry(slotIndex(Spec.SLOT_ATTESTATION));
    if (!heap.present(f9)) {
      ISOException.throwIt(Spec.SW_REFERENCE_NOT_FOUND);
    }
    // The F9 certificate: 70 of object 5FFF01 (53 { 70 .. 71 .. FE .. }); compressed: 6985.
    short cert = objectId(Spec.OBJ_ATTESTATION_CERT);
    if (!heap.present(cert)) {
      ISOException.throwIt(Spec.SW_CONDITIONS_NOT_SATISFIED);
    }
    short b = heap.offset(cert);
    if (!Tlv.ber(m, b, (short) (b + heap.length(cert)), tlv)) {
      ISOException.throwIt(Spec.SW_CONDITIONS_NOT_SATISFIED);
    }
    short v = tlv[Tlv.VAL_OFF];
    short e = (short) (v + tlv[Tlv.VAL_LEN]);
    if (!Tlv.flatSequence(m, v, e, tlv)) {
      ISOException.throwIt(Spec.SW_CONDITIONS_NOT_SATISFIED);
    }
    if (Tlv.flatFind(m, v, e, Spec.TAG_CERT_INFO, tlv) && tlv[Tlv.VAL_LEN] > 0 && m[tlv[Tlv.VAL_OFF]] == 1) {
      ISOException.throwIt(Spec.SW_CONDITIONS_NOT_SATISFIED);
    }
    if (!Tlv.flatFind(m, v, e, Spec.TAG_CERTIFICATE, tlv)) {
      ISOException.throwIt(Spec.SW_CONDITIONS_NOT_SATISFIED);
    }
    short certOff = tlv[Tlv.VAL_OFF];
    short certLen = tlv[Tlv.VAL_LEN];
    short f9rec = heap.offset(f9);
    short len =
        attestation.attest(
            keys.loadPublic(m, rec),
            Spec.SLOT_REFS[slot],
            m[(short) (rec + Keys.REC_PIN_POLICY)],
            serial,
            (short) 0,
            keys.loadPrivate(m, f9rec),
            m,
            certOff,
            certLen,
            scratch,
            (short) 0,
            (short) scratch.length);
    answer(scratch, (short) 0, len);
  }

  /**
   * IMPORT KEY's items (flat): 01-05 RSA p q dp dq qinv, or 06 the EC scalar; AA/AB
   * policies of one byte (read, not applied: a slot's PIN policy is fixed, as the model
   * has it). parts[0..9]: the five RSA parts' offsets and lengths, or parts[0..1] the
   * scalar. Answers the kind of key; 6A80 when malformed.
   */
  private byte importItems(byte[] d, short o, short l) {
    short end = (short) (o + l);
    if (!Tlv.flatSequence(d, o, end, tlv)) {
      ISOException.throwIt(Spec.SW_INCORRECT_DATA);
    }
    short found = 0; // bit k: RSA part k+1; bits 5, 6, 7: the EC, Ed25519, X25519 item
    for (short k = 0; k < 10; k++) {
      parts[k] = 0;
    }
    for (short p = o; p < end; p = tlv[Tlv.NEXT]) {
      Tlv.flat(d, p, end, tlv);
      byte t = d[p];
      short k = -1;
      for (short i = 0; i < (short) Spec.TAG_IMPORT_RSA.length; i++) {
        if (Spec.TAG_IMPORT_RSA[i] == t) {
          k = i;
        }
      }
      if (t == Spec.TAG_IMPORT_EC) {
        k = 5;
      } else if (t == Spec.TAG_IMPORT_ED25519) {
        k = 6;
      } else if (t == Spec.TAG_IMPORT_X25519) {
        k = 7;
      }
      if (k >= 0) {
        short bit = (short) (1 << k);
        if ((found & bit) == 0) {
          found |= bit;
          short at = k >= 5 ? (short) 0 : (short) (2 * k);
          if (k < 5 || (found & (short) 0xE0) == bit) {
            parts[at] = tlv[Tlv.VAL_OFF];
            parts[(short) (at + 1)] = tlv[Tlv.VAL_LEN];
          }
        }
      } else if (t != Spec.TAG_PIN_POLICY && t != Spec.TAG_TOUCH_POLICY) {
        ISOException.throwIt(Spec.SW_INCORRECT_DATA);
      }
    }
    boolean rsa = found == 0x1F;
    boolean single = found == 0x20 || found == 0x40 || found == 0x80;
    if (!rsa && !single) {
      ISOException.throwIt(Spec.SW_INCORRECT_DATA);
    }
    policiesWellFormed(d, o, end);
    // Ed25519 and X25519 parse, and are refused once 9B and the import policy are checked.
    return found == 0x20 ? KIND_EC : (rsa ? KIND_RSA : KIND_25519);
  }

  private static final byte KIND_RSA = 1;
  private static final byte KIND_EC = 2;
  private static final byte KIND_25519 = 3;

  private void importKey(byte p1, byte p2, byte[] d, short o, short l) {
    if (!isKeyAlgorithm(p1)) {
      ISOException.throwIt(Spec.SW_INCORRECT_P1_P2);
    }
    short slot = slotIndex(p2);
    if (slot < 0) {
      ISOException.throwIt(Spec.SW_INCORRECT_P1_P2);
    }
    byte kind = importItems(d, o, l);
    boolean rsaItems = kind == KIND_RSA;
    byte policy = requestedPinPolicy(slot, d, o, (short) (o + l));
    requireMgm();
    if (importForbidden[slot] != 0) {
      ISOException.throwIt(Spec.SW_CONDITIONS_NOT_SATISFIED);
    }
    short ai = keys.index(p1);
    if (ai < 0 || kind == KIND_25519 || Keys.isRsa(ai) != rsaItems) {
      ISOException.throwIt(Spec.SW_INCORRECT_DATA);
    }
    short recLen = Keys.recordLength(ai);
    short rec = heap.allocate(recLen);
    byte[] m = heap.mem;
    m[(short) (rec + Keys.REC_ALG)] = p1;
    m[(short) (rec + Keys.REC_ORIGIN)] = Spec.ORIGIN_IMPORTED;
    m[(short) (rec + Keys.REC_PIN_POLICY)] = policy;
    try {
      if (rsaItems) {
        // parts: offsets at even, lengths at odd indexes; Keys wants two arrays.
        for (short k = 0; k < 5; k++) {
          importOff[k] = parts[(short) (2 * k)];
          importLen[k] = parts[(short) (2 * k + 1)];
        }
        // Working space for the check (2 moduli): out when it fits, else scratch's tail.
        short need = (short) (2 * Keys.size(ai));
        if (need <= OUT_SIZE) {
          keys.importRsa(ai, d, importOff, importLen, m, rec, out, (short) 0);
        } else {
          short at = (short) (scratch.length - need);
          if (d == scratch && (short) (o + l) > at) {
            ISOException.throwIt(Spec.SW_INCORRECT_DATA);
          }
          keys.importRsa(ai, d, importOff, importLen, m, rec, scratch, at);
        }
      } else {
        keys.importEc(ai, d, parts[0], parts[1], m, rec, out);
      }
    } catch (ISOException e) {
      Util.arrayFillNonAtomic(m, rec, recLen, (byte) 0);
      throw e;
    }
    commitKey(slot, rec, recLen);
  }

  private final short[] importOff = JCSystem.makeTransientShortArray((short) 5, JCSystem.CLEAR_ON_DESELECT);
  private final short[] importLen = JCSystem.makeTransientShortArray((short) 5, JCSystem.CLEAR_ON_DESELECT);


  /**
   * MOVE KEY (Yubico 5.7): {@code 00 F6 <to> <from>} moves the key to an empty slot with its
   * policy and origin; {@code 00 F6 FF <slot>} deletes it. F9 is never moved (it may be
   * deleted); a key goes only where its PIN policy is allowed. One transaction; the key
   * history follows; the freed block is zeroed.
   */
  private void moveKey(byte p1, byte p2, short l) {
    boolean delete = p1 == Spec.MOVE_KEY_DELETE;
    short from = slotIndex(p2);
    short to = delete ? (short) -1 : slotIndex(p1);
    if (from < 0 || (!delete && (to < 0 || to == from || Spec.SLOT_MOVABLE[from] == 0 || Spec.SLOT_MOVABLE[to] == 0))) {
      ISOException.throwIt(Spec.SW_INCORRECT_P1_P2);
    }
    noData(l);
    requireMgm();
    short src = keyEntry(from);
    if (!heap.present(src)) {
      ISOException.throwIt(Spec.SW_REFERENCE_NOT_FOUND);
    }
    short off = heap.offset(src);
    short len = heap.length(src);
    boolean retired = Spec.SLOT_RETIRED[from] != 0 || (to >= 0 && Spec.SLOT_RETIRED[to] != 0);
    if (!delete) {
      short dst = keyEntry(to);
      byte policy = heap.mem[(short) (off + Keys.REC_PIN_POLICY)];
      boolean allowed = false;
      for (short c = 1; c < Spec.POLICY_CODES; c++) {
        if (Spec.SLOT_PIN_POLICY_FOR_CODE[(short) (to * Spec.POLICY_CODES + c)] == policy) {
          allowed = true;
        }
      }
      if (heap.present(dst) || !allowed) {
        ISOException.throwIt(Spec.SW_CONDITIONS_NOT_SATISFIED);
      }
    }
    short kh = retired ? reserveKeyHistory() : (short) 0;
    if (!delete) {
      short dst = keyEntry(to);
      JCSystem.beginTransaction();
      heap.clear(src);
      heap.set(dst, off, len);
    } else {
      JCSystem.beginTransaction();
      heap.set(src, (short) 0, (short) 0);
    }
    if (retired) {
      writeKeyHistory(kh);
    }
    bumpChanges();
    JCSystem.commitTransaction();
    heap.wipeFreed();
  }

  // ---- sub-SIM extensions ------------------------------------------------------------------

  private void setBinding(byte p1, byte p2, byte[] d, short o, short l) {
    if (p2 != 0) {
      ISOException.throwIt(Spec.SW_INCORRECT_P1_P2);
    }
    if (p1 == Spec.BINDING_P1_SET) {
      if (l < Spec.BINDING_MIN_LEN || l > Spec.BINDING_MAX_LEN) {
        ISOException.throwIt(Spec.SW_INCORRECT_DATA);
      }
    } else if (p1 == Spec.BINDING_P1_CLEAR) {
      noData(l);
    } else {
      ISOException.throwIt(Spec.SW_INCORRECT_P1_P2);
    }
    requireMgm();
    JCSystem.beginTransaction();
    zero(binding);
    if (p1 == Spec.BINDING_P1_SET) {
      Util.arrayCopy(d, o, binding, (short) 0, l);
      cfg[CFG_BINDING_LEN] = (byte) l;
      cfg[CFG_BINDING_TRIES] = Spec.BINDING_TRIES;
    } else {
      cfg[CFG_BINDING_LEN] = 0;
      cfg[CFG_BINDING_TRIES] = 0;
    }
    JCSystem.commitTransaction();
    st[ST_BINDING_PRESENTED] = 0;
  }

  private void presentBinding(byte p1, byte p2, byte[] d, short o, short l) {
    p1p2(p1, p2, (byte) 0, (byte) 0);
    short len = cfg[CFG_BINDING_LEN];
    if (len == 0) {
      ISOException.throwIt(Spec.SW_REFERENCE_NOT_FOUND);
    }
    byte tries = cfg[CFG_BINDING_TRIES];
    if (tries == 0) {
      ISOException.throwIt(Spec.SW_AUTH_METHOD_BLOCKED);
    }
    st[ST_BINDING_PRESENTED] = 0;
    // The try is spent (one atomic byte write) before the comparison; a second write of
    // the counter follows either way, as for the PIN.
    byte left = (byte) (tries - 1);
    cfg[CFG_BINDING_TRIES] = left;
    boolean match = same(binding, (short) 0, len, d, o, l);
    cfg[CFG_BINDING_TRIES] = match ? Spec.BINDING_TRIES : left;
    if (!match) {
      ISOException.throwIt((short) (Spec.SW_TRIES_LEFT_0 | left));
    }
    st[ST_BINDING_PRESENTED] = 1;
  }

  private short slotBits(boolean keysNotCerts, boolean forbidden) {
    short bits = 0;
    for (short i = 0; i < Spec.SLOT_COUNT; i++) {
      if (Spec.SLOT_BITS[i] == 0 || Spec.SLOT_USABLE_BY_HOST[i] == 0 || Spec.SLOT_RETIRED[i] != 0) {
        continue;
      }
      boolean has;
      if (forbidden) {
        has = importForbidden[i] != 0;
      } else if (keysNotCerts) {
        has = heap.present(keyEntry(i));
      } else {
        short id = objectId(Spec.SLOT_CERT_TAGS[i]);
        has = id >= 0 && heap.present(id);
      }
      if (has) {
        bits |= Spec.SLOT_BITS[i];
      }
    }
    return bits;
  }

  private void getStatus(byte p1, byte p2, short l) {
    p1p2(p1, p2, (byte) 0, (byte) 0);
    noData(l);
    byte bindingState;
    if (cfg[CFG_BINDING_LEN] == 0) {
      bindingState = Spec.BINDING_NONE;
    } else if (cfg[CFG_BINDING_TRIES] == 0) {
      bindingState = Spec.BINDING_BLOCKED;
    } else if (st[ST_BINDING_PRESENTED] != 0) {
      bindingState = Spec.BINDING_PRESENTED;
    } else {
      bindingState = Spec.BINDING_REQUIRED;
    }
    byte[] t = Spec.STATUS_TAGS;
    short w = 0;
    w = Tlv.header(out, w, t[0], (short) 1);
    out[w++] = pin().getTriesRemaining();
    w = Tlv.header(out, w, t[1], (short) 1);
    out[w++] = puk().getTriesRemaining();
    w = Tlv.header(out, w, t[2], (short) 1);
    out[w++] = cfg[CFG_PIN_ENTRY];
    w = Tlv.header(out, w, t[3], (short) 1);
    out[w++] = bindingState;
    w = Tlv.header(out, w, t[4], (short) 1);
    out[w++] = cfg[CFG_BINDING_LEN] == 0 ? 0 : cfg[CFG_BINDING_TRIES];
    w = Tlv.header(out, w, t[5], (short) 1);
    out[w++] = (byte) slotBits(true, false);
    w = Tlv.header(out, w, t[6], (short) 1);
    out[w++] = (byte) slotBits(false, false);
    w = Tlv.header(out, w, t[7], (short) 4);
    w = Util.arrayCopyNonAtomic(changes, (short) 0, out, w, (short) 4);
    w = Tlv.header(out, w, t[8], (short) 1);
    out[w++] = cfg[CFG_MGM_ALG];
    w = Tlv.header(out, w, t[9], (short) 1);
    out[w++] = st[ST_PIN_VERIFIED];
    w = Tlv.header(out, w, t[10], (short) 1);
    out[w++] = (byte) slotBits(false, true);
    answerOut(w);
  }

  private void setImportPolicy(byte p1, byte p2, short l) {
    boolean forbid;
    if (p1 == Spec.IMPORT_P1_FORBID) {
      forbid = true;
    } else if (p1 == Spec.IMPORT_P1_ALLOW) {
      forbid = false;
    } else {
      ISOException.throwIt(Spec.SW_INCORRECT_P1_P2);
      return;
    }
    short slot = slotIndex(p2);
    if (slot < 0) {
      ISOException.throwIt(Spec.SW_INCORRECT_P1_P2);
    }
    noData(l);
    requireMgm();
    importForbidden[slot] = forbid ? (byte) 1 : (byte) 0;
  }

  /**
   * TERMINATE and RESET: one transaction back to factory settings. Keys, objects and the
   * binding go; serial, GUID (so CHUID and CCC), the F9 key and its certificate stay; the
   * change counter moves on. Then the freed space is zeroed and the session starts afresh.
   */
  private void backToFactory() {
    short keep1 = objectId(Spec.OBJ_CHUID);
    short keep2 = objectId(Spec.OBJ_CCC);
    short keep3 = objectId(Spec.OBJ_ATTESTATION_CERT);
    short keep4 = keyEntry(slotIndex(Spec.SLOT_ATTESTATION));
    JCSystem.beginTransaction();
    for (short i = 0; i < ENTRIES; i++) {
      if (i != keep1 && i != keep2 && i != keep3 && i != keep4) {
        heap.clear(i);
      }
    }
    factory();
    bumpChanges();
    JCSystem.commitTransaction();
    heap.wipeAllFree();
    keys.clearWorking();
    keypad.clear();
    for (short i = 0; i < ST_SIZE; i++) {
      st[i] = 0;
    }
  }
}
