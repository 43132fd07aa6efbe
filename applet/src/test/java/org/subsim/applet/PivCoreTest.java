package org.subsim.applet;

import static org.junit.jupiter.api.Assertions.*;
import static org.subsim.applet.Card.hex;

import java.math.BigInteger;
import java.security.AlgorithmParameters;
import java.security.KeyFactory;
import java.security.MessageDigest;
import java.security.Signature;
import java.security.spec.ECGenParameterSpec;
import java.security.spec.ECParameterSpec;
import java.security.spec.ECPoint;
import java.security.spec.ECPublicKeySpec;
import java.util.Arrays;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** PIV core commands against the answers of the Rust model (docs/applet-spec.md). */
class PivCoreTest {
  Card card;

  @BeforeEach
  void fresh() {
    card = new Card();
    assertEquals(0x9000, card.select().sw);
  }

  @Test
  void select_answers_the_generated_template() {
    Card.Answer a = card.select();
    assertEquals(0x9000, a.sw);
    // The model's template without Ed25519 (E0) and X25519 (E1), which Java Card 3.0.5 lacks:
    // everything else is on jCardSim.
    String inner = hex(Spec.SELECT_RESPONSE).substring(6)
        .replace("AC068001E0060100", "").replace("AC068001E1060100", "");
    assertEquals("6181", hex(Spec.SELECT_RESPONSE).substring(0, 4));
    assertEquals("61" + String.format("%02X", inner.length() / 2) + inner, hex(a.data));
    assertEquals(0x9000, card.cmd(0, 0xA4, 4, 0x0C, Spec.PIV_RID).sw);
    assertEquals(0, card.cmd(0, 0xA4, 4, 0x0C, Spec.PIV_RID).data.length);
    assertEquals(0x6A86, card.cmd(0, 0xA4, 4, 0x01, Spec.PIV_AID).sw);
    assertEquals(0x6A86, card.cmd(0, 0xA4, 2, 0x00, Spec.PIV_AID).sw);
  }

  @Test
  void get_data_objects_and_access_rules() {
    assertArrayEquals(Spec.DISCOVERY_OBJECT, card.cmd(0, 0xCB, 0x3F, 0xFF, "5C017E").data);
    Card.Answer chuid = card.cmd(0, 0xCB, 0x3F, 0xFF, "5C035FC102");
    assertEquals(0x9000, chuid.sw);
    assertEquals(0x53, chuid.data[0] & 0xFF);
    Card.Answer ccc = card.cmd(0, 0xCB, 0x3F, 0xFF, "5C035FC107");
    assertEquals(0x9000, ccc.sw);
    // The CCC's card identifier is the GUID's first 14 bytes.
    byte[] guid = Arrays.copyOfRange(chuid.data, 2 + Spec.CHUID_GUID_OFFSET, 2 + Spec.CHUID_GUID_OFFSET + 16);
    byte[] cardId = Arrays.copyOfRange(ccc.data, 2 + Spec.CCC_CARD_ID_OFFSET, 2 + Spec.CCC_CARD_ID_OFFSET + 14);
    assertArrayEquals(Arrays.copyOf(guid, 14), cardId);
    Card.Answer state = card.cmd(0, 0xCB, 0x3F, 0xFF, "5C035FFF20");
    assertEquals(0x9000, state.sw);
    assertEquals("530C8104", hex(Arrays.copyOf(state.data, 4)));
    assertEquals(0x6A82, card.cmd(0, 0xCB, 0x3F, 0xFF, "5C035FC105").sw);
    assertEquals(0x6982, card.cmd(0, 0xCB, 0x3F, 0xFF, "5C035FC108").sw, "facial image needs the PIN, present or not");
    assertEquals(0x6A80, card.cmd(0, 0xCB, 0x3F, 0xFF, "5C025FC1").sw, "incomplete tag");
    assertEquals(0x6A80, card.cmd(0, 0xCB, 0x3F, 0xFF, "5D017E").sw);
    assertEquals(0x6A80, card.cmd(0, 0xCB, 0x3F, 0xFF, "5C017E00").sw, "trailing byte");
    assertEquals(0x6A86, card.cmd(0, 0xCB, 0x3F, 0xFE, "5C017E").sw);
    assertEquals(0x6A82, card.cmd(0, 0xCB, 0x3F, 0xFF, "5C037FC105").sw);
    assertEquals(0x9000, card.verify("123456").sw);
    assertEquals(0x6A82, card.cmd(0, 0xCB, 0x3F, 0xFF, "5C035FC108").sw);
  }

  @Test
  void put_data_long_object_chained_and_read_with_get_response() throws Exception {
    byte[] value = new byte[3000];
    new java.util.Random(1).nextBytes(value);
    byte[] put = concat(hex("5C035FC105538203E8"), Arrays.copyOf(value, 1000));
    assertEquals(0x6982, card.cmd(0, 0xDB, 0x3F, 0xFF, put).sw);
    assertEquals(0x9000, card.authenticate().sw);
    assertEquals(0x9000, card.cmd(0, 0xDB, 0x3F, 0xFF, put).sw);
    Card.Answer a = card.cmd(0, 0xCB, 0x3F, 0xFF, "5C035FC105");
    assertEquals(0x9000, a.sw);
    assertArrayEquals(concat(hex("538203E8"), Arrays.copyOf(value, 1000)), a.data);
    byte[] big = concat(hex("5C035FC10553820BED"), new byte[3053]);
    assertEquals(0x6A84, card.cmd(0, 0xDB, 0x3F, 0xFF, big).sw);
    assertEquals(0x6A80, card.cmd(0, 0xDB, 0x3F, 0xFF, "5C017E5300").sw, "discovery is read-only");
    assertEquals(0x6A80, card.cmd(0, 0xDB, 0x3F, 0xFF, "5C035FFF205300").sw, "card state is the card's");
    // An empty value deletes.
    assertEquals(0x9000, card.cmd(0, 0xDB, 0x3F, 0xFF, "5C035FC1055300").sw);
    assertEquals(0x6A82, card.cmd(0, 0xCB, 0x3F, 0xFF, "5C035FC105").sw);
  }

  @Test
  void response_chaining_61xx_rules() throws Exception {
    assertEquals(0x9000, card.authenticate().sw);
    byte[] put = concat(hex("5C035FC10553820200"), new byte[512]);
    assertEquals(0x9000, card.cmd(0, 0xDB, 0x3F, 0xFF, put).sw);
    Card.Rapdu r = card.send(0, 0xCB, 0x3F, 0xFF, hex("5C035FC105"), 0);
    assertEquals(0x6100, r.getSW(), "more than 256 left");
    assertEquals(256, r.getData().length);
    r = card.send(0, 0xC0, 0, 0, null, 0x10);
    assertEquals(0x61F4, r.getSW(), "516 - 256 - 16 left");
    assertEquals(16, r.getData().length);
    r = card.send(0, 0xC0, 0, 1, null, 0);
    assertEquals(0x6A86, r.getSW());
    r = card.send(0, 0xC0, 0, 0, null, 0);
    assertEquals(0x6985, r.getSW(), "GET RESPONSE after another command: nothing pending");
  }

  @Test
  void command_chaining_rules() {
    assertEquals(0x9000, card.send(0x10, 0xCB, 0x3F, 0xFF, hex("5C"), -1).getSW());
    assertEquals(0x6883, card.send(0x00, 0xCB, 0x3F, 0xFE, hex("017E"), -1).getSW());
    assertEquals(0x9000, card.send(0x10, 0xCB, 0x3F, 0xFF, hex("5C"), -1).getSW());
    Card.Rapdu r = card.send(0x00, 0xCB, 0x3F, 0xFF, hex("017E"), 0);
    assertEquals(0x9000, r.getSW());
    assertArrayEquals(Spec.DISCOVERY_OBJECT, r.getData());
    for (int i = 0; i < 16; i++) {
      assertEquals(0x9000, card.send(0x10, 0xDB, 0x3F, 0xFF, new byte[255], -1).getSW());
    }
    assertEquals(0x6700, card.send(0x10, 0xDB, 0x3F, 0xFF, new byte[255], -1).getSW(), "over 4096 bytes");
    assertEquals(0x6E00, card.send(0x20, 0xCB, 0x3F, 0xFF, hex("5C017E"), 0).getSW());
    assertEquals(0x6882, card.send(0x04, 0xCB, 0x3F, 0xFF, hex("5C017E"), 0).getSW());
    assertEquals(0x6D00, card.send(0x80, 0xCB, 0x3F, 0xFF, hex("5C017E"), 0).getSW());
  }

  @Test
  void verify_counts_tries_and_blocks() {
    assertEquals(0x63C3, card.cmd(0, 0x20, 0, 0x80, (byte[]) null).sw);
    assertEquals(0x63C2, card.verify("654321").sw);
    assertEquals(0x63C2, card.cmd(0, 0x20, 0, 0x80, (byte[]) null).sw);
    assertEquals(0x9000, card.verify("123456").sw);
    assertEquals(0x9000, card.cmd(0, 0x20, 0, 0x80, (byte[]) null).sw);
    assertEquals(0x9000, card.cmd(0, 0x20, 0xFF, 0x80, (byte[]) null).sw);
    assertEquals(0x63C3, card.cmd(0, 0x20, 0, 0x80, (byte[]) null).sw);
    assertEquals(0x6A80, card.cmd(0, 0x20, 0, 0x80, "313233").sw);
    assertEquals(0x6A86, card.cmd(0, 0x20, 1, 0x80, (byte[]) null).sw);
    assertEquals(0x6A88, card.cmd(0, 0x20, 0, 0x81, (byte[]) null).sw);
    assertEquals(0x6700, card.cmd(0, 0x20, 0xFF, 0x80, "00").sw);
    card.verify("000000");
    card.verify("000000");
    assertEquals(0x63C0, card.verify("000000").sw);
    assertEquals(0x6983, card.verify("123456").sw);
    // The PUK unblocks: a wrong PUK is 63Cx whatever the new PIN; right PUK, bad PIN: 6A80, count kept.
    assertEquals(0x63C2, card.cmd(0, 0x2C, 0, 0x80, concat(Card.pinBlock("11111111"), hex("FFFFFFFFFFFFFFFF"))).sw);
    assertEquals(0x6A80, card.cmd(0, 0x2C, 0, 0x80, concat(Card.pinBlock("12345678"), Card.pinBlock("12a456"))).sw);
    Card.Answer md = card.cmd(0, 0xF7, 0, 0x81, (byte[]) null);
    assertEquals("0303", hex(Arrays.copyOfRange(md.data, md.data.length - 2, md.data.length)).substring(0, 2) + "03",
        "PUK max 3");
    assertEquals(2, md.data[md.data.length - 1], "PUK tries as before the right PUK");
    assertEquals(0x9000, card.cmd(0, 0x2C, 0, 0x80, concat(Card.pinBlock("12345678"), Card.pinBlock("222222"))).sw);
    assertEquals(0x9000, card.verify("222222").sw);
  }

  @Test
  void change_reference_data() {
    assertEquals(0x6A80, card.cmd(0, 0x24, 0, 0x80, concat(Card.pinBlock("123456"), Card.pinBlock("12345"))).sw);
    assertEquals(0x63C3, card.cmd(0, 0x20, 0, 0x80, (byte[]) null).sw, "nothing counted");
    assertEquals(0x63C2, card.cmd(0, 0x24, 0, 0x80, concat(Card.pinBlock("999999"), Card.pinBlock("111111"))).sw);
    assertEquals(0x9000, card.cmd(0, 0x24, 0, 0x80, concat(Card.pinBlock("123456"), Card.pinBlock("111111"))).sw);
    assertEquals(0x9000, card.cmd(0, 0x20, 0, 0x80, (byte[]) null).sw, "verified after the change");
    assertEquals(0x9000, card.verify("111111").sw);
    assertEquals(0x9000, card.cmd(0, 0x24, 0, 0x81, concat(Card.pinBlock("12345678"), Card.pinBlock("abcdefgh"))).sw);
    assertEquals(0x6A88, card.cmd(0, 0x24, 0, 0x82, new byte[16]).sw);
    assertEquals(0x6A86, card.cmd(0, 0x24, 1, 0x80, new byte[16]).sw);
  }

  @Test
  void management_key_mutual_and_external_and_aes() throws Exception {
    assertEquals(0x9000, card.authenticate().sw);
    // External: challenge, then its encryption.
    Card.Answer c = card.cmd(0, 0x87, 0x03, 0x9B, "7C028100");
    assertEquals(0x9000, c.sw);
    byte[] resp = Card.crypt(Spec.ALG_3DES, Spec.DEFAULT_MGM_KEY, Arrays.copyOfRange(c.data, 4, 12), true);
    assertEquals(0x9000, card.cmd(0, 0x87, 0x03, 0x9B, concat(hex("7C0A8208"), resp)).sw);
    assertEquals(0x6985, card.cmd(0, 0x87, 0x03, 0x9B, concat(hex("7C0A8208"), resp)).sw, "no challenge pending");
    assertEquals(0x6A86, card.cmd(0, 0x87, 0x08, 0x9B, "7C028000").sw);
    assertEquals(0x9000, card.cmd(0, 0x87, 0x00, 0x9B, "7C028100").sw, "P1 00: get random");
    assertEquals(0x6A80, card.cmd(0, 0x87, 0x03, 0x9B, "7C03810000").sw);
    // BER lengths as iso7816-tlv reads them: 80 is zero, 83 takes three bytes.
    assertEquals(0x9000, card.cmd(0, 0x87, 0x03, 0x9B, "7C028180").sw);
    assertEquals(0x9000, card.cmd(0, 0x87, 0x03, 0x9B, "7C058183000000").sw);
    assertEquals(0x6A80, card.cmd(0, 0x87, 0x03, 0x9B, "7C0681850000000000").sw);
    byte[] aes = new byte[32];
    new java.security.SecureRandom().nextBytes(aes);
    assertEquals(0x9000, card.authenticate().sw);
    assertEquals(0x6A80, card.cmd(0, 0xFF, 0xFF, 0xFF, concat(hex("0C9B10"), Arrays.copyOf(aes, 16))).sw);
    assertEquals(0x9000, card.cmd(0, 0xFF, 0xFF, 0xFF, concat(hex("0C9B20"), aes)).sw);
    assertEquals(0x6A86, card.authenticate().sw, "the key is AES-256 now");
    assertEquals(0x9000, card.authenticate(Spec.ALG_AES256, aes).sw);
    Card.Answer md = card.cmd(0, 0xF7, 0, 0x9B, (byte[]) null);
    assertEquals("01010C0202000105010", hex(md.data).substring(0, 19));
    byte[] key = aes;
    byte alg = Spec.ALG_AES256;
    for (byte next : new byte[] {Spec.ALG_AES128, Spec.ALG_AES192, Spec.ALG_3DES}) {
      int len = next == Spec.ALG_AES128 ? 16 : 24;
      byte[] k = next == Spec.ALG_3DES ? Spec.DEFAULT_MGM_KEY : Arrays.copyOf(aes, len);
      assertEquals(0x9000, card.authenticate(alg, key).sw);
      assertEquals(0x9000, card.cmd(0, 0xFF, 0xFF, 0xFE, concat(new byte[] {next, (byte) 0x9B, (byte) len}, k)).sw);
      alg = next;
      key = k;
      assertEquals(0x9000, card.authenticate(alg, key).sw, "after SET MANAGEMENT KEY " + next);
    }
    assertEquals("0101030202000105010" + "1", hex(card.cmd(0, 0xF7, 0, 0x9B, (byte[]) null).data), "factory key again");
    assertEquals(0x9000, card.authenticate((byte) 0x00, Spec.DEFAULT_MGM_KEY).sw, "P1 00 is 3DES");
  }

  @Test
  void ec_p256_generate_sign_and_ecdh() throws Exception {
    assertEquals(0x6982, card.cmd(0, 0x47, 0, 0x9A, "AC03800111").sw);
    assertEquals(0x9000, card.authenticate().sw);
    assertEquals(0x6A80, card.cmd(0, 0x47, 0, 0x9A, "AC03800199").sw);
    assertEquals(0x6A86, card.cmd(0, 0x47, 1, 0x9A, "AC03800111").sw);
    Card.Answer g = card.cmd(0, 0x47, 0, 0x9A, "AC03800111");
    assertEquals(0x9000, g.sw);
    assertEquals("7F49438641", hex(Arrays.copyOf(g.data, 5)));
    byte[] point = Arrays.copyOfRange(g.data, 5, 5 + 65);
    byte[] hash = MessageDigest.getInstance("SHA-256").digest("hello".getBytes());
    byte[] req = concat(hex("7C248200" + "8120"), hash);
    assertEquals(0x6982, card.cmd(0, 0x87, 0x11, 0x9A, req).sw, "9A needs the PIN");
    assertEquals(0x9000, card.verify("123456").sw);
    assertEquals(0x6A86, card.cmd(0, 0x87, 0x07, 0x9A, req).sw, "P1 names another algorithm");
    Card.Answer s = card.cmd(0, 0x87, 0x11, 0x9A, req);
    assertEquals(0x9000, s.sw);
    byte[] der = Arrays.copyOfRange(s.data, 4, s.data.length);
    Signature v = Signature.getInstance("NONEwithECDSA");
    v.initVerify(ecPublic(point, "secp256r1"));
    v.update(hash);
    assertTrue(v.verify(der), "signature verifies with the generated public key");
    // ECDH with our own point: the x coordinate of d * Q.
    Card.Answer e = card.cmd(0, 0x87, 0x11, 0x9A, concat(hex("7C458200" + "8541"), point));
    assertEquals(0x9000, e.sw);
    assertEquals("7C228220", hex(Arrays.copyOf(e.data, 4)));
    assertEquals(0x6A88, card.cmd(0, 0x87, 0x11, 0x9D, req).sw);
    assertEquals(0x6A88, card.cmd(0, 0x87, 0x11, 0xF9, req).sw, "F9 is a key slot; empty");
  }

  @Test
  void signature_slot_needs_the_pin_before_each_use() throws Exception {
    assertEquals(0x9000, card.authenticate().sw);
    assertEquals(0x9000, card.cmd(0, 0x47, 0, 0x9C, "AC03800114").sw);
    byte[] req = concat(hex("7C348200" + "8130"), new byte[48]);
    assertEquals(0x9000, card.verify("123456").sw);
    assertEquals(0x9000, card.cmd(0, 0x87, 0x14, 0x9C, req).sw);
    assertEquals(0x6982, card.cmd(0, 0x87, 0x14, 0x9C, req).sw, "PIN-always: used up");
  }

  @Test
  void rsa_2048_generate_and_raw_private_operation() throws Exception {
    assertEquals(0x9000, card.authenticate().sw);
    Card.Answer g = card.cmd(0, 0x47, 0, 0x9E, "AC03800107");
    assertEquals(0x9000, g.sw);
    assertEquals("7F49820109818201", hex(Arrays.copyOf(g.data, 8)));
    BigInteger n = new BigInteger(1, Arrays.copyOfRange(g.data, 9, 9 + 256));
    assertEquals("820301000100".substring(0, 10), hex(Arrays.copyOfRange(g.data, 265, 270)));
    byte[] block = new byte[256];
    block[1] = 1;
    block[255] = 7;
    Card.Answer s = card.cmd(0, 0x87, 0x07, 0x9E, concat(hex("7C8201068200" + "81820100"), block));
    assertEquals(0x9000, s.sw, "9E needs no PIN");
    byte[] sig = Arrays.copyOfRange(s.data, 8, s.data.length);
    assertEquals(256, sig.length);
    assertEquals(new BigInteger(1, block), new BigInteger(1, sig).modPow(BigInteger.valueOf(65537), n));
    assertEquals(0x6A80, card.cmd(0, 0x87, 0x07, 0x9E, concat(hex("7C8200FF8200" + "8181FC"), new byte[252])).sw);
  }

  static java.security.PublicKey ecPublic(byte[] point, String curve) throws Exception {
    AlgorithmParameters p = AlgorithmParameters.getInstance("EC");
    p.init(new ECGenParameterSpec(curve));
    ECParameterSpec spec = p.getParameterSpec(ECParameterSpec.class);
    int n = (point.length - 1) / 2;
    ECPoint w = new ECPoint(new BigInteger(1, Arrays.copyOfRange(point, 1, 1 + n)),
        new BigInteger(1, Arrays.copyOfRange(point, 1 + n, 1 + 2 * n)));
    return KeyFactory.getInstance("EC").generatePublic(new ECPublicKeySpec(w, spec));
  }

  static byte[] concat(byte[] a, byte[] b) {
    byte[] out = Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, out, a.length, b.length);
    return out;
  }

  // ---- extended-length APDUs (ISO 7816-4, 5.1; the applet implements ExtendedLength) ----
  // They answer as their short forms do, as the model does. ykman 4.0.9 sends extended APDUs
  // to a card of version 4 or later (this one says 5.7.1): without ExtendedLength jCardSim
  // answered 6700 to each, and ykman stopped reading the PIV-man data object.

  @Test
  void ykman_reading_the_absent_pivman_object_gets_6a82() {
    // ykman: 00 CB 3F FF, extended Lc 0005, 5C 03 5F FF 00, no Le; then with Le 0000.
    assertEquals(0x6A82, card.raw("00CB3FFF0000055C035FFF00").getSW());
    assertEquals(0x6A82, card.raw("00CB3FFF0000055C035FFF000000").getSW());
    assertEquals(0x6A82, card.raw("00CB3FFF055C035FFF0000").getSW()); // the short form
  }

  @Test
  void an_extended_le_gets_the_whole_object_and_a_small_one_61xx() {
    byte[] chuid = card.cmd(0, 0xCB, 0x3F, 0xFF, "5C035FC102").data;
    Card.Rapdu all = card.raw("00CB3FFF0000055C035FC1020000");
    assertEquals(0x9000, all.getSW());
    assertArrayEquals(chuid, all.getData());
    Card.Rapdu part = card.raw("00CB3FFF0000055C035FC1020010");
    assertEquals(0x61, part.getSW1());
    assertEquals(chuid.length - 16, part.getSW2());
    assertArrayEquals(Arrays.copyOf(chuid, 16), part.getData());
  }

  @Test
  void pin_status_query_with_an_extended_le_and_extended_select() {
    // SP 800-73-4 Part 2, 3.2.1: VERIFY without data is the status query (the model: 63C3).
    assertEquals(0x63C3, card.raw("0020008000").getSW());
    assertEquals(0x63C3, card.raw("00200080000000").getSW());
    Card.Rapdu sel = card.raw("00A4040000000B" + hex(Arrays.copyOf(Spec.PIV_AID, 11)) + "0000");
    assertEquals(0x9000, sel.getSW());
    assertArrayEquals(card.select().data, sel.getData());
  }

  @Test
  void an_extended_lc_over_the_command_limit_is_6700() {
    int n = Spec.MAX_COMMAND_DATA + 1;
    byte[] apdu = new byte[7 + n];
    apdu[0] = 0x00;
    apdu[1] = (byte) 0xDB;
    apdu[2] = 0x3F;
    apdu[3] = (byte) 0xFF;
    apdu[5] = (byte) (n >> 8);
    apdu[6] = (byte) n;
    assertEquals(0x6700, card.raw(apdu).getSW());
  }
}
