//! Crashes found by fuzzing and review, kept as tests.

use apdu_sim::SimCard;
use applet_spec::apdu::Response;
use applet_spec::Sw;

/// `7C 82 LL LL` nested `levels` deep: each level holds the rest.
fn nested_templates(levels: usize) -> Vec<u8> {
    let mut data = Vec::new();
    for i in 0..levels {
        let rest = (levels - i - 1) * 4;
        data.extend([0x7C, 0x82, (rest >> 8) as u8, rest as u8]);
    }
    data
}

fn general_authenticate(data: &[u8]) -> Sw {
    let mut card = SimCard::seeded(1);
    card.transmit(&[0x00, 0xA4, 0x04, 0x00, 0x05, 0xA0, 0x00, 0x00, 0x03, 0x08]);
    let mut apdu = vec![0x00, 0x87, 0x03, 0x9B, 0x00, (data.len() >> 8) as u8, data.len() as u8];
    apdu.extend(data);
    Response::parse(&card.transmit(&apdu)).unwrap().sw
}

/// 64 KiB of nested BER-TLV templates in one extended APDU used to overflow
/// the stack in `iso7816-tlv`'s recursive parser and abort the card.
#[test]
fn deeply_nested_tlv_in_an_extended_apdu_is_refused() {
    assert_eq!(general_authenticate(&nested_templates(65535 / 4 - 1)), Sw::WRONG_LENGTH);
}

/// The deepest nesting that still fits the data limit parses without
/// trouble, on a test thread's small stack.
#[test]
fn the_deepest_nesting_that_fits_answers_cleanly() {
    let levels = apdu_sim::iso::MAX_COMMAND_DATA / 4;
    assert_eq!(general_authenticate(&nested_templates(levels)), Sw::INCORRECT_DATA);
}
