//! PIN and PUK: VERIFY and its status forms, counting down to blocked, change,
//! unblock, transient verified state. Try limits are read from the card
//! (VERIFY without data on a fresh card), never assumed.

use applet_spec::Sw;
use subsim_conformance::*;
use subsim_host::PinState;

/// SP 800-73-4 Part 2, 3.2.1 (VERIFY).
const VERIFY: &str = "SP 800-73-4 Part 2, 3.2.1";
/// SP 800-73-4 Part 2, 3.2.2 (CHANGE REFERENCE DATA).
const CHANGE: &str = "SP 800-73-4 Part 2, 3.2.2";
/// SP 800-73-4 Part 2, 3.2.3 (RESET RETRY COUNTER).
const RESET_RETRY: &str = "SP 800-73-4 Part 2, 3.2.3";

/// The answer to the last try: 63C0, or 6983 at once (both seen on cards;
/// ISO 7816-4, 10.5.1 reads 63C0 as "no try left").
const LAST_TRY: [Sw; 2] = [Sw(0x63C0), Sw::AUTH_METHOD_BLOCKED];

/// Counts a wrong `attempt` down from `left` tries to blocked.
#[track_caller]
fn count_down(card: &mut Card, left: u8, what: &str, mut attempt: impl FnMut(&mut Card) -> Sw) {
    for n in (0..left).rev() {
        let sw = attempt(card);
        if n == 0 {
            assert!(LAST_TRY.contains(&sw), "{what}, last try: {sw}");
        } else {
            assert_eq!(sw, Sw::tries_left(n), "{what} with {} tries left", n + 1);
        }
    }
}

#[test]
fn verify_right_pin() {
    let mut card = fresh_card!(Profile::Piv);
    assert!(card.pin_tries > 0, "a fresh card has PIN tries");
    assert_eq!(card.pin_state().unwrap(), PinState::NotVerified { tries_left: card.pin_tries });
    card.verify_pin(b"123456").unwrap();
    assert_eq!(card.pin_state().unwrap(), PinState::Verified);
}

#[test]
fn the_three_status_query_forms() {
    let mut card = fresh_card!(Profile::Piv);
    let unverified = Sw::tries_left(card.pin_tries);
    // OpenSC (case 1), yubico-piv-tool (case 2 short, Le=00), ykman 4
    // (case 2 extended): all ask the PIN's status.
    card.expect("00 20 00 80", VERIFY, &[unverified], &[]);
    card.expect("00 20 00 80 00", VERIFY, &[unverified], &[Sw::WRONG_LENGTH]);
    card.expect("00 20 00 80 00 00 00", VERIFY, &[unverified], &[Sw::WRONG_LENGTH]);
    card.verify_pin(b"123456").unwrap();
    card.expect("00 20 00 80", VERIFY, &[Sw::OK], &[]);
    card.expect("00 20 00 80 00", VERIFY, &[Sw::OK], &[Sw::WRONG_LENGTH]);
    card.expect("00 20 00 80 00 00 00", VERIFY, &[Sw::OK], &[Sw::WRONG_LENGTH]);
}

#[test]
fn status_query_forms_agree() {
    // Whatever the PIN's state, the three forms ask the same question.
    let mut card = live_card!(Profile::Piv);
    let first = raw(&mut card, "00 20 00 80").sw;
    let state = [Sw::OK, Sw::AUTH_METHOD_BLOCKED];
    assert!(first.retries().is_some() || state.contains(&first), "VERIFY status: {first} [{VERIFY}]");
    card.expect("00 20 00 80 00", VERIFY, &[first], &[Sw::WRONG_LENGTH]);
    card.expect("00 20 00 80 00 00 00", VERIFY, &[first], &[Sw::WRONG_LENGTH]);
    // Log out is allowed on any card; it changes only the session.
    card.expect("00 20 FF 80", VERIFY, &[Sw::OK], &[]);
    let r = raw(&mut card, "00 20 00 80").sw;
    assert!(r.retries().is_some() || r == Sw::AUTH_METHOD_BLOCKED, "after log out: {r}");
}

#[test]
fn wrong_pins_count_down_to_blocked() {
    let mut card = fresh_card!(Profile::Piv);
    let wrong: [&[u8]; 3] = [b"000000", b"00000000", b"111111"];
    let mut i = 0;
    let tries = card.pin_tries;
    count_down(&mut card, tries, "wrong PIN", |c| {
        i += 1;
        refused(c.verify_pin(wrong[i % 3]))
    });
    // Blocked: the status query answers 6983, or 63C0 on cards that keep
    // telling the count (ISO 7816-4, 5.6: no further try).
    let sw = raw(&mut card, "00 20 00 80").sw;
    card.judge("00 20 00 80 (blocked)", sw, VERIFY, &[Sw::AUTH_METHOD_BLOCKED], &[Sw(0x63C0)]);
    // Even the right PIN is refused now, and costs nothing.
    let sw = refused(card.verify_pin(b"123456"));
    card.judge("00 20 00 80 (right PIN, blocked)", sw, VERIFY, &[Sw::AUTH_METHOD_BLOCKED], &[Sw(0x63C0)]);
    if card.has(Profile::Subsim) {
        assert_eq!(card.status().unwrap().pin_tries, 0);
    }
}

#[test]
fn a_right_pin_restores_the_counter() {
    let mut card = fresh_card!(Profile::Piv);
    // 63CX; 6300 (the count untold) is ISO 7816-4's too.
    let sw = refused(card.verify_pin(b"000000"));
    card.judge("00 20 00 80 (wrong PIN)", sw, VERIFY, &[Sw::tries_left(card.pin_tries - 1)], &[Sw(0x6300)]);
    card.verify_pin(b"123456").unwrap();
    card.logout().unwrap();
    assert_eq!(card.pin_state().unwrap(), PinState::NotVerified { tries_left: card.pin_tries });
}

#[test]
fn a_wrong_pin_clears_verification() {
    let mut card = fresh_card!(Profile::Piv);
    card.verify_pin(b"123456").unwrap();
    refused(card.verify_pin(b"654321"));
    match card.pin_state().unwrap() {
        PinState::NotVerified { tries_left } => assert_eq!(tries_left, card.pin_tries - 1),
        // ISO 7816-4, 10.5.1 leaves the security status after a failed
        // comparison to the card.
        PinState::Verified if !card.has(Profile::Subsim) => {
            finding("00 20 00 80 (wrong PIN)", Sw::OK, VERIFY, "a wrong PIN keeps an earlier verification");
        }
        other => panic!("after a wrong PIN: {other:?}"),
    }
}

#[test]
fn logout_and_power_cycle_clear_verification() {
    let mut card = fresh_card!(Profile::Piv);
    let fresh = PinState::NotVerified { tries_left: card.pin_tries };
    card.verify_pin(b"123456").unwrap();
    // P1=FF: reset the security status of the key reference (3.2.1).
    card.logout().unwrap();
    assert_eq!(card.pin_state().unwrap(), fresh);
    card.verify_pin(b"123456").unwrap();
    card.transport_mut().reset().unwrap();
    card.select().unwrap();
    assert_eq!(card.pin_state().unwrap(), fresh);
}

#[test]
fn verify_rejects_bad_shapes_without_counting() {
    let mut card = fresh_card!(Profile::Piv);
    // The PIN block is 8 bytes (SP 800-73-4 Part 2, 3.2.1).
    card.expect("00 20 00 80 06 31 32 33 34 35 36", VERIFY, &[Sw::INCORRECT_DATA], &[Sw::WRONG_LENGTH]);
    // 81 (the PUK) is not a VERIFY reference.
    card.expect(
        "00 20 00 81 08 31 32 33 34 35 36 37 38",
        VERIFY,
        &[Sw::REFERENCE_NOT_FOUND],
        &[Sw::INCORRECT_P1_P2, Sw(0x6A81)],
    );
    card.expect("00 20 01 80 08 31 32 33 34 35 36 FF FF", VERIFY, &[Sw::INCORRECT_P1_P2], &[Sw(0x6B00)]);
    // Log out takes no data.
    card.expect("00 20 FF 80 01 00", VERIFY, &[Sw::WRONG_LENGTH], &[Sw::INCORRECT_DATA]);
    assert_eq!(card.pin_state().unwrap(), PinState::NotVerified { tries_left: card.pin_tries });
}

#[test]
fn change_pin() {
    let mut card = fresh_card!(Profile::Piv);
    card.change_pin(b"123456", b"24680135").unwrap();
    if card.pin_state().unwrap() != PinState::Verified {
        // 3.2.2 does not say whether a change verifies.
        assert!(!card.has(Profile::Subsim), "a sub-SIM's PIN change verifies it");
        finding("00 24 00 80", Sw::OK, CHANGE, "CHANGE REFERENCE DATA leaves the PIN unverified");
    }
    card.logout().unwrap();
    let sw = refused(card.verify_pin(b"123456"));
    card.judge("00 20 00 80 (the old PIN)", sw, VERIFY, &[Sw::tries_left(card.pin_tries - 1)], &[Sw(0x6300)]);
    card.verify_pin(b"24680135").unwrap();
}

#[test]
fn change_pin_with_wrong_old_pin_counts() {
    let mut card = fresh_card!(Profile::Piv);
    let sw = refused(card.change_pin(b"999999", b"111111"));
    // 3.2.2 asks for 63CX; ISO 7816-4 (5.6) also has 6300, count not told.
    card.judge("00 24 00 80 (wrong old PIN)", sw, CHANGE, &[Sw::tries_left(card.pin_tries - 1)], &[Sw(0x6300)]);
    assert_eq!(card.pin_state().unwrap(), PinState::NotVerified { tries_left: card.pin_tries - 1 }, "the try counts");
    card.verify_pin(b"123456").unwrap();
}

#[test]
fn change_pin_refuses_a_malformed_new_pin_without_counting() {
    let mut card = fresh_card!(Profile::Piv);
    // New PIN "12345a": PIN characters are digits (SP 800-73-4 Part 2,
    // 2.4.3). Sent raw, as the client refuses to build it. YubiKeys (and
    // cards in their mode) take any 6-8 bytes: a finding, and the PIN is put back.
    let r = raw(&mut card, "00 24 00 80 10 31 32 33 34 35 36 FF FF 31 32 33 34 35 61 FF FF");
    if r.sw == Sw::OK && !card.has(Profile::Subsim) {
        finding(
            "00 24 00 80 (new PIN 12345a)",
            r.sw,
            "SP 800-73-4 Part 2, 2.4.3",
            "a non-numeric PIN accepted, as YubiKeys do",
        );
        let back = raw(&mut card, "00 24 00 80 10 31 32 33 34 35 61 FF FF 31 32 33 34 35 36 FF FF").sw;
        assert_eq!(back, Sw::OK, "the PIN put back to 123456");
        raw(&mut card, "00 20 FF 80");
    } else {
        card.judge("00 24 00 80 (new PIN 12345a)", r.sw, CHANGE, &[Sw::INCORRECT_DATA], &[]);
    }
    card.expect("00 24 00 80 08 31 32 33 34 35 36 FF FF", CHANGE, &[Sw::INCORRECT_DATA], &[Sw::WRONG_LENGTH]);
    card.expect(
        "00 24 00 82 10 31 32 33 34 35 36 FF FF 31 32 33 34 35 36 FF FF",
        CHANGE,
        &[Sw::REFERENCE_NOT_FOUND],
        &[Sw::INCORRECT_P1_P2, Sw(0x6A81)],
    );
    assert_eq!(card.pin_state().unwrap(), PinState::NotVerified { tries_left: card.pin_tries });
    card.verify_pin(b"123456").unwrap();
}

#[test]
fn change_puk_then_unblock_with_it() {
    let mut card = fresh_card!(Profile::Piv);
    card.change_puk(b"12345678", b"87654321").unwrap();
    let tries = card.pin_tries;
    count_down(&mut card, tries, "wrong PIN", |c| refused(c.verify_pin(b"000000")));
    let sw = refused(card.unblock_pin(b"12345678", b"222222"));
    let puk_left = sw.retries().unwrap_or_else(|| panic!("old PUK after the change: {sw} [{RESET_RETRY}]"));
    card.unblock_pin(b"87654321", b"222222").unwrap();
    assert_eq!(card.pin_state().unwrap(), PinState::NotVerified { tries_left: card.pin_tries });
    if card.has(Profile::Subsim) {
        let s = card.status().unwrap();
        assert_eq!((s.pin_tries, s.puk_tries), (card.pin_tries, puk_left + 1));
    }
    card.verify_pin(b"222222").unwrap();
}

#[test]
fn puk_blocks_too() {
    let mut card = fresh_card!(Profile::Piv);
    // The first wrong PUK tells how many tries it had.
    let first = refused(card.unblock_pin(b"00000000", b"222222"));
    let left = first.retries().unwrap_or_else(|| panic!("wrong PUK: {first} [{RESET_RETRY}]"));
    count_down(&mut card, left, "wrong PUK", |c| refused(c.unblock_pin(b"00000000", b"222222")));
    let sw = refused(card.unblock_pin(b"12345678", b"222222"));
    card.judge("00 2C 00 80 (right PUK, blocked)", sw, RESET_RETRY, &[Sw::AUTH_METHOD_BLOCKED], &[Sw(0x63C0)]);
    let sw = refused(card.change_puk(b"12345678", b"11111111"));
    card.judge("00 24 00 81 (right PUK, blocked)", sw, CHANGE, &[Sw::AUTH_METHOD_BLOCKED], &[Sw(0x63C0), Sw(0x6300)]);
    // The PIN itself is untouched.
    card.verify_pin(b"123456").unwrap();
}
