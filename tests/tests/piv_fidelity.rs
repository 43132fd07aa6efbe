//! Where SP 800-73-4 is clear, the card follows it. Each test cites the
//! clause it checks (part 1: data model; part 2: card commands). Plain PIV
//! behaviour: every test here runs on the `piv` profile, on any PIV card.

use applet_spec::apdu::Command;
use applet_spec::messages::{self, DynamicAuth};
use applet_spec::mgm;
use applet_spec::piv::{MgmAlgorithm, ObjectTag, DEFAULT_MGM_KEY};
use applet_spec::Sw;
use subsim_conformance::{admin_card, finding, fresh_card, raw, send, Card, Profile};

fn get(card: &mut Card, tag: ObjectTag) -> applet_spec::Response {
    send(card, Command::new(0, 0xCB, 0x3F, 0xFF).with_data(messages::get_data_request(tag)).with_ne(256))
}

fn pin_status(card: &mut Card) -> Sw {
    raw(card, "00 20 00 80").sw
}

/// Part 1, table 3 ("access rule for read"): fingerprints 5FC103, facial
/// image 5FC108 and iris images 5FC121 need the PIN; printed information
/// 5FC109 and the pairing code reference data 5FC123 need the PIN or OCC.
/// Part 2, 3.1.2: without it GET DATA answers 6982.
#[test]
fn pin_protected_objects_answer_6982_until_the_pin_is_verified() {
    let mut card = admin_card!(Profile::Piv);
    for tag in ObjectTag::PIN_PROTECTED {
        card.write_object(tag, &[0xBA, 0x01, 0x02]).unwrap();
        assert_eq!(get(&mut card, tag).sw, Sw::SECURITY_STATUS_NOT_SATISFIED, "{tag:X?} without the PIN");
    }
    card.verify_pin(b"123456").unwrap();
    for tag in ObjectTag::PIN_PROTECTED {
        let r = get(&mut card, tag);
        assert_eq!((r.sw, r.data), (Sw::OK, vec![0x53, 3, 0xBA, 1, 2]), "{tag:X?} with the PIN");
    }
    // Logging out (part 2, 3.2.1: P1 FF resets the security status) closes them again.
    assert_eq!(raw(&mut card, "00 20 FF 80").sw, Sw::OK);
    for tag in ObjectTag::PIN_PROTECTED {
        assert_eq!(get(&mut card, tag).sw, Sw::SECURITY_STATUS_NOT_SATISFIED, "{tag:X?} after log-out");
    }
}

/// Part 1, table 3: the CHUID, CCC, certificates, discovery object, security
/// object and key history are readable always ("Always").
#[test]
fn always_readable_objects_need_no_pin() {
    let mut card = admin_card!(Profile::Piv);
    for tag in [ObjectTag::SECURITY_OBJECT, ObjectTag::KEY_HISTORY, ObjectTag::CERT_9A, ObjectTag(0x5FC10D)] {
        card.write_object(tag, &[0x01]).unwrap();
    }
    for tag in [
        ObjectTag::CHUID,
        ObjectTag::CCC,
        ObjectTag::DISCOVERY,
        ObjectTag::SECURITY_OBJECT,
        ObjectTag::KEY_HISTORY,
        ObjectTag::CERT_9A,
        ObjectTag(0x5FC10D),
    ] {
        assert_eq!(get(&mut card, tag).sw, Sw::OK, "{tag:X?}");
    }
    let tries = card.pin_tries;
    assert!(matches!(pin_status(&mut card), sw if sw.retries() == Some(tries)), "nothing verified on the way");
}

/// An absent PIN-protected object: the access rule comes first (6982) or
/// absence (6A82); both leave the PIN unverified.
#[test]
fn absent_pin_protected_objects_tell_nothing_without_the_pin() {
    let mut card = fresh_card!(Profile::Piv);
    for tag in ObjectTag::PIN_PROTECTED {
        let sw = get(&mut card, tag).sw;
        assert!([Sw::SECURITY_STATUS_NOT_SATISFIED, Sw::FILE_NOT_FOUND].contains(&sw), "{tag:X?}: {sw}");
    }
}

/// Part 1, 3.1 and table 8: the Card Capability Container is mandatory, so
/// a card has it from manufacture: card identifier F0 (21 bytes starting
/// with the GSC-RID A0 00 00 01 16), container version F1, grammar version
/// F2, data model F5 = 10.
#[test]
fn the_ccc_exists_from_manufacture() {
    let mut card = fresh_card!(Profile::Piv);
    let value = card.read_object(ObjectTag::CCC).unwrap().expect("5FC107 present on a new card");
    let items = applet_spec::tlv::flat::parse(&value).unwrap();
    let find = |t| applet_spec::tlv::flat::find(&items, t);
    let id = find(0xF0).expect("F0 card identifier");
    assert!(id.len() == 21 && id.starts_with(&[0xA0, 0x00, 0x00, 0x01, 0x16]), "F0 = {id:02X?} (table 8: 21 bytes)");
    assert!(find(0xF1).is_some() && find(0xF2).is_some());
    assert_eq!(find(0xF5), Some(&[0x10][..]));
    assert!(find(0xFE).is_some(), "FE error detection code");
}

/// SP 800-78-4 table 6-2: algorithm identifier 00 is 3-key Triple DES-ECB,
/// like 03; SP 800-73-4 part 2, 3.2.4: P1 is the algorithm reference.
#[test]
fn p1_00_authenticates_a_3des_management_key() {
    let mut card = fresh_card!(Profile::Piv);
    let alg = MgmAlgorithm::TripleDes;
    let step1 = send(&mut card, Command::new(0, 0x87, 0x00, 0x9B).with_data(vec![0x7C, 0x02, 0x80, 0x00]).with_ne(256));
    // A card may leave out the deprecated identifier 00 (6A86), as it may any algorithm.
    card.judge("00 87 00 9B", step1.sw, "SP 800-78-4, Table 6-2", &[Sw::OK], &[Sw::INCORRECT_P1_P2]);
    if step1.sw != Sw::OK {
        return;
    }
    let witness = DynamicAuth::decode(&step1.data).unwrap().witness.unwrap();
    let plain = mgm::decrypt_block(alg, &DEFAULT_MGM_KEY, &witness).unwrap();
    let challenge = vec![0x5A; 8];
    let req = DynamicAuth { witness: Some(plain), challenge: Some(challenge.clone()), response: None };
    let step2 = send(&mut card, Command::new(0, 0x87, 0x00, 0x9B).with_data(req.encode()).with_ne(256));
    assert_eq!(step2.sw, Sw::OK);
    let response = DynamicAuth::decode(&step2.data).unwrap().response.unwrap();
    assert_eq!(Some(response), mgm::encrypt_block(alg, &DEFAULT_MGM_KEY, &challenge));
    // Authenticated: PUT DATA works.
    card.write_object(ObjectTag::KEY_HISTORY, &[0xC1, 1, 0]).unwrap();
}

/// SP 800-78-4 table 6-2: 00 names Triple DES only; with an AES key, P1 00
/// does not match the key (SP 800-73-4 part 2, 3.2.4). Setting the key is
/// Yubico's SET MANAGEMENT KEY.
#[test]
fn p1_00_is_not_aes() {
    let mut card = admin_card!(Profile::Yubico);
    card.set_management_key(MgmAlgorithm::Aes128, &[9; 16]).unwrap();
    let sw = raw(&mut card, "00 87 00 9B 04 7C 02 80 00").sw;
    card.judge("00 87 00 9B (AES key)", sw, "SP 800-73-4 Part 2, 3.2.4", &[Sw::INCORRECT_P1_P2], &[Sw::INCORRECT_DATA]);
}

/// Part 1, table 3 lists the BIT group template 7F61; part 2, 3.1.2: a
/// data object the card does not hold is 6A82, not 6A80 (the tag is valid).
#[test]
fn get_data_of_an_absent_7f61_answers_6a82() {
    let mut card = fresh_card!(Profile::Piv);
    assert_eq!(raw(&mut card, "00 CB 3F FF 04 5C 02 7F 61 00").sw, Sw::FILE_NOT_FOUND);
    // An incomplete BER tag is malformed data (6A80); a card that reads it
    // as some tag it lacks says 6A82.
    let sw = raw(&mut card, "00 CB 3F FF 04 5C 02 5F C1 00").sw;
    card.judge("00 CB 5C 02 5F C1", sw, "SP 800-73-4 Part 2, 3.1.2", &[Sw::INCORRECT_DATA], &[Sw::FILE_NOT_FOUND]);
}

/// Part 2, 3.2.3: when the PUK is wrong and the new PIN malformed, the card
/// may answer 6A80 (nothing counted) or 63CX (the PUK counted); a YubiKey
/// checks and counts the PUK first, and `ykman piv reset` relies on it to
/// block the PUK with `00 2C 00 80 10 <wrong PUK> FF..FF`. 63CX also sets
/// the PIN's security status FALSE.
#[test]
fn reset_retry_counter_counts_the_puk_before_looking_at_the_new_pin() {
    let mut card = fresh_card!(Profile::Piv);
    card.verify_pin(b"123456").unwrap();
    let wrong_puk_no_pin = "00 2C 00 80 10 3030303030303030 FFFFFFFFFFFFFFFF";
    let first = raw(&mut card, wrong_puk_no_pin).sw;
    // The PUK's try count, read from the card's own answer.
    let Some(left) = first.retries() else {
        // 6A80: the clause lets a card look at the new PIN first, counting nothing.
        assert!(first == Sw::INCORRECT_DATA && !card.has(Profile::Subsim), "wrong PUK, malformed PIN: {first}");
        finding(
            "00 2C (wrong PUK, malformed PIN)",
            first,
            "SP 800-73-4 Part 2, 3.2.3",
            "the new PIN checked first, the PUK not counted (ykman's reset cannot block the PUK this way)",
        );
        return;
    };
    let tries = card.pin_tries;
    assert_eq!(pin_status(&mut card), Sw::tries_left(tries), "63CX cleared the PIN's verified state");
    // A right PUK with a malformed new PIN: 6A80, the PUK's counter as it was.
    assert_eq!(raw(&mut card, "00 2C 00 80 10 3132333435363738 FFFFFFFFFFFFFFFF").sw, Sw::INCORRECT_DATA);
    for n in (0..left).rev() {
        assert_eq!(raw(&mut card, wrong_puk_no_pin).sw, Sw::tries_left(n), "the right PUK gave no try back");
    }
    let blocked = raw(&mut card, wrong_puk_no_pin).sw;
    card.judge("00 2C (PUK blocked)", blocked, "SP 800-73-4 Part 2, 3.2.3", &[Sw::AUTH_METHOD_BLOCKED], &[Sw(0x63C0)]);
    let sw = raw(&mut card, "00 2C 00 80 10 3132333435363738 3131313131313131").sw;
    card.judge(
        "00 2C (PUK blocked, right PUK)",
        sw,
        "SP 800-73-4 Part 2, 3.2.3",
        &[Sw::AUTH_METHOD_BLOCKED],
        &[Sw(0x63C0)],
    );
    // Data of the wrong length is still refused before anything is counted
    // (6A80; ISO 7816-4's 6700 fits too).
    let sw = raw(&mut card, "00 2C 00 80 08 3132333435363738").sw;
    card.judge("00 2C (8 bytes)", sw, "SP 800-73-4 Part 2, 3.2.3", &[Sw::INCORRECT_DATA], &[Sw::WRONG_LENGTH]);
}

/// Part 2, 3.2.2 (CHANGE REFERENCE DATA): "If the card command succeeds,
/// then the security status of the key reference shall be set to TRUE";
/// on 63CX it is set FALSE; on 6A80 (a malformed new value) it and the
/// retry counter stay unchanged. The card follows it (documented in
/// docs/applet-spec.md); an applet that logs the PIN out instead deviates.
#[test]
fn change_reference_data_sets_the_security_status_as_the_standard_says() {
    let mut card = fresh_card!(Profile::Piv);
    card.change_pin(b"123456", b"24680135").unwrap();
    assert_eq!(pin_status(&mut card), Sw::OK, "success: verified");
    // A malformed new PIN: 6A80, still verified, nothing counted.
    assert_eq!(raw(&mut card, "00 24 00 80 10 3234363830313335 3132FFFFFFFFFFFF").sw, Sw::INCORRECT_DATA);
    assert_eq!(pin_status(&mut card), Sw::OK);
    // A wrong current PIN: 63CX (one try spent; 6300, the count untold, is
    // ISO 7816-4's too), not verified any more.
    let left = card.pin_tries - 1;
    let sw = raw(&mut card, "00 24 00 80 10 3131313131313131 3132333435363737").sw;
    card.judge("00 24 00 80 (wrong old PIN)", sw, "SP 800-73-4 Part 2, 3.2.2", &[Sw::tries_left(left)], &[Sw(0x6300)]);
    assert_eq!(pin_status(&mut card), Sw::tries_left(left));
}
