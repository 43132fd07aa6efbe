//! PIN and PUK: VERIFY and its status forms, counting down to blocked, change,
//! unblock, transient verified state.

use applet_spec::Sw;
use subsim_conformance::*;
use subsim_host::PinState;

#[test]
fn verify_right_pin() {
    let mut card = fresh_card!();
    assert_eq!(card.pin_state().unwrap(), PinState::NotVerified { tries_left: 3 });
    card.verify_pin(b"123456").unwrap();
    assert_eq!(card.pin_state().unwrap(), PinState::Verified);
}

#[test]
fn the_three_status_query_forms() {
    let mut card = fresh_card!();
    for form in ["00 20 00 80", "00 20 00 80 00", "00 20 00 80 00 00 00"] {
        assert_eq!(raw(&mut card, form).sw, Sw(0x63C3), "{form}");
    }
    card.verify_pin(b"123456").unwrap();
    for form in ["00 20 00 80", "00 20 00 80 00", "00 20 00 80 00 00 00"] {
        assert_eq!(raw(&mut card, form).sw, Sw::OK, "{form}");
    }
}

#[test]
fn wrong_pins_count_down_to_blocked() {
    let mut card = fresh_card!();
    assert_eq!(refused(card.verify_pin(b"000000")), Sw(0x63C2));
    assert_eq!(refused(card.verify_pin(b"00000000")), Sw(0x63C1));
    assert_eq!(refused(card.verify_pin(b"111111")), Sw(0x63C0));
    assert_eq!(card.pin_state().unwrap(), PinState::Blocked);
    // Even the right PIN is refused now, and costs nothing.
    assert_eq!(refused(card.verify_pin(b"123456")), Sw::AUTH_METHOD_BLOCKED);
    assert_eq!(card.status().unwrap().pin_tries, 0);
}

#[test]
fn a_right_pin_restores_the_counter() {
    let mut card = fresh_card!();
    assert_eq!(refused(card.verify_pin(b"000000")), Sw(0x63C2));
    card.verify_pin(b"123456").unwrap();
    assert_eq!(card.status().unwrap().pin_tries, 3);
}

#[test]
fn a_wrong_pin_clears_verification() {
    let mut card = fresh_card!();
    card.verify_pin(b"123456").unwrap();
    refused(card.verify_pin(b"654321"));
    assert_eq!(card.pin_state().unwrap(), PinState::NotVerified { tries_left: 2 });
}

#[test]
fn logout_and_power_cycle_clear_verification() {
    let mut card = fresh_card!();
    card.verify_pin(b"123456").unwrap();
    card.logout().unwrap();
    assert_eq!(card.pin_state().unwrap(), PinState::NotVerified { tries_left: 3 });
    card.verify_pin(b"123456").unwrap();
    card.transport_mut().reset().unwrap();
    card.select().unwrap();
    assert_eq!(card.pin_state().unwrap(), PinState::NotVerified { tries_left: 3 });
}

#[test]
fn verify_rejects_bad_shapes_without_counting() {
    let mut card = fresh_card!();
    assert_eq!(raw(&mut card, "00 20 00 80 06 31 32 33 34 35 36").sw, Sw::INCORRECT_DATA);
    assert_eq!(raw(&mut card, "00 20 00 81 08 31 32 33 34 35 36 37 38").sw, Sw::REFERENCE_NOT_FOUND);
    assert_eq!(raw(&mut card, "00 20 01 80 08 31 32 33 34 35 36 FF FF").sw, Sw::INCORRECT_P1_P2);
    assert_eq!(raw(&mut card, "00 20 FF 80 01 00").sw, Sw::WRONG_LENGTH);
    assert_eq!(card.status().unwrap().pin_tries, 3);
}

#[test]
fn change_pin() {
    let mut card = fresh_card!();
    card.change_pin(b"123456", b"24680135").unwrap();
    assert!(card.status().unwrap().pin_verified);
    card.logout().unwrap();
    assert_eq!(refused(card.verify_pin(b"123456")), Sw(0x63C2));
    card.verify_pin(b"24680135").unwrap();
}

#[test]
fn change_pin_with_wrong_old_pin_counts() {
    let mut card = fresh_card!();
    assert_eq!(refused(card.change_pin(b"999999", b"111111")), Sw(0x63C2));
    card.verify_pin(b"123456").unwrap();
}

#[test]
fn change_pin_refuses_a_malformed_new_pin_without_counting() {
    let mut card = fresh_card!();
    // New PIN "12345a": not digits. Sent raw, as the client refuses to build it.
    let r = raw(&mut card, "00 24 00 80 10 31 32 33 34 35 36 FF FF 31 32 33 34 35 61 FF FF");
    assert_eq!(r.sw, Sw::INCORRECT_DATA);
    let r = raw(&mut card, "00 24 00 80 08 31 32 33 34 35 36 FF FF");
    assert_eq!(r.sw, Sw::INCORRECT_DATA);
    assert_eq!(
        raw(&mut card, "00 24 00 82 10 31 32 33 34 35 36 FF FF 31 32 33 34 35 36 FF FF").sw,
        Sw::REFERENCE_NOT_FOUND
    );
    assert_eq!(card.status().unwrap().pin_tries, 3);
}

#[test]
fn change_puk_then_unblock_with_it() {
    let mut card = fresh_card!();
    card.change_puk(b"12345678", b"87654321").unwrap();
    for _ in 0..3 {
        refused(card.verify_pin(b"000000"));
    }
    assert_eq!(refused(card.unblock_pin(b"12345678", b"222222")), Sw(0x63C2));
    card.unblock_pin(b"87654321", b"222222").unwrap();
    let s = card.status().unwrap();
    assert_eq!((s.pin_tries, s.puk_tries), (3, 3));
    card.verify_pin(b"222222").unwrap();
}

#[test]
fn puk_blocks_too() {
    let mut card = fresh_card!();
    for expect in [0x63C2, 0x63C1, 0x63C0] {
        assert_eq!(refused(card.unblock_pin(b"00000000", b"222222")), Sw(expect));
    }
    assert_eq!(refused(card.unblock_pin(b"12345678", b"222222")), Sw::AUTH_METHOD_BLOCKED);
    assert_eq!(refused(card.change_puk(b"12345678", b"11111111")), Sw::AUTH_METHOD_BLOCKED);
    // The PIN itself is untouched.
    card.verify_pin(b"123456").unwrap();
}
