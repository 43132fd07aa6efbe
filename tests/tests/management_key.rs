//! The management key 9B: mutual and external authentication, 3DES and AES,
//! changing it, and the commands that need it.

use applet_spec::apdu::Command;
use applet_spec::messages::DynamicAuth;
use applet_spec::piv::{MgmAlgorithm, ObjectTag, Slot, DEFAULT_MGM_KEY};
use applet_spec::Sw;
use subsim_conformance::*;

/// SP 800-73-4 Part 2, 3.2.4 (GENERAL AUTHENTICATE) and Appendix A.1-A.2
/// (challenge-response with the card management key).
const GA: &str = "SP 800-73-4 Part 2, 3.2.4";
/// Yubico's SET MANAGEMENT KEY (INS FF), from Yubico's PIV extension documentation.
const SET_MGM: &str = "Yubico PIV extensions, SET MANAGEMENT KEY";

/// Writes a certificate: the management key is authenticated iff it works.
fn put_data(card: &mut Card) -> Result<(), subsim_host::Error> {
    card.write_object(ObjectTag::CERT_9E, &applet_spec::messages::cert_object(&[0x30, 0]))
}

#[test]
fn factory_key_mutual_and_external() {
    let mut card = fresh_card!(Profile::Piv);
    card.authenticate(MgmAlgorithm::TripleDes, &DEFAULT_MGM_KEY).unwrap();
    put_data(&mut card).unwrap();
    let mut card = fresh_card!(Profile::Piv);
    card.authenticate_external(MgmAlgorithm::TripleDes, &DEFAULT_MGM_KEY).unwrap();
    put_data(&mut card).unwrap();
}

#[test]
fn wrong_key_is_refused() {
    let mut card = fresh_card!(Profile::Piv);
    let wrong = [0x11; 24];
    // A wrong witness or response: 6982 (3.2.4). The client also checks the
    // card's own proof, so a card that took the wrong key fails here.
    let sw = refused(card.authenticate(MgmAlgorithm::TripleDes, &wrong));
    card.judge(
        "GENERAL AUTHENTICATE 9B mutual, wrong key",
        sw,
        GA,
        &[Sw::SECURITY_STATUS_NOT_SATISFIED],
        &[Sw::INCORRECT_DATA],
    );
    let sw = refused(card.authenticate_external(MgmAlgorithm::TripleDes, &wrong));
    card.judge(
        "GENERAL AUTHENTICATE 9B external, wrong key",
        sw,
        GA,
        &[Sw::SECURITY_STATUS_NOT_SATISFIED],
        &[Sw::INCORRECT_DATA],
    );
    assert_eq!(refused(card.generate(Slot::Authentication)), Sw::SECURITY_STATUS_NOT_SATISFIED);
    assert_eq!(refused(put_data(&mut card)), Sw::SECURITY_STATUS_NOT_SATISFIED);
}

#[test]
fn wrong_algorithm_in_p1() {
    // Refused before any key is used: safe on any card.
    let mut card = live_card!(Profile::Piv);
    // P1 names an algorithm the key is not: 6A86 (3.2.4).
    let sw = refused(card.authenticate(MgmAlgorithm::Aes128, &[0; 16]));
    card.judge("00 87 08 9B", sw, GA, &[Sw::INCORRECT_P1_P2], &[Sw::INCORRECT_DATA, Sw::REFERENCE_NOT_FOUND]);
}

#[test]
fn second_step_without_first() {
    let mut card = fresh_card!(Profile::Piv);
    // A response, or a witness, with no challenge outstanding: the standard
    // names no status word; 6985 (conditions of use) is the usual one.
    let ga = DynamicAuth { response: Some(vec![0; 8]), ..Default::default() };
    let r = send(&mut card, Command::new(0, 0x87, 0x03, 0x9B).with_data(ga.encode()));
    let others = [Sw::SECURITY_STATUS_NOT_SATISFIED, Sw::INCORRECT_DATA];
    card.judge("00 87 03 9B 7C { 82 }", r.sw, GA, &[Sw::CONDITIONS_NOT_SATISFIED], &others);
    let ga = DynamicAuth { witness: Some(vec![0; 8]), challenge: Some(vec![0; 8]), response: None };
    let r = send(&mut card, Command::new(0, 0x87, 0x03, 0x9B).with_data(ga.encode()));
    card.judge("00 87 03 9B 7C { 80 81 }", r.sw, GA, &[Sw::CONDITIONS_NOT_SATISFIED], &others);
    // Unknown tag 85 for 9B, and a truncated template: 6A80.
    card.expect("00 87 03 9B 04 7C 02 85 00", GA, &[Sw::INCORRECT_DATA], &[Sw::CONDITIONS_NOT_SATISFIED]);
    card.expect("00 87 03 9B 03 7C 02 80", GA, &[Sw::INCORRECT_DATA], &[Sw::WRONG_LENGTH]);
    assert_eq!(refused(put_data(&mut card)), Sw::SECURITY_STATUS_NOT_SATISFIED);
}

#[test]
fn opensc_get_random_shape() {
    // A challenge only: nothing is authenticated, nothing counted.
    let mut card = live_card!(Profile::Piv);
    // OpenSC asks a challenge with P1=00, the old identifier of 3DES
    // (SP 800-78-4, Table 5 lists only 03 now).
    let r = card.expect(
        "00 87 00 9B 04 7C 02 81 00 00",
        "SP 800-78-4, Table 5",
        &[Sw::OK],
        &[Sw::INCORRECT_P1_P2, Sw::INCORRECT_DATA],
    );
    if r.sw == Sw::OK {
        let ga = DynamicAuth::decode(&r.data).unwrap();
        assert_eq!(ga.challenge.unwrap().len(), 8);
    }
}

#[test]
fn change_to_each_aes_size_and_back() {
    let mut card = admin_card!(Profile::Yubico);
    let mut current = (MgmAlgorithm::TripleDes, DEFAULT_MGM_KEY.to_vec());
    for alg in [MgmAlgorithm::Aes128, MgmAlgorithm::Aes192, MgmAlgorithm::Aes256, MgmAlgorithm::TripleDes] {
        let key: Vec<u8> = (0..alg.key_len() as u8).map(|i| i.wrapping_mul(37) ^ 0x5C).collect();
        if let Err(e) = card.set_management_key(alg, &key) {
            // Older YubiKeys (before 5.4) and other cards offer 3DES only.
            let sw = e.sw().unwrap_or_else(|| panic!("SET MANAGEMENT KEY {alg:?}: {e}"));
            card.judge(
                &format!("00 FF FF FF {:02X} 9B", alg.id()),
                sw,
                SET_MGM,
                &[],
                &[Sw::INCORRECT_DATA, Sw::INCORRECT_P1_P2],
            );
            continue;
        }
        current = (alg, key.clone());
        if card.has(Profile::Subsim) {
            assert_eq!(card.status().unwrap().mgm_algorithm, alg);
        }
        card.transport_mut().reset().unwrap();
        card.select().unwrap();
        assert_eq!(refused(put_data(&mut card)), Sw::SECURITY_STATUS_NOT_SATISFIED);
        card.authenticate(alg, &key).unwrap();
        card.authenticate_external(alg, &key).unwrap();
        put_data(&mut card).unwrap();
    }
    assert_eq!(current.0, MgmAlgorithm::TripleDes, "back to 3DES");
}

#[test]
fn set_management_key_needs_authentication_and_a_fitting_key() {
    let mut card = fresh_card!(Profile::Yubico);
    let sw = refused(card.set_management_key(MgmAlgorithm::TripleDes, &[7; 24]));
    card.judge("00 FF FF FF 03 9B", sw, SET_MGM, &[Sw::SECURITY_STATUS_NOT_SATISFIED], &[]);
    admin(&mut card);
    // 3DES announced with a 16-byte key: refused.
    let apdu = format!("00 FF FF FF 13 03 9B 10 {}", "07 ".repeat(16));
    card.expect(&apdu, SET_MGM, &[Sw::INCORRECT_DATA], &[Sw::WRONG_LENGTH]);
    // P2 is FF (no touch) or FE (touch).
    card.expect(
        "00 FF FF 00 1B 03 9B 18 01 02 03 04 05 06 07 08 01 02 03 04 05 06 07 08 01 02 03 04 05 06 07 08",
        SET_MGM,
        &[Sw::INCORRECT_P1_P2],
        &[Sw(0x6A81)],
    );
    admin(&mut card);
}

#[test]
fn authentication_is_transient() {
    let mut card = admin_card!(Profile::Piv);
    card.transport_mut().reset().unwrap();
    card.select().unwrap();
    // Security status of a key reference dies with the session (ISO 7816-4, 5.4).
    assert_eq!(refused(put_data(&mut card)), Sw::SECURITY_STATUS_NOT_SATISFIED);
}

#[test]
fn a_failed_attempt_drops_authentication() {
    let mut card = admin_card!(Profile::Piv);
    refused(card.authenticate(MgmAlgorithm::TripleDes, &[0x11; 24]));
    match put_data(&mut card) {
        Err(e) if e.sw() == Some(Sw::SECURITY_STATUS_NOT_SATISFIED) => {}
        // The standard does not say what a failed attempt does to an earlier
        // one; a sub-SIM drops it.
        Ok(()) if !card.has(Profile::Subsim) => {
            finding("00 87 03 9B (wrong key)", Sw::OK, GA, "a failed attempt keeps the earlier authentication")
        }
        other => panic!("PUT DATA after a failed authentication: {other:?}"),
    }
}
