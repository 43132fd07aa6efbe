//! Checking a card's signature with a certified public key (OpenSSL):
//! RSA with PKCS#1 v1.5 or PSS (salt as long as the hash, as the host pads),
//! or ECDSA (DER). The hash is SHA-256, except for P-384 keys, which sign
//! with SHA-384, the hash the curve pairs with (RFC 5758 3.2; what a
//! sub-SIM's P-384 key signs logins and transactions with).

use openssl::hash::MessageDigest;
use openssl::nid::Nid;
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

/// The hash `key` signs with: SHA-384 for P-384, else SHA-256.
fn digest_for(key: &PKeyRef<Public>) -> MessageDigest {
    let p384 = key.ec_key().ok().and_then(|k| k.group().curve_name()) == Some(Nid::SECP384R1);
    if p384 {
        MessageDigest::sha384()
    } else {
        MessageDigest::sha256()
    }
}

/// Whether `signature` is `key`'s signature of `message` (SHA-256, or
/// SHA-384 for a P-384 key).
pub fn verify(key: &PKeyRef<Public>, message: &[u8], signature: &[u8], padding: RsaPadding) -> bool {
    let check = || -> Result<bool, openssl::error::ErrorStack> {
        let mut v = Verifier::new(digest_for(key), key)?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use openssl::ec::{EcGroup, EcKey};
    use openssl::pkey::PKey;
    use openssl::sign::Signer;

    /// P-256 signs with SHA-256 and P-384 with SHA-384: each verifies with
    /// its own hash, and not with the other, nor over other text.
    #[test]
    fn each_curve_with_its_hash() {
        for (curve, own, other) in [
            (Nid::X9_62_PRIME256V1, MessageDigest::sha256(), MessageDigest::sha384()),
            (Nid::SECP384R1, MessageDigest::sha384(), MessageDigest::sha256()),
        ] {
            let key = PKey::from_ec_key(EcKey::generate(&EcGroup::from_curve_name(curve).unwrap()).unwrap()).unwrap();
            let public = PKey::public_key_from_der(&key.public_key_to_der().unwrap()).unwrap();
            let sign = |md| Signer::new(md, &key).unwrap().sign_oneshot_to_vec(b"transfer 10 EUR").unwrap();
            let (good, wrong_hash) = (sign(own), sign(other));
            assert!(verify(&public, b"transfer 10 EUR", &good, RsaPadding::Pkcs1v15), "{curve:?}");
            assert!(!verify(&public, b"transfer 99 EUR", &good, RsaPadding::Pkcs1v15), "{curve:?}");
            assert!(!verify(&public, b"transfer 10 EUR", &wrong_hash, RsaPadding::Pkcs1v15), "{curve:?}");
        }
    }
}
