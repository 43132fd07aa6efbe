//! Every key algorithm in every slot class (SP 800-73-4 part 2, 3.3.2 and
//! appendix A; SP 800-78-4 table 6-2; Yubico's 05 and 16 for RSA-3072/4096):
//! generation encodings, raw RSA of the key's size, ECDSA over a hash
//! (truncated when longer than the curve), ECDH, refusals, PIN rules.
//! RSA-4096 is generated once (slow); RSA-2048 stays the default.

use applet_spec::apdu::Command;
use applet_spec::messages::{self, DynamicAuth, ImportedKey, PublicKeyData};
use applet_spec::piv::{KeyAlgorithm, KeyAlgorithms, Slot};
use applet_spec::Sw;
use p256::elliptic_curve::sec1::ToEncodedPoint;
use rsa::{BigUint, RsaPublicKey};
use sha2::{Digest, Sha256, Sha384};
use subsim_conformance::{admin, admin_card, finding, generate_or_skip, raw, refused, send, skip, Card, Profile};

fn operate(card: &mut Card, alg: KeyAlgorithm, slot: Slot, data: Vec<u8>) -> applet_spec::Response {
    send(card, Command::new(0, 0x87, alg.id(), slot.key_ref()).with_data(data).with_ne(65536))
}

fn response(r: &applet_spec::Response) -> Vec<u8> {
    assert_eq!(r.sw, Sw::OK);
    DynamicAuth::decode(&r.data).unwrap().response.unwrap()
}

/// Raw RSA of the key's size: block^d^e = block.
fn check_rsa(card: &mut Card, slot: Slot, alg: KeyAlgorithm) {
    let public = card.generate_key(slot, alg).unwrap();
    let PublicKeyData::Rsa { modulus, exponent } = public else { panic!("{alg:?}: not RSA") };
    let len = alg.rsa_bytes().unwrap();
    assert_eq!(modulus.len(), len, "{alg:?}: the modulus is the key's size");
    assert_eq!(card.slot_metadata(slot).unwrap().unwrap().algorithm, alg.id());
    let key = RsaPublicKey::new(BigUint::from_bytes_be(&modulus), BigUint::from_bytes_be(&exponent)).unwrap();
    let mut block = vec![0x01; len];
    block[0] = 0;
    card.verify_pin(b"123456").unwrap();
    let sig = response(&operate(card, alg, slot, DynamicAuth::sign_request(&block).encode()));
    let back = rsa::hazmat::rsa_encrypt(&key, &BigUint::from_bytes_be(&sig)).unwrap();
    assert_eq!(back, BigUint::from_bytes_be(&block), "{alg:?}");
    // A block of another size is refused.
    card.verify_pin(b"123456").unwrap();
    assert_eq!(operate(card, alg, slot, DynamicAuth::sign_request(&vec![1; len - 1]).encode()).sw, Sw::INCORRECT_DATA);
}

#[test]
fn rsa_1024_2048_3072_in_every_slot_class() {
    let mut card = admin_card!();
    check_rsa(&mut card, Slot::Authentication, KeyAlgorithm::Rsa1024);
    check_rsa(&mut card, Slot::Signature, KeyAlgorithm::Rsa2048);
    check_rsa(&mut card, Slot::KeyManagement, KeyAlgorithm::Rsa3072);
    check_rsa(&mut card, Slot::CardAuthentication, KeyAlgorithm::Rsa1024);
}

#[test]
fn rsa_4096_once() {
    let mut card = admin_card!();
    check_rsa(&mut card, Slot::KeyManagement, KeyAlgorithm::Rsa4096);
}

#[test]
fn ecdsa_p256_and_p384_sign_a_hash_openssl_style() {
    let mut card = admin_card!(Profile::Piv);
    for (slot, alg) in [
        (Slot::Authentication, KeyAlgorithm::EccP256),
        (Slot::Signature, KeyAlgorithm::EccP384),
        (Slot::KeyManagement, KeyAlgorithm::EccP384),
        (Slot::CardAuthentication, KeyAlgorithm::EccP256),
    ] {
        let Some(public) = generate_or_skip(&mut card, slot, alg) else { return };
        let PublicKeyData::Ec { point } = public else { panic!("{alg:?}: not EC") };
        // 7F49 { 86 <04 X Y> }: uncompressed, 1 + 2 x field bytes.
        assert_eq!((point.len(), point[0]), (1 + 2 * alg.ec_bytes().unwrap(), 0x04), "{alg:?}");
        let msg = b"transfer 250.00 EUR";
        card.verify_pin(b"123456").unwrap();
        match alg {
            KeyAlgorithm::EccP256 => {
                let key = p256::ecdsa::VerifyingKey::from_sec1_bytes(&point).unwrap();
                let hash = Sha256::digest(msg);
                let der = response(&operate(&mut card, alg, slot, DynamicAuth::sign_request(&hash).encode()));
                let sig = p256::ecdsa::Signature::from_der(&der).unwrap();
                use p256::ecdsa::signature::hazmat::PrehashVerifier;
                key.verify_prehash(&hash, &sig).unwrap();
                // A SHA-384 hash is cut to its leftmost 32 bytes (FIPS 186-4 6.4);
                // a card may instead take only hashes of the curve's size (6A80).
                card.verify_pin(b"123456").unwrap();
                let long = Sha384::digest(msg);
                let r = operate(&mut card, alg, slot, DynamicAuth::sign_request(&long).encode());
                card.judge(
                    "00 87 11 (a 48-byte hash, P-256)",
                    r.sw,
                    "SP 800-73-4 Part 2, 3.2.4",
                    &[Sw::OK],
                    &[Sw::INCORRECT_DATA],
                );
                if r.sw == Sw::OK {
                    let der = response(&r);
                    key.verify_prehash(&long[..32], &p256::ecdsa::Signature::from_der(&der).unwrap()).unwrap();
                }
            }
            _ => {
                let key = p384::ecdsa::VerifyingKey::from_sec1_bytes(&point).unwrap();
                let hash = Sha384::digest(msg);
                let der = response(&operate(&mut card, alg, slot, DynamicAuth::sign_request(&hash).encode()));
                use p384::ecdsa::signature::hazmat::PrehashVerifier;
                key.verify_prehash(&hash, &p384::ecdsa::Signature::from_der(&der).unwrap()).unwrap();
            }
        }
        // P1 of another algorithm than the key's is refused.
        card.verify_pin(b"123456").unwrap();
        let other = if alg == KeyAlgorithm::EccP256 { KeyAlgorithm::EccP384 } else { KeyAlgorithm::EccP256 };
        assert_eq!(
            operate(&mut card, other, slot, DynamicAuth::sign_request(&[1; 32]).encode()).sw,
            Sw::INCORRECT_P1_P2
        );
    }
}

#[test]
fn ecdh_agrees_with_the_host_and_refuses_points_off_the_curve() {
    let mut card = admin_card!(Profile::Piv);
    let Some(public) = generate_or_skip(&mut card, Slot::KeyManagement, KeyAlgorithm::EccP256) else { return };
    let PublicKeyData::Ec { point } = public else { panic!() };
    let card_public = p256::PublicKey::from_sec1_bytes(&point).unwrap();
    let host = p256::SecretKey::from_slice(&[0x24; 32]).unwrap();
    let host_point = host.public_key().to_encoded_point(false).as_bytes().to_vec();
    card.verify_pin(b"123456").unwrap();
    let shared =
        response(&operate(&mut card, KeyAlgorithm::EccP256, Slot::KeyManagement, messages::ecdh_request(&host_point)));
    let expected = p256::ecdh::diffie_hellman(host.to_nonzero_scalar(), card_public.as_affine());
    assert_eq!(shared, expected.raw_secret_bytes().to_vec());
    // A point not on the curve, the wrong length, a compressed-looking prefix: refused.
    let mut off = host_point.clone();
    off[64] ^= 1;
    for bad in [off, host_point[..64].to_vec(), [&[0x05][..], &host_point[1..]].concat()] {
        let r = operate(&mut card, KeyAlgorithm::EccP256, Slot::KeyManagement, messages::ecdh_request(&bad));
        assert_eq!(r.sw, Sw::INCORRECT_DATA);
    }
    // ECDH with an RSA key is refused.
    subsim_conformance::admin(&mut card);
    card.generate(Slot::Authentication).unwrap();
    let r = operate(&mut card, KeyAlgorithm::Rsa2048, Slot::Authentication, messages::ecdh_request(&host_point));
    // 6A80 (no ECDH data for an RSA key); the key's conditions of use (6985) fit too.
    card.judge(
        "00 87 07 9A (ECDH, RSA key)",
        r.sw,
        "SP 800-73-4 Part 2, 3.2.4",
        &[Sw::INCORRECT_DATA],
        &[Sw::CONDITIONS_NOT_SATISFIED],
    );
}

#[test]
fn ec_keys_keep_each_slots_pin_rule() {
    let mut card = admin_card!(Profile::Piv);
    for slot in Slot::ALL {
        if generate_or_skip(&mut card, slot, KeyAlgorithm::EccP256).is_none() {
            return;
        }
    }
    // The PIN state as a fresh session has it.
    card.transport_mut().reset().unwrap();
    card.select().unwrap();
    let sign = |c: &mut Card, slot: Slot| {
        operate(c, KeyAlgorithm::EccP256, slot, DynamicAuth::sign_request(&[7; 32]).encode()).sw
    };
    assert_eq!(sign(&mut card, Slot::CardAuthentication), Sw::OK, "9E: no PIN");
    for slot in [Slot::Authentication, Slot::Signature, Slot::KeyManagement] {
        assert_eq!(sign(&mut card, slot), Sw::SECURITY_STATUS_NOT_SATISFIED, "{slot} without the PIN");
    }
    card.verify_pin(b"123456").unwrap();
    assert_eq!(sign(&mut card, Slot::Signature), Sw::OK);
    assert_eq!(sign(&mut card, Slot::Signature), Sw::SECURITY_STATUS_NOT_SATISFIED, "9C: PIN before every use");
    assert_eq!(sign(&mut card, Slot::Authentication), Sw::OK, "9A: once per session");
    assert_eq!(sign(&mut card, Slot::KeyManagement), Sw::OK, "9D: once per session");
}

#[test]
fn generation_refuses_unknown_algorithms_and_keeps_the_old_key() {
    let mut card = admin_card!();
    let old = card.generate_key(Slot::Signature, KeyAlgorithm::EccP256).unwrap();
    for alg in ["01", "04", "12", "E2", "FF"] {
        assert_eq!(raw(&mut card, &format!("00 47 00 9C 05 AC 03 80 01 {alg}")).sw, Sw::INCORRECT_DATA, "{alg}");
    }
    assert_eq!(card.public_key(Slot::Signature).unwrap(), old);
    card.generate_key(Slot::Signature, KeyAlgorithm::EccP384).unwrap();
    assert_eq!(card.slot_metadata(Slot::Signature).unwrap().unwrap().algorithm, KeyAlgorithm::EccP384.id());
}

/// What SELECT's algorithm list leaves out, the card does not make: GENERATE
/// (and Yubico's IMPORT KEY) of it is refused and the slot keeps its key. A
/// sub-SIM answers 6A80, as for an algorithm it does not know; SP 800-73-4
/// Part 2, 3.3.2 names no status word for it, so elsewhere 6A86 is a finding.
/// (What the list names, every test that generates through `generate_or_skip`
/// makes.) The limit is read from the card: the Java Card applet lists no
/// Ed25519 or X25519, the simulated card lists all it knows (nothing to refuse).
#[test]
fn algorithms_not_listed_are_refused_and_keep_the_old_key() {
    let mut card = admin_card!();
    let ids = card.select().unwrap().algorithms;
    let listed = KeyAlgorithms::from_ids(ids.iter().copied());
    let missing: Vec<_> = KeyAlgorithm::ALL.into_iter().filter(|a| !listed.contains(*a)).collect();
    if ids.is_empty() || missing.is_empty() {
        skip("the card lists no algorithms, or every one applet-spec knows: none to refuse");
        return;
    }
    admin(&mut card);
    let old = card.generate_key(Slot::Signature, KeyAlgorithm::EccP256).unwrap();
    for alg in missing {
        let sw = refused(card.generate_key(Slot::Signature, alg));
        if sw != Sw::INCORRECT_DATA {
            assert!(!card.has(Profile::Subsim) && sw == Sw::INCORRECT_P1_P2, "GENERATE {}: {sw}", alg.name());
            finding("GENERATE ASYMMETRIC KEY PAIR", sw, "SP 800-73-4 Part 2, 3.3.2", "an unlisted algorithm: 6A86");
        }
        // A key of its kind where it is a 32-byte value (an RSA key would have to be made first).
        let key = match alg {
            KeyAlgorithm::Ed25519 => Some(ImportedKey::Ed25519 { seed: vec![7; 32] }),
            KeyAlgorithm::X25519 => Some(ImportedKey::X25519 { scalar: vec![7; 32] }),
            _ => None,
        };
        if let (Some(key), true) = (key, card.has(Profile::Yubico)) {
            assert_eq!(
                refused(card.import_key(Slot::Signature, alg, &key)),
                Sw::INCORRECT_DATA,
                "IMPORT {}",
                alg.name()
            );
        }
        assert_eq!(card.public_key(Slot::Signature).unwrap(), old, "9C keeps its key after {}", alg.name());
    }
}
