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

/// Which library computes the private-key operation. Key generation, key
/// types and verification stay with the `rsa` crate whatever the choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RsaBackend {
    /// OpenSSL's RSA (blinded, constant-time): about 5x the `rsa` crate.
    #[default]
    OpenSsl,
    /// The pure-Rust `rsa` crate (blinded with the card's RNG, checked).
    RustCrypto,
}

/// The private-key operation `block^d mod n` with the chosen backend. The
/// block must be exactly the modulus length and numerically smaller than
/// the modulus.
pub struct PrivateOp {
    backend: RsaBackend,
    /// OpenSSL's form of each key, made once, keyed by the modulus (unique
    /// to a key; an address could be reused by a later key).
    openssl_keys: std::collections::HashMap<Vec<u8>, openssl::rsa::Rsa<openssl::pkey::Private>>,
}

impl PrivateOp {
    pub fn new(backend: RsaBackend) -> PrivateOp {
        PrivateOp { backend, openssl_keys: Default::default() }
    }

    pub fn backend(&self) -> RsaBackend {
        self.backend
    }

    pub fn run(&mut self, key: &std::sync::Arc<RsaPrivateKey>, rng: &mut CardRng, block: &[u8]) -> Result<Vec<u8>, Sw> {
        if block.len() != key.size() || &BigUint::from_bytes_be(block) >= key.n() {
            return Err(Sw::INCORRECT_DATA);
        }
        match self.backend {
            RsaBackend::RustCrypto => {
                let c = BigUint::from_bytes_be(block);
                let m = rsa::hazmat::rsa_decrypt_and_check(&**key, Some(rng), &c).map_err(|_| Sw::UNKNOWN_ERROR)?;
                Ok(left_pad(&m.to_bytes_be(), key.size()))
            }
            RsaBackend::OpenSsl => {
                let id = key.n().to_bytes_be();
                if !self.openssl_keys.contains_key(&id) {
                    use rsa::pkcs1::EncodeRsaPrivateKey;
                    let der = key.to_pkcs1_der().map_err(|_| Sw::UNKNOWN_ERROR)?;
                    let rsa = openssl::rsa::Rsa::private_key_from_der(der.as_bytes()).map_err(|_| Sw::UNKNOWN_ERROR)?;
                    // Keys come and go with GENERATE and TERMINATE; four slots
                    // fit many times over, old keys are forgotten in bulk.
                    if self.openssl_keys.len() >= 8 {
                        self.openssl_keys.clear();
                    }
                    self.openssl_keys.insert(id.clone(), rsa);
                }
                let rsa = &self.openssl_keys[&id];
                let mut out = vec![0u8; rsa.size() as usize];
                let n =
                    rsa.private_decrypt(block, &mut out, openssl::rsa::Padding::NONE).map_err(|_| Sw::UNKNOWN_ERROR)?;
                out.truncate(n);
                Ok(left_pad(&out, key.size()))
            }
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn both_backends_compute_the_same_private_operation() {
        let mut rng = crate::rng::seeded(42);
        let keys: Vec<Arc<RsaPrivateKey>> = (0..3).map(|_| Arc::new(generate_rsa2048(&mut rng).unwrap())).collect();
        let mut rust = PrivateOp::new(RsaBackend::RustCrypto);
        let mut ossl = PrivateOp::new(RsaBackend::OpenSsl);
        for (i, key) in keys.iter().chain(keys.iter()).enumerate() {
            let mut block = vec![0u8; 256];
            block[1..].iter_mut().enumerate().for_each(|(j, b)| *b = (i * 31 + j * 7) as u8);
            let a = rust.run(key, &mut rng, &block).unwrap();
            let b = ossl.run(key, &mut rng, &block).unwrap();
            assert_eq!(a, b, "key {i}");
            // And it is the right operation: block^d^e = block.
            let back = rsa::hazmat::rsa_encrypt(&**key, &BigUint::from_bytes_be(&a)).unwrap();
            assert_eq!(left_pad(&back.to_bytes_be(), 256), block);
        }
        // Both refuse the same bad blocks.
        let n = keys[0].n().to_bytes_be();
        for bad in [n.clone(), vec![0xFF; 256], vec![1; 255], vec![1; 257]] {
            assert_eq!(rust.run(&keys[0], &mut rng, &bad), Err(Sw::INCORRECT_DATA));
            assert_eq!(ossl.run(&keys[0], &mut rng, &bad), Err(Sw::INCORRECT_DATA));
        }
    }
}
