//! The random keypad: layouts, VERIFY KEYPAD by positions, single use, and the
//! keypad-only PIN entry policy.

use applet_spec::messages::{KeypadLayout, PinEntry};
use applet_spec::piv::Slot;
use applet_spec::Sw;
use subsim_conformance::*;
use subsim_host::{Hash, Padding, PinState};

/// The positions a user taps to enter `pin` on `layout`.
fn positions(layout: &KeypadLayout, pin: &[u8]) -> Vec<u8> {
    pin.iter().map(|d| layout.position_of(d - b'0').unwrap()).collect()
}

#[test]
fn layouts_are_permutations_and_change() {
    let mut card = fresh_card!(Profile::Subsim);
    let layouts: Vec<KeypadLayout> = (0..20).map(|_| card.keypad().unwrap()).collect();
    for l in &layouts {
        let mut digits = l.digit_at;
        digits.sort();
        assert_eq!(digits, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    }
    let distinct: std::collections::HashSet<_> = layouts.iter().map(|l| l.digit_at).collect();
    assert!(distinct.len() > 15, "layouts repeat: {}", distinct.len());
}

#[test]
fn verify_by_positions() {
    let mut card = fresh_card!(Profile::Subsim);
    let layout = card.keypad().unwrap();
    card.verify_keypad(&positions(&layout, b"123456")).unwrap();
    assert_eq!(card.pin_state().unwrap(), PinState::Verified);
}

#[test]
fn the_digits_themselves_are_not_the_pin() {
    let mut card = fresh_card!(Profile::Subsim);
    let layout = card.keypad().unwrap();
    let wrong: Vec<u8> = b"123456".iter().map(|d| d - b'0').collect();
    let expect_wrong = positions(&layout, b"123456") != wrong;
    let r = card.verify_keypad(&wrong);
    assert_eq!(r.is_err(), expect_wrong);
}

#[test]
fn a_layout_serves_one_verify_only() {
    let mut card = fresh_card!(Profile::Subsim);
    let layout = card.keypad().unwrap();
    let taps = positions(&layout, b"123456");
    card.verify_keypad(&taps).unwrap();
    assert_eq!(refused(card.verify_keypad(&taps)), Sw::CONDITIONS_NOT_SATISFIED);
    // A failed attempt uses the layout up too.
    let layout = card.keypad().unwrap();
    assert_eq!(refused(card.verify_keypad(&positions(&layout, b"000000"))), Sw::tries_left(card.pin_tries - 1));
    assert_eq!(refused(card.verify_keypad(&positions(&layout, b"123456"))), Sw::CONDITIONS_NOT_SATISFIED);
    // So does a malformed one.
    card.keypad().unwrap();
    assert_eq!(refused(card.verify_keypad(&[1, 2, 3])), Sw::INCORRECT_DATA);
    assert_eq!(refused(card.verify_keypad(&[1, 2, 3, 4, 5, 6])), Sw::CONDITIONS_NOT_SATISFIED);
}

#[test]
fn no_layout_without_get_keypad() {
    let mut card = fresh_card!(Profile::Subsim);
    assert_eq!(refused(card.verify_keypad(&[0, 1, 2, 3, 4, 5])), Sw::CONDITIONS_NOT_SATISFIED);
    assert_eq!(card.status().unwrap().pin_tries, card.pin_tries);
}

#[test]
fn reselect_and_reset_clear_the_layout() {
    let mut card = fresh_card!(Profile::Subsim);
    let layout = card.keypad().unwrap();
    card.select().unwrap();
    assert_eq!(refused(card.verify_keypad(&positions(&layout, b"123456"))), Sw::CONDITIONS_NOT_SATISFIED);
    let layout = card.keypad().unwrap();
    card.transport_mut().reset().unwrap();
    card.select().unwrap();
    assert_eq!(refused(card.verify_keypad(&positions(&layout, b"123456"))), Sw::CONDITIONS_NOT_SATISFIED);
}

#[test]
fn keypad_shares_the_pin_try_counter() {
    let mut card = fresh_card!(Profile::Subsim);
    refused(card.verify_pin(b"000000"));
    for left in (0..card.pin_tries - 1).rev() {
        let layout = card.keypad().unwrap();
        assert_eq!(refused(card.verify_keypad(&positions(&layout, b"999999"))), Sw::tries_left(left));
    }
    let layout = card.keypad().unwrap();
    assert_eq!(refused(card.verify_keypad(&positions(&layout, b"123456"))), Sw::AUTH_METHOD_BLOCKED);
}

#[test]
fn off_pad_positions_are_incorrect_data() {
    let mut card = fresh_card!(Profile::Subsim);
    card.keypad().unwrap();
    assert_eq!(refused(card.verify_keypad(&[0, 1, 2, 3, 4, 10])), Sw::INCORRECT_DATA);
    assert_eq!(raw(&mut card, "80 32 00 81 06 00 01 02 03 04 05").sw, Sw::INCORRECT_P1_P2);
}

#[test]
fn keypad_only_policy_refuses_plain_verify() {
    let mut card = fresh_card!(Profile::Subsim);
    assert_eq!(refused(card.set_pin_entry(PinEntry::KeypadOnly)), Sw::SECURITY_STATUS_NOT_SATISFIED);
    card.authenticate_default().unwrap();
    card.set_pin_entry(PinEntry::KeypadOnly).unwrap();
    assert_eq!(card.status().unwrap().pin_entry, PinEntry::KeypadOnly);
    assert_eq!(refused(card.verify_pin(b"123456")), Sw::CONDITIONS_NOT_SATISFIED);
    assert_eq!(card.status().unwrap().pin_tries, card.pin_tries, "a refused VERIFY costs no try");
    // The status query still works, and the keypad does.
    assert_eq!(card.pin_state().unwrap(), PinState::NotVerified { tries_left: card.pin_tries });
    let layout = card.keypad().unwrap();
    card.verify_keypad(&positions(&layout, b"123456")).unwrap();
    // And a 9C signature after a keypad PIN.
    card.generate(Slot::Signature).unwrap();
    card.sign(Slot::Signature, b"tx", Hash::Sha256, Padding::Pkcs1v15).unwrap();
    card.set_pin_entry(PinEntry::Any).unwrap();
    card.verify_pin(b"123456").unwrap();
    assert_eq!(raw(&mut card, "80 34 02 00").sw, Sw::INCORRECT_P1_P2);
}
