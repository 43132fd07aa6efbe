//! Device binding: private-key operations only on the bound phone.

use applet_spec::messages::{BindingState, BINDING_TRIES};
use applet_spec::piv::Slot;
use applet_spec::Sw;
use subsim_conformance::*;
use subsim_host::{Hash, Padding};

const PHONE: [u8; 32] = [0xB1; 32];
const OTHER_PHONE: [u8; 32] = [0xB2; 32];

fn bound_card_with_key() -> Option<Card> {
    let mut card = try_fresh_card()?;
    card.authenticate_default().unwrap();
    card.generate(Slot::Authentication).unwrap();
    card.set_binding(&PHONE).unwrap();
    card.verify_pin(b"123456").unwrap();
    Some(card)
}

fn sign(card: &mut Card) -> Result<Vec<u8>, subsim_host::Error> {
    card.sign(Slot::Authentication, b"challenge", Hash::Sha256, Padding::Pkcs1v15)
}

#[test]
fn setting_a_binding_needs_the_management_key() {
    let mut card = fresh_card!(Profile::Subsim);
    assert_eq!(refused(card.set_binding(&PHONE)), Sw::SECURITY_STATUS_NOT_SATISFIED);
    assert_eq!(refused(card.clear_binding()), Sw::SECURITY_STATUS_NOT_SATISFIED);
    assert_eq!(card.status().unwrap().binding, BindingState::None);
}

#[test]
fn private_key_use_needs_the_binding_presented() {
    let Some(mut card) = bound_card_with_key() else { return };
    assert_eq!(card.status().unwrap().binding, BindingState::Required);
    assert_eq!(refused(sign(&mut card)), Sw::CONDITIONS_NOT_SATISFIED);
    card.present_binding(&PHONE).unwrap();
    assert_eq!(card.status().unwrap().binding, BindingState::Presented);
    sign(&mut card).unwrap();
    // A new card session needs a new presentation.
    card.transport_mut().reset().unwrap();
    card.select().unwrap();
    card.verify_pin(b"123456").unwrap();
    assert_eq!(refused(sign(&mut card)), Sw::CONDITIONS_NOT_SATISFIED);
}

#[test]
fn a_mismatch_counts_down_and_blocks() {
    let Some(mut card) = bound_card_with_key() else { return };
    for left in (0..BINDING_TRIES).rev() {
        assert_eq!(refused(card.present_binding(&OTHER_PHONE)), Sw::tries_left(left));
    }
    assert_eq!(refused(card.present_binding(&PHONE)), Sw::AUTH_METHOD_BLOCKED);
    assert_eq!(card.status().unwrap().binding, BindingState::Blocked);
    assert_eq!(refused(sign(&mut card)), Sw::CONDITIONS_NOT_SATISFIED);
    // The issuer re-binds; the counter starts again.
    card.set_binding(&PHONE).unwrap();
    card.present_binding(&PHONE).unwrap();
    sign(&mut card).unwrap();
}

#[test]
fn a_right_value_restores_the_counter_and_length_matters() {
    let Some(mut card) = bound_card_with_key() else { return };
    assert_eq!(refused(card.present_binding(&PHONE[..31])), Sw::tries_left(BINDING_TRIES - 1));
    card.present_binding(&PHONE).unwrap();
    assert_eq!(card.status().unwrap().binding_tries, BINDING_TRIES);
}

#[test]
fn clear_and_replace() {
    let Some(mut card) = bound_card_with_key() else { return };
    card.present_binding(&PHONE).unwrap();
    card.set_binding(&OTHER_PHONE).unwrap();
    assert_eq!(refused(sign(&mut card)), Sw::CONDITIONS_NOT_SATISFIED, "replacing needs a new presentation");
    card.present_binding(&OTHER_PHONE).unwrap();
    sign(&mut card).unwrap();
    card.clear_binding().unwrap();
    assert_eq!(card.status().unwrap().binding, BindingState::None);
    sign(&mut card).unwrap();
    assert_eq!(refused(card.present_binding(&PHONE)), Sw::REFERENCE_NOT_FOUND);
}

#[test]
fn binding_shape_errors() {
    let mut card = admin_card!(Profile::Subsim);
    assert_eq!(refused(card.set_binding(&[1; 15])), Sw::INCORRECT_DATA);
    assert_eq!(refused(card.set_binding(&[1; 65])), Sw::INCORRECT_DATA);
    assert_eq!(raw(&mut card, "80 36 01 00 01 00").sw, Sw::WRONG_LENGTH);
    assert_eq!(raw(&mut card, "80 36 02 00").sw, Sw::INCORRECT_P1_P2);
}
