//! Private keys never leave the card: sweep every INS of both classes with
//! typical parameters and data, and look for any 16-byte run of a private
//! exponent, prime or CRT exponent (or the PIN block) in any answer. Needs to
//! see the keys, so it runs on the in-process simulated card.

use std::collections::HashSet;

use apdu_sim::SimCard;
use applet_spec::apdu::Command;
use applet_spec::messages::{self, DynamicAuth, PinEntry};
use applet_spec::piv::{self, Algorithm, ObjectTag, Slot};
use rsa::traits::PrivateKeyParts;
use subsim_host::{Client, SimTransport};

const WINDOW: usize = 16;

fn windows(bytes: &[u8], into: &mut HashSet<[u8; WINDOW]>) {
    for w in bytes.windows(WINDOW) {
        into.insert(w.try_into().unwrap());
    }
}

fn secrets(card: &SimCard, into: &mut HashSet<[u8; WINDOW]>) {
    for key in card.persistent().keys.values() {
        windows(&key.d().to_bytes_be(), into);
        for p in key.primes() {
            windows(&p.to_bytes_be(), into);
        }
        for x in [key.dp(), key.dq()].into_iter().flatten() {
            windows(&x.to_bytes_be(), into);
        }
    }
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
    for slot in Slot::ALL {
        card.generate(slot).unwrap();
    }

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
        (0x00, 0x9A),
        (0x00, 0x9C),
        (0x01, 0x00),
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
    // The sweep reached the private keys: four signatures (one per slot) and
    // two new public keys (P2 9A and 9C with the generation template).
    let starts = |prefix: &[u8]| answers.iter().filter(|a| a.starts_with(prefix)).count();
    assert_eq!(starts(&[0x7C, 0x82, 0x01, 0x04]), 4, "signatures answered");
    assert_eq!(starts(&[0x7F, 0x49]), 2, "public keys answered");
    // d (256 bytes) and p, q, dp, dq (128 each) of four keys, and two more.
    assert!(secret.len() >= 6 * 600, "secrets collected: {}", secret.len());
    let pin_block = piv::pin_block(b"123456", true).unwrap();
    for a in &answers {
        for w in a.windows(WINDOW) {
            assert!(!secret.contains(w), "private key material in an answer");
        }
        assert!(!a.windows(pin_block.len()).any(|w| w == pin_block), "the PIN in an answer");
    }
}
