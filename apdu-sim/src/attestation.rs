//! Key attestation: the card's own key in slot F9 signs an X.509
//! certificate for another slot's public key, saying it was generated in
//! this card, with Yubico's extensions (firmware version, serial, PIN and
//! touch policy) so verifiers that know YubiKeys read it.
//!
//! Every card gets its F9 key (P-256) at manufacture, certified by the TEST
//! manufacturer CA shipped in `apdu-sim/manufacturer/` (its private key is
//! public: it proves nothing outside tests). The chain is
//! test manufacturer CA -> F9 certificate (object 5FFF01) -> attestation.
//! An issuer may replace the F9 key and certificate (IMPORT KEY or GENERATE
//! into F9, PUT DATA 5FFF01) to chain attestations to its own CA.
//! Certificates are built field by field and signed deterministically
//! (RFC 6979 ECDSA, PKCS#1 v1.5), serials drawn from the card's RNG.

use std::str::FromStr;
use std::sync::OnceLock;

use applet_spec::messages::{
    FORM_FACTOR_UNKNOWN, OID_YUBICO_FIRMWARE, OID_YUBICO_FORM_FACTOR, OID_YUBICO_POLICY, OID_YUBICO_SERIAL,
};
use applet_spec::piv::{Slot, TOUCH_POLICY_NEVER, VERSION};
use applet_spec::Sw;
use rand::RngCore;
use x509_cert::der::asn1::{BitString, ObjectIdentifier, OctetString};
use x509_cert::der::{Any, Decode, DecodePem, Encode};
use x509_cert::ext::pkix::{BasicConstraints, KeyUsage, KeyUsages};
use x509_cert::ext::Extension;
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use x509_cert::time::Validity;
use x509_cert::{Certificate, TbsCertificate, Version};

use crate::crypto::PrivateKey;
use crate::rng::CardRng;
use crate::state::SlotKey;

/// The TEST manufacturer CA's certificate (PEM): the trust anchor for
/// attestations of simulated cards. Its private key ships beside it.
pub const TEST_MANUFACTURER_CA_PEM: &str = include_str!("../manufacturer/test-manufacturer-ca.pem");
const TEST_MANUFACTURER_CA_KEY_PEM: &str = include_str!("../manufacturer/test-manufacturer-ca.key.pem");

struct Manufacturer {
    key: PrivateKey,
    cert: Certificate,
}

fn manufacturer() -> &'static Manufacturer {
    static M: OnceLock<Manufacturer> = OnceLock::new();
    M.get_or_init(|| {
        use p256::pkcs8::DecodePrivateKey;
        let key = p256::SecretKey::from_pkcs8_pem(TEST_MANUFACTURER_CA_KEY_PEM).expect("shipped CA key parses");
        let cert = Certificate::from_pem(TEST_MANUFACTURER_CA_PEM).expect("shipped CA certificate parses");
        Manufacturer { key: PrivateKey::P256(std::sync::Arc::new(key)), cert }
    })
}

fn oid(s: &str) -> ObjectIdentifier {
    ObjectIdentifier::new_unwrap(s)
}

/// The signature algorithm a key signs certificates with.
/// The signature algorithm of certificates `key` signs; `6A80` for an
/// X25519 key, which cannot sign.
fn signature_algorithm(key: &PrivateKey) -> Result<AlgorithmIdentifierOwned, Sw> {
    Ok(match key {
        PrivateKey::Rsa(_) => AlgorithmIdentifierOwned {
            oid: oid("1.2.840.113549.1.1.11"), // sha256WithRSAEncryption
            parameters: Some(Any::null()),
        },
        PrivateKey::P256(_) => AlgorithmIdentifierOwned { oid: oid("1.2.840.10045.4.3.2"), parameters: None },
        PrivateKey::P384(_) => AlgorithmIdentifierOwned { oid: oid("1.2.840.10045.4.3.3"), parameters: None },
        // id-Ed25519, no parameters (RFC 8410 3).
        PrivateKey::Ed25519(_) => AlgorithmIdentifierOwned { oid: oid("1.3.101.112"), parameters: None },
        PrivateKey::X25519(_) => return Err(Sw::INCORRECT_DATA),
    })
}

fn sign(key: &PrivateKey, msg: &[u8]) -> Result<Vec<u8>, Sw> {
    use rsa::signature::{SignatureEncoding, Signer};
    Ok(match key {
        PrivateKey::Rsa(k) => rsa::pkcs1v15::SigningKey::<sha2::Sha256>::new((**k).clone()).sign(msg).to_vec(),
        PrivateKey::P256(k) => {
            let s: p256::ecdsa::Signature = p256::ecdsa::SigningKey::from(&**k).sign(msg);
            s.to_der().as_bytes().to_vec()
        }
        PrivateKey::P384(k) => {
            let s: p384::ecdsa::Signature = p384::ecdsa::SigningKey::from(&**k).sign(msg);
            s.to_der().as_bytes().to_vec()
        }
        PrivateKey::Ed25519(k) => crate::crypto::ed25519_sign(k, msg)?,
        PrivateKey::X25519(_) => return Err(Sw::INCORRECT_DATA),
    })
}

fn random_serial(rng: &mut CardRng) -> SerialNumber {
    let mut b = [0u8; 16];
    rng.fill_bytes(&mut b);
    b[0] = (b[0] & 0x7F) | 0x40; // positive, minimal, 16 bytes
    SerialNumber::new(&b).expect("16 bytes make a serial")
}

fn extension(id: &str, critical: bool, value: Vec<u8>) -> Result<Extension, Sw> {
    Ok(Extension { extn_id: oid(id), critical, extn_value: OctetString::new(value).map_err(|_| Sw::UNKNOWN_ERROR)? })
}

/// Builds and signs one certificate.
fn certificate(
    issuer: &Name,
    signer: &PrivateKey,
    subject: Name,
    subject_key: &PrivateKey,
    validity: Validity,
    extensions: Vec<Extension>,
    rng: &mut CardRng,
) -> Result<Vec<u8>, Sw> {
    let fault = |_| Sw::UNKNOWN_ERROR;
    let spki = SubjectPublicKeyInfoOwned::from_der(&subject_key.spki_der()?).map_err(fault)?;
    let tbs = TbsCertificate {
        version: Version::V3,
        serial_number: random_serial(rng),
        signature: signature_algorithm(signer)?,
        issuer: issuer.clone(),
        validity,
        subject,
        subject_public_key_info: spki,
        issuer_unique_id: None,
        subject_unique_id: None,
        extensions: Some(extensions),
    };
    let signature = sign(signer, &tbs.to_der().map_err(fault)?)?;
    let cert = Certificate {
        tbs_certificate: tbs,
        signature_algorithm: signature_algorithm(signer)?,
        signature: BitString::from_bytes(&signature).map_err(fault)?,
    };
    cert.to_der().map_err(fault)
}

/// A new card's F9 key and its certificate (DER) from the test
/// manufacturer CA: an intermediate CA (path length 0) for its attestations.
pub fn manufacture(serial: u32, rng: &mut CardRng) -> (PrivateKey, Vec<u8>) {
    let m = manufacturer();
    let key = PrivateKey::generate(applet_spec::piv::KeyAlgorithm::EccP256, rng).expect("EC generation cannot fail");
    let subject = Name::from_str(&format!("CN=subsim TEST PIV Attestation {serial},O=subsim TEST ONLY"))
        .expect("fixed name parses");
    let bc = BasicConstraints { ca: true, path_len_constraint: Some(0) }.to_der().expect("encodes");
    let ku = KeyUsage(KeyUsages::KeyCertSign.into()).to_der().expect("encodes");
    let extensions =
        vec![extension("2.5.29.19", true, bc).expect("fits"), extension("2.5.29.15", true, ku).expect("fits")];
    let tbs = &m.cert.tbs_certificate;
    let cert = certificate(&tbs.subject, &m.key, subject, &key, tbs.validity, extensions, rng)
        .expect("the manufacturer signs");
    (key, cert)
}

/// ATTEST: a certificate for `key` (in `slot`), issued by the F9 key under
/// the name in its certificate and with its validity.
pub fn attest(
    f9: &SlotKey,
    f9_cert: &[u8],
    slot: Slot,
    key: &SlotKey,
    serial: u32,
    rng: &mut CardRng,
) -> Result<Vec<u8>, Sw> {
    let issuer_cert = Certificate::from_der(f9_cert).map_err(|_| Sw::CONDITIONS_NOT_SATISFIED)?;
    let issuer = &issuer_cert.tbs_certificate;
    let subject =
        Name::from_str(&format!("CN=subsim PIV Attestation {:02x}", slot.key_ref())).map_err(|_| Sw::UNKNOWN_ERROR)?;
    let serial_der = serial.to_der().map_err(|_| Sw::UNKNOWN_ERROR)?;
    let extensions = vec![
        extension(OID_YUBICO_FIRMWARE, false, VERSION.to_vec())?,
        extension(OID_YUBICO_SERIAL, false, serial_der)?,
        extension(OID_YUBICO_POLICY, false, vec![key.pin_policy.code(), TOUCH_POLICY_NEVER])?,
        extension(OID_YUBICO_FORM_FACTOR, false, vec![FORM_FACTOR_UNKNOWN])?,
    ];
    certificate(&issuer.subject, &f9.key, subject, &key.key, issuer.validity, extensions, rng)
}
