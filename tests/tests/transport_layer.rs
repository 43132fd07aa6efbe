//! The ISO 7816-4 layer seen from the host: Le handling, GET RESPONSE,
//! command chaining, class and length errors. Where ISO 7816-4 leaves the
//! card a choice, every allowed answer passes and the card's choice is a finding.

use applet_spec::apdu::Command;
use applet_spec::messages;
use applet_spec::piv::{ObjectTag, Slot, PIV_AID};
use applet_spec::Sw;
use subsim_conformance::*;

/// ISO 7816-4 (2013), 5.1.3: 61xx, GET RESPONSE (11.5.x: 7.6.1 in 2005).
const GET_RESPONSE: &str = "ISO 7816-4, 5.1.3 and 7.6.1";
/// ISO 7816-4 (2013), 5.1.1.1: command chaining.
const CHAINING: &str = "ISO 7816-4, 5.1.1.1";
/// ISO 7816-4 (2013), 5.1.1 and 5.6: class byte, instruction, status words.
const CLASS: &str = "ISO 7816-4, 5.1.1 and 5.6";

/// A 1000-byte certificate object in slot 9A, and its GET DATA answer.
fn card_with_large_object() -> Option<(Card, Vec<u8>)> {
    let mut card = try_card(Needs::fresh(Profile::Piv))?;
    admin(&mut card);
    let der: Vec<u8> = (0..1000u32).map(|i| (i * 7) as u8).collect();
    card.write_certificate(Slot::Authentication, &der).unwrap();
    let full = messages::data_object(&messages::cert_object(&der));
    Some((card, full))
}

/// Judges a 61xx with `left` bytes still to come: the exact count (00 for
/// 256 and more) is what ISO asks for; a smaller count (61 FF with more than
/// 255 left, say) is a variant some cards choose.
#[track_caller]
fn judge_61(card: &Card, command: &str, sw: Sw, left: usize) {
    let exact = Sw(0x6100 | (left.min(256) % 256) as u16);
    let announced = sw.remaining().unwrap_or_else(|| panic!("{command}: {sw} with {left} bytes left [{GET_RESPONSE}]"));
    card.judge(command, sw, GET_RESPONSE, &[exact], &(announced <= left).then_some(sw).into_iter().collect::<Vec<_>>());
}

#[test]
fn small_le_then_get_response_with_several_le_values() {
    let Some((mut card, full)) = card_with_large_object() else { return };
    // OpenSC 0.23 probes with Le=08.
    let r = raw(&mut card, "00 CB 3F FF 05 5C 03 5F C1 05 08");
    assert_eq!(r.data, full[..8]);
    judge_61(&card, "00 CB 3F FF 5FC105 Le=08", r.sw, full.len() - 8);
    let mut got = r.data;
    let mut more = true;
    for le in ["00", "10", "FF", "00", "00", "00", "00"] {
        if !more {
            break;
        }
        let r = raw(&mut card, &format!("00 C0 00 00 {le}"));
        let want = if le == "00" { 256 } else { usize::from_str_radix(le, 16).unwrap() };
        let expect = want.min(full.len() - got.len());
        assert!(!r.data.is_empty() && r.data.len() <= expect, "GET RESPONSE Le={le}: {} bytes", r.data.len());
        if r.data.len() < expect {
            // Ne is the most the card may send (ISO 7816-4, 5.1): fewer is allowed.
            finding(
                &format!("00 C0 00 00 {le}"),
                r.sw,
                GET_RESPONSE,
                &format!("{} bytes where {expect} fit", r.data.len()),
            );
        }
        got.extend(&r.data);
        let left = full.len() - got.len();
        if left > 0 {
            judge_61(&card, &format!("00 C0 00 00 {le}"), r.sw, left);
        } else {
            assert_eq!(r.sw, Sw::OK);
            more = false;
        }
    }
    assert!(!more, "the answer is complete");
    assert_eq!(got, full);
    // Nothing left now: the standard names no status word; 6985 is usual.
    card.expect(
        "00 C0 00 00 00",
        GET_RESPONSE,
        &[Sw::CONDITIONS_NOT_SATISFIED],
        &[Sw::INCORRECT_P1_P2, Sw::INS_NOT_SUPPORTED, Sw::UNKNOWN_ERROR, Sw(0x6A81), Sw(0x6F00)],
    );
}

#[test]
fn short_le_then_get_response_on_the_discovery_object() {
    // What OpenSC 0.23 does first, on any card, changing nothing.
    let mut card = live_card!(Profile::Piv);
    let full = match card.read_object(ObjectTag::DISCOVERY).unwrap() {
        Some(d) => d,
        None => return finding("GET DATA 7E", Sw::FILE_NOT_FOUND, "SP 800-73-4 Part 1, 3.3.2", "no discovery object"),
    };
    assert!(full.len() > 8, "a discovery object is longer than 8 bytes");
    let r = raw(&mut card, "00 CB 3F FF 03 5C 01 7E 08");
    assert_eq!(r.data, full[..8]);
    judge_61(&card, "00 CB 3F FF 5C 01 7E Le=08", r.sw, full.len() - 8);
    let left = r.sw.remaining().unwrap();
    let rest = raw(&mut card, &format!("00 C0 00 00 {:02X}", left % 256));
    assert_eq!((rest.sw, [r.data, rest.data].concat()), (Sw::OK, full));
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
    let mut card = live_card!(Profile::Piv);
    // Case 3 (no Le) GET DATA of the discovery object. The sub-SIM answers
    // the data anyway, as OpenSC expects; ISO 7816-4 (5.1) lets a card send
    // 61xx (then GET RESPONSE) or nothing instead.
    let r = raw(&mut card, "00 CB 3F FF 03 5C 01 7E");
    match r.sw {
        Sw::OK if card.has(Profile::Subsim) => assert_eq!(r.data, messages::discovery_object()),
        Sw::OK => assert!(r.data.is_empty() || r.data[0] == 0x7E, "{:02X?}", r.data),
        Sw::FILE_NOT_FOUND if !card.has(Profile::Subsim) => {
            finding("00 CB 3F FF 03 5C 01 7E", r.sw, "SP 800-73-4 Part 1, 3.3.2", "no discovery object")
        }
        sw => card.judge(
            "00 CB 3F FF 03 5C 01 7E (no Le)",
            sw,
            "ISO 7816-4, 5.1",
            &[Sw::OK],
            &[Sw(0x6100 | (sw.0 & 0xFF)), Sw::WRONG_LENGTH],
        ),
    }
}

#[test]
fn extended_le_gets_everything_at_once() {
    let Some((mut card, full)) = card_with_large_object() else { return };
    // Asked of the card, not read from its ATR: the ATR's card capabilities
    // may be missing or wrong (the card capabilities of its historical
    // bytes are optional); a reader that cannot
    // carry the APDU fails the transmission.
    let atr_says = card.transport().capabilities().extended_length;
    let apdu = hex::decode("00CB3FFF0000055C035FC1050000").unwrap();
    let r = match card.transport_mut().transmit(&apdu) {
        Ok(out) => applet_spec::Response::parse(&out).expect("a status word"),
        Err(e) => {
            skip(&format!("the reader does not carry extended-length APDUs: {e}"));
            return;
        }
    };
    if r.sw == Sw::OK && !atr_says {
        finding("00 CB 3F FF (extended Le)", r.sw, "ISO 7816-4, 5.1", "extended lengths work, the ATR does not say so");
    }
    if r.sw == Sw::OK {
        assert_eq!(r.data, full);
        return;
    }
    if !atr_says && !card.has(Profile::Subsim) && [Sw::WRONG_LENGTH, Sw::INS_NOT_SUPPORTED].contains(&r.sw) {
        // No extended lengths, and the ATR did not claim them: allowed.
        finding("00 CB 3F FF (extended Le)", r.sw, "ISO 7816-4, 5.1", "no extended-length APDUs");
        return;
    }
    // A card may cut even an extended answer and announce the rest (ISO
    // 7816-4, 5.1: Ne is a maximum), or refuse extended lengths (6700).
    let cut: Vec<Sw> = r.sw.remaining().map(|_| r.sw).into_iter().collect();
    card.judge("00 CB 3F FF (extended Le)", r.sw, GET_RESPONSE, &[Sw::OK], &[&cut[..], &[Sw::WRONG_LENGTH]].concat());
    if r.sw.remaining().is_some() {
        let rest = send(&mut card, Command::new(0, 0xC0, 0, 0).with_ne(256));
        assert_eq!([r.data, rest.data].concat(), full);
    }
}

#[test]
fn another_command_discards_the_rest() {
    let Some((mut card, _)) = card_with_large_object() else { return };
    assert!(raw(&mut card, "00 CB 3F FF 05 5C 03 5F C1 05 08").sw.remaining().is_some());
    // Another command between: ISO 7816-4 says nothing of what becomes of
    // the rest. A sub-SIM discards it (6985 then); another card may keep it
    // (9000/61xx) or refuse otherwise: a finding, never a failure.
    let r = raw(&mut card, "00 20 00 80");
    assert!(r.sw.retries().is_some(), "VERIFY status between: {}", r.sw);
    let r = raw(&mut card, "00 C0 00 00 00");
    let kept = r.sw == Sw::OK || r.sw.remaining().is_some();
    if card.has(Profile::Subsim) || !kept {
        card.judge(
            "00 C0 00 00 00 after another command",
            r.sw,
            GET_RESPONSE,
            &[Sw::CONDITIONS_NOT_SATISFIED],
            &[Sw::INCORRECT_P1_P2, Sw::INS_NOT_SUPPORTED, Sw::UNKNOWN_ERROR, Sw(0x6A81), Sw::WRONG_LENGTH],
        );
    } else {
        finding(
            "00 C0 after another command",
            r.sw,
            GET_RESPONSE,
            "the rest kept across another command (ISO is silent)",
        );
    }
}

#[test]
fn command_chaining_by_hand() {
    let mut card = admin_card!(Profile::Piv);
    let der = vec![0x5A; 600];
    let data = messages::put_data_request(Slot::Signature.cert_object(), &messages::cert_object(&der));
    let chunks: Vec<&[u8]> = data.chunks(255).collect();
    for (i, chunk) in chunks.iter().enumerate() {
        let cla = if i + 1 < chunks.len() { 0x10 } else { 0x00 };
        let apdu = [&[cla, 0xDB, 0x3F, 0xFF, chunk.len() as u8][..], chunk].concat();
        assert_eq!(raw(&mut card, &hex::encode(apdu)).sw, Sw::OK, "part {i} [{CHAINING}]");
    }
    assert_eq!(card.read_certificate(Slot::Signature).unwrap().unwrap(), der);
}

#[test]
fn a_chain_must_keep_its_header() {
    let mut card = admin_card!(Profile::Piv);
    let unverified = Sw::tries_left(card.pin_tries);
    assert_eq!(raw(&mut card, "10 DB 3F FF 02 5C 03").sw, Sw::OK);
    // Another command in the middle of a chain: 6883 (last command of the
    // chain expected), or the card drops the chain and runs it.
    let chain_broken = [Sw::LAST_COMMAND_OF_CHAIN_EXPECTED];
    let others = [unverified, Sw::CONDITIONS_NOT_SATISFIED, Sw::INCORRECT_DATA, Sw(0x6884)];
    card.expect("00 20 00 80", CHAINING, &chain_broken, &others);
    // Either way the chain is gone.
    card.expect("00 20 00 80", CHAINING, &[unverified], &[]);
    // Changed P2 in the middle of a chain.
    assert_eq!(raw(&mut card, "10 DB 3F FF 02 5C 03").sw, Sw::OK);
    let others = [Sw::INCORRECT_P1_P2, Sw::INCORRECT_DATA, Sw(0x6884), Sw(0x6A81)];
    card.expect("00 DB 3F FE 01 00", CHAINING, &chain_broken, &others);
    card.expect("00 20 00 80", CHAINING, &[unverified], &[]);
}

/// A SELECT of the PIV application in the middle of a chain: a Java Card
/// runtime selects before any applet sees the command (JCRE 3.0.5, 4.5), so
/// the SELECT runs and the chain is gone; ISO 7816-4 leaves an interrupted
/// chain to the card, so a refusal of the interrupting SELECT is a variant,
/// recorded as a finding: `6883`, or `6A82` as piv-authenticator 0.7.0
/// answers (its dispatcher drops the chain and the SELECT with it).
#[test]
fn a_select_in_the_middle_of_a_chain_ends_it() {
    let mut card = admin_card!(Profile::Piv);
    let unverified = Sw::tries_left(card.pin_tries);
    assert_eq!(raw(&mut card, "10 DB 3F FF 02 5C 03").sw, Sw::OK);
    let select = format!("00 A4 04 00 {:02X} {} 00", PIV_AID.len(), hex::encode(PIV_AID));
    card.expect(&select, CHAINING, &[Sw::OK], &[Sw::LAST_COMMAND_OF_CHAIN_EXPECTED, Sw::FILE_NOT_FOUND]);
    // Whatever it answered, the chain is gone, and the application is (or is again) selected.
    card.expect(&select, CHAINING, &[Sw::OK], &[]);
    card.expect("00 20 00 80", CHAINING, &[unverified], &[]);
}

#[test]
fn class_instruction_parameter_and_length_errors() {
    let mut card = live_card!(Profile::Piv);
    // A card that reads A0's bits as ISO's (channel, secure messaging)
    // answers 6881/6882; others 6D00 or 6A81.
    let vendor = [
        Sw::INS_NOT_SUPPORTED,
        Sw(0x6A81),
        Sw::LOGICAL_CHANNEL_NOT_SUPPORTED,
        Sw::SECURE_MESSAGING_NOT_SUPPORTED,
        Sw::UNKNOWN_ERROR,
    ];
    // Proprietary class A0, invalid class FF.
    card.expect("A0 20 00 80", CLASS, &[Sw::CLA_NOT_SUPPORTED], &vendor);
    card.expect("FF 20 00 80", CLASS, &[Sw::CLA_NOT_SUPPORTED], &vendor);
    // Logical channel 1 (not open) and secure messaging: 6881, 6882, or a
    // runtime that ignores the bits and runs the command (a finding). On a
    // phone target the phone sets the channel bits (tests/tests/channels.rs
    // covers channels on the card itself).
    let ran = |sw: Sw| sw.retries().is_some() || sw == Sw::AUTH_METHOD_BLOCKED || sw == Sw::OK;
    if !on_phone() {
        let r = raw(&mut card, "01 20 00 80");
        let ignored = if ran(r.sw) { vec![r.sw] } else { vec![] };
        card.judge(
            "01 20 00 80",
            r.sw,
            CLASS,
            &[Sw::LOGICAL_CHANNEL_NOT_SUPPORTED],
            &[&ignored[..], &[Sw::CLA_NOT_SUPPORTED]].concat(),
        );
    }
    let r = raw(&mut card, "04 20 00 80");
    let ignored = if ran(r.sw) { vec![r.sw] } else { vec![] };
    card.judge(
        "04 20 00 80",
        r.sw,
        CLASS,
        &[Sw::SECURE_MESSAGING_NOT_SUPPORTED],
        &[&ignored[..], &[Sw::CLA_NOT_SUPPORTED]].concat(),
    );
    // Unknown instructions, and SELECT under a proprietary class.
    card.expect("00 50 00 00", CLASS, &[Sw::INS_NOT_SUPPORTED], &[Sw(0x6A81)]);
    // (6A80: a card that ignores the class ran a SELECT without data.)
    card.expect(
        "80 A4 04 00",
        CLASS,
        &[Sw::INS_NOT_SUPPORTED, Sw::CLA_NOT_SUPPORTED],
        &[Sw(0x6A81), Sw::INCORRECT_DATA],
    );
    if card.has(Profile::Subsim) {
        assert_eq!(raw(&mut card, "00 30 00 00").sw, Sw::INS_NOT_SUPPORTED, "extension INS under class 00");
    }
    // GET DATA: P1-P2 must be 3FFF (SP 800-73-4 Part 2, 3.1.2); a bad tag list; Lc and data disagree.
    let get_data = "SP 800-73-4 Part 2, 3.1.2";
    card.expect("00 CB 3F FE 03 5C 01 7E", get_data, &[Sw::INCORRECT_P1_P2], &[Sw(0x6B00), Sw(0x6A81)]);
    card.expect("00 CB 3F FF 03 5C 02 7E", get_data, &[Sw::INCORRECT_DATA], &[Sw::WRONG_LENGTH, Sw::FILE_NOT_FOUND]);
    // 6F00 (no precise diagnosis) is ISO's answer for any error.
    card.expect("00 CB 3F FF 05 5C 03", CLASS, &[Sw::WRONG_LENGTH], &[Sw::INCORRECT_DATA, Sw::UNKNOWN_ERROR]);
    card.expect("00 CB 3F", CLASS, &[Sw::WRONG_LENGTH], &[Sw::INCORRECT_DATA, Sw::UNKNOWN_ERROR]);
    card.expect("00 CB 3F FF 00 00", CLASS, &[Sw::WRONG_LENGTH], &[Sw::INCORRECT_DATA, Sw::UNKNOWN_ERROR]);
}
