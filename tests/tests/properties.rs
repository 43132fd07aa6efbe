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
use subsim_host::{Client, SimTransport, Transport};

/// One step of a session: raw bytes, a structured command, or a helper that
/// reaches states random bytes rarely would.
#[derive(Debug, Clone)]
enum Step {
    Select,
    VerifyPin(bool),
    AuthenticateMgm,
    Keypad,
    PowerCycle,
    Command { cla: u8, ins: u8, p1: u8, p2: u8, data: Vec<u8>, le: Option<u8> },
    Raw(Vec<u8>),
}

fn step() -> impl Strategy<Value = Step> {
    let known_ins = prop::sample::select(ins::COMMANDS.iter().map(|c| (c.cla, c.ins)).collect::<Vec<_>>());
    let cla_bits = prop::sample::select(vec![0x00, 0x10, 0x01, 0x0C, 0x40, 0xFF]);
    prop_oneof![
        1 => Just(Step::Select),
        1 => any::<bool>().prop_map(Step::VerifyPin),
        1 => Just(Step::AuthenticateMgm),
        1 => Just(Step::Keypad),
        1 => Just(Step::PowerCycle),
        6 => (known_ins, prop_oneof![3 => Just(0u8), 1 => cla_bits], any::<u8>(), any::<u8>(),
              prop::collection::vec(any::<u8>(), 0..300), prop::option::of(any::<u8>()))
            .prop_map(|((cla, ins), bits, p1, p2, data, le)| Step::Command { cla: cla | bits, ins, p1, p2, data, le }),
        3 => prop::collection::vec(any::<u8>(), 0..40).prop_map(Step::Raw),
    ]
}

/// Encodes a structured command the way a careless host might: short or
/// extended Lc by length, Le as given.
fn encode(cla: u8, ins: u8, p1: u8, p2: u8, data: &[u8], le: Option<u8>) -> Vec<u8> {
    let mut a = vec![cla, ins, p1, p2];
    if data.len() > 255 {
        a.push(0);
        a.extend((data.len() as u16).to_be_bytes());
    } else if !data.is_empty() {
        a.push(data.len() as u8);
    }
    a.extend(data);
    a.extend(le);
    a
}

/// The APDU a step sends, or `None` when a helper ran through the client.
fn run(step: &Step, card: &mut Client<SimTransport>) -> Option<Vec<u8>> {
    match step {
        Step::Select => Some([&[0x00, 0xA4, 0x04, 0x00, 0x05][..], &piv::PIV_RID].concat()),
        Step::VerifyPin(right) => {
            let pin = if *right { b"123456" } else { b"999999" };
            Some([&[0x00, 0x20, 0x00, 0x80, 0x08][..], &piv::pin_block(pin, true).unwrap()].concat())
        }
        Step::AuthenticateMgm => {
            let _ = card.authenticate_default();
            None
        }
        Step::Keypad => Some(vec![0x80, 0x30, 0x00, 0x00, 0x00]),
        Step::PowerCycle => {
            card.transport_mut().reset().unwrap();
            None
        }
        Step::Command { cla, ins, p1, p2, data, le } => Some(encode(*cla, *ins, *p1, *p2, data, *le)),
        Step::Raw(bytes) => Some(bytes.clone()),
    }
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
            let before = tries(&card);
            let Some(apdu) = run(s, &mut card) else { continue };
            let raw = card.transport_mut().transmit(&apdu).unwrap();
            let r = Response::parse(&raw);
            prop_assert!(r.is_some(), "no status word for {:02X?}", apdu);
            let r = r.unwrap();
            prop_assert!(well_formed(&r), "{:02X?} -> {:?}", apdu, r);
            let after = tries(&card);
            if after.0 > before.0 || after.1 > before.1 {
                prop_assert!(r.sw == Sw::OK && may_raise_tries(&apdu), "tries went up: {:02X?} -> {:?}", apdu, r);
            }
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
