//! The card's key operations. RSA is raw (the host applies PKCS#1 v1.5 or
//! PSS padding, as PIV specifies); EC keys (P-256, P-384) come from
//! RustCrypto's constant-time `p256`/`p384` types, and OpenSSL computes
//! with them (ECDSA, ECDH, the public point: [`PrivateOp`]; RustCrypto's
//! own arithmetic is the other backend); Ed25519 and X25519 (Yubico 5.7)
//! are 32 raw bytes that OpenSSL computes with. Every key is drawn from the
//! card's injectable RNG, so a seeded card is reproducible (OpenSSL only
//! computes with the scalar it is given).

use std::sync::Arc;

use applet_spec::messages::{ImportedKey, PublicKeyData};
use applet_spec::piv::{KeyAlgorithm, RSA2048_BYTES, RSA_EXPONENT};
use applet_spec::Sw;
use openssl::bn::{BigNum, BigNumContext};
use openssl::ec::{EcGroup, EcKey, EcPoint, PointConversionForm};
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
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
    /// Ed25519 (RFC 8032).
    Ed25519(Arc<Raw25519>),
    /// X25519 (RFC 7748).
    X25519(Arc<Raw25519>),
}

/// An Ed25519 or X25519 private key: the 32 bytes RFC 8032 5.1.5 / RFC
/// 7748 5 define (zeroized on drop) and the public key derived from them.
pub struct Raw25519 {
    private: Zeroizing<[u8; 32]>,
    public: [u8; 32],
    /// OpenSSL's key, made once: building it derives the public key, a
    /// scalar multiplication each signature would otherwise repeat.
    pkey: PKey<Private>,
}

impl Raw25519 {
    /// The key for 32 raw private bytes; its public key comes from OpenSSL.
    fn new(id: openssl::pkey::Id, private: &[u8]) -> Result<Raw25519, Sw> {
        let bytes: [u8; 32] = private.try_into().map_err(|_| Sw::INCORRECT_DATA)?;
        let private = Zeroizing::new(bytes);
        let pkey = PKey::private_key_from_raw_bytes(&*private, id).map_err(|_| Sw::INCORRECT_DATA)?;
        let public = pkey.raw_public_key().map_err(|_| Sw::UNKNOWN_ERROR)?;
        Ok(Raw25519 { private, public: public.try_into().map_err(|_| Sw::UNKNOWN_ERROR)?, pkey })
    }
    /// 32 bytes from the card's RNG: any 32 bytes are a key of either curve.
    fn generate(id: openssl::pkey::Id, rng: &mut CardRng) -> Result<Raw25519, Sw> {
        use rand::RngCore;
        let mut bytes = Zeroizing::new([0u8; 32]);
        rng.fill_bytes(&mut *bytes);
        Raw25519::new(id, &*bytes)
    }
    /// The raw private bytes (for the card file only).
    pub fn private_bytes(&self) -> &[u8; 32] {
        &self.private
    }
    fn pkey(&self) -> &PKey<Private> {
        &self.pkey
    }
}

/// An Ed25519 signature of `message` (RFC 8032 5.1.6: PureEdDSA, 64 bytes).
pub fn ed25519_sign(key: &Raw25519, message: &[u8]) -> Result<Vec<u8>, Sw> {
    let mut signer = openssl::sign::Signer::new_without_digest(key.pkey()).map_err(|_| Sw::UNKNOWN_ERROR)?;
    signer.sign_oneshot_to_vec(message).map_err(|_| Sw::UNKNOWN_ERROR)
}

/// The X25519 shared secret with `peer` (32 bytes, RFC 7748 5); `6A80` for
/// a peer key not 32 bytes or an all-zero result (RFC 7748 6.1).
pub fn x25519_agree(key: &Raw25519, peer: &[u8]) -> Result<Vec<u8>, Sw> {
    use openssl::pkey::Id;
    if peer.len() != 32 {
        return Err(Sw::INCORRECT_DATA);
    }
    let peer = PKey::public_key_from_raw_bytes(peer, Id::X25519).map_err(|_| Sw::INCORRECT_DATA)?;
    let mut deriver = openssl::derive::Deriver::new(key.pkey()).map_err(|_| Sw::UNKNOWN_ERROR)?;
    // Any 32 bytes are an X25519 public key (RFC 7748 5); a small-order one
    // gives the all-zero secret, refused below.
    deriver.set_peer_ex(&peer, false).map_err(|_| Sw::INCORRECT_DATA)?;
    // OpenSSL refuses the all-zero secret itself; checked again, to be sure.
    let shared = Zeroizing::new(deriver.derive_to_vec().map_err(|_| Sw::INCORRECT_DATA)?);
    if shared.iter().all(|&b| b == 0) {
        return Err(Sw::INCORRECT_DATA);
    }
    Ok(shared.to_vec())
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
            KeyAlgorithm::Ed25519 => {
                PrivateKey::Ed25519(Arc::new(Raw25519::generate(openssl::pkey::Id::ED25519, rng)?))
            }
            KeyAlgorithm::X25519 => PrivateKey::X25519(Arc::new(Raw25519::generate(openssl::pkey::Id::X25519, rng)?)),
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
            (_, _, ImportedKey::Ed25519 { seed }) if alg == KeyAlgorithm::Ed25519 => {
                Raw25519::new(openssl::pkey::Id::ED25519, seed).map(|k| PrivateKey::Ed25519(Arc::new(k)))
            }
            (_, _, ImportedKey::X25519 { scalar }) if alg == KeyAlgorithm::X25519 => {
                Raw25519::new(openssl::pkey::Id::X25519, scalar).map(|k| PrivateKey::X25519(Arc::new(k)))
            }
            _ => Err(bad),
        }
    }

    /// The Ed25519 or X25519 key for 32 raw private bytes (a card file).
    pub fn from_raw_25519(alg: KeyAlgorithm, private: &[u8]) -> Result<PrivateKey, Sw> {
        match alg {
            KeyAlgorithm::Ed25519 => {
                Raw25519::new(openssl::pkey::Id::ED25519, private).map(|k| PrivateKey::Ed25519(Arc::new(k)))
            }
            KeyAlgorithm::X25519 => {
                Raw25519::new(openssl::pkey::Id::X25519, private).map(|k| PrivateKey::X25519(Arc::new(k)))
            }
            _ => Err(Sw::INCORRECT_DATA),
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
            PrivateKey::Ed25519(_) => KeyAlgorithm::Ed25519,
            PrivateKey::X25519(_) => KeyAlgorithm::X25519,
        }
    }

    /// Key size in bytes: the modulus, or the curve's field.
    pub fn size(&self) -> usize {
        match self {
            PrivateKey::Rsa(k) => k.size(),
            PrivateKey::P256(_) => 32,
            PrivateKey::P384(_) => 48,
            PrivateKey::Ed25519(_) | PrivateKey::X25519(_) => 32,
        }
    }

    /// Whether the key is whole (RSA: primes, exponents and CRT values agree).
    pub fn validate(&self) -> Result<(), String> {
        match self {
            PrivateKey::Rsa(k) => k.validate().map_err(|e| e.to_string()),
            // A SecretKey is a scalar in [1, n-1] by construction.
            // So is a 25519 key: any 32 bytes are one.
            _ => Ok(()),
        }
    }

    /// The public key as the card encodes it (inside 7F49).
    pub fn public(&self) -> PublicKeyData {
        match self {
            PrivateKey::Rsa(k) => {
                let (modulus, exponent) = public_parts(k);
                PublicKeyData::Rsa { modulus, exponent }
            }
            PrivateKey::P256(_) | PrivateKey::P384(_) => {
                PublicKeyData::Ec { point: self.openssl_ec().and_then(|k| ec_point(&k)).expect("a valid scalar") }
            }
            PrivateKey::Ed25519(k) | PrivateKey::X25519(k) => PublicKeyData::Ec { point: k.public.to_vec() },
        }
    }

    /// The RustCrypto public key's uncompressed point (the other backend,
    /// held to OpenSSL's [`PrivateKey::public`] by a test).
    pub fn public_rustcrypto(&self) -> Option<Vec<u8>> {
        match self {
            PrivateKey::P256(k) => {
                use p256::elliptic_curve::sec1::ToEncodedPoint;
                Some(k.public_key().to_encoded_point(false).as_bytes().to_vec())
            }
            PrivateKey::P384(k) => {
                use p384::elliptic_curve::sec1::ToEncodedPoint;
                Some(k.public_key().to_encoded_point(false).as_bytes().to_vec())
            }
            _ => None,
        }
    }

    /// OpenSSL's form of a P-256 or P-384 key: its scalar, and the public
    /// point OpenSSL computes from it (`6F00` for any other key).
    fn openssl_ec(&self) -> Result<EcKey<Private>, Sw> {
        let fault = |_| Sw::UNKNOWN_ERROR;
        let (nid, scalar) = match self {
            PrivateKey::P256(k) => (Nid::X9_62_PRIME256V1, Zeroizing::new(k.to_bytes().to_vec())),
            PrivateKey::P384(k) => (Nid::SECP384R1, Zeroizing::new(k.to_bytes().to_vec())),
            _ => return Err(Sw::UNKNOWN_ERROR),
        };
        let group = curve(nid)?;
        let d = BigNum::from_slice(&scalar).map_err(fault)?;
        let mut ctx = BigNumContext::new().map_err(fault)?;
        let mut q = EcPoint::new(group).map_err(fault)?;
        q.mul_generator2(group, &d, &mut ctx).map_err(fault)?;
        EcKey::from_private_components(group, &d, &q).map_err(fault)
    }

    /// The public key as an X.509 SubjectPublicKeyInfo (DER).
    pub fn spki_der(&self) -> Result<Vec<u8>, Sw> {
        use p256::pkcs8::EncodePublicKey;
        let point = || match self.public() {
            PublicKeyData::Ec { point } => Ok(point),
            PublicKeyData::Rsa { .. } => Err(Sw::UNKNOWN_ERROR),
        };
        let der = match self {
            PrivateKey::Rsa(k) => k.to_public_key().to_public_key_der(),
            PrivateKey::P256(_) => {
                p256::PublicKey::from_sec1_bytes(&point()?).map_err(|_| Sw::UNKNOWN_ERROR)?.to_public_key_der()
            }
            PrivateKey::P384(_) => {
                p384::PublicKey::from_sec1_bytes(&point()?).map_err(|_| Sw::UNKNOWN_ERROR)?.to_public_key_der()
            }
            // RFC 8410's SubjectPublicKeyInfo.
            PrivateKey::Ed25519(k) | PrivateKey::X25519(k) => {
                return k.pkey().public_key_to_der().map_err(|_| Sw::UNKNOWN_ERROR);
            }
        };
        der.map(|d| d.as_bytes().to_vec()).map_err(|_| Sw::UNKNOWN_ERROR)
    }
}

/// The curve's group, built once per process rather than for every key.
fn curve(nid: Nid) -> Result<&'static EcGroup, Sw> {
    use std::sync::OnceLock;
    static P256: OnceLock<EcGroup> = OnceLock::new();
    static P384: OnceLock<EcGroup> = OnceLock::new();
    let cell = match nid {
        Nid::X9_62_PRIME256V1 => &P256,
        Nid::SECP384R1 => &P384,
        _ => return Err(Sw::UNKNOWN_ERROR),
    };
    if let Some(g) = cell.get() {
        return Ok(g);
    }
    let g = EcGroup::from_curve_name(nid).map_err(|_| Sw::UNKNOWN_ERROR)?;
    Ok(cell.get_or_init(|| g))
}

/// The uncompressed point `04 X Y` of an OpenSSL EC key.
fn ec_point(k: &EcKey<Private>) -> Result<Vec<u8>, Sw> {
    let mut ctx = BigNumContext::new().map_err(|_| Sw::UNKNOWN_ERROR)?;
    k.public_key().to_bytes(k.group(), PointConversionForm::UNCOMPRESSED, &mut ctx).map_err(|_| Sw::UNKNOWN_ERROR)
}

/// The leftmost `len` bytes of a hash (FIPS 186-4 6.4: the leftmost bits of
/// a longer hash), left-padded with zeros when shorter (the same integer).
pub fn fit_hash(hash: &[u8], len: usize) -> Vec<u8> {
    let take = &hash[..hash.len().min(len)];
    let mut out = vec![0u8; len - take.len()];
    out.extend_from_slice(take);
    out
}

/// Which library computes the private-key operation (RSA, ECDSA, ECDH).
/// Key generation (from the card's RNG), key types and verification stay
/// with RustCrypto whatever the choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RsaBackend {
    /// OpenSSL's RSA (blinded, constant-time): about 5x the `rsa` crate;
    /// its ECDSA (random nonce from OpenSSL's DRBG) and ECDH, with the
    /// card's scalar.
    #[default]
    OpenSsl,
    /// The pure-Rust `rsa` crate (blinded with the card's RNG, checked);
    /// `p256`/`p384` for ECDSA (RFC 6979 nonces) and ECDH.
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
    /// OpenSSL's form of each EC key, keyed by the SHA-256 of its scalar
    /// (the public point would cost the scalar multiplication this saves).
    ec_keys: std::collections::HashMap<[u8; 32], EcKey<Private>>,
}

impl PrivateOp {
    /// The operation run by `backend`.
    pub fn new(backend: RsaBackend) -> PrivateOp {
        PrivateOp { backend, openssl_keys: Default::default(), ec_keys: Default::default() }
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

impl PrivateOp {
    fn ec_key(&mut self, key: &PrivateKey) -> Result<&EcKey<Private>, Sw> {
        use sha2::Digest;
        let scalar = match key {
            PrivateKey::P256(k) => Zeroizing::new(k.to_bytes().to_vec()),
            PrivateKey::P384(k) => Zeroizing::new(k.to_bytes().to_vec()),
            _ => return Err(Sw::UNKNOWN_ERROR),
        };
        let id: [u8; 32] = sha2::Sha256::digest(&*scalar).into();
        if !self.ec_keys.contains_key(&id) {
            if self.ec_keys.len() >= 8 {
                self.ec_keys.clear();
            }
            self.ec_keys.insert(id, key.openssl_ec()?);
        }
        Ok(&self.ec_keys[&id])
    }

    /// An ECDSA signature (DER) of `hash` with a P-256 or P-384 key: the
    /// hash cut or padded to the curve's length first (FIPS 186-4 6.4).
    pub fn ecdsa(&mut self, key: &PrivateKey, hash: &[u8]) -> Result<Vec<u8>, Sw> {
        let fitted = fit_hash(hash, key.size());
        match (self.backend, key) {
            (RsaBackend::OpenSsl, _) => {
                let k = self.ec_key(key)?;
                let sig = openssl::ecdsa::EcdsaSig::sign(&fitted, k).map_err(|_| Sw::UNKNOWN_ERROR)?;
                sig.to_der().map_err(|_| Sw::UNKNOWN_ERROR)
            }
            (RsaBackend::RustCrypto, PrivateKey::P256(k)) => {
                use p256::ecdsa::signature::hazmat::PrehashSigner;
                let s: p256::ecdsa::Signature =
                    p256::ecdsa::SigningKey::from(&**k).sign_prehash(&fitted).map_err(|_| Sw::UNKNOWN_ERROR)?;
                Ok(s.to_der().as_bytes().to_vec())
            }
            (RsaBackend::RustCrypto, PrivateKey::P384(k)) => {
                use p384::ecdsa::signature::hazmat::PrehashSigner;
                let s: p384::ecdsa::Signature =
                    p384::ecdsa::SigningKey::from(&**k).sign_prehash(&fitted).map_err(|_| Sw::UNKNOWN_ERROR)?;
                Ok(s.to_der().as_bytes().to_vec())
            }
            _ => Err(Sw::UNKNOWN_ERROR),
        }
    }

    /// The ECDH shared secret (the x-coordinate) of a P-256 or P-384 key
    /// with the other party's uncompressed point; `6A80` for a point not on
    /// the curve, the identity, or not uncompressed.
    pub fn ecdh(&mut self, key: &PrivateKey, point: &[u8]) -> Result<Vec<u8>, Sw> {
        // Only an uncompressed point `04 X Y` (SP 800-73-4 part 2, 3.2.4).
        if point.first() != Some(&0x04) || point.len() != 1 + 2 * key.size() {
            return Err(Sw::INCORRECT_DATA);
        }
        match (self.backend, key) {
            (RsaBackend::OpenSsl, _) => {
                let fault = |_| Sw::UNKNOWN_ERROR;
                let k = self.ec_key(key)?;
                let mut ctx = BigNumContext::new().map_err(fault)?;
                // OpenSSL's decoding refuses a point off the curve; `04 X Y` is
                // never the identity. (RustCrypto's decoding would recompute y
                // by a square root: slower than the agreement itself.)
                let peer = EcPoint::from_bytes(k.group(), point, &mut ctx).map_err(|_| Sw::INCORRECT_DATA)?;
                if peer.is_infinity(k.group()) || !peer.is_on_curve(k.group(), &mut ctx).unwrap_or(false) {
                    return Err(Sw::INCORRECT_DATA);
                }
                // The shared point d·Q, as OpenSSL's own ECDH computes it
                // (ecdh_simple_compute_key: EC_POINT_mul on the peer's point,
                // constant time in the scalar), without building an EVP key
                // and a derive context per command (with them ECDH P-256 ran
                // at 0.61x `openssl speed`; docs/performance.md). Checked above: on the curve and not the
                // identity, which on these prime-order curves is the whole
                // public-key check (SP 800-56A 5.6.2.3.4).
                let mut shared = EcPoint::new(k.group()).map_err(fault)?;
                shared.mul2(k.group(), &peer, k.private_key(), &mut ctx).map_err(fault)?;
                if shared.is_infinity(k.group()) {
                    return Err(Sw::INCORRECT_DATA);
                }
                let (mut x, mut y) = (BigNum::new().map_err(fault)?, BigNum::new().map_err(fault)?);
                shared.affine_coordinates(k.group(), &mut x, &mut y, &mut ctx).map_err(fault)?;
                // The x-coordinate, the field's length (SP 800-56A 5.7.1.2).
                let secret = x.to_vec_padded(key.size() as i32).map_err(fault);
                x.clear();
                y.clear();
                secret
            }
            (RsaBackend::RustCrypto, PrivateKey::P256(k)) => {
                let peer = p256::PublicKey::from_sec1_bytes(point).map_err(|_| Sw::INCORRECT_DATA)?;
                Ok(p256::ecdh::diffie_hellman(k.to_nonzero_scalar(), peer.as_affine()).raw_secret_bytes().to_vec())
            }
            (RsaBackend::RustCrypto, PrivateKey::P384(k)) => {
                let peer = p384::PublicKey::from_sec1_bytes(point).map_err(|_| Sw::INCORRECT_DATA)?;
                Ok(p384::ecdh::diffie_hellman(k.to_nonzero_scalar(), peer.as_affine()).raw_secret_bytes().to_vec())
            }
            _ => Err(Sw::UNKNOWN_ERROR),
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
        // Both refuse the same bad blocks (RSA); EC below.
        let n = keys[0].n().to_bytes_be();
        for bad in [n.clone(), vec![0xFF; 256], vec![1; 255], vec![1; 257]] {
            assert_eq!(rust.run(&keys[0], &mut rng, &bad), Err(Sw::INCORRECT_DATA));
            assert_eq!(ossl.run(&keys[0], &mut rng, &bad), Err(Sw::INCORRECT_DATA));
        }
    }

    #[test]
    fn openssl_and_rustcrypto_agree_on_ec() {
        let mut rng = crate::rng::seeded(7);
        let mut rust = PrivateOp::new(RsaBackend::RustCrypto);
        let mut ossl = PrivateOp::new(RsaBackend::OpenSsl);
        for alg in [KeyAlgorithm::EccP256, KeyAlgorithm::EccP384] {
            for _ in 0..3 {
                let key = PrivateKey::generate(alg, &mut rng).unwrap();
                let PublicKeyData::Ec { point } = key.public() else { panic!() };
                assert_eq!(Some(point.clone()), key.public_rustcrypto(), "{alg:?}: the same public point");
                let peer = PrivateKey::generate(alg, &mut rng).unwrap();
                let PublicKeyData::Ec { point: peer_point } = peer.public() else { panic!() };
                let (a, b) = (rust.ecdh(&key, &peer_point).unwrap(), ossl.ecdh(&key, &peer_point).unwrap());
                assert_eq!(a, b, "{alg:?}: the same shared secret");
                assert_eq!(a, ossl.ecdh(&peer, &point).unwrap(), "{alg:?}: both sides agree");
                // OpenSSL's signature (random nonce) verifies with RustCrypto, and the reverse.
                let hash = [0x5Au8; 48];
                for (signer, sig) in
                    [("openssl", ossl.ecdsa(&key, &hash).unwrap()), ("rust", rust.ecdsa(&key, &hash).unwrap())]
                {
                    let fitted = fit_hash(&hash, key.size());
                    let ok = match alg {
                        KeyAlgorithm::EccP256 => {
                            use p256::ecdsa::signature::hazmat::PrehashVerifier;
                            let vk = p256::ecdsa::VerifyingKey::from_sec1_bytes(&point).unwrap();
                            vk.verify_prehash(&fitted, &p256::ecdsa::DerSignature::try_from(sig.as_slice()).unwrap())
                                .is_ok()
                        }
                        _ => {
                            use p384::ecdsa::signature::hazmat::PrehashVerifier;
                            let vk = p384::ecdsa::VerifyingKey::from_sec1_bytes(&point).unwrap();
                            vk.verify_prehash(&fitted, &p384::ecdsa::DerSignature::try_from(sig.as_slice()).unwrap())
                                .is_ok()
                        }
                    };
                    assert!(ok, "{alg:?}: {signer}'s signature verifies");
                }
                // The same bad points refused by both.
                let mut off = point.clone();
                *off.last_mut().unwrap() ^= 1;
                for bad in [off, vec![0x00], point[..point.len() - 1].to_vec()] {
                    assert_eq!(rust.ecdh(&key, &bad), Err(Sw::INCORRECT_DATA));
                    assert_eq!(ossl.ecdh(&key, &bad), Err(Sw::INCORRECT_DATA));
                }
            }
        }
    }
}
