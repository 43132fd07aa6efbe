//! A slot's public key, whatever its kind (RSA of any size the card has,
//! P-256, P-384, Ed25519, X25519): read from files, certificates and the card, written as
//! PEM or DER, and the one place that knows how the card signs with each
//! kind and how that signature is checked.

use super::*;
use applet_spec::messages::PublicKeyData;
use applet_spec::piv::KeyAlgorithm;

/// A public key the card can hold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PublicKey {
    Rsa(RsaPublicKey),
    P256(p256::ecdsa::VerifyingKey),
    P384(p384::ecdsa::VerifyingKey),
    /// Ed25519: the 32-byte public key (RFC 8032).
    Ed25519([u8; 32]),
    /// X25519: the 32-byte public key (RFC 7748); agrees, never signs.
    X25519([u8; 32]),
}

/// OpenSSL's name for a 25519 key, `None` for the others.
fn curve25519_id(alg: KeyAlgorithm) -> Option<openssl::pkey::Id> {
    match alg {
        KeyAlgorithm::Ed25519 => Some(openssl::pkey::Id::ED25519),
        KeyAlgorithm::X25519 => Some(openssl::pkey::Id::X25519),
        _ => None,
    }
}

/// Refuses an RSA key whose public exponent no signature should be checked
/// with: FIPS 186-5 (5.4) wants e odd and 2^16 < e < 2^256. e = 1 is no
/// encryption at all, an even e no RSA key, and e = 3 invites forged
/// PKCS#1 v1.5 signatures against lax verifiers. Checked wherever a key is
/// taken (a file, a certificate, the card, an import), before the card is asked.
pub fn usable_rsa(k: &RsaPublicKey) -> Result<(), String> {
    let e = rsa::traits::PublicKeyParts::e(k);
    let bits = e.bits();
    if e % 2u32 == BigUint::from(0u32) || bits <= 16 || bits > 256 {
        return Err(format!(
            "an RSA key with public exponent {e}: unusable (it must be odd, above 65536 and below 2^256)"
        ));
    }
    Ok(())
}

impl PublicKey {
    /// From a SubjectPublicKeyInfo (DER).
    pub fn from_spki_der(der: &[u8]) -> Result<PublicKey, String> {
        if let Ok(k) = RsaPublicKey::from_public_key_der(der) {
            usable_rsa(&k)?;
            return Ok(PublicKey::Rsa(k));
        }
        if let Ok(k) = p256::ecdsa::VerifyingKey::from_public_key_der(der) {
            return Ok(PublicKey::P256(k));
        }
        if let Ok(k) = openssl::pkey::PKey::public_key_from_der(der) {
            let raw = || k.raw_public_key().ok().and_then(|r| <[u8; 32]>::try_from(r).ok());
            match (k.id(), raw()) {
                (openssl::pkey::Id::ED25519, Some(r)) => return Ok(PublicKey::Ed25519(r)),
                (openssl::pkey::Id::X25519, Some(r)) => return Ok(PublicKey::X25519(r)),
                _ => {}
            }
        }
        p384::ecdsa::VerifyingKey::from_public_key_der(der)
            .map(PublicKey::P384)
            .map_err(|_| "not an RSA, P-256, P-384, Ed25519 or X25519 public key".to_string())
    }

    /// As the card gives it (GENERATE, GET METADATA) for a key of `alg`
    /// (a 32-byte `86` is Ed25519 or X25519: only the algorithm tells).
    pub fn from_card(alg: KeyAlgorithm, data: &PublicKeyData) -> Result<PublicKey, Failure> {
        let bad = |e: &dyn std::fmt::Display| Failure::Usage(format!("the card's public key: {e}"));
        match data {
            PublicKeyData::Rsa { modulus, exponent } => {
                let k = RsaPublicKey::new(BigUint::from_bytes_be(modulus), BigUint::from_bytes_be(exponent))
                    .map_err(|e| bad(&e))?;
                usable_rsa(&k).map_err(|e| bad(&e))?;
                Ok(PublicKey::Rsa(k))
            }
            PublicKeyData::Ec { point } if alg.is_25519() => {
                let raw = <[u8; 32]>::try_from(point.as_slice()).map_err(|_| bad(&"not 32 bytes"))?;
                Ok(if alg == KeyAlgorithm::Ed25519 { PublicKey::Ed25519(raw) } else { PublicKey::X25519(raw) })
            }
            PublicKeyData::Ec { point } if point.len() == 65 => {
                p256::ecdsa::VerifyingKey::from_sec1_bytes(point).map(PublicKey::P256).map_err(|e| bad(&e))
            }
            PublicKeyData::Ec { point } => {
                p384::ecdsa::VerifyingKey::from_sec1_bytes(point).map(PublicKey::P384).map_err(|e| bad(&e))
            }
        }
    }

    /// The card's algorithm for this key (RSA: by the modulus).
    pub fn algorithm(&self) -> KeyAlgorithm {
        match self {
            PublicKey::Rsa(k) => match rsa::traits::PublicKeyParts::size(k) {
                128 => KeyAlgorithm::Rsa1024,
                384 => KeyAlgorithm::Rsa3072,
                512 => KeyAlgorithm::Rsa4096,
                _ => KeyAlgorithm::Rsa2048,
            },
            PublicKey::P256(_) => KeyAlgorithm::EccP256,
            PublicKey::P384(_) => KeyAlgorithm::EccP384,
            PublicKey::Ed25519(_) => KeyAlgorithm::Ed25519,
            PublicKey::X25519(_) => KeyAlgorithm::X25519,
        }
    }

    /// OpenSSL's form of a 25519 key.
    fn openssl_25519(&self) -> Option<openssl::pkey::PKey<openssl::pkey::Public>> {
        let (PublicKey::Ed25519(raw) | PublicKey::X25519(raw)) = self else { return None };
        openssl::pkey::PKey::public_key_from_raw_bytes(raw, curve25519_id(self.algorithm())?).ok()
    }

    /// The hash the card signs with for logins, transactions, requests and
    /// certificates: SHA-384 for P-384 (its pair, RFC 5758), else SHA-256.
    pub fn hash(&self) -> Hash {
        paired_hash(self.algorithm())
    }

    /// Whether `sig` is this key's signature of `msg` as the card makes it
    /// with [`PublicKey::hash`]: PKCS#1 v1.5 for RSA, DER ECDSA for EC.
    pub fn verifies(&self, msg: &[u8], sig: &[u8]) -> bool {
        use rsa::signature::Verifier;
        match self {
            PublicKey::Rsa(k) => k.verify(Pkcs1v15Sign::new::<Sha256>(), &Sha256::digest(msg), sig).is_ok(),
            PublicKey::P256(k) => p256::ecdsa::DerSignature::try_from(sig).is_ok_and(|s| k.verify(msg, &s).is_ok()),
            PublicKey::P384(k) => p384::ecdsa::DerSignature::try_from(sig).is_ok_and(|s| k.verify(msg, &s).is_ok()),
            PublicKey::Ed25519(_) => self.openssl_25519().is_some_and(|k| {
                openssl::sign::Verifier::new_without_digest(&k)
                    .and_then(|mut v| v.verify_oneshot(sig, msg))
                    .unwrap_or(false)
            }),
            PublicKey::X25519(_) => false,
        }
    }

    /// SubjectPublicKeyInfo, DER.
    pub fn to_der(&self) -> Result<Vec<u8>, Failure> {
        let der = match self {
            PublicKey::Rsa(k) => k.to_public_key_der(),
            PublicKey::P256(k) => k.to_public_key_der(),
            PublicKey::P384(k) => k.to_public_key_der(),
            PublicKey::Ed25519(_) | PublicKey::X25519(_) => {
                let k = self.openssl_25519().ok_or_else(|| Failure::Usage("not a 25519 public key".into()))?;
                return k.public_key_to_der().map_err(|e| Failure::Usage(e.to_string()));
            }
        };
        der.map(|d| d.into_vec()).map_err(|e| Failure::Usage(e.to_string()))
    }

    /// PEM or DER, as `--format` says.
    pub fn encode(&self, f: Format) -> Result<Vec<u8>, Failure> {
        let der = self.to_der()?;
        match f {
            Format::Der => Ok(der),
            Format::Pem => pem_rfc7468::encode_string("PUBLIC KEY", pem_rfc7468::LineEnding::LF, &der)
                .map(String::into_bytes)
                .map_err(|e| Failure::Usage(e.to_string())),
        }
    }
}

/// The hash a key of `alg` signs with here: SHA-384 for P-384, else SHA-256.
pub fn paired_hash(alg: KeyAlgorithm) -> Hash {
    if alg == KeyAlgorithm::EccP384 {
        Hash::Sha384
    } else {
        Hash::Sha256
    }
}

/// The card signs `msg` with the slot's key of algorithm `alg`: padded
/// here for RSA (PKCS#1 v1.5 or PSS), ECDSA on the card for EC. Refusals
/// explained; uses up the PIN's freshness.
pub fn sign(
    s: &mut Session,
    slot: Slot,
    alg: KeyAlgorithm,
    msg: &[u8],
    hash: Hash,
    padding: Padding,
) -> Result<Vec<u8>, Failure> {
    let is_6982 = |e: &subsim_host::Error| e.sw() == Some(Sw::SECURITY_STATUS_NOT_SATISFIED);
    let r = with_pin_retry(s, slot, is_6982, |s| Ok(s.card()?.sign_with(slot, alg, msg, hash, padding)))?;
    s.pin_fresh = false;
    r.map_err(|e| explain(s, e, Op::Sign(slot)))
}

/// The algorithm of the slot's key, where the card (or this session)
/// tells it; RSA-2048 (a plain PIV card's only kind here) where not.
pub fn slot_algorithm(s: &mut Session, slot: Slot) -> Result<KeyAlgorithm, Failure> {
    Ok(known_public_key(s, slot)?.map_or(KeyAlgorithm::Rsa2048, |(k, _)| k.algorithm()))
}

/// A PKCS#10 request (`days` None) or a self-signed certificate for the
/// slot's key, signed on the card with the hash its kind pairs with. The
/// builder's error hides the card's status word (see `signing_failed`).
pub fn card_x509(
    s: &mut Session,
    slot: Slot,
    key: &PublicKey,
    subject: &str,
    days: Option<u64>,
    usage: &KeyUsage,
) -> Result<Result<Vec<u8>, String>, Failure> {
    let c = s.card()?;
    Ok(match key {
        PublicKey::Rsa(k) => {
            let signer = x509::CardSigner::new(c, slot, k.clone());
            match days {
                Some(d) => x509::selfsign_with::<_, rsa::pkcs1v15::Signature>(&signer, subject, d, usage),
                None => x509::csr_with::<_, rsa::pkcs1v15::Signature>(&signer, subject, usage),
            }
        }
        PublicKey::P256(k) => {
            let signer = x509::P256CardSigner::new(c, slot, *k);
            match days {
                Some(d) => x509::selfsign_with::<_, p256::ecdsa::DerSignature>(&signer, subject, d, usage),
                None => x509::csr_with::<_, p256::ecdsa::DerSignature>(&signer, subject, usage),
            }
        }
        PublicKey::P384(k) => {
            let signer = x509::P384CardSigner::new(c, slot, *k);
            match days {
                Some(d) => x509::selfsign_with::<_, p384::ecdsa::DerSignature>(&signer, subject, d, usage),
                None => x509::csr_with::<_, p384::ecdsa::DerSignature>(&signer, subject, usage),
            }
        }
        PublicKey::Ed25519(_) | PublicKey::X25519(_) => {
            return Err(Failure::Unsupported(format!(
                "requests and certificates for {} keys are not made here yet: sign them elsewhere \
                 (yubico-piv-tool 2.7 or ykman 5.7+ can) and `subsim cert import` the result",
                key.algorithm().name()
            )))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each kind: its algorithm, and a signature made as the card makes it
    /// verifies, and not over other text.
    #[test]
    fn every_kind_verifies_its_own_signatures() {
        use rsa::signature::Signer;
        let msg = b"transfer 10 EUR";
        let rsa_key = rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 1024).unwrap();
        let rsa_sig = rsa_key.sign(Pkcs1v15Sign::new::<Sha256>(), &Sha256::digest(msg)).unwrap();
        let k256 = p256::ecdsa::SigningKey::random(&mut rand::thread_rng());
        let s256: p256::ecdsa::DerSignature = k256.sign(msg);
        let k384 = p384::ecdsa::SigningKey::random(&mut rand::thread_rng());
        let s384: p384::ecdsa::DerSignature = k384.sign(msg);
        let cases = [
            (PublicKey::Rsa(rsa_key.to_public_key()), rsa_sig, KeyAlgorithm::Rsa1024),
            (PublicKey::P256(*k256.verifying_key()), s256.as_bytes().to_vec(), KeyAlgorithm::EccP256),
            (PublicKey::P384(*k384.verifying_key()), s384.as_bytes().to_vec(), KeyAlgorithm::EccP384),
        ];
        for (key, sig, alg) in cases {
            assert_eq!(key.algorithm(), alg);
            assert!(key.verifies(msg, &sig), "{alg:?}");
            assert!(!key.verifies(b"transfer 99 EUR", &sig), "{alg:?}");
            let Ok(der) = key.to_der() else { panic!("{alg:?}: no DER") };
            assert_eq!(PublicKey::from_spki_der(&der).unwrap(), key, "{alg:?} round trip");
        }
    }
}
