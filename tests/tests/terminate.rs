//! TERMINATE: who may wipe the card, and what a wiped card looks like.

use applet_spec::messages::{BindingState, PinEntry};
use applet_spec::piv::{MgmAlgorithm, Slot};
use applet_spec::Sw;
use subsim_conformance::*;

#[test]
fn terminate_needs_the_management_key() {
    let mut card = fresh_card!(Profile::Subsim);
    card.verify_pin(b"123456").unwrap();
    assert_eq!(refused(card.terminate()), Sw::SECURITY_STATUS_NOT_SATISFIED);
}

#[test]
fn terminate_wipes_everything_but_identity() {
    let mut card = admin_card!(Profile::Subsim);
    let (serial, guid) = (card.serial().unwrap(), card.guid().unwrap());
    let factory = card.status().unwrap();
    card.generate(Slot::Authentication).unwrap();
    card.write_certificate(Slot::Authentication, &[0x30, 0]).unwrap();
    card.set_binding(&[5; 32]).unwrap();
    card.set_pin_entry(PinEntry::KeypadOnly).unwrap();
    card.change_puk(b"12345678", b"99999999").unwrap();
    let layout = card.keypad().unwrap();
    let taps: Vec<u8> = b"123456".iter().map(|d| layout.position_of(d - b'0').unwrap()).collect();
    card.verify_keypad(&taps).unwrap();
    card.change_pin(b"123456", b"654321").unwrap();
    card.set_management_key(MgmAlgorithm::Aes128, &[3; 16]).unwrap();
    let changes_before = card.status().unwrap().changes;

    card.terminate().unwrap();

    let s = card.status().unwrap();
    assert_eq!((s.keys, s.certs, s.pin_tries, s.puk_tries), (0, 0, factory.pin_tries, factory.puk_tries));
    assert_eq!((s.pin_entry, s.binding, s.mgm_algorithm), (PinEntry::Any, BindingState::None, MgmAlgorithm::TripleDes));
    assert!(!s.pin_verified);
    assert!(s.changes > changes_before, "the change counter goes on");
    assert_eq!((card.serial().unwrap(), card.guid().unwrap()), (serial, guid));
    assert_eq!(card.read_certificate(Slot::Authentication).unwrap(), None);
    card.verify_pin(b"123456").unwrap();
    card.authenticate_default().unwrap();
    card.unblock_pin(b"12345678", b"123456").unwrap();
}

#[test]
fn anyone_may_terminate_once_pin_and_puk_are_blocked() {
    let mut card = admin_card!(Profile::Subsim);
    let factory = card.status().unwrap();
    card.generate(Slot::Signature).unwrap();
    card.transport_mut().reset().unwrap();
    card.select().unwrap();
    for _ in 0..factory.pin_tries {
        refused(card.verify_pin(b"000000"));
    }
    assert_eq!(refused(card.terminate()), Sw::SECURITY_STATUS_NOT_SATISFIED, "PUK not blocked yet");
    for _ in 0..factory.puk_tries {
        refused(card.unblock_pin(b"00000000", b"111111"));
    }
    card.terminate().unwrap();
    let s = card.status().unwrap();
    assert_eq!((s.keys, s.pin_tries, s.puk_tries), (0, factory.pin_tries, factory.puk_tries));
}

#[test]
fn terminate_takes_no_data_or_parameters() {
    let mut card = admin_card!(Profile::Subsim);
    assert_eq!(raw(&mut card, "80 3C 01 00").sw, Sw::INCORRECT_P1_P2);
    assert_eq!(raw(&mut card, "80 3C 00 00 01 00").sw, Sw::WRONG_LENGTH);
}
