//! The card manager: GlobalPlatform's Issuer Security Domain (GPCS 2.3)
//! with SCP03 (Amendment D). Profile `piv`: any card may have an ISD; a
//! card without one (SELECT of A000000151000000 refused) is skipped. The
//! keys are GP's development keys, or `SUBSIM_GP_KEY` (hex, one key as ENC,
//! MAC and DEK); a card whose cryptogram does not verify with them is
//! skipped before any try is spent (the card cryptogram comes first).
//!
//! Tests that change the card manager for good (terminate, a blocked key
//! set) run on the in-process card only; the others put back what they change.

use applet_spec::gp::{self, CardLifeCycle, StatusScope, DEVELOPMENT_KEY, ISD_AID};
use applet_spec::scp03::{SecurityLevel, StaticKeys};
use applet_spec::{Command, Sw};
use subsim_conformance::*;
use subsim_host::gp::GpClient;
use subsim_host::{Error, Transport};

type Gp<'a> = GpClient<&'a mut Box<dyn Transport>>;

fn keys() -> StaticKeys {
    match std::env::var("SUBSIM_GP_KEY") {
        Ok(k) => StaticKeys::single(&hex::decode(k.trim()).expect("SUBSIM_GP_KEY is hex")),
        Err(_) => StaticKeys::single(&DEVELOPMENT_KEY),
    }
}

fn level(p1: u8) -> SecurityLevel {
    SecurityLevel::from_p1(p1).unwrap()
}

/// The ISD selected, or `None` (skipped, with the reason) when the card has none.
fn isd(card: &mut Card) -> Option<Gp<'_>> {
    if not_on_phone("select the ISD (OMAPI refuses SELECT of other applets)") {
        return None;
    }
    let mut gp = GpClient::new(card.transport_mut());
    match gp.select() {
        Ok(_) => Some(gp),
        Err(e) => {
            skip(&format!("needs a GlobalPlatform ISD: SELECT {} failed: {e}", hex::encode_upper(ISD_AID)));
            None
        }
    }
}

/// The ISD with a session at `p1`, or `None` (skipped) without the card's keys.
fn session(card: &mut Card, p1: u8) -> Option<Gp<'_>> {
    let mut gp = isd(card)?;
    match gp.open(&keys(), 0, level(p1)) {
        Ok(_) => Some(gp),
        Err(Error::Transport { message, .. }) if message.contains("card cryptogram") => {
            skip("needs the card's GP keys: set SUBSIM_GP_KEY (the card cryptogram does not verify)");
            None
        }
        Err(e) => panic!("opening SCP03 at {p1:02X}: {e}"),
    }
}

fn send(gp: &mut Gp<'_>, hex_apdu: &str) -> applet_spec::Response {
    let cmd = Command::parse(&hex::decode(hex_apdu.replace(' ', "")).unwrap()).unwrap();
    gp.send(&cmd).expect("transport")
}

#[track_caller]
fn sw(gp: &mut Gp<'_>, hex_apdu: &str) -> Sw {
    send(gp, hex_apdu).sw
}

#[test]
fn the_isd_answers_its_fci_cplc_card_data_and_key_information() {
    let mut card = live_card!(Profile::Piv);
    let Some(mut gp) = isd(&mut card) else { return };
    // GPCS 11.9.3.1: the FCI names the ISD.
    let fci = gp.select().unwrap();
    assert_eq!(fci[0], 0x6F, "FCI template");
    assert!(fci.windows(ISD_AID.len()).any(|w| w == ISD_AID), "the FCI holds the ISD's AID");
    // GPCS H.2 / 11.3: CPLC, card data with SCP03, key information.
    let cplc = gp.get_data(gp::data::CPLC).unwrap().expect("CPLC");
    assert_eq!(gp::decode_cplc(&cplc).unwrap().len(), 18);
    let card_data = gp.get_data(gp::data::CARD_DATA).unwrap().expect("card data");
    let scps = gp::card_data_scps(&card_data).unwrap();
    assert!(scps.iter().any(|(scp, _)| *scp == gp::SCP03), "SCP03 announced: {scps:02X?}");
    let info = gp.key_info().unwrap().expect("key information");
    assert!(info.iter().any(|k| k.id == 1 && k.key_type == gp::KEY_TYPE_AES), "{info:?}");
    // A tag the card does not have: 6A88 (GPCS 11.3.3).
    assert_eq!(sw(&mut gp, "80 CA 00 99 00"), Sw::REFERENCE_NOT_FOUND);
    // SELECT with no AID picks the default application, the ISD (GPCS 11.9.2.3).
    if !on_phone() {
        let r = raw(&mut card, "00 A4 04 00 00");
        assert_eq!(r.sw, Sw::OK);
        assert_eq!(&r.data[..1], [0x6F]);
    }
}

#[test]
fn scp03_runs_at_every_security_level() {
    let mut card = live_card!(Profile::Piv);
    // Amendment D Table 7-5: the six levels.
    for p1 in [0x00, 0x01, 0x03, 0x11, 0x13, 0x33] {
        let Some(mut gp) = session(&mut card, p1) else { return };
        assert_eq!(gp.life_cycle().unwrap(), CardLifeCycle::Secured, "level {p1:02X}");
        let apps = gp.status(StatusScope::Applications).unwrap();
        assert!(apps.iter().any(|a| applet_spec::piv::aid_matches(&a.aid)), "level {p1:02X}: PIV listed");
        // Secured data both ways: GET DATA inside the session.
        assert!(gp.get_data(gp::data::CPLC).unwrap().is_some());
    }
}

#[test]
fn a_session_refuses_what_is_not_its_own() {
    let mut card = live_card!(Profile::Piv);
    let Some(mut gp) = isd(&mut card) else { return };
    let clause = "GP 2.3 Amendment D 7.1";
    // No session: management commands need one (6982), EXTERNAL
    // AUTHENTICATE needs INITIALIZE UPDATE first (6985).
    assert_eq!(sw(&mut gp, "80 F2 80 02 02 4F 00 00"), Sw::SECURITY_STATUS_NOT_SATISFIED, "{clause}");
    assert_eq!(sw(&mut gp, "84 82 01 00 10 00000000000000000000000000000000"), Sw::CONDITIONS_NOT_SATISFIED);
    // INITIALIZE UPDATE: 8 bytes of host challenge; P2 00; a key set the card has.
    assert_eq!(sw(&mut gp, "80 50 00 00 07 01020304050607 00"), Sw::WRONG_LENGTH);
    assert_eq!(sw(&mut gp, "80 50 00 01 08 0102030405060708 00"), Sw::INCORRECT_P1_P2);
    assert_eq!(sw(&mut gp, "80 50 7E 00 08 0102030405060708 00"), Sw::REFERENCE_NOT_FOUND);
    // Security level 02 (C-DECRYPTION without C-MAC) is not one of Table 7-5's.
    assert_eq!(sw(&mut gp, "80 50 00 00 08 0102030405060708 00"), Sw::OK);
    assert_eq!(sw(&mut gp, "84 82 02 00 10 00000000000000000000000000000000"), Sw::INCORRECT_P1_P2);
    // Secure messaging without a session: 6982.
    assert_eq!(sw(&mut gp, "84 F2 80 02 0A 4F00 0102030405060708 00"), Sw::SECURITY_STATUS_NOT_SATISFIED);

    // A session with C-MAC: a command without its MAC, or with a bad one,
    // is refused and ends the session (Amendment D 7.1.3).
    let Some(mut gp) = session(&mut card, 0x01) else { return };
    let plain = Command::new(0x80, gp::GET_STATUS, 0x80, 0x02).with_data(vec![0x4F, 0]).with_ne(256);
    let r = gp.transport_mut().transmit(&plain.to_bytes()).unwrap();
    assert_eq!(r[r.len() - 2..], [0x69, 0x82], "no C-MAC at level 01");
    assert_eq!(gp.status(StatusScope::Isd).map_err(|e| e.sw()).unwrap_err(), Some(Sw::SECURITY_STATUS_NOT_SATISFIED));
    let Some(mut gp) = session(&mut card, 0x01) else { return };
    let wire = [0x84, 0xF2, 0x80, 0x02, 0x0A, 0x4F, 0x00, 1, 2, 3, 4, 5, 6, 7, 8, 0x00];
    let r = gp.transport_mut().transmit(&wire).unwrap();
    assert_eq!(r[r.len() - 2..], [0x69, 0x82], "a forged C-MAC");
    // A PIV command under the ISD: not the ISD's (6D00).
    let Some(mut gp) = session(&mut card, 0x00) else { return };
    assert_eq!(sw(&mut gp, "00 20 00 80 00"), Sw::INS_NOT_SUPPORTED);
}

#[test]
fn get_status_lists_the_registry_in_both_formats() {
    let mut card = live_card!(Profile::Piv);
    let Some(mut gp) = session(&mut card, 0x01) else { return };
    let isd = gp.status(StatusScope::Isd).unwrap();
    assert_eq!(isd.len(), 1);
    assert_eq!(isd[0].aid, ISD_AID);
    let files = gp.status(StatusScope::LoadFilesAndModules).unwrap();
    let apps = gp.status(StatusScope::Applications).unwrap();
    for app in &apps {
        let file = app.load_file.as_ref().expect("an application names its load file (C4)");
        assert!(files.iter().any(|f| &f.aid == file), "{:02X?}'s load file is listed", app.aid);
    }
    assert!(files.iter().all(|f| !f.modules.is_empty()), "P1 10 lists modules (84)");
    // The legacy format (P2 00, GPCS Table 11-36): length, AID, life cycle, privileges.
    let r = send(&mut gp, "80 F2 80 00 02 4F 00 00");
    assert_eq!(r.sw, Sw::OK);
    assert_eq!(r.data[0] as usize, ISD_AID.len());
    assert_eq!(r.data[1..9], ISD_AID);
    // Bad P1, missing search criteria, a prefix nothing has (GPCS 11.4.3).
    assert_eq!(sw(&mut gp, "80 F2 08 02 02 4F 00 00"), Sw::INCORRECT_P1_P2);
    assert_eq!(sw(&mut gp, "80 F2 80 02 00"), Sw::INCORRECT_DATA);
    assert_eq!(sw(&mut gp, "80 F2 40 02 04 4F 02 B0 B0 00"), Sw::REFERENCE_NOT_FOUND);
}

#[test]
fn a_locked_application_cannot_be_selected_until_unlocked() {
    let mut card = live_card!(Profile::Piv);
    if not_on_phone("select the ISD or lock the applet it talks to") {
        return;
    }
    let Some(mut gp) = session(&mut card, 0x03) else { return };
    let piv = applet_spec::piv::PIV_AID;
    gp.lock_application(&piv, true).unwrap();
    let listed = gp.status(StatusScope::Applications).unwrap();
    let entry = listed.iter().find(|a| a.aid == piv).unwrap();
    assert_eq!(entry.life_cycle & gp::app_state::LOCKED, gp::app_state::LOCKED, "GPCS Table 11-7: b8 locked");
    // The ISD is not an application SET STATUS 40 may lock.
    assert_eq!(sw(&mut gp, "80 F0 40 80 08 A000000151000000"), Sw::CONDITIONS_NOT_SATISFIED);
    assert_eq!(sw(&mut gp, "80 F0 40 80 05 A000000999"), Sw::REFERENCE_NOT_FOUND);
    drop(gp);
    assert_eq!(refused(card.select()), Sw::FILE_NOT_FOUND, "GPCS 5.3.1.3: a locked application is not selectable");
    let Some(mut gp) = session(&mut card, 0x03) else { return };
    gp.lock_application(&piv, false).unwrap();
    drop(gp);
    card.select().unwrap();
}

#[test]
fn a_locked_card_answers_only_its_isd_until_unlocked() {
    let mut card = live_card!(Profile::Piv);
    if not_on_phone("select the ISD") {
        return;
    }
    let Some(mut gp) = session(&mut card, 0x13) else { return };
    gp.set_card_life_cycle(CardLifeCycle::CardLocked).unwrap();
    assert_eq!(gp.life_cycle().unwrap(), CardLifeCycle::CardLocked);
    // Back to an earlier state than SECURED: not a transition GPCS 5.1.1 has.
    assert_eq!(
        gp.set_card_life_cycle(CardLifeCycle::Initialized).unwrap_err().sw(),
        Some(Sw::CONDITIONS_NOT_SATISFIED)
    );
    drop(gp);
    assert_eq!(refused(card.select()), Sw::FILE_NOT_FOUND, "GPCS 5.1.1.4: only the ISD is selectable");
    let Some(mut gp) = session(&mut card, 0x13) else { return };
    gp.set_card_life_cycle(CardLifeCycle::Secured).unwrap();
    drop(gp);
    card.select().unwrap();
}

#[test]
fn a_wrong_host_cryptogram_spends_a_try_and_a_right_one_gives_it_back() {
    let mut card = live_card!(Profile::Piv);
    let Some(mut gp) = isd(&mut card) else { return };
    // Right keys for the card cryptogram, then a forged EXTERNAL AUTHENTICATE.
    let r = send(&mut gp, "80 50 00 00 08 0102030405060708 00");
    assert_eq!(r.sw, Sw::OK);
    assert_eq!(sw(&mut gp, "84 82 01 00 10 00000000000000000000000000000000"), Sw::AUTHENTICATION_FAILED);
    // The session is gone: EXTERNAL AUTHENTICATE again needs INITIALIZE UPDATE.
    assert_eq!(sw(&mut gp, "84 82 01 00 10 00000000000000000000000000000000"), Sw::CONDITIONS_NOT_SATISFIED);
    drop(gp);
    let Some(_) = session(&mut card, 0x01) else { return };
}
