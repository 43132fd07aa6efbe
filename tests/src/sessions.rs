//! Random APDU sessions: the generator the property tests (tests/properties.rs)
//! run on the in-process card, and the differential (`differential` binary)
//! runs on the model and on another implementation side by side.

use applet_spec::{ins, piv};
use proptest::prelude::*;
use subsim_host::{Client, Transport};

/// One step of a session: raw bytes, a structured command, or a helper that
/// reaches states random bytes rarely would.
#[derive(Debug, Clone)]
pub enum Step {
    Select,
    VerifyPin(bool),
    AuthenticateMgm,
    Keypad,
    PowerCycle,
    Command { cla: u8, ins: u8, p1: u8, p2: u8, data: Vec<u8>, le: Option<u8> },
    Raw(Vec<u8>),
}

pub fn step() -> impl Strategy<Value = Step> {
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
pub fn encode(cla: u8, ins: u8, p1: u8, p2: u8, data: &[u8], le: Option<u8>) -> Vec<u8> {
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

/// What a helper step did through the client, where it sent no one APDU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Helper {
    /// The management key's mutual authentication: `Ok`, or the status word that refused it.
    Authenticated(Result<(), Option<applet_spec::Sw>>),
    PowerCycled,
}

/// The APDU a step sends, or what its helper did through the client.
pub fn run<T: Transport>(step: &Step, card: &mut Client<T>) -> Result<Vec<u8>, Helper> {
    match step {
        Step::Select => Ok([&[0x00, 0xA4, 0x04, 0x00, 0x05][..], &piv::PIV_RID].concat()),
        Step::VerifyPin(right) => {
            let pin = if *right { b"123456" } else { b"999999" };
            Ok([&[0x00, 0x20, 0x00, 0x80, 0x08][..], &piv::pin_block(pin, true).unwrap()].concat())
        }
        Step::AuthenticateMgm => Err(Helper::Authenticated(card.authenticate_default().map_err(|e| e.sw()))),
        Step::Keypad => Ok(vec![0x80, 0x30, 0x00, 0x00, 0x00]),
        Step::PowerCycle => {
            card.transport_mut().reset().expect("card reset");
            Err(Helper::PowerCycled)
        }
        Step::Command { cla, ins, p1, p2, data, le } => Ok(encode(*cla, *ins, *p1, *p2, data, *le)),
        Step::Raw(bytes) => Ok(bytes.clone()),
    }
}
