//! Traces name every command, explain every status word, and never show a
//! PIN, PUK, management key, binding value or keypad layout.

use apdu_sim::SimCard;
use applet_spec::piv::{MgmAlgorithm, Slot};
use subsim_host::trace::Tracing;
use subsim_host::{Client, SimTransport};

/// A whole session through a tracing transport; the trace text.
fn traced_session() -> String {
    let mut c = Client::new(Tracing::new(SimTransport::new(SimCard::seeded(8)).without_extended_length(), Vec::new()));
    c.select().unwrap();
    c.authenticate_default().unwrap();
    c.generate(Slot::Signature).unwrap();
    c.verify_pin(b"123456").unwrap();
    let _ = c.verify_pin(b"987654");
    c.change_pin(b"123456", b"24680135").unwrap();
    c.change_puk(b"12345678", b"87654321").unwrap();
    c.unblock_pin(b"87654321", b"13572468").unwrap();
    let layout = c.keypad().unwrap();
    let taps: Vec<u8> = b"13572468".iter().map(|d| layout.position_of(d - b'0').unwrap()).collect();
    c.verify_keypad(&taps).unwrap();
    c.set_binding(b"phone-identity-hash-0123456789ab").unwrap();
    c.present_binding(b"phone-identity-hash-0123456789ab").unwrap();
    c.set_management_key(MgmAlgorithm::Aes128, b"secret-mgm-key!!").unwrap();
    c.sign(Slot::Signature, b"tx", subsim_host::Hash::Sha256, subsim_host::Padding::Pkcs1v15).unwrap();
    let (_, out) = c.into_transport().into_inner();
    String::from_utf8(out).unwrap()
}

#[test]
fn secrets_never_reach_the_trace() {
    let trace = traced_session();
    let hex = |s: &[u8]| s.iter().map(|b| format!("{b:02X}")).collect::<Vec<_>>().join(" ");
    for secret in [
        &b"123456"[..],
        b"987654",
        b"24680135",
        b"12345678",
        b"87654321",
        b"13572468",
        b"phone-identity-hash",
        b"secret-mgm-key",
        &applet_spec::piv::DEFAULT_MGM_KEY[..8],
    ] {
        assert!(!trace.contains(&hex(secret)), "{:?} in the trace:\n{trace}", String::from_utf8_lossy(secret));
    }
    assert!(trace.contains("> VERIFY  00 20 00 80 08 <8 bytes redacted>"), "{trace}");
    assert!(trace.contains("> GET KEYPAD  80 30 00 00 00\n< <10 bytes redacted>  9000 (success)"), "{trace}");
}

#[test]
fn every_line_names_the_command_and_the_status_word() {
    let trace = traced_session();
    assert!(trace.contains("> SELECT  00 A4 04 00 0B A0 00 00 03 08"), "{trace}");
    assert!(trace.contains("63C2 (verification failed, 2 tries left)"), "{trace}");
    assert!(trace.contains("> GENERAL AUTHENTICATE (chained part)  10 87 07 9C FF"), "{trace}");
    assert!(trace.contains("> GET RESPONSE  00 C0 00 00"), "{trace}");
    for line in trace.lines() {
        assert!(line.starts_with("> ") || line.starts_with("< "), "{line}");
        if line.starts_with("< ") {
            assert!(line.ends_with(')'), "no meaning: {line}");
        }
    }
}

#[test]
fn an_imported_private_key_never_reaches_the_trace() {
    // Yubico's IMPORT ASYMMETRIC KEY (INS FE), as `subsim apdu` would send it to
    // a YubiKey: an RSA prime under tag 01. The trace shows the header and the
    // length only, chained parts included.
    let prime = "C0FFEE0123456789ABCDEF0011223344";
    let apdu = hex::decode(format!("00FE079A12011{}{prime}", "0")).unwrap();
    let line = subsim_host::trace::command_line(&apdu);
    assert!(!line.contains("C0 FF EE") && line.contains("18 bytes redacted"), "{line}");
    let chained = [&[0x10][..], &apdu[1..]].concat();
    assert!(subsim_host::trace::command_line(&chained).contains("redacted"));
}
