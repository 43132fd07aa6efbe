//! What Yubico firmware 5.7 brings, in the shapes ykman 5.7+ and
//! yubico-piv-tool 2.7 send: PIN and touch policies that hold (tags AA/AB
//! of GENERATE and IMPORT KEY), MOVE KEY and DELETE (`F6`), Ed25519 (`E0`)
//! and X25519 (`E1`). Yubico's behaviour declares the `yubico` profile;
//! the sub-SIM's own rules on top (9C always PIN-always, no touch, F9 kept)
//! run on the sub-SIM alone.

use applet_spec::messages::{ImportedKey, KeyOrigin, Policies, PublicKeyData};
use applet_spec::piv::{KeyAlgorithm, ObjectTag, Slot};
use applet_spec::Sw;
use subsim_conformance::{admin, admin_card, generate_or_skip, raw, refused, Card, Profile};
use subsim_host::{Hash, Padding};

const P256: KeyAlgorithm = KeyAlgorithm::EccP256;

fn pin(p: u8) -> Policies {
    Policies { pin: Some(p), touch: None }
}

fn sign(card: &mut Card, slot: Slot) -> Result<Vec<u8>, subsim_host::Error> {
    card.sign_with(slot, P256, b"pay 10 EUR", Hash::Sha256, Padding::Pkcs1v15)
}

/// A reset: the management key and the PIN are no longer authenticated.
fn power_cycle(card: &mut Card) {
    card.transport_mut().reset().unwrap();
    card.select().unwrap();
}

fn retired(n: u8) -> Slot {
    Slot::from_key_ref(0x81 + n).unwrap()
}

/// The "done when": a key made with PIN policy ALWAYS refuses a
/// second signature without a VERIFY (Yubico's PIN_POLICY.ALWAYS: "PIN
/// required for every use"); GET METADATA reports it.
#[test]
fn pin_policy_always_needs_a_verify_before_every_signature() {
    let mut card = admin_card!(Profile::Yubico);
    card.generate_key_with(Slot::Authentication, P256, pin(3)).unwrap();
    assert_eq!(card.slot_metadata(Slot::Authentication).unwrap().unwrap().policy, Some((3, 1)));
    card.verify_pin(b"123456").unwrap();
    sign(&mut card, Slot::Authentication).unwrap();
    assert_eq!(refused(sign(&mut card, Slot::Authentication)), Sw::SECURITY_STATUS_NOT_SATISFIED, "second use");
    card.verify_pin(b"123456").unwrap();
    sign(&mut card, Slot::Authentication).unwrap();
}

/// NEVER on 9A (a YubiKey's 9A defaults to ONCE): no VERIFY at all. ONCE
/// on 9E (whose default is NEVER): the PIN first.
#[test]
fn pin_policies_never_and_once_hold_against_the_slot_default() {
    let mut card = admin_card!(Profile::Yubico);
    card.generate_key_with(Slot::Authentication, P256, pin(1)).unwrap();
    sign(&mut card, Slot::Authentication).unwrap();
    sign(&mut card, Slot::Authentication).unwrap();
    card.generate_key_with(Slot::CardAuthentication, P256, pin(2)).unwrap();
    assert_eq!(refused(sign(&mut card, Slot::CardAuthentication)), Sw::SECURITY_STATUS_NOT_SATISFIED);
    card.verify_pin(b"123456").unwrap();
    sign(&mut card, Slot::CardAuthentication).unwrap();
    sign(&mut card, Slot::CardAuthentication).unwrap();
    assert_eq!(card.slot_metadata(Slot::CardAuthentication).unwrap().unwrap().policy, Some((2, 1)));
    // IMPORT KEY takes the policy as GENERATE does.
    let key = ImportedKey::Ec { scalar: vec![0x5C; 32] };
    card.import_key_with(Slot::KeyManagement, P256, &key, pin(3)).unwrap();
    assert_eq!(card.slot_metadata(Slot::KeyManagement).unwrap().unwrap().policy, Some((3, 1)));
}

/// Unknown policy bytes are refused (6A80) and change nothing; so is what
/// this card cannot enforce (the sub-SIM: match-* without a biometric
/// sensor, touch without a button) and what its slot rules forbid (9C
/// weaker than ALWAYS, F9 other than NEVER).
#[test]
fn policies_the_card_cannot_enforce_are_refused() {
    let mut card = admin_card!(Profile::Yubico);
    let before = card.generate_key(Slot::Authentication, P256).unwrap();
    let unknown = [Policies { pin: Some(0x09), touch: None }, Policies { pin: None, touch: Some(0x09) }];
    let sub_sim = [
        Policies { pin: Some(4), touch: None },
        Policies { pin: Some(5), touch: None },
        Policies { pin: None, touch: Some(2) },
        Policies { pin: None, touch: Some(3) },
    ];
    let mut refusals: Vec<(Slot, Policies)> = unknown.iter().map(|p| (Slot::Authentication, *p)).collect();
    if card.has(Profile::Subsim) {
        refusals.extend(sub_sim.iter().map(|p| (Slot::Authentication, *p)));
        refusals.extend([(Slot::Signature, pin(1)), (Slot::Signature, pin(2)), (Slot::Attestation, pin(3))]);
    }
    for (slot, p) in refusals {
        assert_eq!(refused(card.generate_key_with(slot, P256, p)), Sw::INCORRECT_DATA, "{slot} {p:?}");
        let ec = ImportedKey::Ec { scalar: vec![0x11; 32] };
        assert_eq!(refused(card.import_key_with(slot, P256, &ec, p)), Sw::INCORRECT_DATA, "import {slot} {p:?}");
    }
    assert_eq!(card.public_key(Slot::Authentication).unwrap(), before, "nothing changed");
    if card.has(Profile::Subsim) {
        // What is allowed: 9C ALWAYS, F9 NEVER, touch NEVER anywhere.
        card.generate_key_with(Slot::Signature, P256, Policies { pin: Some(3), touch: Some(1) }).unwrap();
        assert_eq!(card.slot_metadata(Slot::Signature).unwrap().unwrap().policy, Some((3, 1)));
    }
}

/// MOVE KEY `00 F6 <to> <from>`: the key, its policy and origin go; the
/// source is empty; ATTEST still vouches for it; the key history follows.
/// DELETE (`00 F6 FF <slot>`) empties a slot; an empty one is 6A88.
#[test]
fn move_and_delete_keep_metadata_and_key_history_in_step() {
    let mut card = admin_card!(Profile::Yubico);
    let public = card.generate_key_with(Slot::Authentication, P256, pin(3)).unwrap();
    let to = retired(1);
    match card.move_key(Slot::Authentication, to) {
        Err(e) if e.sw() == Some(Sw::INS_NOT_SUPPORTED) => {
            return subsim_conformance::skip("the card has no MOVE KEY (YubiKey 5.7)");
        }
        r => r.unwrap(),
    }
    assert_eq!(card.slot_metadata(Slot::Authentication).unwrap(), None, "the source is empty");
    let m = card.slot_metadata(to).unwrap().unwrap();
    assert_eq!((m.public_key, m.policy, m.origin), (Some(public), Some((3, 1)), Some(KeyOrigin::Generated)));
    card.attest(to).unwrap();
    // The key history counts the retired key, without a certificate on the card.
    let history = card.read_object(ObjectTag::KEY_HISTORY).unwrap().expect("key history");
    let (on, off, _) = applet_spec::messages::parse_key_history(&history).unwrap();
    assert_eq!((on, off), (0, 1));
    // Bad moves change nothing.
    card.generate_key(Slot::KeyManagement, P256).unwrap();
    let occupied = refused(card.move_key(to, Slot::KeyManagement));
    assert!([Sw::CONDITIONS_NOT_SATISFIED, Sw::INCORRECT_DATA].contains(&occupied), "{occupied}");
    assert_eq!(refused(card.move_key(Slot::Attestation, retired(2))), Sw::INCORRECT_P1_P2, "F9 is not moved");
    assert_eq!(refused(card.move_key(retired(2), Slot::Attestation)).0 >> 8, 0x6A, "nor into");
    assert_eq!(raw(&mut card, "00 F6 9B 9A").sw, Sw::INCORRECT_P1_P2, "9B is not a key slot");
    assert_eq!(raw(&mut card, "00 F6 83 82 01 00").sw, Sw::WRONG_LENGTH, "no data");
    assert_eq!(refused(card.move_key(retired(3), retired(4))), Sw::REFERENCE_NOT_FOUND, "empty source");
    assert!(card.slot_metadata(to).unwrap().is_some() && card.slot_metadata(Slot::KeyManagement).unwrap().is_some());
    // Delete, twice.
    card.delete_key(to).unwrap();
    assert_eq!(card.slot_metadata(to).unwrap(), None);
    assert_eq!(refused(card.delete_key(to)), Sw::REFERENCE_NOT_FOUND);
    let history = card.read_object(ObjectTag::KEY_HISTORY).unwrap().expect("key history");
    assert_eq!(applet_spec::messages::parse_key_history(&history).unwrap().1, 0);
    // Both need the management key.
    power_cycle(&mut card);
    assert_eq!(refused(card.delete_key(Slot::KeyManagement)), Sw::SECURITY_STATUS_NOT_SATISFIED);
    assert_eq!(refused(card.move_key(Slot::KeyManagement, retired(5))), Sw::SECURITY_STATUS_NOT_SATISFIED);
}

/// The sub-SIM's slot rule follows a key: only a PIN-always key may move
/// into 9C, the transaction slot.
#[test]
fn a_key_moves_into_9c_only_with_pin_policy_always() {
    let mut card = admin_card!(Profile::Subsim);
    card.generate_key(Slot::Authentication, P256).unwrap();
    assert_eq!(refused(card.move_key(Slot::Authentication, Slot::Signature)), Sw::CONDITIONS_NOT_SATISFIED);
    card.generate_key_with(Slot::KeyManagement, P256, pin(3)).unwrap();
    card.move_key(Slot::KeyManagement, Slot::Signature).unwrap();
    assert_eq!(card.slot_metadata(Slot::Signature).unwrap().unwrap().policy, Some((3, 1)));
}

fn openssl_public(alg: KeyAlgorithm, key: &PublicKeyData) -> openssl::pkey::PKey<openssl::pkey::Public> {
    let PublicKeyData::Ec { point } = key else { panic!("{key:?}") };
    assert_eq!(point.len(), 32, "RFC 8032/7748 public key");
    let id = if alg == KeyAlgorithm::Ed25519 { openssl::pkey::Id::ED25519 } else { openssl::pkey::Id::X25519 };
    openssl::pkey::PKey::public_key_from_raw_bytes(point, id).unwrap()
}

/// Ed25519 (E0): GENERAL AUTHENTICATE signs the message itself (RFC 8032
/// PureEdDSA); OpenSSL verifies. Generated and imported, in a key slot
/// and a retired one; metadata and attestation report it.
#[test]
fn ed25519_signs_in_every_slot_kind() {
    let mut card = admin_card!(Profile::Yubico);
    for slot in [Slot::CardAuthentication, retired(7)] {
        let Some(public) = generate_or_skip(&mut card, slot, KeyAlgorithm::Ed25519) else { return };
        card.verify_pin(b"123456").unwrap(); // 82-95: PIN once
        let message = b"an Ed25519 message of any length, hashed on the card";
        let sig = card.sign_with(slot, KeyAlgorithm::Ed25519, message, Hash::Sha256, Padding::Pkcs1v15).unwrap();
        assert_eq!(sig.len(), 64);
        let pk = openssl_public(KeyAlgorithm::Ed25519, &public);
        let mut v = openssl::sign::Verifier::new_without_digest(&pk).unwrap();
        assert!(v.verify_oneshot(&sig, message).unwrap(), "{slot}: OpenSSL verifies");
        assert_eq!(card.slot_metadata(slot).unwrap().unwrap().algorithm, 0xE0);
        let cert = card.attest(slot).unwrap();
        let x = openssl::x509::X509::from_der(&cert).unwrap();
        assert!(x.public_key().unwrap().public_eq(&pk), "{slot}: the attestation names the key");
        // Key agreement with a signing key: 6A80.
        assert_eq!(refused(card.ecdh(slot, KeyAlgorithm::Ed25519, &[9; 32])), Sw::INCORRECT_DATA);
    }
    // Imported: the card's public key is the seed's (RFC 8032 5.1.5).
    let host = openssl::pkey::PKey::generate_ed25519().unwrap();
    let seed = host.raw_private_key().unwrap();
    admin(&mut card);
    card.import_key(Slot::Authentication, KeyAlgorithm::Ed25519, &ImportedKey::Ed25519 { seed }).unwrap();
    let m = card.slot_metadata(Slot::Authentication).unwrap().unwrap();
    assert_eq!(m.public_key, Some(PublicKeyData::Ec { point: host.raw_public_key().unwrap() }));
    let short = ImportedKey::Ed25519 { seed: vec![1; 31] };
    assert_eq!(refused(card.import_key(Slot::Authentication, KeyAlgorithm::Ed25519, &short)), Sw::INCORRECT_DATA);
}

/// X25519 (E1): GENERAL AUTHENTICATE `85` with the peer's 32-byte key
/// gives the RFC 7748 shared secret OpenSSL computes too; a peer key of
/// another length or a small-order point (all-zero result) is 6A80.
#[test]
fn x25519_agrees_with_openssl() {
    let mut card = admin_card!(Profile::Yubico);
    let slot = Slot::KeyManagement;
    let Some(public) = generate_or_skip(&mut card, slot, KeyAlgorithm::X25519) else { return };
    let peer = openssl::pkey::PKey::generate_x25519().unwrap();
    card.verify_pin(b"123456").unwrap();
    let shared = card.ecdh(slot, KeyAlgorithm::X25519, &peer.raw_public_key().unwrap()).unwrap();
    let card_public = openssl_public(KeyAlgorithm::X25519, &public);
    let mut d = openssl::derive::Deriver::new(&peer).unwrap();
    d.set_peer(&card_public).unwrap();
    assert_eq!(shared, d.derive_to_vec().unwrap());
    assert_eq!(refused(card.ecdh(slot, KeyAlgorithm::X25519, &[9; 31])), Sw::INCORRECT_DATA, "31 bytes");
    assert_eq!(refused(card.ecdh(slot, KeyAlgorithm::X25519, &[0; 32])), Sw::INCORRECT_DATA, "small order");
    let sig = card.sign_with(slot, KeyAlgorithm::X25519, b"x", Hash::Sha256, Padding::Pkcs1v15);
    assert_eq!(refused(sig), Sw::INCORRECT_DATA, "X25519 cannot sign");
    // Imported too.
    let host = openssl::pkey::PKey::generate_x25519().unwrap();
    admin(&mut card);
    let key = ImportedKey::X25519 { scalar: host.raw_private_key().unwrap() };
    card.import_key(retired(9), KeyAlgorithm::X25519, &key).unwrap();
    let m = card.slot_metadata(retired(9)).unwrap().unwrap();
    assert_eq!((m.algorithm, m.public_key), (0xE1, Some(PublicKeyData::Ec { point: host.raw_public_key().unwrap() })));
}

/// F9 signs with GENERAL AUTHENTICATE as on a YubiKey (yubico-piv-tool's
/// self-signed F9 certificate); the sub-SIM asks for 9B first.
#[test]
fn f9_signs_with_the_management_key() {
    let mut card = admin_card!(Profile::Subsim);
    card.generate_key(Slot::Attestation, P256).unwrap();
    sign(&mut card, Slot::Attestation).unwrap();
    power_cycle(&mut card);
    assert_eq!(refused(sign(&mut card, Slot::Attestation)), Sw::SECURITY_STATUS_NOT_SATISFIED);
}
