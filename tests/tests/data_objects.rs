//! GET DATA and PUT DATA: certificate objects of every slot, absent objects,
//! write protection and size limits.

use applet_spec::apdu::Command;
use applet_spec::messages;
use applet_spec::piv::{ObjectTag, Slot, MAX_OBJECT_LEN};
use applet_spec::Sw;
use subsim_conformance::*;

/// SP 800-73-4 Part 2, 3.1.2 (GET DATA).
const GET_DATA: &str = "SP 800-73-4 Part 2, 3.1.2";
/// SP 800-73-4 Part 2, 3.3.1 (PUT DATA).
const PUT_DATA: &str = "SP 800-73-4 Part 2, 3.3.1";

#[test]
fn certificates_of_every_slot_round_trip() {
    let mut card = admin_card!(Profile::Piv);
    let changes = card.has(Profile::Subsim).then(|| card.status().unwrap().changes);
    for (i, slot) in Slot::ALL.into_iter().enumerate() {
        assert_eq!(card.read_certificate(slot).unwrap(), None, "{slot:?} on a fresh card");
        let der = vec![0x30 + i as u8; 700 + i * 300];
        card.write_certificate(slot, &der).unwrap();
        assert_eq!(card.read_certificate(slot).unwrap().unwrap(), der);
    }
    if let Some(changes) = changes {
        let s = card.status().unwrap();
        assert_eq!((s.certs, s.changes - changes), (0x0F, 4));
    }
}

#[test]
fn certificate_objects_use_piv_tags() {
    let mut card = admin_card!(Profile::Piv);
    card.write_certificate(Slot::Signature, &[0x30, 0x03, 1, 2, 3]).unwrap();
    // 5FC10A is slot 9C's certificate (SP 800-73-4 Part 1, Table 3); its
    // value 53 { 70 cert, 71 CertInfo, FE EDC } (Part 1, Appendix A).
    let r = card.expect("00 CB 3F FF 05 5C 03 5F C1 0A 00", GET_DATA, &[Sw::OK], &[]);
    assert_eq!(r.data, [0x53, 0x0C, 0x70, 0x05, 0x30, 0x03, 1, 2, 3, 0x71, 0x01, 0x00, 0xFE, 0x00]);
}

#[test]
fn absent_objects_answer_6a82() {
    let mut card = fresh_card!(Profile::Piv);
    // No certificate on a fresh card: 6A82 (3.1.2).
    for tag in ["5F C1 05", "5F C1 0A", "5F C1 0B", "5F C1 01"] {
        card.expect(&format!("00 CB 3F FF 05 5C 03 {tag} 00"), GET_DATA, &[Sw::FILE_NOT_FOUND], &[]);
    }
    if card.has(Profile::Yubico) {
        // Yubico's admin data: absent after a reset (6A80 from a card that
        // does not know Yubico's object range).
        let yubico = "Yubico PIV extensions, objects 5FFFxx";
        card.expect("00 CB 3F FF 05 5C 03 5F FF 00 00", yubico, &[Sw::FILE_NOT_FOUND], &[Sw::INCORRECT_DATA]);
    }
    // The Card Capability Container is mandatory (SP 800-73-4 Part 1,
    // 3.1.1), but many cards ship without one: both pass, absence is a finding.
    let r = raw(&mut card, "00 CB 3F FF 05 5C 03 5F C1 07 00");
    match r.sw {
        Sw::OK => assert_eq!(r.data.first(), Some(&0x53), "CCC {:02X?}", r.data),
        // A sub-SIM is ours to hold to the letter: it has the CCC from manufacture.
        Sw::FILE_NOT_FOUND if card.has(Profile::Subsim) => panic!("no CCC on a sub-SIM (SP 800-73-4 Part 1, 3.1.1)"),
        Sw::FILE_NOT_FOUND => finding("00 CB 3F FF 5C 03 5FC107", r.sw, "SP 800-73-4 Part 1, 3.1.1", "no CCC"),
        sw if sw.remaining().is_some() => {}
        sw => panic!("GET DATA of the CCC: {sw} [{GET_DATA}]"),
    }
}

#[test]
fn every_object_reads_as_53_or_is_absent_or_protected() {
    let mut card = live_card!(Profile::Piv);
    // The PIV data model (SP 800-73-4 Part 1, Table 3): CHUID, CCC,
    // certificates, security object, key history, retired certificates.
    // Present: 53 { ... } (Part 2, 3.1.2); absent: 6A82; fingerprints,
    // facial image, printed information, iris, pairing code reference data:
    // 6982 without the PIN (or OCC).
    let protected = [0x5FC103, 0x5FC108, 0x5FC109, 0x5FC121, 0x5FC123];
    // 5FC104 is not in the table.
    for tag in (0x5FC101..=0x5FC123).filter(|t| *t != 0x5FC104) {
        let cmd = Command::new(0, 0xCB, 0x3F, 0xFF).with_data(messages::get_data_request(ObjectTag(tag))).with_ne(256);
        let r = send(&mut card, cmd);
        let allowed: &[Sw] = if protected.contains(&tag) {
            &[Sw::OK, Sw::FILE_NOT_FOUND, Sw::SECURITY_STATUS_NOT_SATISFIED]
        } else {
            &[Sw::OK, Sw::FILE_NOT_FOUND]
        };
        card.judge(
            &format!("GET DATA {tag:06X}"),
            r.sw,
            GET_DATA,
            allowed,
            &[Sw::INCORRECT_DATA, Sw::SECURITY_STATUS_NOT_SATISFIED],
        );
        if r.sw == Sw::OK {
            assert_eq!(r.data.first(), Some(&0x53), "GET DATA {tag:06X}: {:02X?}", &r.data[..r.data.len().min(8)]);
        }
    }
}

#[test]
fn empty_value_deletes() {
    // Yubico's tools delete an object by writing it empty.
    let mut card = admin_card!(Profile::Yubico);
    card.write_certificate(Slot::Authentication, &[0x30, 0]).unwrap();
    card.write_object(ObjectTag::CERT_9A, &[]).unwrap();
    let r = card.expect(
        "00 CB 3F FF 05 5C 03 5F C1 05 00",
        "Yubico PIV, deleting an object",
        &[Sw::FILE_NOT_FOUND],
        &[Sw::OK],
    );
    if r.sw == Sw::OK {
        // Kept as an empty object rather than deleted.
        assert_eq!(r.data, [0x53, 0x00], "what an empty write left");
    }
}

#[test]
fn put_data_needs_the_management_key() {
    let mut card = fresh_card!(Profile::Piv);
    card.verify_pin(b"123456").unwrap();
    // Write access of every object: the card management key (SP 800-73-4
    // Part 1, 3.5, Table 6); else 6982 (Part 2, 3.3.1).
    let sw = refused(card.write_certificate(Slot::Authentication, &[0x30, 0]));
    card.judge("PUT DATA 5FC105", sw, PUT_DATA, &[Sw::SECURITY_STATUS_NOT_SATISFIED], &[]);
    assert_eq!(card.read_certificate(Slot::Authentication).unwrap(), None);
}

#[test]
fn put_data_shape_errors() {
    let mut card = admin_card!(Profile::Piv);
    // The discovery object is written at issuance, not through 5C tags:
    // 6A80 (wrong data) or 6A81 (not supported) both say so.
    let discovery = card.read_object(ObjectTag::DISCOVERY).unwrap();
    let sw = card.write_object(ObjectTag::DISCOVERY, &[1]).err().and_then(|e| e.sw()).unwrap_or(Sw::OK);
    let clause = &[Sw::INCORRECT_DATA, Sw(0x6A81)];
    card.judge("PUT DATA 5C 01 7E", sw, PUT_DATA, clause, &[Sw::OK, Sw::SECURITY_STATUS_NOT_SATISFIED]);
    if sw == Sw::OK {
        // The card took it: put the discovery object back for the tests after
        // this one (a factory reset need not restore it).
        let old = discovery.as_deref().and_then(|d| d.get(2..)).unwrap_or(&[]);
        card.write_object(ObjectTag::DISCOVERY, old).unwrap();
    }
    // A tag outside the PIV data model.
    let sw = refused(card.write_object(ObjectTag(0x5FC200), &[1]));
    card.judge(
        "PUT DATA 5C 03 5FC200",
        sw,
        PUT_DATA,
        &[Sw::INCORRECT_DATA],
        &[Sw::FILE_NOT_FOUND, Sw(0x6A81), Sw::REFERENCE_NOT_FOUND],
    );
    // No 53, wrong P2.
    card.expect("00 DB 3F FF 05 5C 03 5F C1 05", PUT_DATA, &[Sw::INCORRECT_DATA], &[Sw::WRONG_LENGTH]);
    card.expect("00 DB 3F 00 07 5C 03 5F C1 05 53 00", PUT_DATA, &[Sw::INCORRECT_P1_P2], &[Sw(0x6B00), Sw(0x6A81)]);
}

#[test]
fn object_size_limit() {
    // The sub-SIM's limit is its own; other cards' differ.
    let mut card = admin_card!(Profile::Subsim);
    assert_eq!(refused(card.write_object(ObjectTag::CERT_9A, &vec![0; MAX_OBJECT_LEN + 1])), Sw::NOT_ENOUGH_MEMORY);
    card.write_object(ObjectTag::CERT_9A, &vec![0; MAX_OBJECT_LEN]).unwrap();
}

#[test]
fn chuid_can_be_rewritten() {
    let mut card = admin_card!(Profile::Piv);
    card.write_object(ObjectTag::CHUID, &messages::chuid(&[9; 16])).unwrap();
    assert_eq!(card.guid().unwrap(), [9; 16]);
}

#[test]
fn guid_survives_terminate() {
    let mut card = admin_card!(Profile::Subsim);
    let guid = card.guid().unwrap();
    card.write_object(ObjectTag::CHUID, &messages::chuid(&[9; 16])).unwrap();
    card.terminate().unwrap();
    assert_eq!(card.guid().unwrap(), guid);
}

#[test]
fn certificates_as_pem() {
    let mut card = admin_card!(Profile::Piv);
    let der = vec![0x30, 0x82, 0x01, 0x00, 0xAB, 0xCD];
    let pem = "-----BEGIN CERTIFICATE-----\nMIIBAKvN\n-----END CERTIFICATE-----\n";
    card.write_certificate_pem(Slot::KeyManagement, pem).unwrap();
    assert_eq!(card.read_certificate(Slot::KeyManagement).unwrap().unwrap(), der);
    assert_eq!(card.read_certificate_pem(Slot::KeyManagement).unwrap().unwrap(), pem);
    assert!(card.write_certificate_pem(Slot::KeyManagement, "not pem").is_err());
    let key = "-----BEGIN PRIVATE KEY-----\nMIIBAKvN\n-----END PRIVATE KEY-----\n";
    assert!(card.write_certificate_pem(Slot::KeyManagement, key).is_err());
    if card.has(Profile::Subsim) {
        let info = card.info().unwrap();
        assert_eq!(info.certificates(), vec![Slot::KeyManagement]);
        assert!(info.keys().is_empty());
        assert_eq!(info.version.numbers, applet_spec::piv::VERSION);
    }
}
