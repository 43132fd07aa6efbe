//! A card's keys and signatures are its own: two factory-fresh cards
//! generate different keys, and no two ECDSA signatures share `r` (the same
//! nonce twice gives the private key away: FIPS 186-5, 6.3.1 asks for a new
//! secret per signature, or a deterministic one per message, RFC 6979).
//! jCardSim's stock generators failed both (every fresh process made the
//! same keys; signatures over different hashes shared `r`): the applet's
//! runner works around them, and this holds it to it, as every card.

use std::collections::HashSet;

use applet_spec::messages::{DynamicAuth, PublicKeyData};
use applet_spec::piv::{KeyAlgorithm, Slot};
use applet_spec::Sw;
use sha2::{Digest, Sha256};
use subsim_conformance::{admin, generate_or_skip, try_card, Card, Needs, Profile};

/// A fresh card's new P-256 key in 9A and RSA-2048 key in 9E, or `None` (skipped).
fn fresh_keys() -> Option<(Vec<u8>, Vec<u8>)> {
    let mut card = try_card(Needs::fresh(Profile::Piv))?;
    let PublicKeyData::Ec { point } = generate_or_skip(&mut card, Slot::Authentication, KeyAlgorithm::EccP256)? else {
        panic!("9A: P-256 answered with a key that is not EC")
    };
    let PublicKeyData::Rsa { modulus, .. } =
        generate_or_skip(&mut card, Slot::CardAuthentication, KeyAlgorithm::Rsa2048)?
    else {
        panic!("9E: RSA-2048 answered with a key that is not RSA")
    };
    Some((point, modulus))
}

#[test]
fn two_fresh_cards_generate_different_keys() {
    let Some(first) = fresh_keys() else { return };
    // In-process every card is seeded from its thread's name (reproducible
    // runs): another name, another card. On PC/SC, the same card brought
    // back to factory state by its own means.
    let second = std::thread::Builder::new().name("a second card".into()).spawn(fresh_keys).unwrap().join().unwrap();
    let Some(second) = second else { return };
    assert_ne!(first.0, second.0, "two fresh cards generated the same P-256 key");
    assert_ne!(first.1, second.1, "two fresh cards generated the same RSA-2048 modulus");
}

fn sign(card: &mut Card, hash: &[u8]) -> p256::ecdsa::Signature {
    card.verify_pin(b"123456").unwrap();
    let cmd = applet_spec::apdu::Command::new(0, 0x87, KeyAlgorithm::EccP256.id(), Slot::Authentication.key_ref())
        .with_data(DynamicAuth::sign_request(hash).encode())
        .with_ne(256);
    let r = subsim_conformance::send(card, cmd);
    assert_eq!(r.sw, Sw::OK, "GENERAL AUTHENTICATE (ECDSA P-256 in 9A)");
    let der = DynamicAuth::decode(&r.data).unwrap().response.unwrap();
    p256::ecdsa::Signature::from_der(&der).expect("a DER ECDSA signature")
}

#[test]
fn no_two_ecdsa_signatures_share_r() {
    let Some(mut card) = try_card(Needs::fresh(Profile::Piv)) else { return };
    admin(&mut card);
    let Some(PublicKeyData::Ec { point }) = generate_or_skip(&mut card, Slot::Authentication, KeyAlgorithm::EccP256)
    else {
        return;
    };
    let key = p256::ecdsa::VerifyingKey::from_sec1_bytes(&point).unwrap();
    let mut rs = HashSet::new();
    for i in 0..16u8 {
        let hash = Sha256::digest([b'm', i]);
        let sig = sign(&mut card, &hash);
        use p256::ecdsa::signature::hazmat::PrehashVerifier;
        key.verify_prehash(&hash, &sig).expect("the signature verifies");
        assert!(rs.insert(sig.r().to_bytes().to_vec()), "signature {i} repeats an earlier signature's r");
    }
}
