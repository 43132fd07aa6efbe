//! SELECT, the application property template, discovery, CHUID, serial, version.

use applet_spec::messages;
use applet_spec::piv::{ObjectTag, PIV_PIX};
use applet_spec::Sw;
use subsim_conformance::*;

#[test]
fn select_by_full_aid_and_by_prefix() {
    let mut card = fresh_card!();
    let info = card.select().unwrap();
    assert_eq!(info.aid, PIV_PIX);
    assert!(!info.label.is_empty());
    // OpenSC's 9-byte AID and Yubico's truncated 5-byte AID.
    let r = raw(&mut card, "00 A4 04 00 09 A0 00 00 03 08 00 00 10 00 00");
    assert_eq!(r.sw, Sw::OK);
    let answer = messages::parse_select_response(&r.data).unwrap();
    assert_eq!(answer.aid, PIV_PIX);
    // A sub-SIM also tells its serial and change counter.
    assert_eq!(answer.card.map(|c| c.serial), Some(card.serial().unwrap()));
    assert_eq!(raw(&mut card, "00 A4 04 00 05 A0 00 00 03 08").sw, Sw::OK);
    assert_eq!(raw(&mut card, "00 A4 04 00 04 A0 00 00 03").sw, Sw::FILE_NOT_FOUND);
    assert_eq!(raw(&mut card, "00 A4 00 00 02 3F 00").sw, Sw::INCORRECT_P1_P2);
    // P2=0C: selected, no answer data; other P2 values are refused.
    let r = raw(&mut card, "00 A4 04 0C 05 A0 00 00 03 08");
    assert_eq!((r.data.len(), r.sw), (0, Sw::OK));
    assert_eq!(raw(&mut card, "00 A4 04 02 05 A0 00 00 03 08").sw, Sw::INCORRECT_P1_P2);
}

#[test]
fn foreign_select_keeps_applet_and_security_state() {
    let mut card = fresh_card!();
    card.verify_pin(b"123456").unwrap();
    card.authenticate_default().unwrap();
    for aid in ["A0 00 00 05 27 20 01 01", "A0 00 00 05 27 47 11 17", "A0 00 00 00 01 01"] {
        let len = aid.split(' ').count();
        assert_eq!(raw(&mut card, &format!("00 A4 04 00 {len:02X} {aid}")).sw, Sw::FILE_NOT_FOUND);
    }
    // OpenSC's EstEID probe: P2=0C and a foreign AID.
    let r = raw(&mut card, "00 A4 04 0C 0F D2 33 00 00 00 45 73 74 45 49 44 20 76 33 35");
    assert_eq!(r.sw, Sw::FILE_NOT_FOUND);
    // Still selected, PIN still verified, management key still authenticated.
    assert_eq!(raw(&mut card, "00 20 00 80").sw, Sw::OK);
    card.set_binding(&[1; 32]).unwrap();
}

#[test]
fn reselect_keeps_pin_verified() {
    let mut card = fresh_card!();
    card.verify_pin(b"123456").unwrap();
    card.select().unwrap();
    assert_eq!(raw(&mut card, "00 20 00 80").sw, Sw::OK);
}

#[test]
fn commands_before_select_are_unknown() {
    let mut card = fresh_card!();
    card.transport_mut().reset().unwrap();
    assert_eq!(raw(&mut card, "00 20 00 80").sw, Sw::INS_NOT_SUPPORTED);
    card.select().unwrap();
    assert_eq!(raw(&mut card, "00 20 00 80").sw, Sw(0x63C3));
}

#[test]
fn discovery_chuid_serial_version() {
    let mut card = fresh_card!();
    let disc = card.read_object(ObjectTag::DISCOVERY).unwrap().unwrap();
    assert_eq!(disc, messages::discovery_object());
    let guid = card.guid().unwrap();
    assert_ne!(guid, [0; 16]);
    let serial = card.serial().unwrap();
    assert_ne!(serial, 0);
    assert_eq!(card.version().unwrap(), applet_spec::piv::VERSION);
    assert_eq!(raw(&mut card, "00 FD 01 00").sw, Sw::INCORRECT_P1_P2);
    assert_eq!(raw(&mut card, "00 F8 00 00 01 00").sw, Sw::WRONG_LENGTH);
}

#[test]
fn two_simulated_cards_differ() {
    if !sim_only("needs two cards") {
        return;
    }
    let identity = || {
        let mut c = try_fresh_card().unwrap();
        (c.serial().unwrap(), c.guid().unwrap())
    };
    let other = std::thread::Builder::new().name("another card".into()).spawn(identity).unwrap().join().unwrap();
    assert_ne!(identity(), other);
}

#[test]
fn status_reports_factory_state() {
    let mut card = fresh_card!();
    let s = card.status().unwrap();
    assert_eq!((s.pin_tries, s.puk_tries, s.keys, s.certs, s.pin_verified), (3, 3, 0, 0, false));
    assert_eq!(s.pin_entry, messages::PinEntry::Any);
    assert_eq!(s.binding, messages::BindingState::None);
    assert_eq!(s.mgm_algorithm, applet_spec::piv::MgmAlgorithm::TripleDes);
}
