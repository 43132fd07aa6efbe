//! Certificates made with the card's keys: a PKCS#10 request or a
//! self-signed certificate signed on the card (SHA-256, PKCS#1 v1.5), and
//! a throw-away test CA for the demo and the lab.

use std::cell::RefCell;
use std::str::FromStr;
use std::time::Duration;

use crate::{Client, Hash, Padding, Transport};
use applet_spec::piv::{KeyAlgorithm, Slot};
use rsa::pkcs1v15::{Signature, SigningKey, VerifyingKey};
use rsa::pkcs8::spki::{AlgorithmIdentifier, DecodePublicKey, SignatureAlgorithmIdentifier, SubjectPublicKeyInfoOwned};
use rsa::pkcs8::{der::AnyRef, EncodePublicKey};
use rsa::signature::{Keypair, Signer};
use rsa::{RsaPrivateKey, RsaPublicKey};
use sha2::Sha256;
use x509_cert::builder::{Builder, CertificateBuilder, Profile, RequestBuilder};
use x509_cert::der::{Decode, Encode};
use x509_cert::ext::pkix::{BasicConstraints, KeyUsage, KeyUsages};
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::time::Validity;

/// Signs with a key on the card; the builder sees an ordinary RSA signer.
pub struct CardSigner<'a, T: Transport> {
    card: RefCell<&'a mut Client<T>>,
    slot: Slot,
    public: RsaPublicKey,
}

impl<'a, T: Transport> CardSigner<'a, T> {
    /// A signer with the RSA key in `slot`, whose public key is `public` (read from the card).
    pub fn new(card: &'a mut Client<T>, slot: Slot, public: RsaPublicKey) -> Self {
        CardSigner { card: RefCell::new(card), slot, public }
    }
}

impl<T: Transport> Keypair for CardSigner<'_, T> {
    type VerifyingKey = VerifyingKey<Sha256>;
    fn verifying_key(&self) -> VerifyingKey<Sha256> {
        VerifyingKey::new(self.public.clone())
    }
}

impl<T: Transport> SignatureAlgorithmIdentifier for CardSigner<'_, T> {
    type Params = AnyRef<'static>;
    const SIGNATURE_ALGORITHM_IDENTIFIER: AlgorithmIdentifier<AnyRef<'static>> =
        SigningKey::<Sha256>::SIGNATURE_ALGORITHM_IDENTIFIER;
}

impl<T: Transport> Signer<Signature> for CardSigner<'_, T> {
    fn try_sign(&self, msg: &[u8]) -> Result<Signature, rsa::signature::Error> {
        let sig = self
            .card
            .borrow_mut()
            .sign_with(self.slot, rsa_algorithm(&self.public), msg, Hash::Sha256, Padding::Pkcs1v15)
            .map_err(rsa::signature::Error::from_source)?;
        Signature::try_from(sig.as_slice())
    }
}

/// The card's algorithm for an RSA key of this size (any the card has).
fn rsa_algorithm(key: &RsaPublicKey) -> KeyAlgorithm {
    use rsa::traits::PublicKeyParts;
    KeyAlgorithm::ALL.into_iter().find(|a| a.rsa_bytes() == Some(key.size())).unwrap_or(KeyAlgorithm::Rsa2048)
}

/// Signs with an EC key on the card (ECDSA, the hash the curve pairs with:
/// SHA-256 for P-256, SHA-384 for P-384); the builder sees an ordinary
/// ECDSA signer.
macro_rules! ec_card_signer {
    ($name:ident, $curve:ident, $hash:expr, $alg:expr, $oid:expr) => {
        #[doc = concat!("An ECDSA signer with a ", stringify!($curve), " key on the card, for the X.509 builder.")]
        pub struct $name<'a, T: Transport> {
            card: RefCell<&'a mut Client<T>>,
            slot: Slot,
            public: $curve::ecdsa::VerifyingKey,
        }

        impl<'a, T: Transport> $name<'a, T> {
            /// A signer with the EC key in `slot`, whose public key is `public` (read from the card).
            pub fn new(card: &'a mut Client<T>, slot: Slot, public: $curve::ecdsa::VerifyingKey) -> Self {
                $name { card: RefCell::new(card), slot, public }
            }
        }

        impl<T: Transport> Keypair for $name<'_, T> {
            type VerifyingKey = $curve::ecdsa::VerifyingKey;
            fn verifying_key(&self) -> Self::VerifyingKey {
                self.public
            }
        }

        impl<T: Transport> SignatureAlgorithmIdentifier for $name<'_, T> {
            type Params = AnyRef<'static>;
            const SIGNATURE_ALGORITHM_IDENTIFIER: AlgorithmIdentifier<AnyRef<'static>> =
                AlgorithmIdentifier { oid: $oid, parameters: None };
        }

        impl<T: Transport> Signer<$curve::ecdsa::DerSignature> for $name<'_, T> {
            fn try_sign(&self, msg: &[u8]) -> Result<$curve::ecdsa::DerSignature, rsa::signature::Error> {
                let der = self
                    .card
                    .borrow_mut()
                    .sign_with(self.slot, $alg, msg, $hash, Padding::Pkcs1v15)
                    .map_err(rsa::signature::Error::from_source)?;
                $curve::ecdsa::DerSignature::try_from(der.as_slice())
            }
        }
    };
}

ec_card_signer!(P256CardSigner, p256, Hash::Sha256, KeyAlgorithm::EccP256, ecdsa_oid::SHA256);
ec_card_signer!(P384CardSigner, p384, Hash::Sha384, KeyAlgorithm::EccP384, ecdsa_oid::SHA384);

/// ecdsa-with-SHA256 and -SHA384 (RFC 5758 3.2).
mod ecdsa_oid {
    use rsa::pkcs8::spki::ObjectIdentifier;
    pub const SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
    pub const SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3");
}

/// The key usage PIV gives a slot's certificate (SP 800-73-4 part 1,
/// 3.1 and 3.3; the common policy of the FPKI): 9A and 9E
/// digitalSignature; 9C digitalSignature and nonRepudiation; 9D and the
/// retired key management slots keyEncipherment for RSA, keyAgreement for
/// EC. OpenSC reads it: keyAgreement offers ECDH, nonRepudiation asks for
/// the PIN at every use.
pub fn slot_key_usage(slot: Slot, alg: KeyAlgorithm) -> KeyUsage {
    KeyUsage(match slot {
        Slot::Signature => KeyUsages::DigitalSignature | KeyUsages::NonRepudiation,
        Slot::KeyManagement | Slot::Retired(_) if alg.rsa_bytes().is_some() => KeyUsages::KeyEncipherment.into(),
        Slot::KeyManagement | Slot::Retired(_) => KeyUsages::KeyAgreement.into(),
        Slot::Authentication | Slot::CardAuthentication | Slot::Attestation => KeyUsages::DigitalSignature.into(),
    })
}

/// The names `--key-usage` takes (RFC 5280, 4.2.1.3), each with its bit.
pub const KEY_USAGE_NAMES: [(&str, KeyUsages); 9] = [
    ("digitalSignature", KeyUsages::DigitalSignature),
    ("nonRepudiation", KeyUsages::NonRepudiation),
    ("keyEncipherment", KeyUsages::KeyEncipherment),
    ("dataEncipherment", KeyUsages::DataEncipherment),
    ("keyAgreement", KeyUsages::KeyAgreement),
    ("keyCertSign", KeyUsages::KeyCertSign),
    ("cRLSign", KeyUsages::CRLSign),
    ("encipherOnly", KeyUsages::EncipherOnly),
    ("decipherOnly", KeyUsages::DecipherOnly),
];

/// A key usage from names separated by commas ("digitalSignature,keyAgreement", any case).
pub fn parse_key_usage(list: &str) -> Result<KeyUsage, String> {
    let mut usage = flagset::FlagSet::<KeyUsages>::default();
    for item in list.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        let (_, bit) = KEY_USAGE_NAMES.iter().find(|(n, _)| n.eq_ignore_ascii_case(item)).ok_or_else(|| {
            let names: Vec<&str> = KEY_USAGE_NAMES.iter().map(|(n, _)| *n).collect();
            format!("unknown key usage {item:?}: use {}", names.join(", "))
        })?;
        usage |= *bit;
    }
    if usage.is_empty() {
        return Err("a key usage needs at least one name".into());
    }
    Ok(KeyUsage(usage))
}

/// The names of the bits a key usage has.
pub fn key_usage_names(usage: &KeyUsage) -> Vec<&'static str> {
    KEY_USAGE_NAMES.iter().filter(|(_, b)| usage.0.contains(*b)).map(|(n, _)| *n).collect()
}

/// A PKCS#10 request signed by any signer the builder takes (DER), asking
/// for `usage` (the extensionRequest attribute).
pub fn csr_with<S, Sig>(signer: &S, subject: &str, usage: &KeyUsage) -> Result<Vec<u8>, String>
where
    S: Keypair + rsa::pkcs8::spki::DynSignatureAlgorithmIdentifier + Signer<Sig>,
    S::VerifyingKey: EncodePublicKey,
    Sig: rsa::pkcs8::spki::SignatureBitStringEncoding,
{
    let mut req = RequestBuilder::new(name(subject)?, signer).map_err(err)?;
    req.add_extension(usage).map_err(err)?;
    req.build::<Sig>().map_err(err)?.to_der().map_err(err)
}

/// A self-signed certificate by any signer the builder takes (DER): an
/// end entity (basicConstraints CA false) with key usage `usage`.
pub fn selfsign_with<S, Sig>(signer: &S, subject: &str, days: u64, usage: &KeyUsage) -> Result<Vec<u8>, String>
where
    S: Keypair + rsa::pkcs8::spki::DynSignatureAlgorithmIdentifier + Signer<Sig>,
    S::VerifyingKey: EncodePublicKey,
    Sig: rsa::pkcs8::spki::SignatureBitStringEncoding,
{
    let subject = name(subject)?;
    let validity = Validity::from_now(Duration::from_secs(days * 86400)).map_err(err)?;
    let der = signer.verifying_key().to_public_key_der().map_err(err)?;
    let spki = SubjectPublicKeyInfoOwned::from_der(der.as_bytes()).map_err(err)?;
    let profile = Profile::Manual { issuer: None };
    let mut b = CertificateBuilder::new(profile, serial(), validity, subject, spki, signer).map_err(err)?;
    b.add_extension(&BasicConstraints { ca: false, path_len_constraint: None }).map_err(err)?;
    b.add_extension(usage).map_err(err)?;
    b.build::<Sig>().map_err(err)?.to_der().map_err(err)
}

/// A subject in words (`CN=Alice,O=Bank`) as a name; the error says how to write it.
pub fn name(subject: &str) -> Result<Name, String> {
    Name::from_str(subject).map_err(|e| format!("subject {subject:?}: {e} (write it like CN=Alice,O=Bank)"))
}

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// A PKCS#10 request for `subject`, signed on the card (DER), asking for
/// the slot's PIV key usage.
pub fn csr<T: Transport>(signer: &CardSigner<T>, subject: &str) -> Result<Vec<u8>, String> {
    csr_with::<_, Signature>(signer, subject, &slot_key_usage(signer.slot, rsa_algorithm(&signer.public)))
}

fn spki(key: &RsaPublicKey) -> Result<SubjectPublicKeyInfoOwned, String> {
    SubjectPublicKeyInfoOwned::from_der(key.to_public_key_der().map_err(err)?.as_bytes()).map_err(err)
}

fn serial() -> SerialNumber {
    let mut b = [0u8; 16];
    rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut b);
    b[0] &= 0x7F;
    SerialNumber::new(&b).expect("16 bytes make a serial")
}

/// A self-signed certificate for the card's key in the slot (DER), with
/// the slot's PIV key usage: for the lab.
pub fn selfsign<T: Transport>(signer: &CardSigner<T>, subject: &str, days: u64) -> Result<Vec<u8>, String> {
    selfsign_with::<_, Signature>(signer, subject, days, &slot_key_usage(signer.slot, rsa_algorithm(&signer.public)))
}

/// A throw-away certificate authority, its key in memory only.
pub struct TestCa {
    key: SigningKey<Sha256>,
    name: Name,
    /// The CA's self-signed certificate (DER).
    pub certificate: Vec<u8>,
}

impl TestCa {
    /// A fresh CA named `subject` (e.g. "CN=Test CA"), RSA-2048, valid two days.
    pub fn new(subject: &str) -> Result<TestCa, String> {
        let private = RsaPrivateKey::new(&mut rand::thread_rng(), 2048).map_err(err)?;
        let key = SigningKey::<Sha256>::new(private);
        let name = name(subject)?;
        let validity = Validity::from_now(Duration::from_secs(2 * 86400)).map_err(err)?;
        let spki = spki(key.verifying_key().as_ref())?;
        let b = CertificateBuilder::new(Profile::Root, serial(), validity, name.clone(), spki, &key).map_err(err)?;
        let certificate = b.build::<Signature>().map_err(err)?.to_der().map_err(err)?;
        Ok(TestCa { key, name, certificate })
    }

    /// Issues a certificate for a request, after checking its signature.
    pub fn issue(&self, csr_der: &[u8], days: u64) -> Result<Vec<u8>, String> {
        let req = x509_cert::request::CertReq::from_der(csr_der).map_err(err)?;
        let info = &req.info;
        let public = RsaPublicKey::from_public_key_der(&info.public_key.to_der().map_err(err)?).map_err(err)?;
        let body = info.to_der().map_err(err)?;
        let sig = Signature::try_from(req.signature.raw_bytes()).map_err(err)?;
        rsa::signature::Verifier::verify(&VerifyingKey::<Sha256>::new(public), &body, &sig)
            .map_err(|_| "the request's signature does not verify".to_string())?;
        let profile = Profile::Leaf {
            issuer: self.name.clone(),
            enable_key_agreement: false,
            enable_key_encipherment: false,
            include_subject_key_identifier: true,
        };
        let validity = Validity::from_now(Duration::from_secs(days * 86400)).map_err(err)?;
        let b = CertificateBuilder::new(
            profile,
            serial(),
            validity,
            info.subject.clone(),
            info.public_key.clone(),
            &self.key,
        )
        .map_err(err)?;
        b.build::<Signature>().map_err(err)?.to_der().map_err(err)
    }
}

/// Checks that `cert_der` was signed by the CA in `ca_der`.
pub fn verify_issued(ca_der: &[u8], cert_der: &[u8]) -> Result<(), String> {
    let ca = x509_cert::Certificate::from_der(ca_der).map_err(err)?;
    let cert = x509_cert::Certificate::from_der(cert_der).map_err(err)?;
    let ca_key = RsaPublicKey::from_public_key_der(&ca.tbs_certificate.subject_public_key_info.to_der().map_err(err)?)
        .map_err(err)?;
    let sig = Signature::try_from(cert.signature.raw_bytes()).map_err(err)?;
    let body = cert.tbs_certificate.to_der().map_err(err)?;
    rsa::signature::Verifier::verify(&VerifyingKey::<Sha256>::new(ca_key), &body, &sig)
        .map_err(|_| "the certificate was not issued by this CA".to_string())
}
