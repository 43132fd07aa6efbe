//! Checking a card's signature with a certified public key (OpenSSL):
//! RSA with PKCS#1 v1.5 or PSS (salt as long as the hash, as the host pads),
//! or ECDSA (DER), always over SHA-256 of the message.

use openssl::hash::MessageDigest;
use openssl::pkey::{Id, PKeyRef, Public};
use openssl::rsa::Padding;
use openssl::sign::{RsaPssSaltlen, Verifier};

/// How an RSA signature is padded (ignored for EC keys).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RsaPadding {
    /// PKCS#1 v1.5 (RFC 8017 8.2), what the sub-SIM host uses by default.
    #[default]
    Pkcs1v15,
    /// PSS with MGF1-SHA-256 and a 32-byte salt (RFC 8017 8.1).
    Pss,
}

/// Whether `signature` is `key`'s SHA-256 signature of `message`.
pub fn verify(key: &PKeyRef<Public>, message: &[u8], signature: &[u8], padding: RsaPadding) -> bool {
    let check = || -> Result<bool, openssl::error::ErrorStack> {
        let mut v = Verifier::new(MessageDigest::sha256(), key)?;
        if key.id() == Id::RSA {
            match padding {
                RsaPadding::Pkcs1v15 => v.set_rsa_padding(Padding::PKCS1)?,
                RsaPadding::Pss => {
                    v.set_rsa_padding(Padding::PKCS1_PSS)?;
                    v.set_rsa_pss_saltlen(RsaPssSaltlen::DIGEST_LENGTH)?;
                }
            }
        }
        v.verify_oneshot(signature, message)
    };
    check().unwrap_or(false)
}
