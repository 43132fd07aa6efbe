//! Key attestation at issuance, against Yubico's documented format: chains
//! built with the openssl crate here and with the `openssl` command line
//! (`tests/pki/openssl-attestation.sh`). The clock is passed in.

mod common;
use common::*;

use std::path::Path;
use std::process::Command;
use std::time::SystemTime;

use openssl::asn1::{Asn1Object, Asn1OctetString};
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use openssl::x509::{X509Extension, X509Req, X509ReqBuilder, X509};
use subsim_verifier::attest::{AttestationTrust, OID_FIRMWARE, OID_FORM_FACTOR, OID_POLICY, OID_SERIAL};
use subsim_verifier::testca::parse_name;
use subsim_verifier::{Refusal, TestCa};

/// A card as a bank's CA sees it at issuance.
struct Card {
    manufacturer: TestCa,
    device_key: PKey<Private>,
    device: X509,
    slot_key: PKey<Private>,
}

/// The device certificate is issued under the manufacturer's root (or an
/// intermediate) as a plain end-entity certificate, as YubiKeys' are.
fn card(with_intermediate: bool) -> (Card, Vec<X509>) {
    let mut root = TestCa::new("CN=Manufacturer Root", t0() - 100 * DAY, 7300).unwrap();
    let mut inter = root.intermediate("CN=Manufacturer Devices", t0() - 100 * DAY, 7000).unwrap();
    let issuer = if with_intermediate { &mut inter } else { &mut root };
    let (device_key, device) =
        holder(issuer, "Test PIV Attestation", subsim_verifier::Role::Transaction, t0() - 50 * DAY, t0() + 5000 * DAY);
    let intermediates = if with_intermediate { vec![inter.certificate().clone()] } else { vec![] };
    (Card { manufacturer: root, device_key, device, slot_key: key() }, intermediates)
}

fn ext(oid: &str, value: &[u8]) -> X509Extension {
    X509Extension::new_from_der(
        &Asn1Object::from_str(oid).unwrap(),
        false,
        &Asn1OctetString::new_from_bytes(value).unwrap(),
    )
    .unwrap()
}

/// ATTEST's answer for `slot`, as a Yubico card builds it.
fn statement(card: &Card, slot: &str, signer: &PKey<Private>, until: SystemTime) -> X509 {
    let public = PKey::public_key_from_der(&card.slot_key.public_key_to_der().unwrap()).unwrap();
    let mut b = X509::builder().unwrap();
    b.set_version(2).unwrap();
    b.set_serial_number(&openssl::bn::BigNum::from_u32(0x9A).unwrap().to_asn1_integer().unwrap()).unwrap();
    b.set_subject_name(&parse_name(&format!("CN=YubiKey PIV Attestation {slot}")).unwrap()).unwrap();
    b.set_issuer_name(card.device.subject_name()).unwrap();
    b.set_pubkey(&public).unwrap();
    b.set_not_before(&openssl::asn1::Asn1Time::from_unix(subsim_verifier::time::unix(t0() - DAY) as _).unwrap())
        .unwrap();
    b.set_not_after(&openssl::asn1::Asn1Time::from_unix(subsim_verifier::time::unix(until) as _).unwrap()).unwrap();
    b.append_extension(ext(OID_FIRMWARE, &[5, 7, 1])).unwrap();
    b.append_extension(ext(OID_SERIAL, &[0x02, 0x04, 0x01, 0x2C, 0x4B, 0x2E])).unwrap();
    b.append_extension(ext(OID_POLICY, &[3, 1])).unwrap();
    b.append_extension(ext(OID_FORM_FACTOR, &[1])).unwrap();
    b.sign(signer, MessageDigest::sha256()).unwrap();
    b.build()
}

fn request(key: &PKey<Private>, signer: &PKey<Private>) -> X509Req {
    let mut b = X509ReqBuilder::new().unwrap();
    b.set_subject_name(&parse_name("CN=alice").unwrap()).unwrap();
    b.set_pubkey(key).unwrap();
    b.sign(signer, MessageDigest::sha256()).unwrap();
    b.build()
}

fn trust(c: &Card, intermediates: Vec<X509>) -> AttestationTrust {
    AttestationTrust::new(vec![c.manufacturer.certificate().clone()]).intermediates(intermediates)
}

#[test]
fn a_key_generated_on_the_card_is_attested_with_yubicos_extensions() {
    for with_intermediate in [false, true] {
        let (c, inter) = card(with_intermediate);
        let st = statement(&c, "9a", &c.device_key, t0() + 5000 * DAY);
        let req = request(&c.slot_key, &c.slot_key);
        let a = trust(&c, inter).verify(&der(&c.device), &der(&st), &req.to_pem().unwrap(), 0x9A, t0()).unwrap();
        assert_eq!((a.slot, a.firmware, a.serial), (0x9A, Some([5, 7, 1]), Some(19680046)));
        assert_eq!((a.pin_policy, a.touch_policy, a.form_factor), (Some(3), Some(1), Some(1)));
        assert_eq!(a.device, "CN=Test PIV Attestation");
    }
}

#[test]
fn a_request_for_another_key_is_refused() {
    let (c, inter) = card(false);
    let st = statement(&c, "9a", &c.device_key, t0() + 5000 * DAY);
    let other = key();
    let req = request(&other, &other);
    let e = trust(&c, inter).verify(&der(&c.device), &der(&st), &req.to_der().unwrap(), 0x9A, t0()).unwrap_err();
    assert_eq!(e, Refusal::AttestedKeyMismatch);
}

#[test]
fn a_request_not_signed_by_its_key_is_refused() {
    let (c, inter) = card(false);
    let st = statement(&c, "9a", &c.device_key, t0() + 5000 * DAY);
    let req = request(&c.slot_key, &key());
    let e = trust(&c, inter).verify(&der(&c.device), &der(&st), &req.to_der().unwrap(), 0x9A, t0()).unwrap_err();
    assert_eq!(e, Refusal::BadRequestSignature);
}

#[test]
fn a_statement_not_signed_by_the_device_key_is_refused() {
    let (c, inter) = card(false);
    let st = statement(&c, "9a", &key(), t0() + 5000 * DAY);
    let req = request(&c.slot_key, &c.slot_key);
    let e = trust(&c, inter).verify(&der(&c.device), &der(&st), &req.to_der().unwrap(), 0x9A, t0()).unwrap_err();
    assert!(matches!(&e, Refusal::Attestation { detail } if detail.contains("F9")), "{e}");
}

#[test]
fn a_statement_for_another_slot_is_refused() {
    let (c, inter) = card(false);
    let st = statement(&c, "9c", &c.device_key, t0() + 5000 * DAY);
    let req = request(&c.slot_key, &c.slot_key);
    let e = trust(&c, inter).verify(&der(&c.device), &der(&st), &req.to_der().unwrap(), 0x9A, t0()).unwrap_err();
    assert!(matches!(e, Refusal::AttestedWrongSlot { expected: 0x9A, .. }), "{e}");
}

#[test]
fn a_device_from_an_untrusted_manufacturer_is_refused() {
    let (c, _) = card(false);
    let (stranger, _) = card(false);
    let st = statement(&c, "9a", &c.device_key, t0() + 5000 * DAY);
    let req = request(&c.slot_key, &c.slot_key);
    let e =
        trust(&stranger, vec![]).verify(&der(&c.device), &der(&st), &req.to_der().unwrap(), 0x9A, t0()).unwrap_err();
    assert_eq!(e.reason(), "unknown-issuer", "{e}");
    // The intermediate is needed when the device certificate hangs under one.
    let (c, _) = card(true);
    let st = statement(&c, "9a", &c.device_key, t0() + 5000 * DAY);
    let e = trust(&c, vec![]).verify(&der(&c.device), &der(&st), &req.to_der().unwrap(), 0x9A, t0()).unwrap_err();
    assert_eq!(e.reason(), "unknown-issuer", "{e}");
}

#[test]
fn an_expired_statement_is_refused_at_the_time_given() {
    let (c, inter) = card(false);
    let st = statement(&c, "9a", &c.device_key, t0() + DAY);
    let req = request(&c.slot_key, &c.slot_key);
    let e =
        trust(&c, inter).verify(&der(&c.device), &der(&st), &req.to_der().unwrap(), 0x9A, t0() + 2 * DAY).unwrap_err();
    assert!(matches!(e, Refusal::Expired { .. }), "{e}");
}

#[test]
fn an_attestation_made_by_the_openssl_command_line() {
    if Command::new("openssl").arg("version").output().is_err() {
        eprintln!("SKIPPED: an_attestation_made_by_the_openssl_command_line: needs the openssl command");
        return;
    }
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("openssl-attestation-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/pki/openssl-attestation.sh");
    let o = Command::new("sh").arg(script).arg(&dir).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let read = |n: &str| std::fs::read(dir.join(n)).unwrap();
    let trust = AttestationTrust::new(vec![X509::from_pem(&read("root.pem")).unwrap()]);
    let now = SystemTime::now();
    let a = trust.verify(&read("f9.pem"), &read("statement.pem"), &read("slot.csr"), 0x9A, now).unwrap();
    assert_eq!(
        (a.firmware, a.serial, a.pin_policy, a.form_factor),
        (Some([5, 7, 1]), Some(19680046), Some(3), Some(1))
    );
    let e = trust.verify(&read("f9.pem"), &read("statement.pem"), &read("other.csr"), 0x9A, now).unwrap_err();
    assert_eq!(e, Refusal::AttestedKeyMismatch);
    let e = trust.verify(&read("f9.pem"), &read("statement.pem"), &read("slot.csr"), 0x9C, now).unwrap_err();
    assert_eq!(e.reason(), "attested-wrong-slot");
    // The device certificate presented as the statement's signer must be the real one.
    let e = trust.verify(&read("root.pem"), &read("statement.pem"), &read("slot.csr"), 0x9A, now).unwrap_err();
    assert_eq!(e.reason(), "attestation", "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}
