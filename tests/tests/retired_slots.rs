//! The retired key management slots 82-95 (SP 800-73-4 part 1, 3.3.3 and
//! table 4b; part 2, 3.3.2) and the Key History object 5FC10C (part 1,
//! 3.3.2, table 19) the card keeps in step with them.

use applet_spec::messages::{self, DynamicAuth};
use applet_spec::piv::{KeyAlgorithm, ObjectTag, Slot};
use applet_spec::Sw;
use subsim_conformance::{admin_card, fresh_card, raw, refused, Card};

fn slot(r: u8) -> Slot {
    Slot::from_key_ref(r).unwrap()
}

fn history(card: &mut Card) -> Option<(u8, u8, Option<Vec<u8>>)> {
    card.key_history().unwrap().map(|h| (h.on_card.unwrap(), h.off_card.unwrap(), h.url))
}

#[test]
fn every_retired_slot_holds_a_key_with_the_pin_rule_of_9d() {
    let mut card = admin_card!();
    for r in [0x82, 0x8B, 0x95] {
        card.generate_key(slot(r), KeyAlgorithm::EccP256).unwrap();
        let sign = format!("00 87 11 {r:02X} 26 7C 24 82 00 81 20 {}", "42".repeat(32));
        assert_eq!(raw(&mut card, &sign).sw, Sw::SECURITY_STATUS_NOT_SATISFIED, "{r:02X}: the PIN first");
    }
    card.verify_pin(b"123456").unwrap();
    for r in [0x82, 0x8B, 0x95] {
        let sign = format!("00 87 11 {r:02X} 26 7C 24 82 00 81 20 {}", "42".repeat(32));
        let first = raw(&mut card, &sign);
        assert_eq!(first.sw, Sw::OK, "{r:02X}");
        assert_eq!(raw(&mut card, &sign).sw, Sw::OK, "{r:02X}: once per session");
        assert!(DynamicAuth::decode(&first.data).unwrap().response.is_some());
    }
    // An RSA key too, and its metadata.
    card.generate(slot(0x90)).unwrap();
    assert_eq!(card.slot_metadata(slot(0x90)).unwrap().unwrap().algorithm, 0x07);
    assert_eq!(card.slot_metadata(slot(0x91)).unwrap(), None);
    // Neighbours of the range are no slots.
    assert_eq!(raw(&mut card, "00 47 00 81 05 AC 03 80 01 11").sw, Sw::INCORRECT_P1_P2);
    assert_eq!(raw(&mut card, "00 47 00 96 05 AC 03 80 01 11").sw, Sw::INCORRECT_P1_P2);
}

#[test]
fn the_key_history_counts_retired_keys_with_and_without_certificates() {
    let mut card = admin_card!();
    assert_eq!(history(&mut card), None, "no retired key, no history");
    card.generate_key(slot(0x82), KeyAlgorithm::EccP256).unwrap();
    assert_eq!(history(&mut card), Some((0, 1, None)));
    // The certificate of 82 is 5FC10D; of 95, 5FC120.
    card.write_certificate(slot(0x82), &[0x30, 3, 1, 2, 3]).unwrap();
    assert_eq!(card.read_object(ObjectTag(0x5FC10D)).unwrap(), Some(messages::cert_object(&[0x30, 3, 1, 2, 3])));
    assert_eq!(history(&mut card), Some((1, 0, None)));
    card.generate_key(slot(0x95), KeyAlgorithm::EccP384).unwrap();
    assert_eq!(history(&mut card), Some((1, 1, None)));
    card.write_certificate(slot(0x95), &[0x30, 0]).unwrap();
    assert_eq!(history(&mut card), Some((2, 0, None)));
    card.write_object(ObjectTag(0x5FC10D), &[]).unwrap();
    assert_eq!(history(&mut card), Some((1, 1, None)));
    // The issuer's off-card URL stays when the counts change.
    card.write_object(ObjectTag::KEY_HISTORY, &messages::key_history(1, 1, Some(b"http://certs.example/"))).unwrap();
    card.generate_key(slot(0x83), KeyAlgorithm::EccP256).unwrap();
    assert_eq!(history(&mut card), Some((1, 2, Some(b"http://certs.example/".to_vec()))));
    // Readable without the PIN (table 3: always).
    assert_eq!(raw(&mut card, "00 CB 3F FF 05 5C 03 5F C1 0C 00").sw, Sw::OK);
}

#[test]
fn terminate_and_reset_clear_retired_keys() {
    let mut card = admin_card!();
    card.generate_key(slot(0x88), KeyAlgorithm::EccP256).unwrap();
    card.terminate().unwrap();
    card.authenticate_default().unwrap();
    assert_eq!(card.slot_metadata(slot(0x88)).unwrap(), None);
    assert_eq!(history(&mut card), None);
}

#[test]
fn retired_slots_need_the_management_key() {
    let mut card = fresh_card!();
    assert_eq!(refused(card.generate_key(slot(0x82), KeyAlgorithm::EccP256)), Sw::SECURITY_STATUS_NOT_SATISFIED);
}
