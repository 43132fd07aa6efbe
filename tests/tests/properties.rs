//! Property tests on the whole simulated card (transport layer + applet):
//! random APDU sessions never panic, always answer a well-formed status word,
//! and never raise a try counter except through a legal reset. In-process
//! only: the invariants are checked inside the card after every step.

use apdu_sim::SimCard;
use applet_spec::apdu::Response;
use applet_spec::messages::KeypadLayout;
use applet_spec::piv;
use applet_spec::sw::ALL_STATUS_WORDS;
use applet_spec::{ins, Sw};
use proptest::prelude::*;
use subsim_conformance::sessions::{self, step, Step};
use subsim_host::{Client, SimTransport, Transport};

/// The APDU a step sends, or `None` when a helper ran through the client.
fn run(step: &Step, card: &mut Client<SimTransport>) -> Option<Vec<u8>> {
    sessions::run(step, card).ok()
}

fn well_formed(r: &Response) -> bool {
    let sw = r.sw;
    let known = sw == Sw::OK || sw.remaining().is_some() || sw.retries().is_some() || ALL_STATUS_WORDS.contains(&sw);
    let data_only_on_success = r.data.is_empty() || sw == Sw::OK || sw.remaining().is_some();
    known && data_only_on_success
}

/// Commands that may legally raise a try counter, when they succeed.
fn may_raise_tries(apdu: &[u8]) -> bool {
    matches!(
        apdu.get(1),
        Some(
            &(ins::VERIFY
                | ins::VERIFY_KEYPAD
                | ins::CHANGE_REFERENCE_DATA
                | ins::RESET_RETRY_COUNTER
                | ins::TERMINATE)
        )
    )
}

fn tries(card: &Client<SimTransport>) -> (u8, u8) {
    let p = card.transport().card().persistent();
    (p.pin.tries_left, p.puk.tries_left)
}

/// Sends one APDU and checks the step's invariants: an answer with a
/// well-formed status word, and no try counter going up unless a legal
/// command succeeded.
fn send_checked(card: &mut Client<SimTransport>, apdu: &[u8]) -> Result<(), TestCaseError> {
    let before = tries(card);
    let raw = card.transport_mut().transmit(apdu).unwrap();
    let r = Response::parse(&raw);
    prop_assert!(r.is_some(), "no status word for {:02X?}", apdu);
    let r = r.unwrap();
    prop_assert!(well_formed(&r), "{:02X?} -> {:?}", apdu, r);
    let after = tries(card);
    if after.0 > before.0 || after.1 > before.1 {
        prop_assert!(r.sw == Sw::OK && may_raise_tries(apdu), "tries went up: {:02X?} -> {:?}", apdu, r);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn random_sessions_keep_the_card_sound(seed in any::<u64>(), steps in prop::collection::vec(step(), 1..60)) {
        if subsim_conformance::target() != subsim_conformance::Target::Sim {
            // One message for the test, not one per generated case.
            static SKIP: std::sync::Once = std::sync::Once::new();
            SKIP.call_once(|| {
                subsim_conformance::sim_only("the invariants are read inside the card");
            });
            return Ok(());
        }
        let mut card = Client::new(SimTransport::new(SimCard::seeded(seed)));
        for s in &steps {
            let Some(apdu) = run(s, &mut card) else { continue };
            send_checked(&mut card, &apdu)?;
            let p = card.transport().card().persistent();
            prop_assert!(p.pin.tries_left <= p.pin.max_tries && p.puk.tries_left <= p.puk.max_tries);
        }
    }

    #[test]
    fn every_keypad_layout_is_a_permutation(seed in any::<u64>(), draws in 1usize..20) {
        let mut card = Client::new(SimTransport::new(SimCard::seeded(seed)));
        card.select().unwrap();
        for _ in 0..draws {
            let r = Response::parse(&card.transport_mut().transmit(&[0x80, 0x30, 0x00, 0x00, 0x00]).unwrap()).unwrap();
            prop_assert_eq!(r.sw, Sw::OK);
            prop_assert!(KeypadLayout::decode(&r.data).is_ok(), "{:?}", r.data);
        }
    }
}

/// One valid command of every kind: the raw material for mutations.
fn corpus() -> Vec<Vec<u8>> {
    use applet_spec::apdu::Command;
    use applet_spec::messages::{self, DynamicAuth};
    use applet_spec::piv::{Algorithm, MgmAlgorithm, ObjectTag};
    let block = [&[0u8, 1][..], &[0x42; 254]].concat();
    let cmds = vec![
        Command::new(0, 0xA4, 4, 0).with_data(piv::PIV_AID.to_vec()).with_ne(256),
        Command::new(0, 0xCB, 0x3F, 0xFF).with_data(messages::get_data_request(ObjectTag::DISCOVERY)).with_ne(256),
        Command::new(0, 0xCB, 0x3F, 0xFF).with_data(messages::get_data_request(ObjectTag::CERT_9A)).with_ne(8),
        Command::new(0, 0xDB, 0x3F, 0xFF)
            .with_data(messages::put_data_request(ObjectTag::CERT_9A, &[0x70, 2, 0x30, 0])),
        Command::new(0, 0x20, 0, 0x80).with_data(piv::pin_block(b"123456", true).unwrap().to_vec()),
        Command::new(0, 0x24, 0, 0x80).with_data(b"123456\xFF\xFF654321\xFF\xFF".to_vec()),
        Command::new(0, 0x2C, 0, 0x80).with_data(b"12345678123456\xFF\xFF".to_vec()),
        Command::new(0, 0x87, 3, 0x9B).with_data(DynamicAuth { witness: Some(vec![]), ..Default::default() }.encode()),
        Command::new(0, 0x87, 0, 0x9B)
            .with_data(DynamicAuth { challenge: Some(vec![]), ..Default::default() }.encode()),
        Command::new(0, 0x87, 7, 0x9A).with_data(DynamicAuth::sign_request(&block).encode()).with_ne(65536),
        Command::new(0, 0x47, 0, 0x9E).with_data(messages::generate_request(Algorithm::Rsa2048)),
        Command::new(0, 0xFF, 0xFF, 0xFF)
            .with_data(messages::set_management_key_request(MgmAlgorithm::Aes128, &[1; 16])),
        Command::new(0, 0xF8, 0, 0).with_ne(256),
        Command::new(0, 0xFD, 0, 0).with_ne(256),
        Command::new(0, 0xC0, 0, 0).with_ne(256),
        Command::new(0x80, 0x30, 0, 0).with_ne(256),
        Command::new(0x80, 0x32, 0, 0x80).with_data(vec![1, 2, 3, 4, 5, 6]),
        Command::new(0x80, 0x34, 1, 0),
        Command::new(0x80, 0x36, 0, 0).with_data(vec![0xB1; 32]),
        Command::new(0x80, 0x38, 0, 0).with_data(vec![0xB1; 32]),
        Command::new(0x80, 0x3A, 0, 0).with_ne(256),
        Command::new(0x10, 0xDB, 0x3F, 0xFF).with_data(vec![0x5C, 0x03, 0x5F, 0xC1, 0x05]),
    ];
    cmds.iter().map(|c| c.to_bytes().to_vec()).collect()
}

#[derive(Debug, Clone)]
enum Mutation {
    Truncate(usize),
    Flip(usize, u8),
    SetByte(usize, u8),
    ChainBit,
    Append(Vec<u8>),
    DropLe,
}

fn mutate(mut a: Vec<u8>, m: &Mutation) -> Vec<u8> {
    match m {
        Mutation::Truncate(n) => a.truncate(n % (a.len() + 1)),
        Mutation::Flip(i, x) if !a.is_empty() => {
            let n = a.len();
            a[i % n] ^= x
        }
        // Lc, Le and TLV lengths live in the first bytes of header and data.
        Mutation::SetByte(i, v) if !a.is_empty() => {
            let n = a.len();
            a[i % n.min(12)] = *v
        }
        Mutation::ChainBit if !a.is_empty() => a[0] ^= 0x10,
        Mutation::Append(junk) => a.extend(junk),
        Mutation::DropLe if a.len() > 5 => {
            a.pop();
        }
        _ => {}
    }
    a
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), 1u8..).prop_map(|(i, x)| Mutation::Flip(i, x)),
        (any::<usize>(), any::<u8>()).prop_map(|(i, v)| Mutation::SetByte(i, v)),
        Just(Mutation::ChainBit),
        prop::collection::vec(any::<u8>(), 1..300).prop_map(Mutation::Append),
        Just(Mutation::DropLe),
    ]
}

/// What must hold of the persistent state whatever the card was sent.
fn check_state(p: &apdu_sim::state::Persistent) -> Result<(), TestCaseError> {
    prop_assert!(p.pin.tries_left <= p.pin.max_tries && p.puk.tries_left <= p.puk.max_tries);
    prop_assert!(piv::is_valid_pin_block(&*p.pin.block, true), "the PIN is always a valid PIN");
    prop_assert!(piv::is_valid_pin_block(&*p.puk.block, false));
    prop_assert_eq!(p.mgm.key.len(), p.mgm.algorithm.key_len());
    for key in p.keys.values() {
        // A mutated generation may ask for any algorithm the card has.
        prop_assert!([32, 48, 128, 256, 384, 512].contains(&key.size()), "key of {} bytes", key.size());
        prop_assert!(key.validate().is_ok());
    }
    prop_assert!(p.objects.iter().all(|(t, v)| t.is_writable() && !v.is_empty() && v.len() <= piv::MAX_OBJECT_LEN));
    if let Some(b) = &p.binding {
        prop_assert!((16..=64).contains(&b.value.len()) && b.tries_left <= 5);
    }
    // It still saves and loads as the same card.
    let text = apdu_sim::persist::snapshot(p);
    prop_assert!(!text.is_empty());
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn mutated_sessions_keep_the_card_sound(
        seed in any::<u64>(),
        steps in prop::collection::vec((any::<prop::sample::Index>(), prop::collection::vec(mutation(), 0..3), any::<bool>()), 1..80),
    ) {
        if subsim_conformance::target() != subsim_conformance::Target::Sim {
            return Ok(());
        }
        let corpus = corpus();
        let mut card = Client::new(SimTransport::new(SimCard::seeded(seed)));
        card.select().unwrap();
        let _ = card.authenticate_default();
        for (pick, mutations, helper) in &steps {
            if *helper {
                // Keep the card in states worth attacking.
                let _ = card.authenticate_default();
                let _ = card.verify_pin(b"123456");
            }
            let apdu = mutations.iter().fold(corpus[pick.index(corpus.len())].clone(), mutate);
            send_checked(&mut card, &apdu)?;
        }
        check_state(card.transport().card().persistent())?;
        // And the card still works after all that.
        card.transport_mut().reset().unwrap();
        card.select().unwrap();
        card.status().unwrap();
    }
}
