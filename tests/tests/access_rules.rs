//! The ARA-M (GlobalPlatform SEAC 1.1) and the phone in front of it: only
//! apps whose signing certificate a rule names reach the applet, with the
//! APDUs the rule allows; rules are written by the issuer only, read in
//! blocks when long, and bad rule sets change nothing.

use applet_spec::apdu::Class;
use applet_spec::aram::{self, AidRef, ApduFilter, ApduRule, AppRef, Rule, StoreCommand, ARAM_AID};
use applet_spec::piv::PIV_AID;
use applet_spec::Sw;
use subsim_conformance::*;
use subsim_host::{App, Client, Error, Phone, PinState, Transport, TransportKind};

const SEAC: &str = "GlobalPlatform SEAC 1.1, 4.1 and 5.1";

/// A sub-SIM card with no access rules, for a test that drives it as a phone.
fn card() -> Option<Card> {
    if on_phone() {
        skip("this test plays the phone itself: run it on the card");
        return None;
    }
    let mut card = try_card(Needs::fresh(Profile::Subsim))?;
    let phone = Phone::new(card.transport_mut());
    phone.store_rules(&StoreCommand::DeleteAll, &mut issuer).expect("the issuer clears the rules");
    drop(phone);
    Some(card)
}

/// The issuer's proof to the ARA-M: the factory management key.
fn issuer(t: &mut dyn Transport) -> subsim_host::Result<()> {
    reset::authenticate_factory(&mut Client::new(t))
}

fn no_proof(_: &mut dyn Transport) -> subsim_host::Result<()> {
    Ok(())
}

fn app(n: u8) -> App {
    App::from_certificate(&[n; 300])
}

fn rule(app: &App, apdu: ApduRule) -> Rule {
    Rule { aid: AidRef::Aid(PIV_AID.to_vec()), app: AppRef::Hash(app.sha256().to_vec()), apdu }
}

#[track_caller]
fn card_refused<T: std::fmt::Debug>(r: subsim_host::Result<T>) -> Sw {
    match r {
        Err(Error::Status { sw, .. }) => sw,
        other => panic!("expected a status word, got {other:?}"),
    }
}

#[track_caller]
fn access_denied<T>(r: subsim_host::Result<T>) -> String {
    match r {
        Err(e @ Error::Transport { kind: TransportKind::AccessDenied, .. }) => e.to_string(),
        Err(e) => panic!("expected the phone's SecurityException, got {e}"),
        Ok(_) => panic!("expected the phone's SecurityException, got access"),
    }
}

#[test]
fn rules_are_written_by_the_issuer_only_and_bad_sets_change_nothing() {
    let Some(mut card) = card() else { return };
    let phone = Phone::new(card.transport_mut());
    assert_eq!(phone.rules().unwrap(), vec![]);
    let a = rule(&app(1), ApduRule::Always);
    let store = StoreCommand::Store(vec![a.clone()]);
    assert_eq!(card_refused(phone.store_rules(&store, &mut no_proof)), Sw::SECURITY_STATUS_NOT_SATISFIED);
    assert_eq!(
        card_refused(phone.store_rules(&store, &mut |t| {
            Client::new(t).authenticate(applet_spec::piv::MgmAlgorithm::TripleDes, &[7; 24])
        })),
        Sw::SECURITY_STATUS_NOT_SATISFIED,
        "a wrong management key"
    );
    assert_eq!(phone.rules().unwrap(), vec![], "nothing stored");
    phone.store_rules(&store, &mut issuer).unwrap();
    assert_eq!(phone.rules().unwrap(), vec![a.clone()]);
    // The same REF-DO again: 6A89; a delete of what is not there: 6A88.
    assert_eq!(card_refused(phone.store_rules(&store, &mut issuer)), Sw::ALREADY_EXISTS);
    let other = StoreCommand::Delete(AidRef::All, AppRef::All);
    assert_eq!(card_refused(phone.store_rules(&other, &mut issuer)), Sw::REFERENCE_NOT_FOUND);
    // More rules than the card holds: 6A84, none of them stored.
    let many: Vec<Rule> = (0..aram::MAX_RULES as u8).map(|n| rule(&app(100 + n), ApduRule::Always)).collect();
    assert_eq!(card_refused(phone.store_rules(&StoreCommand::Store(many), &mut issuer)), Sw::NOT_ENOUGH_MEMORY);
    assert_eq!(phone.rules().unwrap(), vec![a.clone()]);
    drop(phone);

    // Malformed STORE DATA, by hand on a channel with the ARA-M: 6A80 whoever sends it.
    let n = raw(&mut card, "00 70 00 00 01").data[0];
    let cla = |c: u8| Class::on_channel(c, n).unwrap();
    let select = format!("{:02X} A4 04 00 09 {}", cla(0), hex::encode(ARAM_AID));
    assert_eq!(raw(&mut card, &select).sw, Sw::OK);
    for data in ["F000", "F004E200E300", "E2 0B E1 04 C0 00 C1 00 E3 03 D0 01 05", "F100F100", "F2"] {
        let data = data.replace(' ', "");
        let apdu = format!("{:02X} E2 90 00 {:02X} {data}", cla(0x80), data.len() / 2);
        card.expect(&apdu, SEAC, &[Sw::INCORRECT_DATA], &[]);
    }
    card.expect(&format!("{:02X} E2 80 00 02 F2 00", cla(0x80)), SEAC, &[Sw::INCORRECT_P1_P2], &[]);
    card.expect(&format!("{:02X} CA FF 41 00", cla(0x80)), SEAC, &[Sw::INCORRECT_P1_P2], &[]);
    card.expect(&format!("{:02X} CA FF 60 00", cla(0x80)), SEAC, &[Sw::REFERENCE_NOT_FOUND], &[]);
    raw(&mut card, &format!("00 70 80 {n:02X}"));
    let phone = Phone::new(card.transport_mut());
    assert_eq!(phone.rules().unwrap(), vec![a]);
}

#[test]
fn long_rule_sets_come_in_blocks_and_a_change_mid_read_is_caught() {
    let Some(mut card) = card() else { return };
    let rules: Vec<Rule> = (0..12).map(|n| rule(&app(n), ApduRule::Always)).collect();
    let phone = Phone::new(card.transport_mut());
    phone.store_rules(&StoreCommand::Store(rules.clone()), &mut issuer).unwrap();
    assert_eq!(phone.rules().unwrap(), rules, "read back through GET DATA [all] and [next]");
    drop(phone);
    let whole = aram::all_rules(&rules);
    assert!(whole.len() > 256);
    let n = raw(&mut card, "00 70 00 00 01").data[0];
    let cla = |c: u8| Class::on_channel(c, n).unwrap();
    assert_eq!(raw(&mut card, &format!("{:02X} A4 04 00 09 {}", cla(0), hex::encode(ARAM_AID))).sw, Sw::OK);
    let first = raw(&mut card, &format!("{:02X} CA FF 40 00", cla(0x80)));
    assert_eq!((first.sw, first.data.as_slice()), (Sw::OK, &whole[..256]), "the first block: 256 bytes");
    let tag = raw(&mut card, &format!("{:02X} CA DF 20 00", cla(0x80)));
    let before = aram::parse_refresh_tag(&tag.data).unwrap();
    // Another channel (the issuer's) changes the rules: the rest of the old read is spoilt.
    let phone = Phone::new(card.transport_mut());
    phone.store_rules(&StoreCommand::UpdateRefreshTag, &mut issuer).unwrap();
    drop(phone);
    card.expect(&format!("{:02X} CA FF 60 00", cla(0x80)), SEAC, &[Sw::DATA_NOT_USABLE], &[]);
    let tag = raw(&mut card, &format!("{:02X} CA DF 20 00", cla(0x80)));
    assert_ne!(aram::parse_refresh_tag(&tag.data).unwrap(), before, "the refresh tag changed");
    // Specific rule (FF50) for app 3, and for an app without one.
    let ref_do = aram::ref_do(&rules[3].aid, &rules[3].app).to_vec();
    let r = raw(&mut card, &format!("{:02X} CA FF 50 {:02X} {} 00", cla(0x80), ref_do.len(), hex::encode(&ref_do)));
    assert_eq!((r.sw, r.data), (Sw::OK, aram::specific_rule(&rules[3])));
    let none = aram::ref_do(&AidRef::All, &AppRef::All).to_vec();
    let apdu = format!("{:02X} CA FF 50 {:02X} {} 00", cla(0x80), none.len(), hex::encode(&none));
    card.expect(&apdu, SEAC, &[Sw::REFERENCE_NOT_FOUND], &[]);
    raw(&mut card, &format!("00 70 80 {n:02X}"));
}

#[test]
fn an_app_without_a_rule_is_refused_and_one_with_a_rule_gets_in() {
    let Some(mut card) = card() else { return };
    let (bank, stranger, denied_app, reader) = (app(1), app(2), app(3), app(4));
    let get_data_only = ApduFilter { header: [0x00, 0xCB, 0x3F, 0xFF], mask: [0x00, 0xFF, 0xFF, 0xFF] };
    let phone = Phone::new(card.transport_mut());
    let rules = vec![
        rule(&bank, ApduRule::Always),
        rule(&denied_app, ApduRule::Never),
        rule(&reader, ApduRule::Filters(vec![get_data_only])),
    ];
    phone.store_rules(&StoreCommand::Store(rules), &mut issuer).unwrap();

    let why = access_denied(phone.open_channel(&stranger, &PIV_AID));
    assert!(why.contains("SecurityException") && why.contains("no APDU access allowed"), "{why}");
    let why = access_denied(phone.open_channel(&denied_app, &PIV_AID));
    assert!(why.contains("denies"), "{why}");

    let mut bank_app = Client::new(phone.open_channel(&bank, &PIV_AID).unwrap());
    bank_app.select().unwrap();
    bank_app.verify_pin(b"123456").unwrap();
    assert_eq!(bank_app.pin_state().unwrap(), PinState::Verified);

    // The reader app may only GET DATA: its VERIFY never reaches the card.
    let mut reader_app = Client::new(phone.open_channel(&reader, &PIV_AID).unwrap());
    assert!(reader_app.read_object(applet_spec::piv::ObjectTag::DISCOVERY).unwrap().is_some());
    let why = access_denied(reader_app.pin_state());
    assert!(why.contains("00 20 00 80") && why.contains("not allowed"), "{why}");
    // And the app cannot reach for another applet or channel itself.
    let why = access_denied(reader_app.transport_mut().transmit(&[0x00, 0x70, 0x00, 0x00, 0x01]));
    assert!(why.contains("MANAGE CHANNEL"), "{why}");
    let select_aram = [&[0x00, 0xA4, 0x04, 0x00, 0x09][..], &ARAM_AID].concat();
    assert!(access_denied(bank_app.transport_mut().transmit(&select_aram)).contains("SELECT by DF name"));
    assert_eq!(bank_app.pin_state().unwrap(), PinState::Verified, "the bank's channel is as it was");
}

#[test]
fn several_apps_at_once_each_on_its_own_channel() {
    let Some(mut card) = card() else { return };
    let (bank, other_bank) = (app(1), app(2));
    let phone = Phone::new(card.transport_mut());
    let rules = vec![rule(&bank, ApduRule::Always), rule(&other_bank, ApduRule::Always)];
    phone.store_rules(&StoreCommand::Store(rules), &mut issuer).unwrap();
    let mut a = Client::new(phone.open_channel(&bank, &PIV_AID).unwrap());
    let mut b = Client::new(phone.open_channel(&other_bank, &PIV_AID).unwrap());
    let (ca, cb) = (a.transport().channel().unwrap(), b.transport().channel().unwrap());
    assert_ne!(ca, cb);
    a.select().unwrap();
    b.select().unwrap();
    a.verify_pin(b"123456").unwrap();
    // One bank's PIN entry is not the other's (docs/phone.md: per-channel security state).
    assert_eq!(b.pin_state().unwrap(), PinState::NotVerified { tries_left: 3 });
    assert_eq!(a.pin_state().unwrap(), PinState::Verified);
    a.transport_mut().close().unwrap();
    assert!(a.pin_state().is_err(), "a closed channel carries nothing");
    assert_eq!(b.pin_state().unwrap(), PinState::NotVerified { tries_left: 3 });
    drop(b);
    drop(a);
    drop(phone);
    // Every channel the phone opened is closed again.
    for ch in [ca, cb] {
        let cla = Class::on_channel(0, ch).unwrap();
        card.expect(&format!("{cla:02X} 20 00 80"), SEAC, &[Sw::LOGICAL_CHANNEL_NOT_SUPPORTED], &[]);
    }
}
