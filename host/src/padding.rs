//! Host-side signature padding: the card does raw RSA, so the host builds
//! the encoded message (RFC 8017 EMSA-PKCS1-v1_5 and EMSA-PSS). The DigestInfo
//! prefixes come from the `rsa` crate; tests verify every result with it.

use rand::RngCore;
use rsa::Pkcs1v15Sign;
use sha2::{Digest, Sha256, Sha384, Sha512};

/// The hash signed over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hash {
    /// SHA-256 (32 bytes), the default and what the P-256 curve pairs with.
    Sha256,
    /// SHA-384 (48 bytes).
    Sha384,
    /// SHA-512 (64 bytes).
    Sha512,
}

impl Hash {
    /// The digest of `msg`.
    pub fn digest(self, msg: &[u8]) -> Vec<u8> {
        match self {
            Hash::Sha256 => Sha256::digest(msg).to_vec(),
            Hash::Sha384 => Sha384::digest(msg).to_vec(),
            Hash::Sha512 => Sha512::digest(msg).to_vec(),
        }
    }
    fn digest_info_prefix(self) -> Box<[u8]> {
        match self {
            Hash::Sha256 => Pkcs1v15Sign::new::<Sha256>().prefix,
            Hash::Sha384 => Pkcs1v15Sign::new::<Sha384>().prefix,
            Hash::Sha512 => Pkcs1v15Sign::new::<Sha512>().prefix,
        }
    }
}

/// The signature scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Padding {
    /// PKCS#1 v1.5 (RFC 8017 8.2): deterministic, what most PIV verifiers expect.
    Pkcs1v15,
    /// PSS with MGF1 over the same hash and a salt as long as the hash.
    Pss,
}

/// EMSA-PKCS1-v1_5: `00 01 FF.. 00 DigestInfo(hash)`, `k` bytes.
pub fn pkcs1v15(hash: Hash, digest: &[u8], k: usize) -> Option<Vec<u8>> {
    let t = [&hash.digest_info_prefix()[..], digest].concat();
    let ps = k.checked_sub(t.len() + 3).filter(|&n| n >= 8)?;
    let mut em = vec![0x00, 0x01];
    em.extend(std::iter::repeat_n(0xFF, ps));
    em.push(0x00);
    em.extend(t);
    Some(em)
}

fn mgf1(hash: Hash, seed: &[u8], len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len);
    for counter in 0u32.. {
        if out.len() >= len {
            break;
        }
        out.extend(hash.digest(&[seed, &counter.to_be_bytes()].concat()));
    }
    out.truncate(len);
    out
}

/// EMSA-PSS encoding of `digest` for a modulus of `mod_bits` bits.
pub fn pss(hash: Hash, digest: &[u8], mod_bits: usize, rng: &mut dyn RngCore) -> Option<Vec<u8>> {
    let em_bits = mod_bits - 1;
    let em_len = em_bits.div_ceil(8);
    let h_len = digest.len();
    let s_len = h_len;
    if em_len < h_len + s_len + 2 {
        return None;
    }
    let mut salt = vec![0u8; s_len];
    rng.fill_bytes(&mut salt);
    let h = hash.digest(&[&[0u8; 8][..], digest, &salt].concat());
    let mut db = vec![0u8; em_len - s_len - h_len - 2];
    db.push(0x01);
    db.extend(&salt);
    for (d, m) in db.iter_mut().zip(mgf1(hash, &h, em_len - h_len - 1)) {
        *d ^= m;
    }
    db[0] &= 0xFF >> (8 * em_len - em_bits);
    let mut em = db;
    em.extend(h);
    em.push(0xBC);
    // For a modulus of a multiple of 8 bits, the block is one byte shorter
    // than the modulus only when em_bits is a multiple of 8; pad to k bytes.
    let k = mod_bits.div_ceil(8);
    let mut out = vec![0u8; k - em.len()];
    out.extend(em);
    Some(out)
}
