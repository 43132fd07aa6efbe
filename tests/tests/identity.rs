//! SELECT, the application property template, discovery, CHUID, serial, version.

use applet_spec::messages;
use applet_spec::piv::PIV_PIX;
use applet_spec::reports::Discovery;
use applet_spec::Sw;
use subsim_conformance::*;

/// SP 800-73-4 Part 2, 3.1.1 (SELECT); ISO 7816-4, 11.2.2.
const SELECT: &str = "SP 800-73-4 Part 2, 3.1.1";

#[test]
fn select_by_full_aid_and_by_prefix() {
    if not_on_phone("select by a partial AID") {
        return;
    }
    let mut card = live_card!(Profile::Piv);
    let info = card.select().unwrap();
    // The PIX (or the whole AID) in 4F: SP 800-73-4 Part 2, 3.1.1, Table 3.
    assert!(info.aid.windows(4).any(|w| w == &PIV_PIX[..4]), "4F = {:02X?}", info.aid);
    // OpenSC's 9-byte AID and Yubico's truncated 5-byte AID (ISO 7816-4,
    // 11.2.2.2: selection by the first bytes of a DF name).
    let r = card.expect("00 A4 04 00 09 A0 00 00 03 08 00 00 10 00 00", SELECT, &[Sw::OK], &[]);
    let answer = messages::parse_select_response(&r.data).unwrap();
    assert_eq!(answer.aid, info.aid);
    // Table 5: one algorithm per AC template (`AC { 80 <alg> 06 <oid> }`).
    let t = applet_spec::tlv::parse_one(&r.data).unwrap();
    let templates = applet_spec::tlv::children(&t, messages::TAG_APT).unwrap();
    for ac in templates.iter().filter(|i| applet_spec::tlv::is(i, messages::TAG_ALGORITHMS)) {
        let n = applet_spec::tlv::children(ac, messages::TAG_ALGORITHMS)
            .map_or(0, |c| c.iter().filter(|i| applet_spec::tlv::is(i, messages::TAG_ALGORITHM)).count());
        if n != 1 {
            assert!(!card.has(Profile::Subsim), "a sub-SIM lists one algorithm per AC template, not {n}");
            finding(
                "SELECT",
                Sw::OK,
                "SP 800-73-4 Part 2, 3.1.1, Table 5",
                &format!("an AC template with {n} algorithms"),
            );
        }
    }
    if card.has(Profile::Subsim) {
        // Table 3's tags only; the serial and change counter are object 5FFF20.
        assert!(!info.label.is_empty());
        assert!(answer.unknown.is_empty(), "tags outside table 3: {:02X?}", answer.unknown);
        assert_eq!(card.card_state().unwrap().map(|c| c.serial), Some(card.serial().unwrap()));
        // The list names what the card has (tests/algorithms.rs holds it to
        // that): the sub-SIM's login and transfer keys and every management
        // key algorithm on any platform, and no identifier it does not know.
        use applet_spec::piv::{KeyAlgorithm, MgmAlgorithm};
        for k in [KeyAlgorithm::Rsa2048, KeyAlgorithm::EccP256] {
            assert!(answer.algorithms.contains(&k.id()), "{k:?} missing from the AC templates");
        }
        for m in MgmAlgorithm::ALL {
            assert!(answer.algorithms.contains(&m.id()), "{m:?} missing from the AC templates");
        }
        for id in &answer.algorithms {
            let known = KeyAlgorithm::from_id(*id).is_some() || MgmAlgorithm::ALL.iter().any(|m| m.id() == *id);
            assert!(known, "algorithm {id:02X} in the AC templates is none the sub-SIM has");
        }
    }
    // The 5-byte RID alone, as yubico-piv-tool and ykman send it: ISO
    // 7816-4 lets a card refuse partial names (and those tools then fail).
    card.expect("00 A4 04 00 05 A0 00 00 03 08", "ISO 7816-4, 11.2.2.2", &[Sw::OK], &[Sw::FILE_NOT_FOUND]);
    card.expect("00 A4 04 00 04 A0 00 00 03", SELECT, &[Sw::FILE_NOT_FOUND], &[Sw::INCORRECT_DATA]);
    // Selection by file identifier: not a PIV selection.
    let by_fid = &[Sw::INCORRECT_P1_P2][..];
    card.expect("00 A4 00 00 02 3F 00", SELECT, by_fid, &[Sw::FILE_NOT_FOUND, Sw(0x6A81), Sw::INS_NOT_SUPPORTED]);
    // P2=0C: selected, no answer data (ISO 7816-4, 11.2.2, Table 63).
    let r = raw(&mut card, "00 A4 04 0C 09 A0 00 00 03 08 00 00 10 00");
    if (r.sw == Sw::OK && !r.data.is_empty()) || r.sw.remaining().is_some() {
        assert!(!card.has(Profile::Subsim), "P2=0C: a sub-SIM sends no data");
        finding("00 A4 04 0C", r.sw, "ISO 7816-4, 11.2.2, Table 63", "P2=0C asks for no data, the card sent some");
    } else {
        card.judge("00 A4 04 0C", r.sw, SELECT, &[Sw::OK], &[Sw::INCORRECT_P1_P2, Sw(0x6A81)]);
    }
    // P2=02 (next occurrence): PIV knows only P2=00 and 0C. A card that
    // ignores P2 selects anyway (9000, or 61xx with the answer waiting).
    let r = raw(&mut card, "00 A4 04 02 09 A0 00 00 03 08 00 00 10 00");
    let sw = if r.sw.remaining().is_some() { Sw::OK } else { r.sw };
    card.judge("00 A4 04 02", sw, SELECT, &[Sw::INCORRECT_P1_P2], &[Sw::OK, Sw(0x6A81)]);
    // Whatever the probes did, PIV is selected again.
    card.select().unwrap();
}

#[test]
fn foreign_select_keeps_applet_and_security_state() {
    if not_on_phone("select another applet") {
        return;
    }
    let mut card = fresh_card!(Profile::Piv);
    card.verify_pin(b"123456").unwrap();
    admin(&mut card);
    // Yubico OTP, Yubico management, an unknown AID; then OpenSC's EstEID
    // probe (P2=0C). Not here: 6A82 (ISO 7816-4, 11.2.2). A runtime that
    // hands SELECT to the applet may answer 6D00.
    for apdu in [
        "00 A4 04 00 08 A0 00 00 05 27 20 01 01",
        "00 A4 04 00 08 A0 00 00 05 27 47 11 17",
        "00 A4 04 00 06 A0 00 00 00 01 01",
        "00 A4 04 0C 0F D2 33 00 00 00 45 73 74 45 49 44 20 76 33 35",
    ] {
        card.expect(apdu, "ISO 7816-4, 11.2.2", &[Sw::FILE_NOT_FOUND], &[Sw::INS_NOT_SUPPORTED, Sw(0x6A81)]);
    }
    // Still selected, PIN still verified (ISO 7816-4, 7.1.1: a failed
    // selection leaves the current one), management key still authenticated.
    card.expect("00 20 00 80", "ISO 7816-4, 7.1.1", &[Sw::OK], &[]);
    let r = card.write_certificate(applet_spec::piv::Slot::CardAuthentication, &[0x30, 0]);
    assert!(r.is_ok(), "the management key's authentication was lost: {r:?}");
}

#[test]
fn reselect_keeps_pin_verified() {
    let mut card = fresh_card!(Profile::Piv);
    card.verify_pin(b"123456").unwrap();
    card.select().unwrap();
    // SP 800-73-4 Part 2, 3.1.1: selecting the active PIV application again
    // keeps its security status.
    card.expect("00 20 00 80", SELECT, &[Sw::OK], &[]);
}

#[test]
fn commands_before_select_are_unknown() {
    let mut card = live_card!(Profile::Piv);
    card.transport_mut().reset().unwrap();
    // No application selected: the card does not know VERIFY (6D00), or an
    // implicitly selected application answers it (ISO 7816-4, 8.4: a card
    // may select an application at reset).
    let r = raw(&mut card, "00 20 00 80");
    let implicit = r.sw.retries().is_some() || r.sw == Sw::AUTH_METHOD_BLOCKED;
    if implicit {
        finding("00 20 00 80 before SELECT", r.sw, "ISO 7816-4, 8.4", "PIV answers before SELECT (implicit selection)");
    } else {
        card.judge(
            "00 20 00 80 before SELECT",
            r.sw,
            "ISO 7816-4, 8.4",
            &[Sw::INS_NOT_SUPPORTED],
            // ISO 7816-4, 5.6, Table 6: 6986 "command not allowed (no current EF)" fits too.
            &[Sw::CLA_NOT_SUPPORTED, Sw(0x6A81), Sw::CONDITIONS_NOT_SATISFIED, Sw::FILE_NOT_FOUND, Sw(0x6986)],
        );
    }
    card.select().unwrap();
    let r = raw(&mut card, "00 20 00 80");
    assert!(r.sw.retries().is_some() || r.sw == Sw::AUTH_METHOD_BLOCKED, "VERIFY status after SELECT: {}", r.sw);
}

#[test]
fn discovery_chuid_serial_version() {
    let mut card = live_card!(Profile::Piv);
    // Discovery object: optional (SP 800-73-4 Part 1, 3.3.2); when there,
    // 7E { 4F <PIV AID>, 5F2F <PIN usage policy> } (table 18), decoded field
    // by field: a value the table allows (a second byte 10, as
    // piv-authenticator sends) passes, a missing or odd field is a finding.
    match card.discovery().unwrap() {
        Some(disc) => {
            if card.has(Profile::Subsim) {
                assert_eq!(disc, Discovery::decode(&messages::discovery_object()).unwrap());
            }
            let aid = disc.aid.as_deref().expect("discovery object with 4F (table 18: mandatory)");
            assert!(aid.starts_with(&applet_spec::piv::PIV_AID[..9]), "discovery names the PIV AID: {aid:02X?}");
            let policy = disc.pin_policy.expect("discovery object with a 2-byte 5F2F (table 18: mandatory)");
            assert!(policy.piv_pin(), "PIN usage policy {policy:?}: the PIV PIN satisfies the ACRs (bit 7)");
            for odd in disc.oddities() {
                finding("GET DATA 7E", Sw::OK, "SP 800-73-4 Part 1, 3.3.2", &odd);
            }
        }
        None => finding("GET DATA 7E", Sw::FILE_NOT_FOUND, "SP 800-73-4 Part 1, 3.3.2", "no discovery object"),
    }
    // Key History: optional (SP 800-73-4 Part 1, 3.3.2, table 19), always
    // readable; decoded field by field, what departs from the table a finding.
    if let Some(history) = card.key_history().unwrap() {
        for odd in history.oddities() {
            finding("GET DATA 5FC10C", Sw::OK, "SP 800-73-4 Part 1, 3.3.2", &odd);
        }
    }
    // CHUID: mandatory (SP 800-73-4 Part 1, 3.1.2), its GUID in tag 34.
    match card.guid() {
        Ok(guid) => assert_ne!(guid, [0; 16]),
        Err(e) if e.sw() == Some(Sw::FILE_NOT_FOUND) && !card.has(Profile::Subsim) => finding(
            "GET DATA 5FC102",
            Sw::FILE_NOT_FOUND,
            "SP 800-73-4 Part 1, 3.1.2",
            "no CHUID (YubiKeys have none until one is written)",
        ),
        Err(e) => panic!("CHUID: {e}"),
    }
    if card.has(Profile::Yubico) {
        // Yubico's GET SERIAL F8 and GET VERSION FD: 4 and 3 bytes.
        assert_ne!(card.serial().unwrap(), 0);
        // Three bytes on YubiKeys; fewer, more or a number no YubiKey has are findings.
        let version = card.version().unwrap();
        if card.has(Profile::Subsim) {
            assert_eq!((version.numbers, version.extra.len()), (applet_spec::piv::VERSION, 0));
        }
        for odd in version.oddities() {
            finding("00 FD 00 00", Sw::OK, "Yubico PIV extensions, GET VERSION", &odd);
        }
        let yubico = "Yubico PIV extensions, GET VERSION";
        card.expect("00 FD 01 00", yubico, &[Sw::INCORRECT_P1_P2], &[Sw::OK, Sw(0x6A81), Sw::INS_NOT_SUPPORTED]);
        // Data where none belongs; a card that ignores it answers the serial
        // (9000, or 61xx with it waiting).
        let r = raw(&mut card, "00 F8 00 00 01 00");
        let sw = if r.sw.remaining().is_some() { Sw::OK } else { r.sw };
        card.judge(
            "00 F8 00 00 01 00",
            sw,
            "Yubico PIV extensions, GET SERIAL",
            &[Sw::WRONG_LENGTH],
            &[Sw::OK, Sw::INCORRECT_DATA],
        );
    }
}

#[test]
fn two_simulated_cards_differ() {
    if !sim_only("needs two cards") {
        return;
    }
    let identity = || {
        let mut c = try_card(Needs::live(Profile::Piv)).unwrap();
        (c.serial().unwrap(), c.guid().unwrap())
    };
    let other = std::thread::Builder::new().name("another card".into()).spawn(identity).unwrap().join().unwrap();
    assert_ne!(identity(), other);
}

#[test]
fn status_reports_factory_state() {
    let mut card = fresh_card!(Profile::Subsim);
    let s = card.status().unwrap();
    assert_eq!((s.pin_tries, s.puk_tries, s.keys, s.certs, s.pin_verified), (3, 3, 0, 0, false));
    assert_eq!(s.pin_entry, messages::PinEntry::Any);
    assert_eq!(s.binding, messages::BindingState::None);
    assert_eq!(s.mgm_algorithm, applet_spec::piv::MgmAlgorithm::TripleDes);
}
