//! The card's RSA operations. Raw RSA only: the host applies PKCS#1 v1.5 or
//! PSS padding, as PIV specifies.

use applet_spec::piv::{RSA2048_BYTES, RSA_EXPONENT};
use applet_spec::Sw;
use rsa::traits::PublicKeyParts;
use rsa::{BigUint, RsaPrivateKey};

use crate::rng::CardRng;

/// Generates an RSA-2048 key pair with exponent 65537.
pub fn generate_rsa2048(rng: &mut CardRng) -> Result<RsaPrivateKey, Sw> {
    RsaPrivateKey::new_with_exp(rng, RSA2048_BYTES * 8, &BigUint::from(RSA_EXPONENT)).map_err(|_| Sw::UNKNOWN_ERROR)
}

/// The private-key operation `block^d mod n`, blinded and checked against the
/// public key (a CRT fault never yields a wrong signature). The block must be
/// exactly the modulus length and numerically smaller than the modulus.
pub fn raw_private(key: &RsaPrivateKey, rng: &mut CardRng, block: &[u8]) -> Result<Vec<u8>, Sw> {
    if block.len() != key.size() {
        return Err(Sw::INCORRECT_DATA);
    }
    let c = BigUint::from_bytes_be(block);
    if &c >= key.n() {
        return Err(Sw::INCORRECT_DATA);
    }
    let m = rsa::hazmat::rsa_decrypt_and_check(key, Some(rng), &c).map_err(|_| Sw::UNKNOWN_ERROR)?;
    Ok(left_pad(&m.to_bytes_be(), key.size()))
}

/// Modulus (full length) and public exponent, big-endian.
pub fn public_parts(key: &RsaPrivateKey) -> (Vec<u8>, Vec<u8>) {
    (left_pad(&key.n().to_bytes_be(), key.size()), key.e().to_bytes_be())
}

fn left_pad(bytes: &[u8], len: usize) -> Vec<u8> {
    let mut out = vec![0u8; len.saturating_sub(bytes.len())];
    out.extend_from_slice(bytes);
    out
}
