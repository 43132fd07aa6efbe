//! Private keys never leave the card: sweep every INS of both classes with
//! typical parameters and data, and look for any 16-byte run of a private
//! exponent, prime or CRT exponent, EC private scalar (the attestation key's
//! too), or the PIN block in any answer. The parameters reach Yubico's
//! commands as well: GET METADATA, ATTEST, SET PIN RETRIES, RESET, IMPORT
//! KEY (an imported key joins the secrets). Needs to see the keys, so it
//! runs on the in-process simulated card.

use std::collections::HashSet;

use apdu_sim::crypto::PrivateKey;
use apdu_sim::SimCard;
use applet_spec::apdu::Command;
use applet_spec::messages::{self, DynamicAuth, ImportedKey, PinEntry};
use applet_spec::piv::{self, Algorithm, KeyAlgorithm, ObjectTag, Slot};
use rand::SeedableRng;
use rsa::traits::{PrivateKeyParts, PublicKeyParts};
use subsim_host::{Client, SimTransport};

const WINDOW: usize = 16;

fn windows(bytes: &[u8], into: &mut HashSet<[u8; WINDOW]>) {
    for w in bytes.windows(WINDOW) {
        into.insert(w.try_into().unwrap());
    }
}

fn secrets(card: &SimCard, into: &mut HashSet<[u8; WINDOW]>) {
    let p = card.persistent();
    for k in p.keys.values().chain(p.attestation.iter()) {
        match &k.key {
            PrivateKey::Rsa(key) => {
                windows(&key.d().to_bytes_be(), into);
                for p in key.primes() {
                    windows(&p.to_bytes_be(), into);
                }
                for x in [key.dp(), key.dq()].into_iter().flatten() {
                    windows(&x.to_bytes_be(), into);
                }
            }
            PrivateKey::P256(key) => windows(&key.to_bytes(), into),
            PrivateKey::P384(key) => windows(&key.to_bytes(), into),
            PrivateKey::Ed25519(key) | PrivateKey::X25519(key) => windows(key.private_bytes(), into),
        }
    }
}

/// IMPORT KEY's data for a fixed RSA-2048 key made here.
fn import_request() -> Vec<u8> {
    let key = rsa::RsaPrivateKey::new(&mut rand_chacha::ChaCha20Rng::seed_from_u64(5), 2048).unwrap();
    let pad = |v: &rsa::BigUint| {
        let b = v.to_bytes_be();
        [vec![0u8; 128 - b.len()], b].concat()
    };
    let [p, q] = key.primes() else { unreachable!() };
    assert_eq!(key.size(), 256);
    messages::import_key_request(
        &ImportedKey::Rsa {
            p: pad(p),
            q: pad(q),
            dp: pad(key.dp().unwrap()),
            dq: pad(key.dq().unwrap()),
            qinv: pad(&key.crt_coefficient().unwrap()),
        },
        None,
    )
}

/// Undoes what the sweep's own commands did to the card (a blocked PIN, the
/// keypad-only policy, a binding), so every INS meets a card ready to sign.
fn rearm(card: &mut Client<SimTransport>) {
    card.select().unwrap();
    card.authenticate_default().unwrap();
    card.set_pin_entry(PinEntry::Any).unwrap();
    card.clear_binding().unwrap();
    if card.verify_pin(b"123456").is_err() {
        card.unblock_pin(b"12345678", b"123456").unwrap();
        card.verify_pin(b"123456").unwrap();
    }
}

#[test]
fn no_answer_contains_private_key_material() {
    if !subsim_conformance::sim_only("looks inside the card, in-process") {
        return;
    }
    let mut card = Client::new(SimTransport::new(SimCard::seeded(99)));
    card.select().unwrap();
    card.authenticate_default().unwrap();
    for slot in [Slot::Authentication, Slot::Signature, Slot::CardAuthentication] {
        card.generate(slot).unwrap();
    }
    // An EC key too, for ECDSA and ECDH; Ed25519 and X25519 in 82 and 83.
    card.generate_key(Slot::KeyManagement, KeyAlgorithm::EccP256).unwrap();
    let (r82, r83) = (Slot::from_key_ref(0x82).unwrap(), Slot::from_key_ref(0x83).unwrap());
    card.generate_key(r82, KeyAlgorithm::Ed25519).unwrap();
    card.generate_key(r83, KeyAlgorithm::X25519).unwrap();

    let mut secret = HashSet::new();
    secrets(card.transport().card(), &mut secret);
    let mut changes = card.transport().card().persistent().changes;

    let p1p2: &[(u8, u8)] = &[
        (0x00, 0x00),
        (0x3F, 0xFF),
        (0x00, 0x80),
        (0x00, 0x81),
        (0x04, 0x00),
        (0x03, 0x9B),
        (0xFF, 0xFF),
        // 9C first: any private-key operation uses up the fresh PIN it needs.
        (0x07, 0x9C),
        (0x07, 0x9A),
        (0x07, 0x9D),
        (0x07, 0x9E),
        (0x11, 0x9D),
        (0x00, 0x9A),
        (0x00, 0x9C),
        (0x01, 0x00),
        // Yubico's commands: ATTEST 9C and 9D, SET PIN RETRIES 3/3; (00 9A)
        // above is GET METADATA of 9A, (07 9E) IMPORT KEY into 9E.
        (0x9C, 0x00),
        (0x9D, 0x00),
        (0x03, 0x03),
        // Ed25519 and X25519 (GENERAL AUTHENTICATE E0 82, E1 83); MOVE KEY
        // 9E to 95 (then 95 to 9E back: the sweep goes on with the key).
        (0xE0, 0x82),
        (0xE1, 0x83),
        (0x95, 0x9E),
        (0x9E, 0x95),
    ];
    let block = [&[0x00, 0x01][..], &[0x42; 254]].concat();
    let mut data: Vec<Vec<u8>> = vec![
        vec![],
        messages::discovery_object(),
        DynamicAuth { witness: Some(vec![]), ..Default::default() }.encode(),
        DynamicAuth { challenge: Some(vec![]), ..Default::default() }.encode(),
        DynamicAuth::sign_request(&block).encode(),
        messages::generate_request(Algorithm::Rsa2048),
        piv::pin_block(b"123456", true).unwrap().to_vec(),
        vec![0x00; 16],
        DynamicAuth::sign_request(&[0x42; 32]).encode(),
        messages::ecdh_request(&{
            use p256::elliptic_curve::sec1::ToEncodedPoint;
            p256::SecretKey::from_slice(&[7; 32]).unwrap().public_key().to_encoded_point(false).as_bytes().to_vec()
        }),
        import_request(),
        messages::ecdh_request(&[9; 32]),
    ];
    for tag in [ObjectTag::CHUID, ObjectTag::CERT_9A, ObjectTag::CERT_9C, ObjectTag::DISCOVERY, ObjectTag(0x5FC10D)] {
        data.push(messages::get_data_request(tag));
    }

    let mut answers = Vec::new();
    for cla in [0x00, 0x80] {
        for ins in 0..=255u8 {
            if (cla, ins) == (0x80, applet_spec::ins::TERMINATE) {
                continue; // it would wipe the keys under test
            }
            rearm(&mut card);
            for &(p1, p2) in p1p2 {
                for d in &data {
                    // Through the exchange layer: long answers are read whole.
                    let cmd = Command::new(cla, ins, p1, p2).with_data(d.clone()).with_ne(65536);
                    answers.push(card.transmit(&cmd).unwrap().data);
                    let now = card.transport().card().persistent().changes;
                    if now != changes {
                        changes = now;
                        secrets(card.transport().card(), &mut secret);
                    }
                }
            }
        }
    }
    assert!(answers.len() > 40_000);
    // The sweep reached the private keys: RSA signatures with 9A, 9C and
    // 9E, ECDSA and ECDH with 9D, two new public keys (P2 9A and 9C with the
    // generation template), attestations and metadata.
    let starts = |prefix: &[u8]| answers.iter().filter(|a| a.starts_with(prefix)).count();
    assert!(starts(&[0x7C, 0x82, 0x01, 0x04]) >= 3, "RSA signatures answered");
    let ec = answers.iter().filter(|a| a.len() > 4 && a[0] == 0x7C && a[2] == 0x82 && a[4] == 0x30).count();
    assert!(ec >= 1, "ECDSA signatures answered");
    assert!(starts(&[0x7C, 0x22, 0x82, 0x20]) >= 1, "ECDH answered");
    assert_eq!(starts(&[0x7F, 0x49]), 2, "public keys answered");
    assert!(starts(&[0x30, 0x82]) >= 1, "attestations answered");
    assert!(starts(&[0x7C, 0x42, 0x82, 0x40]) >= 1, "Ed25519 signatures answered");
    assert!(starts(&[0x7C, 0x22, 0x82, 0x20]) >= 2, "ECDH and X25519 answered");
    assert!(starts(&[0x01, 0x01, 0x07]) >= 1, "metadata answered");
    assert!(card.transport().card().persistent().keys.values().any(|k| k.origin == messages::KeyOrigin::Imported));
    // RSA: d (256 bytes) and p, q, dp, dq (128 each) of five keys or more.
    assert!(secret.len() >= 5 * 600, "secrets collected: {}", secret.len());
    let pin_block = piv::pin_block(b"123456", true).unwrap();
    for a in &answers {
        for w in a.windows(WINDOW) {
            assert!(!secret.contains(w), "private key material in an answer");
        }
        assert!(!a.windows(pin_block.len()).any(|w| w == pin_block), "the PIN in an answer");
    }
}
