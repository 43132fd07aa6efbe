//! GET DATA and PUT DATA: certificate objects of every slot, absent objects,
//! write protection and size limits.

use applet_spec::messages;
use applet_spec::piv::{ObjectTag, Slot, MAX_OBJECT_LEN};
use applet_spec::Sw;
use subsim_conformance::*;

#[test]
fn certificates_of_every_slot_round_trip() {
    let mut card = admin_card!();
    let changes = card.status().unwrap().changes;
    for (i, slot) in Slot::ALL.into_iter().enumerate() {
        assert_eq!(card.read_certificate(slot).unwrap(), None);
        let der = vec![0x30 + i as u8; 700 + i * 300];
        card.write_certificate(slot, &der).unwrap();
        assert_eq!(card.read_certificate(slot).unwrap().unwrap(), der);
    }
    let s = card.status().unwrap();
    assert_eq!((s.certs, s.changes - changes), (0x0F, 4));
}

#[test]
fn certificate_objects_use_piv_tags() {
    let mut card = admin_card!();
    card.write_certificate(Slot::Signature, &[0x30, 0x03, 1, 2, 3]).unwrap();
    let r = raw(&mut card, "00 CB 3F FF 05 5C 03 5F C1 0A 00");
    assert_eq!(r.sw, Sw::OK);
    assert_eq!(r.data, [0x53, 0x0C, 0x70, 0x05, 0x30, 0x03, 1, 2, 3, 0x71, 0x01, 0x00, 0xFE, 0x00]);
}

#[test]
fn absent_objects_answer_6a82() {
    let mut card = fresh_card!();
    // (5FC107, the CCC, exists from manufacture: SP 800-73-4 part 1, 3.1.)
    for tag in ["5F C1 05", "5F C1 0A", "5F C1 0B", "5F C1 01", "5F FF 00"] {
        assert_eq!(raw(&mut card, &format!("00 CB 3F FF 05 5C 03 {tag} 00")).sw, Sw::FILE_NOT_FOUND, "{tag}");
    }
}

#[test]
fn empty_value_deletes() {
    let mut card = admin_card!();
    card.write_certificate(Slot::Authentication, &[0x30, 0]).unwrap();
    card.write_object(ObjectTag::CERT_9A, &[]).unwrap();
    assert_eq!(card.read_certificate(Slot::Authentication).unwrap(), None);
}

#[test]
fn put_data_needs_the_management_key() {
    let mut card = fresh_card!();
    card.verify_pin(b"123456").unwrap();
    assert_eq!(refused(card.write_certificate(Slot::Authentication, &[0x30, 0])), Sw::SECURITY_STATUS_NOT_SATISFIED);
    assert_eq!(card.read_certificate(Slot::Authentication).unwrap(), None);
}

#[test]
fn put_data_shape_and_size_errors() {
    let mut card = admin_card!();
    assert_eq!(refused(card.write_object(ObjectTag::DISCOVERY, &[1])), Sw::INCORRECT_DATA);
    assert_eq!(refused(card.write_object(ObjectTag(0x5FC200), &[1])), Sw::INCORRECT_DATA);
    assert_eq!(refused(card.write_object(ObjectTag::CERT_9A, &vec![0; MAX_OBJECT_LEN + 1])), Sw::NOT_ENOUGH_MEMORY);
    card.write_object(ObjectTag::CERT_9A, &vec![0; MAX_OBJECT_LEN]).unwrap();
    assert_eq!(raw(&mut card, "00 DB 3F FF 05 5C 03 5F C1 05").sw, Sw::INCORRECT_DATA);
    assert_eq!(raw(&mut card, "00 DB 3F 00 07 5C 03 5F C1 05 53 00").sw, Sw::INCORRECT_P1_P2);
}

#[test]
fn chuid_can_be_rewritten_but_guid_survives_terminate() {
    let mut card = admin_card!();
    let guid = card.guid().unwrap();
    card.write_object(ObjectTag::CHUID, &messages::chuid(&[9; 16])).unwrap();
    assert_eq!(card.guid().unwrap(), [9; 16]);
    card.terminate().unwrap();
    assert_eq!(card.guid().unwrap(), guid);
}

#[test]
fn certificates_as_pem() {
    let mut card = admin_card!();
    let der = vec![0x30, 0x82, 0x01, 0x00, 0xAB, 0xCD];
    let pem = "-----BEGIN CERTIFICATE-----\nMIIBAKvN\n-----END CERTIFICATE-----\n";
    card.write_certificate_pem(Slot::KeyManagement, pem).unwrap();
    assert_eq!(card.read_certificate(Slot::KeyManagement).unwrap().unwrap(), der);
    assert_eq!(card.read_certificate_pem(Slot::KeyManagement).unwrap().unwrap(), pem);
    assert!(card.write_certificate_pem(Slot::KeyManagement, "not pem").is_err());
    let key = "-----BEGIN PRIVATE KEY-----\nMIIBAKvN\n-----END PRIVATE KEY-----\n";
    assert!(card.write_certificate_pem(Slot::KeyManagement, key).is_err());
    let info = card.info().unwrap();
    assert_eq!(info.certificates(), vec![Slot::KeyManagement]);
    assert!(info.keys().is_empty());
    assert_eq!(info.version, applet_spec::piv::VERSION);
}
