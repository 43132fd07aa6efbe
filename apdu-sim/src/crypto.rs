//! The card's key operations. RSA is raw (the host applies PKCS#1 v1.5 or
//! PSS padding, as PIV specifies); EC keys (P-256, P-384) come from
//! RustCrypto's constant-time `p256`/`p384`. Every key is drawn from the
//! card's injectable RNG, so a seeded card is reproducible.

use std::sync::Arc;

use applet_spec::messages::{ImportedKey, PublicKeyData};
use applet_spec::piv::{KeyAlgorithm, RSA2048_BYTES, RSA_EXPONENT};
use applet_spec::Sw;
use rsa::traits::{PrivateKeyParts, PublicKeyParts};
use rsa::{BigUint, RsaPrivateKey};
use zeroize::Zeroizing;

use crate::rng::CardRng;

/// Generates an RSA-2048 key pair with exponent 65537.
pub fn generate_rsa2048(rng: &mut CardRng) -> Result<RsaPrivateKey, Sw> {
    generate_rsa(rng, RSA2048_BYTES)
}

fn generate_rsa(rng: &mut CardRng, bytes: usize) -> Result<RsaPrivateKey, Sw> {
    RsaPrivateKey::new_with_exp(rng, bytes * 8, &BigUint::from(RSA_EXPONENT)).map_err(|_| Sw::UNKNOWN_ERROR)
}

/// A private key of any algorithm the card holds. Shared (`Arc`), so an
/// atomic state update copies pointers, not keys; EC scalars zeroize on drop.
#[derive(Clone)]
pub enum PrivateKey {
    /// RSA, 1024 to 4096 bits.
    Rsa(Arc<RsaPrivateKey>),
    /// ECC P-256.
    P256(Arc<p256::SecretKey>),
    /// ECC P-384.
    P384(Arc<p384::SecretKey>),
}

impl std::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PrivateKey({})", self.algorithm().name())
    }
}

impl PrivateKey {
    /// A new key pair drawn from `rng`.
    pub fn generate(alg: KeyAlgorithm, rng: &mut CardRng) -> Result<PrivateKey, Sw> {
        Ok(match alg {
            KeyAlgorithm::EccP256 => PrivateKey::P256(Arc::new(p256::SecretKey::random(rng))),
            KeyAlgorithm::EccP384 => PrivateKey::P384(Arc::new(p384::SecretKey::random(rng))),
            KeyAlgorithm::Ed25519 | KeyAlgorithm::X25519 => return Err(Sw::INCORRECT_DATA),
            rsa => PrivateKey::Rsa(Arc::new(generate_rsa(rng, rsa.rsa_bytes().expect("RSA has a size"))?)),
        })
    }

    /// The key IMPORT KEY carries, checked to be whole and of `alg`:
    /// RSA from its CRT parameters (exponent 65537, as on a YubiKey), EC
    /// from its private scalar.
    pub fn import(alg: KeyAlgorithm, key: &ImportedKey) -> Result<PrivateKey, Sw> {
        let bad = Sw::INCORRECT_DATA;
        match (alg.rsa_bytes(), alg.ec_bytes(), key) {
            (Some(bytes), _, ImportedKey::Rsa { p, q, dp, dq, qinv }) => {
                let big = |v: &[u8]| BigUint::from_bytes_be(v);
                let k = RsaPrivateKey::from_p_q(big(p), big(q), BigUint::from(RSA_EXPONENT)).map_err(|_| bad)?;
                let consistent = k.size() == bytes
                    && k.validate().is_ok()
                    && k.dp() == Some(&big(dp))
                    && k.dq() == Some(&big(dq))
                    && k.crt_coefficient() == Some(big(qinv));
                consistent.then(|| PrivateKey::Rsa(Arc::new(k))).ok_or(bad)
            }
            (_, Some(len), ImportedKey::Ec { scalar }) => {
                // Left-padded to the field length; the scalar must be in [1, n-1].
                if scalar.len() > len {
                    return Err(bad);
                }
                let mut padded = Zeroizing::new(vec![0u8; len]);
                padded[len - scalar.len()..].copy_from_slice(scalar);
                match alg {
                    KeyAlgorithm::EccP256 => {
                        p256::SecretKey::from_slice(&padded).map(|k| PrivateKey::P256(Arc::new(k))).map_err(|_| bad)
                    }
                    _ => p384::SecretKey::from_slice(&padded).map(|k| PrivateKey::P384(Arc::new(k))).map_err(|_| bad),
                }
            }
            _ => Err(bad),
        }
    }

    /// The PIV algorithm of this key (by RSA modulus size or curve).
    pub fn algorithm(&self) -> KeyAlgorithm {
        match self {
            PrivateKey::Rsa(k) => match k.size() {
                128 => KeyAlgorithm::Rsa1024,
                384 => KeyAlgorithm::Rsa3072,
                512 => KeyAlgorithm::Rsa4096,
                _ => KeyAlgorithm::Rsa2048,
            },
            PrivateKey::P256(_) => KeyAlgorithm::EccP256,
            PrivateKey::P384(_) => KeyAlgorithm::EccP384,
        }
    }

    /// Key size in bytes: the modulus, or the curve's field.
    pub fn size(&self) -> usize {
        match self {
            PrivateKey::Rsa(k) => k.size(),
            PrivateKey::P256(_) => 32,
            PrivateKey::P384(_) => 48,
        }
    }

    /// Whether the key is whole (RSA: primes, exponents and CRT values agree).
    pub fn validate(&self) -> Result<(), String> {
        match self {
            PrivateKey::Rsa(k) => k.validate().map_err(|e| e.to_string()),
            // A SecretKey is a scalar in [1, n-1] by construction.
            PrivateKey::P256(_) | PrivateKey::P384(_) => Ok(()),
        }
    }

    /// The public key as the card encodes it (inside 7F49).
    pub fn public(&self) -> PublicKeyData {
        match self {
            PrivateKey::Rsa(k) => {
                let (modulus, exponent) = public_parts(k);
                PublicKeyData::Rsa { modulus, exponent }
            }
            PrivateKey::P256(k) => {
                use p256::elliptic_curve::sec1::ToEncodedPoint;
                PublicKeyData::Ec { point: k.public_key().to_encoded_point(false).as_bytes().to_vec() }
            }
            PrivateKey::P384(k) => {
                use p384::elliptic_curve::sec1::ToEncodedPoint;
                PublicKeyData::Ec { point: k.public_key().to_encoded_point(false).as_bytes().to_vec() }
            }
        }
    }

    /// The public key as an X.509 SubjectPublicKeyInfo (DER).
    pub fn spki_der(&self) -> Result<Vec<u8>, Sw> {
        use p256::pkcs8::EncodePublicKey;
        let der = match self {
            PrivateKey::Rsa(k) => k.to_public_key().to_public_key_der(),
            PrivateKey::P256(k) => k.public_key().to_public_key_der(),
            PrivateKey::P384(k) => k.public_key().to_public_key_der(),
        };
        der.map(|d| d.as_bytes().to_vec()).map_err(|_| Sw::UNKNOWN_ERROR)
    }
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
    /// The operation run by `backend`.
    pub fn new(backend: RsaBackend) -> PrivateOp {
        PrivateOp { backend, openssl_keys: Default::default() }
    }

    /// Which library runs the operation.
    pub fn backend(&self) -> RsaBackend {
        self.backend
    }

    /// `block^d mod n` with `key`; `6A80` when `block` is not modulus-long or not below the modulus.
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
