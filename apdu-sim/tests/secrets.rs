//! Private keys never leave the card: sweep every INS of both classes with
//! typical parameters and data, and look for any 16-byte run of a private
//! exponent, prime or CRT exponent (or the PIN block) in any answer.

use std::collections::HashSet;

use apdu_sim::SimCard;
use applet_spec::apdu::Response;
use applet_spec::messages::{self, DynamicAuth};
use applet_spec::piv::{self, Algorithm, MgmAlgorithm, ObjectTag, Slot};
use applet_spec::{mgm, Sw};
use rsa::traits::PrivateKeyParts;

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

fn send(card: &mut SimCard, apdu: &[u8]) -> Vec<u8> {
    let mut out = card.transmit(apdu);
    // Follow 61xx so no answer is left unread.
    while let Some(r) = Response::parse(&out).filter(|r| r.sw.remaining().is_some()) {
        let next = card.transmit(&[0x00, 0xC0, 0x00, 0x00, 0x00]);
        out = [r.data, next].concat();
    }
    out
}

fn apdu(cla: u8, ins: u8, p1: u8, p2: u8, data: &[u8]) -> Vec<u8> {
    let mut a = vec![cla, ins, p1, p2];
    if !data.is_empty() {
        a.extend([0, (data.len() >> 8) as u8, data.len() as u8]);
        a.extend(data);
        a.extend([0, 0]);
    } else {
        a.push(0);
    }
    a
}

fn authenticate(card: &mut SimCard) {
    let req = DynamicAuth { witness: Some(vec![]), ..Default::default() }.encode();
    let r = Response::parse(&send(card, &apdu(0, 0x87, 3, 0x9B, &req))).unwrap();
    let w = DynamicAuth::decode(&r.data).unwrap().witness.unwrap();
    let w = mgm::decrypt_block(MgmAlgorithm::TripleDes, &piv::DEFAULT_MGM_KEY, &w).unwrap();
    let req = DynamicAuth { witness: Some(w), challenge: Some(vec![1; 8]), response: None }.encode();
    assert_eq!(Response::parse(&send(card, &apdu(0, 0x87, 3, 0x9B, &req))).unwrap().sw, Sw::OK);
}

#[test]
fn no_answer_contains_private_key_material() {
    let mut card = SimCard::seeded(99);
    send(&mut card, &apdu(0, 0xA4, 4, 0, &piv::PIV_AID));
    authenticate(&mut card);
    for slot in Slot::ALL {
        let r = send(&mut card, &apdu(0, 0x47, 0, slot.key_ref(), &messages::generate_request(Algorithm::Rsa2048)));
        assert_eq!(Response::parse(&r).unwrap().sw, Sw::OK);
    }
    send(&mut card, &apdu(0, 0x20, 0, 0x80, &piv::pin_block(b"123456", true).unwrap()));

    let mut secret = HashSet::new();
    secrets(&card, &mut secret);
    let mut changes = card.persistent().changes;

    let p1p2: &[(u8, u8)] = &[
        (0x00, 0x00),
        (0x3F, 0xFF),
        (0x00, 0x80),
        (0x00, 0x81),
        (0x04, 0x00),
        (0x03, 0x9B),
        (0xFF, 0xFF),
        (0x07, 0x9A),
        (0x07, 0x9C),
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
        piv::pin_block(b"123456", true).unwrap().to_vec(),
        vec![0x00; 16],
    ];
    for tag in [ObjectTag::CHUID, ObjectTag::CERT_9A, ObjectTag::CERT_9C, ObjectTag::DISCOVERY, ObjectTag(0x5FC10D)] {
        data.push(messages::get_data_request(tag));
    }

    let mut answers = Vec::new();
    let mut commands = 0;
    for cla in [0x00, 0x80] {
        for ins in 0..=255u8 {
            for &(p1, p2) in p1p2 {
                for d in &data {
                    if (cla, ins) == (0x80, 0x3C) {
                        continue; // TERMINATE would wipe the keys under test
                    }
                    answers.push(send(&mut card, &apdu(cla, ins, p1, p2, d)));
                    commands += 1;
                    if card.persistent().changes != changes {
                        changes = card.persistent().changes;
                        secrets(&card, &mut secret);
                    }
                }
            }
        }
    }
    assert!(commands > 40_000);
    // d (256 bytes) and p, q, dp, dq (128 each) of four keys.
    assert!(secret.len() >= 4 * 600, "secrets collected: {}", secret.len());
    let pin_block = piv::pin_block(b"123456", true).unwrap();
    for a in &answers {
        for w in a.windows(WINDOW) {
            assert!(!secret.contains(w), "private key material in an answer");
        }
        assert!(!a.windows(pin_block.len()).any(|w| w == pin_block), "the PIN in an answer");
    }
}
