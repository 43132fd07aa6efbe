//! The management key 9B: mutual and external authentication, 3DES and AES,
//! changing it, and the commands that need it.

use applet_spec::apdu::Command;
use applet_spec::messages::DynamicAuth;
use applet_spec::piv::{MgmAlgorithm, ObjectTag, Slot, DEFAULT_MGM_KEY};
use applet_spec::Sw;
use subsim_conformance::*;

#[test]
fn factory_key_mutual_and_external() {
    let mut card = fresh_card!();
    card.authenticate(MgmAlgorithm::TripleDes, &DEFAULT_MGM_KEY).unwrap();
    let mut card = fresh_card!();
    card.authenticate_external(MgmAlgorithm::TripleDes, &DEFAULT_MGM_KEY).unwrap();
    card.write_object(ObjectTag(0x5FC10D), &[1, 2, 3]).unwrap();
}

#[test]
fn wrong_key_is_refused() {
    let mut card = fresh_card!();
    let wrong = [0x11; 24];
    assert_eq!(refused(card.authenticate(MgmAlgorithm::TripleDes, &wrong)), Sw::SECURITY_STATUS_NOT_SATISFIED);
    assert_eq!(refused(card.authenticate_external(MgmAlgorithm::TripleDes, &wrong)), Sw::SECURITY_STATUS_NOT_SATISFIED);
    assert_eq!(refused(card.generate(Slot::Authentication)), Sw::SECURITY_STATUS_NOT_SATISFIED);
}

#[test]
fn wrong_algorithm_in_p1() {
    let mut card = fresh_card!();
    assert_eq!(refused(card.authenticate(MgmAlgorithm::Aes128, &[0; 16])), Sw::INCORRECT_P1_P2);
}

#[test]
fn second_step_without_first() {
    let mut card = fresh_card!();
    let ga = DynamicAuth { response: Some(vec![0; 8]), ..Default::default() };
    let r = send(&mut card, Command::new(0, 0x87, 0x03, 0x9B).with_data(ga.encode()));
    assert_eq!(r.sw, Sw::CONDITIONS_NOT_SATISFIED);
    let ga = DynamicAuth { witness: Some(vec![0; 8]), challenge: Some(vec![0; 8]), response: None };
    let r = send(&mut card, Command::new(0, 0x87, 0x03, 0x9B).with_data(ga.encode()));
    assert_eq!(r.sw, Sw::CONDITIONS_NOT_SATISFIED);
    assert_eq!(raw(&mut card, "00 87 03 9B 04 7C 02 85 00").sw, Sw::INCORRECT_DATA);
    assert_eq!(raw(&mut card, "00 87 03 9B 03 7C 02 80").sw, Sw::INCORRECT_DATA);
}

#[test]
fn opensc_get_random_shape() {
    let mut card = fresh_card!();
    let r = raw(&mut card, "00 87 00 9B 04 7C 02 81 00 00");
    assert_eq!(r.sw, Sw::OK);
    let ga = DynamicAuth::decode(&r.data).unwrap();
    assert_eq!(ga.challenge.unwrap().len(), 8);
}

#[test]
fn change_to_each_aes_size_and_back() {
    let mut card = admin_card!();
    for alg in [MgmAlgorithm::Aes128, MgmAlgorithm::Aes192, MgmAlgorithm::Aes256, MgmAlgorithm::TripleDes] {
        let key: Vec<u8> = (0..alg.key_len() as u8).map(|i| i.wrapping_mul(37) ^ 0x5C).collect();
        card.set_management_key(alg, &key).unwrap();
        assert_eq!(card.status().unwrap().mgm_algorithm, alg);
        card.transport_mut().reset().unwrap();
        card.select().unwrap();
        assert_eq!(
            refused(card.set_pin_entry(applet_spec::messages::PinEntry::Any)),
            Sw::SECURITY_STATUS_NOT_SATISFIED
        );
        card.authenticate(alg, &key).unwrap();
        card.authenticate_external(alg, &key).unwrap();
    }
}

#[test]
fn set_management_key_needs_authentication_and_a_fitting_key() {
    let mut card = fresh_card!();
    assert_eq!(refused(card.set_management_key(MgmAlgorithm::Aes128, &[7; 16])), Sw::SECURITY_STATUS_NOT_SATISFIED);
    card.authenticate_default().unwrap();
    // AES-128 announced with a 24-byte key: refused by the card.
    let r = raw(&mut card, &format!("00 FF FF FF 1B 08 9B 18 {}", "07 ".repeat(24)));
    assert_eq!(r.sw, Sw::INCORRECT_DATA);
    assert_eq!(
        raw(&mut card, "00 FF FF 00 13 08 9B 10 00 01 02 03 04 05 06 07 08 09 0A 0B 0C 0D 0E 0F").sw,
        Sw::INCORRECT_P1_P2
    );
    card.authenticate_default().unwrap();
}

#[test]
fn authentication_is_transient() {
    let mut card = admin_card!();
    card.transport_mut().reset().unwrap();
    card.select().unwrap();
    assert_eq!(refused(card.write_object(ObjectTag(0x5FC10D), &[1])), Sw::SECURITY_STATUS_NOT_SATISFIED);
}

#[test]
fn a_failed_attempt_drops_authentication() {
    let mut card = admin_card!();
    refused(card.authenticate(MgmAlgorithm::TripleDes, &[0x11; 24]));
    assert_eq!(refused(card.write_object(ObjectTag(0x5FC10D), &[1])), Sw::SECURITY_STATUS_NOT_SATISFIED);
}
