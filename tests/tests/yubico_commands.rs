//! Yubico's PIV management commands in the shapes Yubico documents (and
//! ykman / yubico-piv-tool send): GET VERSION, GET METADATA, SET PIN
//! RETRIES, RESET, IMPORT KEY, plus the sub-SIM's per-slot import policy.
//! Yubico's commands declare the `yubico` profile (they run on any card
//! answering GET VERSION); what only the sub-SIM promises is checked on it
//! alone.

use applet_spec::messages::{ImportedKey, KeyOrigin, PublicKeyData, METADATA_ALGORITHM_PIN};
use applet_spec::piv::{KeyAlgorithm, MgmAlgorithm, ObjectTag, Slot, KEY_REF_MANAGEMENT, KEY_REF_PIN, KEY_REF_PUK};
use applet_spec::Sw;
use rand::SeedableRng;
use rsa::traits::PublicKeyParts;
use rsa::{Pkcs1v15Sign, RsaPrivateKey};
use sha2::{Digest, Sha256};
use subsim_conformance::{admin_card, fresh_card, raw, refused, Card, Profile};
use subsim_host::{Hash, Padding};

fn host_rsa_key(seed: u64) -> RsaPrivateKey {
    RsaPrivateKey::new(&mut rand_chacha::ChaCha20Rng::seed_from_u64(seed), 2048).unwrap()
}

/// Blocks the PIN with wrong VERIFYs and the PUK with RESET RETRY COUNTER
/// carrying a wrong PUK and no new PIN: what ykman's `piv reset` does.
fn block_pin_and_puk(card: &mut Card) {
    while raw(card, "00 20 00 80 08 3030303030303030").sw != Sw::AUTH_METHOD_BLOCKED {}
    while raw(card, "00 2C 00 80 10 3030303030303030 FFFFFFFFFFFFFFFF").sw != Sw::AUTH_METHOD_BLOCKED {}
}

/// GET VERSION names the YubiKey firmware whose feature set the card has:
/// from 5.3 metadata (answered below), from 5.4 AES management keys (they
/// work), from 5.7 Ed25519, X25519 and MOVE KEY (yubico_5_7.rs has them).
#[test]
fn the_version_matches_what_the_card_implements() {
    let mut card = admin_card!();
    let v = card.version().unwrap().numbers;
    assert!(([5, 7, 0]..[5, 8, 0]).contains(&v), "{v:?}");
    assert!(card.metadata(KEY_REF_PIN).is_ok(), "5.3: GET METADATA");
    card.set_management_key(MgmAlgorithm::Aes256, &[3; 32]).unwrap();
    card.authenticate(MgmAlgorithm::Aes256, &[3; 32]).unwrap();
    assert_eq!(raw(&mut card, "00 F6 FF 9A").sw, Sw::REFERENCE_NOT_FOUND, "5.7's DELETE KEY: the slot is empty");
    // 5.7's Ed25519, where the platform has it (SELECT lists it): a Java Card 3.0.5 chip
    // cannot, and refuses it as an algorithm it lacks.
    let listed = card.select().unwrap().algorithms.contains(&0xE0);
    card.authenticate(MgmAlgorithm::Aes256, &[3; 32]).unwrap();
    let ed = raw(&mut card, "00 47 00 9A 05 AC 03 80 01 E0");
    if listed {
        assert_eq!((ed.sw, ed.data.get(..5)), (Sw::OK, Some(&[0x7F, 0x49, 0x22, 0x86, 0x20][..])), "5.7's Ed25519");
    } else {
        assert_eq!(ed.sw, Sw::INCORRECT_DATA, "Ed25519 on a card that does not list it");
    }
}

#[test]
fn metadata_of_pin_puk_and_management_key() {
    let mut card = fresh_card!(Profile::Yubico);
    // The try counts as the card tells them (VERIFY's 63CX), not ours.
    let t = card.pin_tries;
    let pin = card.metadata(KEY_REF_PIN).unwrap();
    assert_eq!((pin.algorithm, pin.is_default, pin.retries), (METADATA_ALGORITHM_PIN, Some(true), Some((t, t))));
    let puk = card.metadata(KEY_REF_PUK).unwrap();
    assert!(puk.is_default == Some(true) && puk.retries.is_some_and(|(all, left)| all == left), "{puk:?}");
    let mgm = card.metadata(KEY_REF_MANAGEMENT).unwrap();
    // The factory key: 3DES, or AES-192 on YubiKeys from 5.7.
    assert!([0x03, 0x0A].contains(&mgm.algorithm) && mgm.is_default == Some(true), "{mgm:?}");
    assert_eq!(mgm.policy.map(|p| p.1), Some(1), "touch never");

    let _ = card.verify_pin(b"000000");
    assert_eq!(card.metadata(KEY_REF_PIN).unwrap().retries, Some((t, t - 1)));
    card.change_pin(b"123456", b"24680135").unwrap();
    assert_eq!(card.metadata(KEY_REF_PIN).unwrap().is_default, Some(false));
    subsim_conformance::admin(&mut card);
    card.set_management_key(MgmAlgorithm::Aes192, &[5; 24]).unwrap();
    let mgm = card.metadata(KEY_REF_MANAGEMENT).unwrap();
    assert_eq!((mgm.algorithm, mgm.is_default), (0x0A, Some(false)));
    // Security: none; shape errors.
    assert_eq!(raw(&mut card, "00 F7 01 80").sw, Sw::INCORRECT_P1_P2);
    assert_eq!(raw(&mut card, "00 F7 00 80 01 00").sw, Sw::WRONG_LENGTH);
}

#[test]
fn metadata_of_key_slots() {
    let mut card = admin_card!(Profile::Yubico);
    for slot in Slot::ALL {
        assert_eq!(card.slot_metadata(slot).unwrap(), None, "{slot} empty: 6A88");
    }
    let public = card.generate(Slot::Authentication).unwrap();
    let m = card.slot_metadata(Slot::Authentication).unwrap().unwrap();
    assert_eq!((m.algorithm, m.origin, m.policy), (0x07, Some(KeyOrigin::Generated), Some((2, 1))));
    match m.public_key.unwrap() {
        PublicKeyData::Rsa { modulus, exponent } => {
            assert_eq!(modulus, public.n().to_bytes_be());
            assert_eq!(exponent, public.e().to_bytes_be());
        }
        other => panic!("{other:?}"),
    }
    // The PIN policy each slot's key has (Yubico's codes: 1 never, 2 once, 3 always).
    for (slot, policy) in [(Slot::Signature, 3), (Slot::KeyManagement, 2), (Slot::CardAuthentication, 1)] {
        card.generate_key(slot, KeyAlgorithm::EccP256).unwrap();
        let m = card.slot_metadata(slot).unwrap().unwrap();
        assert_eq!((m.algorithm, m.policy), (0x11, Some((policy, 1))), "{slot}");
    }
    // F9 holds the attestation key from manufacture (generated on the
    // simulated card; a real card's maker may have imported it).
    let f9 = card.slot_metadata(Slot::Attestation).unwrap().expect("F9 key");
    if subsim_conformance::target() == subsim_conformance::Target::Sim {
        assert_eq!(f9.origin, Some(KeyOrigin::Generated));
    }
    // A reference the card does not have (ykman 5 asks for the Bio one, 96):
    // 6A88, as a YubiKey answers.
    assert_eq!(raw(&mut card, "00 F7 00 96").sw, Sw::REFERENCE_NOT_FOUND, "no such reference");
}

#[test]
fn set_pin_retries_needs_the_management_key_and_the_pin() {
    let mut card = fresh_card!(Profile::Yubico);
    assert_eq!(raw(&mut card, "00 FA 05 04").sw, Sw::SECURITY_STATUS_NOT_SATISFIED);
    subsim_conformance::admin(&mut card);
    assert_eq!(raw(&mut card, "00 FA 05 04").sw, Sw::SECURITY_STATUS_NOT_SATISFIED, "the PIN too");
    card.change_pin(b"123456", b"24680135").unwrap();
    assert_eq!(raw(&mut card, "00 FA 00 04").sw, Sw::INCORRECT_P1_P2);
    if card.has(Profile::Subsim) {
        // The sub-SIM's own limit (Yubico documents none above 15).
        assert_eq!(raw(&mut card, "00 FA 05 10").sw, Sw::INCORRECT_P1_P2, "63CX cannot tell 16");
    }
    card.set_pin_retries(5, 4).unwrap();
    // PIN and PUK back to factory values with the new counts; log in again.
    let pin = card.metadata(KEY_REF_PIN).unwrap();
    assert_eq!((pin.is_default, pin.retries), (Some(true), Some((5, 5))));
    assert_eq!(card.metadata(KEY_REF_PUK).unwrap().retries, Some((4, 4)));
    assert_eq!(raw(&mut card, "00 20 00 80").sw, Sw::tries_left(5));
    assert_eq!(refused(card.verify_pin(b"24680135")), Sw::tries_left(4));
    card.verify_pin(b"123456").unwrap();
}

#[test]
fn reset_needs_pin_and_puk_blocked_then_restores_the_factory() {
    let mut card = admin_card!(Profile::Yubico);
    let subsim = card.has(Profile::Subsim);
    card.generate(Slot::Authentication).unwrap();
    card.write_certificate(Slot::Authentication, &[0x30, 3, 1, 2, 3]).unwrap();
    card.set_management_key(MgmAlgorithm::Aes128, &[1; 16]).unwrap();
    if subsim {
        card.set_import_policy(Slot::Signature, true).unwrap();
    }
    let f9_cert = card.attestation_certificate().unwrap().expect("5FFF01");
    let f9_key = card.public_key(Slot::Attestation).unwrap();
    assert_eq!(raw(&mut card, "00 FB 00 00").sw, Sw::CONDITIONS_NOT_SATISFIED, "nothing blocked");
    while raw(&mut card, "00 20 00 80 08 3030303030303030").sw != Sw::AUTH_METHOD_BLOCKED {}
    assert_eq!(raw(&mut card, "00 FB 00 00").sw, Sw::CONDITIONS_NOT_SATISFIED, "the PUK still works");
    block_pin_and_puk(&mut card);
    assert_eq!(raw(&mut card, "00 FB 00 01").sw, Sw::INCORRECT_P1_P2);
    card.reset().unwrap();
    // Factory values; keys, certificates, import policy gone; identity and F9 kept.
    card.verify_pin(b"123456").unwrap();
    card.unblock_pin(b"12345678", b"123456").unwrap();
    subsim_conformance::admin(&mut card);
    assert_eq!(card.slot_metadata(Slot::Authentication).unwrap(), None);
    assert_eq!(card.read_certificate(Slot::Authentication).unwrap(), None);
    if subsim {
        // The sub-SIM also forgets its import policy and keeps its CCC.
        assert_eq!(card.status().unwrap().import_forbidden, 0);
        assert!(card.read_object(ObjectTag::CCC).unwrap().is_some());
    }
    assert_eq!(card.attestation_certificate().unwrap(), Some(f9_cert));
    assert_eq!(card.public_key(Slot::Attestation).unwrap(), f9_key);
}

#[test]
fn an_imported_rsa_key_signs_and_says_it_was_imported() {
    let mut card = fresh_card!(Profile::Yubico);
    let key = host_rsa_key(11);
    assert_eq!(refused(card.import_rsa_key(Slot::Signature, &key)), Sw::SECURITY_STATUS_NOT_SATISFIED);
    subsim_conformance::admin(&mut card);
    card.import_rsa_key(Slot::Signature, &key).unwrap();
    let m = card.slot_metadata(Slot::Signature).unwrap().unwrap();
    assert_eq!((m.algorithm, m.origin), (0x07, Some(KeyOrigin::Imported)));
    assert_eq!(m.public_key, Some(PublicKeyData::Rsa { modulus: key.n().to_bytes_be(), exponent: vec![1, 0, 1] }));
    card.verify_pin(b"123456").unwrap();
    let sig = card.sign(Slot::Signature, b"pay 5 EUR", Hash::Sha256, Padding::Pkcs1v15).unwrap();
    key.to_public_key().verify(Pkcs1v15Sign::new::<Sha256>(), &Sha256::digest(b"pay 5 EUR"), &sig).unwrap();
    // An imported key gets no attestation: the card cannot vouch for it
    // (the status word is the sub-SIM's; Yubico documents only a refusal).
    let sw = refused(card.attest(Slot::Signature));
    assert!(sw == Sw::INCORRECT_DATA || !card.has(Profile::Subsim), "{sw}");
}

#[test]
fn import_refuses_keys_that_are_not_whole() {
    let mut card = admin_card!();
    let key = host_rsa_key(12);
    let good = |c: &mut Card| c.import_rsa_key(Slot::KeyManagement, &key);
    good(&mut card).unwrap();
    // Wrong algorithm for the size, bad CRT value, bad items.
    let cmd = |alg: u8, data: Vec<u8>| applet_spec::apdu::Command::new(0, 0xFE, alg, 0x9D).with_data(data);
    let half = |b: u8| vec![b; 128];
    let broken = ImportedKey::Rsa { p: half(3), q: half(5), dp: half(7), dq: half(9), qinv: half(1) };
    let data = applet_spec::messages::import_key_request(&broken, None);
    assert_eq!(card.transmit(&cmd(0x07, data.clone())).unwrap().sw, Sw::INCORRECT_DATA);
    assert_eq!(card.transmit(&cmd(0x13, data)).unwrap().sw, Sw::INCORRECT_P1_P2);
    assert_eq!(card.transmit(&cmd(0x07, vec![0x01, 0x01, 0x05])).unwrap().sw, Sw::INCORRECT_DATA);
    let ec_for_rsa = applet_spec::messages::import_key_request(&ImportedKey::Ec { scalar: vec![1; 32] }, None);
    assert_eq!(card.transmit(&cmd(0x07, ec_for_rsa.clone())).unwrap().sw, Sw::INCORRECT_DATA);
    let zero = applet_spec::messages::import_key_request(&ImportedKey::Ec { scalar: vec![0; 32] }, None);
    assert_eq!(card.transmit(&cmd(0x11, zero)).unwrap().sw, Sw::INCORRECT_DATA, "scalar 0");
    // Nothing changed by the refusals.
    let m = card.slot_metadata(Slot::KeyManagement).unwrap().unwrap();
    assert_eq!(m.public_key, Some(PublicKeyData::Rsa { modulus: key.n().to_bytes_be(), exponent: vec![1, 0, 1] }));
    // An EC key imports, and its public point is the host's.
    card.transmit(&cmd(0x11, ec_for_rsa)).unwrap();
    let point = {
        use p256::elliptic_curve::sec1::ToEncodedPoint;
        p256::SecretKey::from_slice(&[1; 32]).unwrap().public_key().to_encoded_point(false).as_bytes().to_vec()
    };
    assert_eq!(card.public_key(Slot::KeyManagement).unwrap(), PublicKeyData::Ec { point });
}

/// The issuer may require a slot's key to be made on the card: then IMPORT
/// KEY into it is refused (6985), and metadata and GET STATUS say so.
#[test]
fn the_issuer_can_forbid_import_per_slot() {
    let mut card = fresh_card!();
    assert_eq!(refused(card.set_import_policy(Slot::Signature, true)), Sw::SECURITY_STATUS_NOT_SATISFIED);
    card.authenticate_default().unwrap();
    card.set_import_policy(Slot::Signature, true).unwrap();
    assert_eq!(card.status().unwrap().import_forbidden, Slot::Signature.bit());
    let key = host_rsa_key(13);
    assert_eq!(refused(card.import_rsa_key(Slot::Signature, &key)), Sw::CONDITIONS_NOT_SATISFIED);
    card.import_rsa_key(Slot::Authentication, &key).unwrap();
    card.generate(Slot::Signature).unwrap();
    let m = card.slot_metadata(Slot::Signature).unwrap().unwrap();
    assert_eq!((m.origin, m.import_forbidden), (Some(KeyOrigin::Generated), Some(true)));
    assert_eq!(card.slot_metadata(Slot::Authentication).unwrap().unwrap().import_forbidden, Some(false));
    card.set_import_policy(Slot::Signature, false).unwrap();
    card.import_rsa_key(Slot::Signature, &key).unwrap();
    assert_eq!(card.status().unwrap().import_forbidden, 0);
    assert_eq!(raw(&mut card, "80 3E 02 9C").sw, Sw::INCORRECT_P1_P2);
    assert_eq!(raw(&mut card, "80 3E 01 9B").sw, Sw::INCORRECT_P1_P2);
}

/// The trace shows IMPORT KEY's header, never the key.
#[test]
fn the_trace_redacts_imported_keys() {
    let key = ImportedKey::Ec { scalar: vec![0xA7; 32] };
    let data = applet_spec::messages::import_key_request(&key, None);
    let apdu = applet_spec::apdu::Command::new(0, 0xFE, 0x11, 0x9A).with_data(data).to_bytes();
    let line = subsim_host::trace::command_line(&apdu);
    assert!(line.contains("IMPORT KEY") && line.contains("redacted"), "{line}");
    assert!(!line.contains("A7 A7"), "{line}");
}
