//! The ISO 7816-4 layer seen from the host: Le handling, GET RESPONSE,
//! command chaining, class and length errors.

use applet_spec::apdu::Command;
use applet_spec::messages;
use applet_spec::piv::{ObjectTag, Slot};
use applet_spec::Sw;
use subsim_conformance::*;

/// A 1000-byte certificate object in slot 9A, and its GET DATA answer.
fn card_with_large_object() -> Option<(Card, Vec<u8>)> {
    let mut card = try_fresh_card()?;
    card.authenticate_default().unwrap();
    let der: Vec<u8> = (0..1000u32).map(|i| (i * 7) as u8).collect();
    card.write_certificate(Slot::Authentication, &der).unwrap();
    let full = messages::data_object(&messages::cert_object(&der));
    Some((card, full))
}

#[test]
fn small_le_then_get_response_with_several_le_values() {
    let Some((mut card, full)) = card_with_large_object() else { return };
    // OpenSC 0.23 probes with Le=08.
    let r = raw(&mut card, "00 CB 3F FF 05 5C 03 5F C1 05 08");
    assert_eq!(r.data, full[..8]);
    assert_eq!(r.sw, Sw(0x6100), "more than 255 left: 61 00");
    let mut got = r.data;
    for le in ["00", "10", "FF", "00"] {
        let r = raw(&mut card, &format!("00 C0 00 00 {le}"));
        let want = if le == "00" { 256 } else { usize::from_str_radix(le, 16).unwrap() };
        assert_eq!(r.data.len(), want.min(full.len() - got.len()));
        got.extend(&r.data);
        let left = full.len() - got.len();
        assert_eq!(r.sw.remaining(), (left > 0).then(|| left.min(256)));
    }
    let r = raw(&mut card, "00 C0 00 00 00");
    got.extend(&r.data);
    assert_eq!(r.sw, Sw::OK);
    assert_eq!(got, full);
    // Nothing left now.
    assert_eq!(raw(&mut card, "00 C0 00 00 00").sw, Sw::CONDITIONS_NOT_SATISFIED);
}

#[test]
fn the_exchange_layer_reassembles_long_answers() {
    let Some((mut card, full)) = card_with_large_object() else { return };
    for ne in [8, 100, 256] {
        let cmd =
            Command::new(0, 0xCB, 0x3F, 0xFF).with_data(messages::get_data_request(ObjectTag::CERT_9A)).with_ne(ne);
        let r = send(&mut card, cmd);
        assert_eq!((r.data.as_slice(), r.sw), (full.as_slice(), Sw::OK), "Ne={ne}");
    }
}

#[test]
fn data_comes_back_without_le() {
    let mut card = fresh_card!();
    let r = raw(&mut card, "00 CB 3F FF 03 5C 01 7E");
    assert_eq!((r.data, r.sw), (messages::discovery_object(), Sw::OK));
}

#[test]
fn extended_le_gets_everything_at_once() {
    let Some((mut card, full)) = card_with_large_object() else { return };
    let r = raw(&mut card, "00 CB 3F FF 00 00 05 5C 03 5F C1 05 00 00");
    assert_eq!((r.data, r.sw), (full, Sw::OK));
}

#[test]
fn another_command_discards_the_rest() {
    let Some((mut card, _)) = card_with_large_object() else { return };
    assert_eq!(raw(&mut card, "00 CB 3F FF 05 5C 03 5F C1 05 08").sw, Sw(0x6100));
    assert_eq!(raw(&mut card, "00 FD 00 00").sw, Sw::OK);
    assert_eq!(raw(&mut card, "00 C0 00 00 00").sw, Sw::CONDITIONS_NOT_SATISFIED);
}

#[test]
fn command_chaining_by_hand() {
    let mut card = admin_card!();
    let der = vec![0x5A; 600];
    let data = messages::put_data_request(Slot::Signature.cert_object(), &messages::cert_object(&der));
    let chunks: Vec<&[u8]> = data.chunks(255).collect();
    for (i, chunk) in chunks.iter().enumerate() {
        let cla = if i + 1 < chunks.len() { 0x10 } else { 0x00 };
        let apdu = [&[cla, 0xDB, 0x3F, 0xFF, chunk.len() as u8][..], chunk].concat();
        assert_eq!(raw(&mut card, &hex::encode(apdu)).sw, Sw::OK, "part {i}");
    }
    assert_eq!(card.read_certificate(Slot::Signature).unwrap().unwrap(), der);
}

#[test]
fn a_chain_must_keep_its_header() {
    let mut card = admin_card!();
    assert_eq!(raw(&mut card, "10 DB 3F FF 02 5C 03").sw, Sw::OK);
    // Another INS in the middle of a chain: refused, and the chain is dropped.
    assert_eq!(raw(&mut card, "00 FD 00 00").sw, Sw::LAST_COMMAND_OF_CHAIN_EXPECTED);
    assert_eq!(raw(&mut card, "00 FD 00 00").sw, Sw::OK);
    // Changed P2 in the middle of a chain.
    assert_eq!(raw(&mut card, "10 DB 3F FF 02 5C 03").sw, Sw::OK);
    assert_eq!(raw(&mut card, "00 DB 3F FE 01 00").sw, Sw::LAST_COMMAND_OF_CHAIN_EXPECTED);
}

#[test]
fn class_instruction_parameter_and_length_errors() {
    let mut card = fresh_card!();
    assert_eq!(raw(&mut card, "A0 FD 00 00").sw, Sw::CLA_NOT_SUPPORTED);
    assert_eq!(raw(&mut card, "FF FD 00 00").sw, Sw::CLA_NOT_SUPPORTED);
    assert_eq!(raw(&mut card, "01 FD 00 00").sw, Sw::LOGICAL_CHANNEL_NOT_SUPPORTED);
    assert_eq!(raw(&mut card, "04 FD 00 00").sw, Sw::SECURE_MESSAGING_NOT_SUPPORTED);
    assert_eq!(raw(&mut card, "00 50 00 00").sw, Sw::INS_NOT_SUPPORTED);
    assert_eq!(raw(&mut card, "80 A4 04 00").sw, Sw::INS_NOT_SUPPORTED);
    assert_eq!(raw(&mut card, "00 30 00 00").sw, Sw::INS_NOT_SUPPORTED, "extension INS under class 00");
    assert_eq!(raw(&mut card, "00 CB 3F FE 03 5C 01 7E").sw, Sw::INCORRECT_P1_P2);
    assert_eq!(raw(&mut card, "00 CB 3F FF 03 5C 02 7E").sw, Sw::INCORRECT_DATA);
    assert_eq!(raw(&mut card, "00 CB 3F FF 05 5C 03").sw, Sw::WRONG_LENGTH);
    assert_eq!(raw(&mut card, "00 CB 3F").sw, Sw::WRONG_LENGTH);
    assert_eq!(raw(&mut card, "00 CB 3F FF 00 00").sw, Sw::WRONG_LENGTH);
}
