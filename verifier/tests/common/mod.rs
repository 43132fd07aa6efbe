//! Shared by the verifier's tests: a fixed clock, keys, and a small PKI
//! made by the library's test CA.
#![allow(dead_code)]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::sign::Signer;
use openssl::x509::{X509Crl, X509};
use subsim_verifier::testca::parse_name;
use subsim_verifier::{Role, TestCa};

/// 2027-01-15 08:00 UTC: the tests' "now". Nothing reads the real clock.
pub fn t0() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_800_000_000)
}
pub const DAY: Duration = Duration::from_secs(86400);

pub fn key() -> PKey<Private> {
    PKey::from_ec_key(EcKey::generate(&EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap()).unwrap()).unwrap()
}

pub fn sign(key: &PKey<Private>, message: &[u8]) -> Vec<u8> {
    let mut s = Signer::new(MessageDigest::sha256(), key).unwrap();
    s.sign_oneshot_to_vec(message).unwrap()
}

/// A certificate for a fresh key, valid from `from` to `until`.
pub fn holder(ca: &mut TestCa, cn: &str, role: Role, from: SystemTime, until: SystemTime) -> (PKey<Private>, X509) {
    let k = key();
    let public = PKey::public_key_from_der(&k.public_key_to_der().unwrap()).unwrap();
    let cert = ca.issue_for_key(&parse_name(&format!("CN={cn}")).unwrap(), &public, role, from, until).unwrap();
    (k, cert)
}

/// A CA's CRL in force for a week around t0.
pub fn fresh_crl(ca: &mut TestCa) -> X509Crl {
    ca.crl(t0() - DAY, t0() + 7 * DAY).unwrap()
}

pub fn der(c: &X509) -> Vec<u8> {
    c.to_der().unwrap()
}

/// `X509Crl` is not `Clone`: a copy through DER.
pub fn copy(c: &X509Crl) -> X509Crl {
    X509Crl::from_der(&c.to_der().unwrap()).unwrap()
}
