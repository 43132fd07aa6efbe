//! Logical channels (ISO 7816-4 (2013) 5.1.1 and 11.1; JCRE 3.0.5 4.5 and
//! 4.6 for the words a Java Card answers): MANAGE CHANNEL, SELECT on any
//! channel, each channel's own selection, security state, chain and `61xx`
//! answer, and the errors. Many readers' cards and PIV tokens have no
//! logical channels: ISO lets them, so there it is a finding, not a
//! failure; a sub-SIM must have them (a phone reaches it only on one).
//!
//! On a phone target the phone owns MANAGE CHANNEL and the channel bits:
//! these tests need the card itself and are skipped there.

use applet_spec::apdu::Class;
use applet_spec::messages;
use applet_spec::piv::{Slot, PIV_AID};
use applet_spec::Sw;
use subsim_conformance::*;

const CHANNELS: &str = "ISO 7816-4 (2013) 5.1.1 and 11.1; JCRE 3.0.5 4.5.1 and 4.6.1";

/// `hex` (an APDU written for channel 0) sent on `channel`.
fn on(card: &mut Card, channel: u8, hex: &str) -> applet_spec::Response {
    let mut bytes = hex::decode(hex.replace(' ', "")).expect("hex");
    bytes[0] = Class::on_channel(bytes[0], channel).expect("channel 0-19");
    raw(card, &hex::encode(bytes))
}

fn select_piv(card: &mut Card, channel: u8) -> Sw {
    on(card, channel, &format!("00 A4 04 00 {:02X} {} 00", PIV_AID.len(), hex::encode(PIV_AID))).sw
}

/// A card for a channel test, unless the target is a phone.
fn card(needs: Needs) -> Option<Card> {
    if on_phone() {
        skip("the phone owns MANAGE CHANNEL and the channel bits: run the channel tests on the card itself");
        return None;
    }
    try_card(needs)
}

/// Opens a channel the card picks, or records that the card has none.
fn open(card: &mut Card) -> Option<u8> {
    let r = raw(card, "00 70 00 00 01");
    match (r.sw, r.data.as_slice()) {
        (Sw::OK, [n]) if (1..20).contains(n) => Some(*n),
        _ if card.has(Profile::Subsim) => {
            panic!("MANAGE CHANNEL open: {} {:02X?}; a sub-SIM needs logical channels [{CHANNELS}]", r.sw, r.data)
        }
        _ => {
            finding(
                "00 70 00 00 01",
                r.sw,
                CHANNELS,
                "no logical channels: a phone (OMAPI) could not reach this applet",
            );
            None
        }
    }
}

fn close(card: &mut Card, channel: u8) {
    assert_eq!(raw(card, &format!("00 70 80 {channel:02X}")).sw, Sw::OK, "close channel {channel}");
}

fn verify_status(card: &mut Card, channel: u8) -> Sw {
    on(card, channel, "00 20 00 80").sw
}

#[test]
fn open_select_and_close_card_and_host_assigned() {
    let Some(mut card) = card(Needs::live(Profile::Piv)) else { return };
    let Some(n) = open(&mut card) else { return };
    // Opened from channel 0: nothing (or a default application) selected.
    assert_eq!(select_piv(&mut card, n), Sw::OK, "SELECT PIV on channel {n}");
    let tries = card.pin_tries;
    let not_verified = Sw::tries_left(tries);
    assert_eq!(verify_status(&mut card, n), not_verified);
    close(&mut card, n);
    let r = verify_status(&mut card, n);
    card.judge(
        &format!("VERIFY on closed channel {n}"),
        r,
        CHANNELS,
        &[Sw::LOGICAL_CHANNEL_NOT_SUPPORTED],
        &[Sw::CLA_NOT_SUPPORTED],
    );
    assert_eq!(verify_status(&mut card, 0), not_verified, "channel 0 untouched");
    // Host-assigned: channel 5 (CLA 41), PIV selected there, then closed.
    let r = raw(&mut card, "00 70 00 05");
    if r.sw != Sw::OK {
        card.judge(
            "00 70 00 05 (host-assigned)",
            r.sw,
            CHANNELS,
            &[Sw::OK],
            &[Sw::INCORRECT_P1_P2, Sw::FUNCTION_NOT_SUPPORTED],
        );
        return;
    }
    assert_eq!(select_piv(&mut card, 5), Sw::OK);
    assert_eq!(verify_status(&mut card, 5), not_verified);
    close(&mut card, 5);
}

#[test]
fn each_channel_has_its_own_selection_and_security_state() {
    let Some(mut card) = card(Needs::fresh(Profile::Piv)) else { return };
    let Some(n) = open(&mut card) else { return };
    assert_eq!(select_piv(&mut card, n), Sw::OK);
    card.verify_pin(b"123456").unwrap();
    assert_eq!(verify_status(&mut card, 0), Sw::OK, "verified on channel 0");
    // The management key too: 9B on channel 0 lets no PUT DATA through on n.
    admin(&mut card);
    let put = "00 DB 3F FF 0A 5C 03 5F C1 0A 53 03 70 01 00";
    let r = on(&mut card, n, put);
    card.judge(&format!("PUT DATA on channel {n}"), r.sw, CHANNELS, &[Sw::SECURITY_STATUS_NOT_SATISFIED], &[Sw::OK]);
    assert_eq!(on(&mut card, 0, put).sw, Sw::OK, "channel 0 is authenticated");
    // docs/phone.md: the PIN's verified state is per channel (JCRE lets an
    // applet share it: OwnerPIN's flag is CLEAR_ON_RESET; a card doing so is a finding).
    let r = verify_status(&mut card, n);
    card.judge(&format!("VERIFY status on channel {n}"), r, CHANNELS, &[Sw::tries_left(card.pin_tries)], &[Sw::OK]);
    // The try counter is the card's: a wrong PIN on channel n counts on 0 too.
    let wrong = format!("00 20 00 80 08 {}", hex::encode(b"999999\xFF\xFF"));
    let r = on(&mut card, n, &wrong);
    assert_eq!(r.sw, Sw::tries_left(card.pin_tries - 1), "wrong PIN on channel {n}");
    assert_eq!(verify_status(&mut card, 0), Sw::OK, "channel 0 still verified (a wrong PIN elsewhere)");
    // A foreign SELECT on channel n changes nothing there; another application does.
    assert_eq!(on(&mut card, n, "00 A4 04 00 05 D2 76 00 01 24").sw, Sw::FILE_NOT_FOUND);
    assert_eq!(verify_status(&mut card, n), Sw::tries_left(card.pin_tries - 1), "PIV still selected on {n}");
    close(&mut card, n);
    assert_eq!(verify_status(&mut card, 0), Sw::OK, "closing channel {n} leaves channel 0 alone");
}

#[test]
fn interleaved_answers_and_chains_stay_on_their_channel() {
    let Some(mut card) = card(Needs::fresh(Profile::Piv)) else { return };
    admin(&mut card);
    let der: Vec<u8> = (0..600u32).map(|i| i as u8).collect();
    card.write_certificate(Slot::Authentication, &der).unwrap();
    let full = messages::data_object(&messages::cert_object(&der));
    let Some(n) = open(&mut card) else { return };
    assert_eq!(select_piv(&mut card, n), Sw::OK);
    // A 61xx answer on channel 0, then commands on channel n, then the rest on 0.
    let first = on(&mut card, 0, "00 CB 3F FF 05 5C 03 5F C1 05 08");
    assert!(first.sw.remaining().is_some(), "{}", first.sw);
    let discovery = on(&mut card, n, "00 CB 3F FF 03 5C 01 7E 00");
    assert_eq!(discovery.sw, Sw::OK, "GET DATA on channel {n} in between");
    // GET RESPONSE on the wrong channel: nothing pending there.
    let r = on(&mut card, n, "00 C0 00 00 00");
    card.judge(
        &format!("GET RESPONSE on channel {n}"),
        r.sw,
        CHANNELS,
        &[Sw::CONDITIONS_NOT_SATISFIED],
        &[Sw::UNKNOWN_ERROR, Sw::INCORRECT_P1_P2],
    );
    let mut got = first.data;
    let mut sw = first.sw;
    while let Some(left) = sw.remaining() {
        let r = on(&mut card, 0, &format!("00 C0 00 00 {:02X}", left % 256));
        got.extend(r.data);
        sw = r.sw;
    }
    assert_eq!((sw, got), (Sw::OK, full), "channel 0's answer came whole");
    // A chained VERIFY on channel n; channel 0 runs commands in between; a
    // last part sent on channel 0 is a command of its own there.
    let tries = Sw::tries_left(card.pin_tries);
    on(&mut card, 0, "00 20 FF 80"); // log out on 0
    assert_eq!(on(&mut card, n, "10 20 00 80 04 31 32 33 34").sw, Sw::OK, "first part on {n}");
    assert_eq!(verify_status(&mut card, 0), tries, "channel 0 between the parts");
    let r = on(&mut card, 0, "00 20 00 80 04 35 36 FF FF");
    assert_ne!(r.sw, Sw::OK, "the last part on channel 0 alone is no PIN");
    assert_eq!(verify_status(&mut card, 0), tries, "and spent no try");
    assert_eq!(on(&mut card, n, "00 20 00 80 04 35 36 FF FF").sw, Sw::OK, "channel {n}'s chain completes");
    assert_eq!(verify_status(&mut card, n), Sw::OK);
    close(&mut card, n);
}

#[test]
fn manage_channel_errors_change_nothing() {
    let Some(mut card) = card(Needs::live(Profile::Piv)) else { return };
    let Some(n) = open(&mut card) else { return };
    assert_eq!(select_piv(&mut card, n), Sw::OK);
    let unverified = Sw::tries_left(card.pin_tries);
    let cases: [(String, Sw, &[Sw]); 5] = [
        ("00 70 40 00".into(), Sw::FUNCTION_NOT_SUPPORTED, &[Sw::INCORRECT_P1_P2]),
        ("00 70 80 00".into(), Sw::FUNCTION_NOT_SUPPORTED, &[Sw::INCORRECT_P1_P2]),
        (format!("00 70 00 {n:02X}"), Sw::INCORRECT_P1_P2, &[Sw::FUNCTION_NOT_SUPPORTED]),
        ("00 70 00 14".into(), Sw::INCORRECT_P1_P2, &[Sw::FUNCTION_NOT_SUPPORTED]),
        ("00 70 80 13".into(), Sw::WARNING_UNCHANGED, &[Sw::OK, Sw::INCORRECT_P1_P2, Sw::FUNCTION_NOT_SUPPORTED]),
    ];
    for (apdu, want, variants) in cases {
        card.expect(&apdu, CHANNELS, &[want], variants);
        assert_eq!(verify_status(&mut card, n), unverified, "channel {n} unchanged after {apdu}");
    }
    // MANAGE CHANNEL on a channel that is not open.
    let r = on(&mut card, 19, "00 70 00 00 01");
    card.judge("MANAGE CHANNEL on closed channel 19", r.sw, CHANNELS, &[Sw::LOGICAL_CHANNEL_NOT_SUPPORTED], &[]);
    // Every channel taken: 6A81, and the open ones keep their state.
    let mut opened = vec![];
    loop {
        let r = raw(&mut card, "00 70 00 00 01");
        match (r.sw, r.data.as_slice()) {
            (Sw::OK, [m]) => opened.push(*m),
            _ => {
                card.judge(
                    "MANAGE CHANNEL with no channel free",
                    r.sw,
                    CHANNELS,
                    &[Sw::FUNCTION_NOT_SUPPORTED],
                    &[Sw::LOGICAL_CHANNEL_NOT_SUPPORTED],
                );
                break;
            }
        }
        assert!(opened.len() < 20, "a card has at most 19 logical channels beside the basic one");
    }
    if card.has(Profile::Subsim) {
        assert_eq!(opened.len() + 2, 20, "the sub-SIM has channels 0-19");
    }
    assert_eq!(verify_status(&mut card, n), unverified);
    for m in opened {
        close(&mut card, m);
    }
    close(&mut card, n);
    assert_eq!(verify_status(&mut card, 0), unverified);
}
