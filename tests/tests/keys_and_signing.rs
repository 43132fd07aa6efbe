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
    let mut card = admin_card!();
    let cmd = Command::new(0, 0x47, 0, 0x9A).with_data(vec![0xAC, 3, 0x80, 1, 7]).with_ne(256);
    let r = send(&mut card, cmd);
    assert_eq!(r.sw, Sw::OK);
    assert_eq!(r.data[..9], [0x7F, 0x49, 0x82, 0x01, 0x09, 0x81, 0x82, 0x01, 0x00]);
    let (n, e) = messages::parse_rsa_public_key(&r.data).unwrap();
    assert_eq!((n.len(), e), (256, vec![1, 0, 1]));
    assert!(n[0] & 0x80 != 0, "a 2048-bit modulus");
}

#[test]
fn sign_with_every_hash_and_padding_in_9a() {
    let mut card = admin_card!();
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
    let mut card = admin_card!();
    let key = card.generate(Slot::Signature).unwrap();
    card.verify_pin(b"123456").unwrap();
    let sig = card.sign(Slot::Signature, MSG, Hash::Sha256, Padding::Pkcs1v15).unwrap();
    let tampered = b"pay 900.00 EUR to DE89 3704 0044 0532 0130 00";
    assert!(key.verify(Pkcs1v15Sign::new::<Sha256>(), &Sha256::digest(tampered), &sig).is_err());
}

#[test]
fn slot_9a_needs_the_pin_once_per_session() {
    let mut card = admin_card!();
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
    let mut card = admin_card!();
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
    let mut card = admin_card!();
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
    let mut card = admin_card!();
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
    let mut card = admin_card!();
    let first = card.generate(Slot::CardAuthentication).unwrap();
    let second = card.generate(Slot::CardAuthentication).unwrap();
    assert_ne!(first, second);
    let sig = card.sign(Slot::CardAuthentication, MSG, Hash::Sha256, Padding::Pkcs1v15).unwrap();
    verify(&second, Hash::Sha256, Padding::Pkcs1v15, &sig);
    assert!(first.verify(Pkcs1v15Sign::new::<Sha256>(), &Sha256::digest(MSG), &sig).is_err());
}

#[test]
fn bad_blocks_are_refused() {
    let mut card = admin_card!();
    let key = card.generate(Slot::CardAuthentication).unwrap();
    let n = key.n().to_bytes_be();
    assert_eq!(refused(card.private_op(Slot::CardAuthentication, &n)), Sw::INCORRECT_DATA, "block = modulus");
    assert_eq!(refused(card.private_op(Slot::CardAuthentication, &[0xFF; 256])), Sw::INCORRECT_DATA);
    assert_eq!(refused(card.private_op(Slot::CardAuthentication, &[0x01; 255])), Sw::INCORRECT_DATA);
    assert_eq!(refused(card.private_op(Slot::CardAuthentication, &[0x01; 257])), Sw::INCORRECT_DATA);
    let mut below = n.clone();
    below[255] -= 1;
    assert_eq!(card.private_op(Slot::CardAuthentication, &below).unwrap().len(), 256);
}

#[test]
fn generate_and_sign_error_paths() {
    let mut card = fresh_card!();
    assert_eq!(refused(card.generate(Slot::Authentication)), Sw::SECURITY_STATUS_NOT_SATISFIED);
    card.authenticate_default().unwrap();
    assert_eq!(raw(&mut card, "00 47 00 9B 05 AC 03 80 01 07").sw, Sw::INCORRECT_P1_P2);
    assert_eq!(raw(&mut card, "00 47 01 9A 05 AC 03 80 01 07").sw, Sw::INCORRECT_P1_P2);
    assert_eq!(raw(&mut card, "00 47 00 9A 05 AC 03 80 01 13").sw, Sw::INCORRECT_DATA, "no algorithm 13");
    assert_eq!(raw(&mut card, "00 47 00 9A 03 AC 01 80").sw, Sw::INCORRECT_DATA);
    // Empty slot, wrong algorithm, malformed template.
    card.verify_pin(b"123456").unwrap();
    assert_eq!(refused(card.private_op(Slot::Authentication, &[1; 256])), Sw::REFERENCE_NOT_FOUND);
    let req = DynamicAuth::sign_request(&[1; 256]).encode();
    // An algorithm on an empty slot: either refusal is allowed (P1-P2, or no such key).
    let sw = send(&mut card, Command::new(0, 0x87, 0x11, 0x9A).with_data(req)).sw;
    assert!([Sw::INCORRECT_P1_P2, Sw::REFERENCE_NOT_FOUND].contains(&sw), "{sw}");
    assert_eq!(raw(&mut card, "00 87 07 9A 04 7C 02 82 00").sw, Sw::INCORRECT_DATA);
    assert_eq!(raw(&mut card, "00 87 07 9F 04 7C 02 82 00").sw, Sw::INCORRECT_P1_P2);
}

#[test]
fn generation_accepts_pin_and_touch_policies() {
    let mut card = admin_card!();
    let r = raw(&mut card, "00 47 00 9A 0B AC 09 80 01 07 AA 01 02 AB 01 01 00");
    // 7F49 (2) + length 82 01 09 (3) + 265 = 270 bytes: 256 now, 14 left.
    assert_eq!(r.sw, Sw(0x610E));
}

#[test]
fn status_shows_keys() {
    let mut card = admin_card!();
    let changes = card.status().unwrap().changes;
    card.generate(Slot::Signature).unwrap();
    let s = card.status().unwrap();
    assert_eq!(s.keys, Slot::Signature.bit());
    assert_eq!(s.changes, changes + 1);
}
