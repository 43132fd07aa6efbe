//! Key generation and signing: every slot, PKCS#1 v1.5 and PSS checked with
//! the `rsa` crate, each slot's PIN rule, bad blocks.

use applet_spec::apdu::Command;
use applet_spec::messages::{self, DynamicAuth};
use applet_spec::piv::Slot;
use applet_spec::Sw;
use rsa::traits::PublicKeyParts;
use rsa::{pss::Pss, Pkcs1v15Sign, RsaPublicKey};
use sha2::{Digest, Sha256, Sha384, Sha512};
use subsim_conformance::*;
use subsim_host::{Hash, Padding};

/// SP 800-73-4 Part 2, 3.3.2 (GENERATE ASYMMETRIC KEY PAIR).
const GENERATE: &str = "SP 800-73-4 Part 2, 3.3.2";
/// SP 800-73-4 Part 2, 3.2.4 (GENERAL AUTHENTICATE) and Appendix A.4.
const GA: &str = "SP 800-73-4 Part 2, 3.2.4";

const MSG: &[u8] = b"pay 100.00 EUR to DE89 3704 0044 0532 0130 00";

fn verify(key: &RsaPublicKey, hash: Hash, padding: Padding, sig: &[u8]) {
    let result = match (hash, padding) {
        (Hash::Sha256, Padding::Pkcs1v15) => key.verify(Pkcs1v15Sign::new::<Sha256>(), &Sha256::digest(MSG), sig),
        (Hash::Sha384, Padding::Pkcs1v15) => key.verify(Pkcs1v15Sign::new::<Sha384>(), &Sha384::digest(MSG), sig),
        (Hash::Sha512, Padding::Pkcs1v15) => key.verify(Pkcs1v15Sign::new::<Sha512>(), &Sha512::digest(MSG), sig),
        (Hash::Sha256, Padding::Pss) => key.verify(Pss::new::<Sha256>(), &Sha256::digest(MSG), sig),
        (Hash::Sha384, Padding::Pss) => key.verify(Pss::new::<Sha384>(), &Sha384::digest(MSG), sig),
        (Hash::Sha512, Padding::Pss) => key.verify(Pss::new::<Sha512>(), &Sha512::digest(MSG), sig),
    };
    result.unwrap_or_else(|e| panic!("{hash:?}/{padding:?} signature does not verify: {e}"));
}

#[test]
fn generate_answers_the_public_key_in_yubico_order() {
    let mut card = admin_card!(Profile::Piv);
    let cmd = Command::new(0, 0x47, 0, 0x9A).with_data(vec![0xAC, 3, 0x80, 1, 7]).with_ne(256);
    let r = send(&mut card, cmd);
    assert_eq!(r.sw, Sw::OK);
    // 7F49 { 81 modulus, 82 exponent } (SP 800-73-4 Part 2, 3.3.2, Table 10),
    // modulus first: yubico-piv-tool reads by position.
    assert_eq!(r.data[..9], [0x7F, 0x49, 0x82, 0x01, 0x09, 0x81, 0x82, 0x01, 0x00], "{GENERATE}");
    let (n, e) = messages::parse_rsa_public_key(&r.data).unwrap();
    assert_eq!((n.len(), e), (256, vec![1, 0, 1]));
    assert!(n[0] & 0x80 != 0, "a 2048-bit modulus");
}

#[test]
fn sign_with_every_hash_and_padding_in_9a() {
    let mut card = admin_card!(Profile::Piv);
    let key = card.generate(Slot::Authentication).unwrap();
    assert_eq!(key.size(), 256);
    card.verify_pin(b"123456").unwrap();
    for hash in [Hash::Sha256, Hash::Sha384, Hash::Sha512] {
        for padding in [Padding::Pkcs1v15, Padding::Pss] {
            let sig = card.sign(Slot::Authentication, MSG, hash, padding).unwrap();
            verify(&key, hash, padding, &sig);
        }
    }
}

#[test]
fn a_tampered_message_fails_verification() {
    let mut card = admin_card!(Profile::Piv);
    let key = card.generate(Slot::Signature).unwrap();
    card.verify_pin(b"123456").unwrap();
    let sig = card.sign(Slot::Signature, MSG, Hash::Sha256, Padding::Pkcs1v15).unwrap();
    let tampered = b"pay 900.00 EUR to DE89 3704 0044 0532 0130 00";
    assert!(key.verify(Pkcs1v15Sign::new::<Sha256>(), &Sha256::digest(tampered), &sig).is_err());
}

#[test]
fn slot_9a_needs_the_pin_once_per_session() {
    // 9A: PIN, once per session (SP 800-73-4 Part 1, 3.5, Table 4b).
    let mut card = admin_card!(Profile::Piv);
    card.generate(Slot::Authentication).unwrap();
    assert_eq!(
        refused(card.sign(Slot::Authentication, MSG, Hash::Sha256, Padding::Pkcs1v15)),
        Sw::SECURITY_STATUS_NOT_SATISFIED
    );
    card.verify_pin(b"123456").unwrap();
    for _ in 0..3 {
        card.sign(Slot::Authentication, MSG, Hash::Sha256, Padding::Pkcs1v15).unwrap();
    }
    card.transport_mut().reset().unwrap();
    card.select().unwrap();
    assert_eq!(
        refused(card.sign(Slot::Authentication, MSG, Hash::Sha256, Padding::Pkcs1v15)),
        Sw::SECURITY_STATUS_NOT_SATISFIED
    );
}

#[test]
fn slot_9c_needs_the_pin_before_every_signature() {
    // 9C: PIN Always (SP 800-73-4 Part 1, 3.5, Table 4b).
    let mut card = admin_card!(Profile::Piv);
    let key = card.generate(Slot::Signature).unwrap();
    card.verify_pin(b"123456").unwrap();
    let sig = card.sign(Slot::Signature, MSG, Hash::Sha256, Padding::Pss).unwrap();
    verify(&key, Hash::Sha256, Padding::Pss, &sig);
    assert_eq!(refused(card.sign(Slot::Signature, MSG, Hash::Sha256, Padding::Pss)), Sw::SECURITY_STATUS_NOT_SATISFIED);
    // The session's PIN verification itself stays (9A still works).
    card.generate(Slot::Authentication).unwrap();
    card.sign(Slot::Authentication, MSG, Hash::Sha256, Padding::Pss).unwrap();
    card.verify_pin(b"123456").unwrap();
    card.sign(Slot::Signature, MSG, Hash::Sha256, Padding::Pss).unwrap();
}

#[test]
fn a_login_signature_uses_up_the_pin_entry_a_transaction_needs() {
    // The sub-SIM's own rule: any private-key use spends a fresh PIN entry.
    let mut card = admin_card!(Profile::Subsim);
    card.generate(Slot::Authentication).unwrap();
    card.generate(Slot::Signature).unwrap();
    card.verify_pin(b"123456").unwrap();
    card.sign(Slot::Authentication, MSG, Hash::Sha256, Padding::Pkcs1v15).unwrap();
    assert_eq!(
        refused(card.sign(Slot::Signature, MSG, Hash::Sha256, Padding::Pkcs1v15)),
        Sw::SECURITY_STATUS_NOT_SATISFIED
    );
    // Reads between the PIN entry and the signature (as OpenSC does) are fine.
    card.verify_pin(b"123456").unwrap();
    card.read_object(applet_spec::piv::ObjectTag::DISCOVERY).unwrap();
    card.status().unwrap();
    card.sign(Slot::Signature, MSG, Hash::Sha256, Padding::Pkcs1v15).unwrap();
}

#[test]
fn slot_9e_needs_no_pin_and_9d_needs_it_once() {
    // 9E: Always; 9D: PIN (SP 800-73-4 Part 1, 3.5, Table 4b).
    let mut card = admin_card!(Profile::Piv);
    let key = card.generate(Slot::CardAuthentication).unwrap();
    let sig = card.sign(Slot::CardAuthentication, MSG, Hash::Sha384, Padding::Pkcs1v15).unwrap();
    verify(&key, Hash::Sha384, Padding::Pkcs1v15, &sig);
    let key = card.generate(Slot::KeyManagement).unwrap();
    assert_eq!(
        refused(card.sign(Slot::KeyManagement, MSG, Hash::Sha256, Padding::Pkcs1v15)),
        Sw::SECURITY_STATUS_NOT_SATISFIED
    );
    card.verify_pin(b"123456").unwrap();
    let sig = card.sign(Slot::KeyManagement, MSG, Hash::Sha256, Padding::Pkcs1v15).unwrap();
    verify(&key, Hash::Sha256, Padding::Pkcs1v15, &sig);
}

#[test]
fn regeneration_replaces_the_key() {
    let mut card = admin_card!(Profile::Piv);
    let first = card.generate(Slot::CardAuthentication).unwrap();
    let second = card.generate(Slot::CardAuthentication).unwrap();
    assert_ne!(first, second);
    let sig = card.sign(Slot::CardAuthentication, MSG, Hash::Sha256, Padding::Pkcs1v15).unwrap();
    verify(&second, Hash::Sha256, Padding::Pkcs1v15, &sig);
    assert!(first.verify(Pkcs1v15Sign::new::<Sha256>(), &Sha256::digest(MSG), &sig).is_err());
}

/// Sends each bad block to the 9E key and judges the refusal: 6A80.
fn refuses_blocks(card: &mut Card, bad: Vec<(&str, Vec<u8>)>) {
    for (what, block) in bad {
        let sw = match card.private_op(Slot::CardAuthentication, &block) {
            Err(subsim_host::Error::Status { sw, .. }) => sw,
            Err(e) => panic!("00 87 07 9E ({what}): no status word, the card stopped answering: {e} [{GA}]"),
            Ok(_) => panic!("00 87 07 9E ({what}): the card computed a result [{GA}]"),
        };
        let label = format!("00 87 07 9E ({what})");
        card.judge(&label, sw, GA, &[Sw::INCORRECT_DATA], &[Sw::WRONG_LENGTH, Sw::UNKNOWN_ERROR, Sw(0x6400)]);
    }
}

#[test]
fn blocks_of_the_wrong_length_are_refused() {
    let mut card = admin_card!(Profile::Piv);
    card.generate(Slot::CardAuthentication).unwrap();
    // The input of RSA-2048 is 256 bytes (SP 800-73-4 Part 2, Appendix A.4).
    refuses_blocks(&mut card, vec![("255 bytes", vec![1; 255]), ("257 bytes", vec![1; 257])]);
}

#[test]
fn blocks_not_below_the_modulus_are_refused() {
    let mut card = admin_card!(Profile::Piv);
    let key = card.generate(Slot::CardAuthentication).unwrap();
    let n = key.n().to_bytes_be();
    // A block not below the modulus is not an RSA input (PKCS #1 v2.2,
    // 5.1.2 / 5.2.1: "message representative out of range"): refused.
    refuses_blocks(&mut card, vec![("block = modulus", n.clone()), ("FF..FF", vec![0xFF; 256])]);
    let mut below = n.clone();
    below[255] -= 1;
    assert_eq!(card.private_op(Slot::CardAuthentication, &below).unwrap().len(), 256);
}

#[test]
fn generate_and_sign_error_paths() {
    let mut card = fresh_card!(Profile::Piv);
    let sw = refused(card.generate(Slot::Authentication));
    card.judge("00 47 00 9A (no management key)", sw, GENERATE, &[Sw::SECURITY_STATUS_NOT_SATISFIED], &[]);
    admin(&mut card);
    // 9B is not an asymmetric key; P1 must be 00.
    card.expect("00 47 00 9B 05 AC 03 80 01 07", GENERATE, &[Sw::INCORRECT_P1_P2], &[Sw::REFERENCE_NOT_FOUND]);
    card.expect("00 47 01 9A 05 AC 03 80 01 07", GENERATE, &[Sw::INCORRECT_P1_P2], &[Sw(0x6B00), Sw(0x6A81)]);
    // No such algorithm (SP 800-78-4 Table 5 has no 13): refused.
    card.expect("00 47 00 9A 05 AC 03 80 01 13", GENERATE, &[Sw::INCORRECT_DATA], &[Sw::INCORRECT_P1_P2]);
    card.expect("00 47 00 9A 03 AC 01 80", GENERATE, &[Sw::INCORRECT_DATA], &[Sw::WRONG_LENGTH]);
    // Empty slot, wrong algorithm, malformed template.
    card.verify_pin(b"123456").unwrap();
    let sw = refused(card.private_op(Slot::Authentication, &[1; 256]));
    card.judge(
        "00 87 07 9A (empty slot)",
        sw,
        GA,
        &[Sw::REFERENCE_NOT_FOUND],
        // 6400: ISO 7816-4's "execution error, memory unchanged".
        &[Sw::INCORRECT_P1_P2, Sw::CONDITIONS_NOT_SATISFIED, Sw::FILE_NOT_FOUND, Sw(0x6400)],
    );
    card.generate(Slot::Authentication).unwrap();
    card.verify_pin(b"123456").unwrap();
    let req = DynamicAuth::sign_request(&[1; 256]).encode();
    let sw = send(&mut card, Command::new(0, 0x87, 0x11, 0x9A).with_data(req)).sw;
    card.judge("00 87 11 9A (P-256 on an RSA key)", sw, GA, &[Sw::INCORRECT_P1_P2], &[Sw::INCORRECT_DATA]);
    card.expect("00 87 07 9A 04 7C 02 82 00", GA, &[Sw::INCORRECT_DATA], &[]);
    card.expect("00 87 07 9F 04 7C 02 82 00", GA, &[Sw::INCORRECT_P1_P2], &[Sw::REFERENCE_NOT_FOUND]);
}

#[test]
fn generation_accepts_pin_and_touch_policies() {
    // AA (PIN policy) and AB (touch policy) inside AC are Yubico's.
    let mut card = admin_card!(Profile::Yubico);
    let r = raw(&mut card, "00 47 00 9A 0B AC 09 80 01 07 AA 01 02 AB 01 01 00");
    if card.has(Profile::Subsim) {
        // 7F49 (2) + length 82 01 09 (3) + 265 = 270 bytes: 256 now, 14 left.
        assert_eq!(r.sw, Sw(0x610E));
    } else {
        assert!(r.sw == Sw::OK || r.sw.remaining().is_some(), "generation with policies: {}", r.sw);
        assert_eq!(r.data[..2], [0x7F, 0x49]);
    }
}

#[test]
fn status_shows_keys() {
    let mut card = admin_card!(Profile::Subsim);
    let changes = card.status().unwrap().changes;
    card.generate(Slot::Signature).unwrap();
    let s = card.status().unwrap();
    assert_eq!(s.keys, Slot::Signature.bit());
    assert_eq!(s.changes, changes + 1);
}
