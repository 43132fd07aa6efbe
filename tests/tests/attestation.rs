//! Key attestation (Yubico's ATTEST, slot F9, object 5FFF01): the card
//! vouches that a key was generated inside it, with a certificate chained to
//! the manufacturer's CA (the simulator's TEST CA), or to the issuer's CA
//! once the issuer replaced the F9 key and certificate.

use applet_spec::messages::{OID_YUBICO_FIRMWARE, OID_YUBICO_POLICY, OID_YUBICO_SERIAL};
use applet_spec::piv::{KeyAlgorithm, ObjectTag, Slot, VERSION};
use applet_spec::Sw;
use p256::pkcs8::DecodePublicKey;
use subsim_conformance::{admin_card, fresh_card, raw, refused, skip};
use x509_cert::der::{Decode, DecodePem, Encode};
use x509_cert::Certificate;

fn ext(cert: &Certificate, oid: &str) -> Option<Vec<u8>> {
    let oid = x509_cert::der::asn1::ObjectIdentifier::new_unwrap(oid);
    cert.tbs_certificate
        .extensions
        .as_ref()?
        .iter()
        .find(|e| e.extn_id == oid)
        .map(|e| e.extn_value.as_bytes().to_vec())
}

/// Checks `cert` was signed by the P-256 key in `issuer`.
fn signed_by(cert: &Certificate, issuer: &Certificate) -> bool {
    let spki = issuer.tbs_certificate.subject_public_key_info.to_der().unwrap();
    let key = p256::ecdsa::VerifyingKey::from_public_key_der(&spki).unwrap();
    let sig = p256::ecdsa::Signature::from_der(cert.signature.raw_bytes()).unwrap();
    let tbs = cert.tbs_certificate.to_der().unwrap();
    rsa::signature::Verifier::verify(&key, &tbs, &sig).is_ok()
}

#[test]
fn an_attestation_names_the_key_the_card_and_the_policy() {
    let mut card = admin_card!();
    let serial = card.serial().unwrap();
    for (slot, alg, policy) in
        [(Slot::Authentication, KeyAlgorithm::Rsa2048, 2u8), (Slot::Signature, KeyAlgorithm::EccP256, 3)]
    {
        let public = card.generate_key(slot, alg).unwrap();
        let cert = Certificate::from_der(&card.attest(slot).unwrap()).unwrap();
        // The certified key is the slot's key.
        let spki = cert.tbs_certificate.subject_public_key_info.to_der().unwrap();
        match public {
            applet_spec::messages::PublicKeyData::Rsa { modulus, .. } => {
                use rsa::traits::PublicKeyParts;
                let k = rsa::RsaPublicKey::from_public_key_der(&spki).unwrap();
                assert_eq!(k.n().to_bytes_be(), modulus);
            }
            applet_spec::messages::PublicKeyData::Ec { point } => {
                let k = p256::PublicKey::from_public_key_der(&spki).unwrap();
                use p256::elliptic_curve::sec1::ToEncodedPoint;
                assert_eq!(k.to_encoded_point(false).as_bytes(), point.as_slice());
            }
        }
        // Yubico's extensions: firmware version, serial (INTEGER), policy.
        assert_eq!(ext(&cert, OID_YUBICO_FIRMWARE), Some(VERSION.to_vec()));
        let serial_der = ext(&cert, OID_YUBICO_SERIAL).unwrap();
        assert_eq!(u32::from_der(&serial_der).unwrap(), serial);
        assert_eq!(ext(&cert, OID_YUBICO_POLICY), Some(vec![policy, 1]), "{slot}: PIN policy, touch never");
        // Issued by the F9 key, under the F9 certificate's name.
        let f9 = Certificate::from_der(&card.attestation_certificate().unwrap().unwrap()).unwrap();
        assert_eq!(cert.tbs_certificate.issuer, f9.tbs_certificate.subject);
        assert!(signed_by(&cert, &f9), "{slot}: the F9 key signed it");
    }
}

#[test]
fn the_f9_certificate_chains_to_the_test_manufacturer_ca() {
    if !subsim_conformance::sim_only("the simulator's test manufacturer CA certifies only simulated cards") {
        return;
    }
    let mut card = fresh_card!();
    let ca = Certificate::from_pem(apdu_sim::attestation::TEST_MANUFACTURER_CA_PEM).unwrap();
    let f9 = Certificate::from_der(&card.attestation_certificate().unwrap().unwrap()).unwrap();
    assert_eq!(f9.tbs_certificate.issuer, ca.tbs_certificate.subject);
    assert!(signed_by(&f9, &ca));
    assert!(ca.tbs_certificate.subject.to_string().contains("TEST"), "clearly labelled as a test CA");
    // Every card has its own F9 key.
    let other = apdu_sim::SimCard::seeded(4242);
    let other_cert = other.persistent().objects[&ObjectTag::ATTESTATION_CERT].clone();
    assert_ne!(card.read_object(ObjectTag::ATTESTATION_CERT).unwrap().unwrap(), *other_cert);
}

#[test]
fn attest_refuses_empty_slots_f9_and_bad_parameters() {
    let mut card = fresh_card!();
    assert_eq!(refused(card.attest(Slot::Authentication)), Sw::REFERENCE_NOT_FOUND);
    assert_eq!(raw(&mut card, "00 F9 F9 00").sw, Sw::INCORRECT_P1_P2, "F9 does not attest itself");
    assert_eq!(raw(&mut card, "00 F9 9B 00").sw, Sw::INCORRECT_P1_P2);
    assert_eq!(raw(&mut card, "00 F9 9A 01").sw, Sw::INCORRECT_P1_P2);
}

/// `openssl verify` accepts the chain test manufacturer CA -> F9 -> attestation.
#[test]
fn openssl_verifies_the_attestation_against_the_test_manufacturer_ca() {
    if !subsim_conformance::sim_only("the simulator's test manufacturer CA certifies only simulated cards") {
        return;
    }
    if std::process::Command::new("openssl").arg("version").output().is_err() {
        skip("needs the openssl command (scripts/setup installs it)");
        return;
    }
    let mut card = admin_card!();
    card.generate(Slot::Authentication).unwrap();
    let pem = |der: &[u8]| pem_rfc7468::encode_string("CERTIFICATE", pem_rfc7468::LineEnding::LF, der).unwrap();
    let dir = std::env::temp_dir().join(format!("subsim-attest-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("ca.pem"), apdu_sim::attestation::TEST_MANUFACTURER_CA_PEM).unwrap();
    std::fs::write(dir.join("f9.pem"), pem(&card.attestation_certificate().unwrap().unwrap())).unwrap();
    std::fs::write(dir.join("9a.pem"), pem(&card.attest(Slot::Authentication).unwrap())).unwrap();
    let run = |untrusted: Option<&str>| {
        let mut cmd = std::process::Command::new("openssl");
        cmd.current_dir(&dir).args(["verify", "-CAfile", "ca.pem"]);
        if let Some(u) = untrusted {
            cmd.args(["-untrusted", u]);
        }
        let out = cmd.arg("9a.pem").output().unwrap();
        (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned())
    };
    let (ok, out) = run(Some("f9.pem"));
    assert!(ok && out.contains("9a.pem: OK"), "{out}");
    // Without the F9 certificate there is no chain: the check can fail.
    assert!(!run(None).0);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The issuer replaces the F9 key and certificate (with 9B): attestations
/// then chain to the issuer's CA.
#[test]
fn the_issuer_can_replace_the_attestation_key() {
    // Neither RESET nor TERMINATE brings a manufacturer's F9 key back.
    if !subsim_conformance::sim_only("it replaces the card's attestation key for good") {
        return;
    }
    let mut card = fresh_card!();
    assert_eq!(refused(card.generate_key(Slot::Attestation, KeyAlgorithm::EccP256)), Sw::SECURITY_STATUS_NOT_SATISFIED);
    card.authenticate_default().unwrap();
    // The issuer's own F9 key, imported, and the issuer's certificate for it
    // (here the old one is written back: only the signer matters below).
    let scalar = [0x11u8; 32];
    let key = applet_spec::messages::ImportedKey::Ec { scalar: scalar.to_vec() };
    card.import_key(Slot::Attestation, KeyAlgorithm::EccP256, &key).unwrap();
    let issuer_cert = {
        let data = card.read_object(ObjectTag::ATTESTATION_CERT).unwrap().unwrap();
        applet_spec::messages::parse_cert_object(&data).unwrap()
    };
    card.write_certificate(Slot::Attestation, &issuer_cert).unwrap();
    card.generate(Slot::Authentication).unwrap();
    let att = Certificate::from_der(&card.attest(Slot::Authentication).unwrap()).unwrap();
    let signer = p256::ecdsa::SigningKey::from_slice(&scalar).unwrap();
    let sig = p256::ecdsa::Signature::from_der(att.signature.raw_bytes()).unwrap();
    let tbs = att.tbs_certificate.to_der().unwrap();
    assert!(rsa::signature::Verifier::verify(signer.verifying_key(), &tbs, &sig).is_ok(), "signed by the new F9 key");
}
