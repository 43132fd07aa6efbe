//! Yubico-compatible management from the command line: key metadata
//! (`key info`, `key public`), attestation (`key attest`), import (`key
//! import`), PIN retries (`pin retries`) and the PIV reset (`reset`).

use applet_spec::messages::{ImportedKey, KeyOrigin, Metadata, PublicKeyData};
use applet_spec::piv::{KeyAlgorithm, PinPolicy, KEY_REF_MANAGEMENT, KEY_REF_PIN, KEY_REF_PUK};
use applet_spec::Sw;
use rsa::pkcs8::DecodePrivateKey;

use super::*;

/// For an EC key in the slot (GET METADATA says so): a PKCS#10 request, or
/// with `days` a self-signed certificate, signed on the card with ECDSA
/// (SHA-256 for P-256, SHA-384 for P-384), after the PIN. `None` for RSA
/// keys and cards without metadata: the caller's RSA path takes them.
pub(super) fn ec_certificate(
    c: &mut Card,
    s: Slot,
    subject: &str,
    days: Option<u64>,
    pin: &PinArgs,
) -> Result<Option<Vec<u8>>, Failure> {
    let Ok(Some(m)) = c.slot_metadata(s) else { return Ok(None) };
    let (Some(alg), Some(PublicKeyData::Ec { point })) = (KeyAlgorithm::from_id(m.algorithm), m.public_key) else {
        return Ok(None);
    };
    if s != Slot::CardAuthentication {
        verify_pin(c, pin)?;
    }
    let bad = |e: &dyn std::fmt::Display| Failure::Usage(format!("the card's public key: {e}"));
    let der = match alg {
        KeyAlgorithm::EccP256 => {
            let public = p256::ecdsa::VerifyingKey::from_sec1_bytes(&point).map_err(|e| bad(&e))?;
            let signer = x509::P256CardSigner::new(c, s, public);
            match days {
                Some(d) => x509::selfsign_with::<_, p256::ecdsa::DerSignature>(&signer, subject, d)?,
                None => x509::csr_with::<_, p256::ecdsa::DerSignature>(&signer, subject)?,
            }
        }
        _ => {
            let public = p384::ecdsa::VerifyingKey::from_sec1_bytes(&point).map_err(|e| bad(&e))?;
            let signer = x509::P384CardSigner::new(c, s, public);
            match days {
                Some(d) => x509::selfsign_with::<_, p384::ecdsa::DerSignature>(&signer, subject, d)?,
                None => x509::csr_with::<_, p384::ecdsa::DerSignature>(&signer, subject)?,
            }
        }
    };
    Ok(Some(der))
}

/// A certificate's public key, whatever its algorithm.
pub(super) enum CertKey {
    Rsa(RsaPublicKey),
    P256(p256::ecdsa::VerifyingKey),
    P384(p384::ecdsa::VerifyingKey),
}

impl CertKey {
    /// The key algorithm the card's key must have (RSA: by the modulus).
    fn algorithm(&self) -> KeyAlgorithm {
        match self {
            CertKey::Rsa(k) => match rsa::traits::PublicKeyParts::size(k) {
                128 => KeyAlgorithm::Rsa1024,
                384 => KeyAlgorithm::Rsa3072,
                512 => KeyAlgorithm::Rsa4096,
                _ => KeyAlgorithm::Rsa2048,
            },
            CertKey::P256(_) => KeyAlgorithm::EccP256,
            CertKey::P384(_) => KeyAlgorithm::EccP384,
        }
    }
    /// The hash a login or transaction signature uses: SHA-384 for P-384, else SHA-256.
    fn hash(&self) -> Hash {
        match self {
            CertKey::P384(_) => Hash::Sha384,
            _ => Hash::Sha256,
        }
    }
    /// Checks a signature the card made with [`sign_for`].
    pub(super) fn verifies(&self, msg: &[u8], sig: &[u8]) -> bool {
        use rsa::signature::Verifier;
        match self {
            CertKey::Rsa(k) => k.verify(Pkcs1v15Sign::new::<Sha256>(), &Sha256::digest(msg), sig).is_ok(),
            CertKey::P256(k) => p256::ecdsa::Signature::from_der(sig).is_ok_and(|s| k.verify(msg, &s).is_ok()),
            CertKey::P384(k) => p384::ecdsa::Signature::from_der(sig).is_ok_and(|s| k.verify(msg, &s).is_ok()),
        }
    }
}

/// A certificate's subject and public key (RSA, P-256 or P-384).
pub(super) fn describe_cert_any(der: &[u8]) -> Result<(String, CertKey), Failure> {
    use x509_cert::der::{Decode, Encode};
    let cert =
        x509_cert::Certificate::from_der(der).map_err(|e| Failure::Usage(format!("not an X.509 certificate: {e}")))?;
    let spki = cert.tbs_certificate.subject_public_key_info.to_der().map_err(|e| Failure::Usage(e.to_string()))?;
    let key = if let Ok(k) = RsaPublicKey::from_public_key_der(&spki) {
        CertKey::Rsa(k)
    } else if let Ok(k) = p256::ecdsa::VerifyingKey::from_public_key_der(&spki) {
        CertKey::P256(k)
    } else if let Ok(k) = p384::ecdsa::VerifyingKey::from_public_key_der(&spki) {
        CertKey::P384(k)
    } else {
        return Err(Failure::Usage("the certificate's key is not RSA, P-256 or P-384".into()));
    };
    Ok((cert.tbs_certificate.subject.to_string(), key))
}

/// The card signs `msg` with the slot's key of the certificate's algorithm:
/// PKCS#1 v1.5 with SHA-256 for RSA, ECDSA for EC.
pub(super) fn sign_for(c: &mut Card, s: Slot, key: &CertKey, msg: &[u8]) -> Result<Vec<u8>, Failure> {
    Ok(c.sign_with(s, key.algorithm(), msg, key.hash(), Padding::Pkcs1v15)?)
}

/// The card signs `msg` with the slot's key, whatever its algorithm (GET
/// METADATA): PKCS#1 v1.5 with SHA-256 for RSA, ECDSA with SHA-256 (P-256)
/// or SHA-384 (P-384): what [`CertKey::verifies`] checks.
pub(super) fn sign_slot(c: &mut Card, s: Slot, msg: &[u8]) -> Result<Vec<u8>, Failure> {
    let alg = slot_algorithm(c, s)?;
    let hash = if alg == KeyAlgorithm::EccP384 { Hash::Sha384 } else { Hash::Sha256 };
    Ok(c.sign_with(s, alg, msg, hash, Padding::Pkcs1v15)?)
}

/// The command line's algorithm names.
pub(super) fn key_algorithm(a: crate::AlgorithmArg) -> KeyAlgorithm {
    use crate::AlgorithmArg::*;
    match a {
        Rsa1024 => KeyAlgorithm::Rsa1024,
        Rsa2048 => KeyAlgorithm::Rsa2048,
        Rsa3072 => KeyAlgorithm::Rsa3072,
        Rsa4096 => KeyAlgorithm::Rsa4096,
        P256 => KeyAlgorithm::EccP256,
        P384 => KeyAlgorithm::EccP384,
    }
}

/// The algorithm of the key in `slot`, from GET METADATA; RSA-2048 on
/// cards without metadata (all their keys are).
pub(super) fn slot_algorithm(c: &mut Card, s: Slot) -> Result<KeyAlgorithm, Failure> {
    match c.slot_metadata(s) {
        Ok(Some(m)) => KeyAlgorithm::from_id(m.algorithm)
            .ok_or_else(|| Failure::Usage(format!("{s}: unknown key algorithm {:02X}", m.algorithm))),
        // The card's own answer: exit 1, with the status word.
        Ok(None) => Err(subsim_host::Error::Status { command: "GET METADATA", sw: Sw::REFERENCE_NOT_FOUND }.into()),
        Err(e) if e.sw() == Some(Sw::INS_NOT_SUPPORTED) => Ok(KeyAlgorithm::Rsa2048),
        Err(e) => Err(e.into()),
    }
}

/// A public key from the card as PEM (SubjectPublicKeyInfo).
pub(super) fn public_key_pem(key: &PublicKeyData) -> Result<String, Failure> {
    let bad = |e: &dyn std::fmt::Display| Failure::Usage(format!("the card's public key: {e}"));
    match key {
        PublicKeyData::Rsa { modulus, exponent } => {
            let k = RsaPublicKey::new(rsa::BigUint::from_bytes_be(modulus), rsa::BigUint::from_bytes_be(exponent))
                .map_err(|e| bad(&e))?;
            k.to_public_key_pem(LineEnding::LF).map_err(|e| bad(&e))
        }
        PublicKeyData::Ec { point } if point.len() == 65 => p256::PublicKey::from_sec1_bytes(point)
            .map_err(|e| bad(&e))?
            .to_public_key_pem(LineEnding::LF)
            .map_err(|e| bad(&e)),
        PublicKeyData::Ec { point } => p384::PublicKey::from_sec1_bytes(point)
            .map_err(|e| bad(&e))?
            .to_public_key_pem(LineEnding::LF)
            .map_err(|e| bad(&e)),
    }
}

fn algorithm_name(id: u8) -> String {
    match (KeyAlgorithm::from_id(id), MgmAlgorithm::from_id(id)) {
        (Some(a), _) => a.name().to_string(),
        (_, Some(m)) => format!("{m:?}").to_lowercase(),
        _ if id == applet_spec::messages::METADATA_ALGORITHM_PIN => "pin".into(),
        _ => format!("{id:02X}"),
    }
}

fn policy_name(code: u8) -> &'static str {
    match PinPolicy::from_code(code) {
        Some(PinPolicy::Never) => "never",
        Some(PinPolicy::Once) => "once",
        Some(PinPolicy::Always) => "always",
        None => "default",
    }
}

/// One slot's metadata, in words and JSON; `None` for an empty slot.
fn describe_slot(s: Slot, m: Option<&Metadata>) -> Result<(String, Value), Failure> {
    let Some(m) = m else {
        return Ok((format!("{s}: empty"), json!({ "slot": s.to_string(), "empty": true })));
    };
    let origin = match m.origin {
        Some(KeyOrigin::Generated) => "generated on the card",
        Some(KeyOrigin::Imported) => "imported",
        None => "unknown origin",
    };
    let pin = m.policy.map_or("default", |p| policy_name(p.0));
    let forbidden = m.import_forbidden == Some(true);
    let pem = m.public_key.as_ref().map(public_key_pem).transpose()?;
    let text = format!(
        "{s}: {}, {origin}, PIN {pin}{}",
        algorithm_name(m.algorithm),
        if forbidden { ", import forbidden" } else { "" }
    );
    let j = json!({
        "slot": s.to_string(), "algorithm": algorithm_name(m.algorithm), "origin": origin,
        "pin_policy": pin, "import_forbidden": forbidden, "public_key_pem": pem,
    });
    Ok((text, j))
}

/// `key info [SLOT]`: one slot's metadata, or every slot's and the PIN's,
/// PUK's and management key's.
pub(super) fn key_info(c: &mut Card, slot: Option<Slot>) -> Result<Out, Failure> {
    if let Some(s) = slot {
        let m = c.slot_metadata(s)?;
        let (text, j) = describe_slot(s, m.as_ref())?;
        return out(text, j);
    }
    let (mut lines, mut slots) = (Vec::new(), Vec::new());
    for s in Slot::every() {
        let m = c.slot_metadata(s)?;
        // Retired slots (82-95) only when they hold a key.
        if m.is_none() && matches!(s, Slot::Retired(_)) {
            continue;
        }
        let (text, j) = describe_slot(s, m.as_ref())?;
        lines.push(text);
        slots.push(j);
    }
    let mut refs = serde_json::Map::new();
    for (name, r) in [("pin", KEY_REF_PIN), ("puk", KEY_REF_PUK), ("management_key", KEY_REF_MANAGEMENT)] {
        let m = c.metadata(r)?;
        let default = m.is_default == Some(true);
        let tries = m.retries.map(|(total, left)| format!(", {left} of {total} tries left")).unwrap_or_default();
        lines.push(format!(
            "{name}: {}{}{tries}",
            algorithm_name(m.algorithm),
            if default { ", FACTORY VALUE" } else { "" }
        ));
        refs.insert(
            name.into(),
            json!({ "algorithm": algorithm_name(m.algorithm), "default": default,
                    "tries_total": m.retries.map(|r| r.0), "tries_left": m.retries.map(|r| r.1) }),
        );
    }
    out(lines.join("\n"), json!({ "slots": slots, "references": refs }))
}

/// `key public SLOT`: the slot's public key from GET METADATA (works without
/// a certificate); from the certificate on cards without metadata.
pub(super) fn key_public(c: &mut Card, s: Slot) -> Result<Out, Failure> {
    let pem = match c.slot_metadata(s) {
        Ok(Some(m)) => {
            public_key_pem(m.public_key.as_ref().ok_or_else(|| Failure::Usage(format!("{s}: no public key")))?)?
        }
        Ok(None) => return Err(Failure::Usage(format!("slot {s} holds no key"))),
        Err(e) if e.sw() == Some(Sw::INS_NOT_SUPPORTED) => {
            let (_, _, key) = describe_cert(&slot_certificate(c, s)?)?;
            key.to_public_key_pem(LineEnding::LF).map_err(|e| Failure::Usage(e.to_string()))?
        }
        Err(e) => return Err(e.into()),
    };
    out(pem.trim_end().to_string(), json!({ "slot": s.to_string(), "public_key_pem": pem }))
}

fn pem(label: &str, der: &[u8]) -> Result<String, Failure> {
    pem_rfc7468::encode_string(label, pem_rfc7468::LineEnding::LF, der).map_err(|e| Failure::Usage(e.to_string()))
}

/// `key attest SLOT`: the attestation certificate (PEM), and with `--chain`
/// the F9 certificate after it (what `openssl verify -untrusted` wants).
pub(super) fn key_attest(c: &mut Card, s: Slot, chain: bool) -> Result<Out, Failure> {
    let att = pem("CERTIFICATE", &c.attest(s)?)?;
    let f9 = match chain {
        true => Some(pem(
            "CERTIFICATE",
            &c.attestation_certificate()?.ok_or_else(|| Failure::Usage("the card has no F9 certificate".into()))?,
        )?),
        false => None,
    };
    let text = format!("{}{}", att, f9.clone().unwrap_or_default());
    out(text.trim_end().to_string(), json!({ "slot": s.to_string(), "attestation_pem": att, "f9_certificate_pem": f9 }))
}

/// A private key from a PEM file: PKCS#8 (RSA, P-256, P-384), PKCS#1 RSA or SEC1 EC.
fn read_private_key(text: &str) -> Result<(KeyAlgorithm, ImportedKey, Option<rsa::RsaPrivateKey>), Failure> {
    use rsa::pkcs1::DecodeRsaPrivateKey;
    if let Ok(k) = rsa::RsaPrivateKey::from_pkcs8_pem(text).or_else(|_| rsa::RsaPrivateKey::from_pkcs1_pem(text)) {
        return Ok((KeyAlgorithm::Rsa2048, ImportedKey::Ec { scalar: vec![] }, Some(k)));
    }
    if let Ok(k) = p256::SecretKey::from_pkcs8_pem(text).or_else(|_| p256::SecretKey::from_sec1_pem(text)) {
        return Ok((KeyAlgorithm::EccP256, ImportedKey::Ec { scalar: k.to_bytes().to_vec() }, None));
    }
    if let Ok(k) = p384::SecretKey::from_pkcs8_pem(text).or_else(|_| p384::SecretKey::from_sec1_pem(text)) {
        return Ok((KeyAlgorithm::EccP384, ImportedKey::Ec { scalar: k.to_bytes().to_vec() }, None));
    }
    Err(Failure::Usage("not an unencrypted RSA, P-256 or P-384 private key in PEM (PKCS#8, PKCS#1 or SEC1)".into()))
}

/// `key import SLOT FILE`: puts a private key made elsewhere into the slot.
pub(super) fn key_import(c: &mut Card, s: Slot, file: &Path, m: &MgmArgs) -> Result<Out, Failure> {
    let text =
        Zeroizing::new(std::fs::read_to_string(file).map_err(|e| Failure::Usage(format!("{}: {e}", file.display())))?);
    let (alg, key, rsa_key) = read_private_key(&text)?;
    authenticate(c, m)?;
    match &rsa_key {
        Some(k) => c.import_rsa_key(s, k)?,
        None => c.import_key(s, alg, &key)?,
    }
    let name = match &rsa_key {
        Some(k) => format!("rsa{}", rsa::traits::PublicKeyParts::size(k) * 8),
        None => alg.name().to_string(),
    };
    out(
        format!("{name} key imported into {s} (recorded as imported: it gets no attestation)"),
        json!({ "slot": s.to_string(), "algorithm": name, "origin": "imported" }),
    )
}

/// `pin retries PIN_TRIES PUK_TRIES`: needs the management key and the PIN;
/// PIN and PUK go back to their factory values.
pub(super) fn pin_retries(
    c: &mut Card,
    pin_tries: u8,
    puk_tries: u8,
    p: &PinArgs,
    m: &MgmArgs,
) -> Result<Out, Failure> {
    authenticate(c, m)?;
    verify_pin(c, p)?;
    c.set_pin_retries(pin_tries, puk_tries)?;
    out(
        format!(
            "{pin_tries} PIN tries, {puk_tries} PUK tries; PIN and PUK are back to 123456 and 12345678: change them"
        ),
        json!({ "pin_tries": pin_tries, "puk_tries": puk_tries, "pin": "factory", "puk": "factory" }),
    )
}

/// `reset`: Yubico's PIV reset. Like ykman, it first blocks the PIN and the
/// PUK with wrong values (RESET needs both blocked), then resets.
pub(super) fn reset(c: &mut Card, yes: bool) -> Result<Out, Failure> {
    if !yes {
        return Err(Failure::Usage(
            "reset blocks the PIN and PUK, then wipes every key and certificate: confirm with --yes".into(),
        ));
    }
    let blocked = |r: subsim_host::Result<()>| matches!(r.map_err(|e| e.sw()), Err(Some(Sw::AUTH_METHOD_BLOCKED)));
    // At most 15 tries each (the card's limit); a wrong value counts down.
    for _ in 0..16 {
        if blocked(c.verify_pin(b"00000000")) {
            break;
        }
    }
    for _ in 0..16 {
        // A wrong PUK and no new PIN: counted before the new PIN is looked at.
        let cmd = Command::new(0, 0x2C, 0, 0x80).with_data([[0x30u8; 8], [0xFF; 8]].concat());
        if c.transmit(&cmd)?.sw == Sw::AUTH_METHOD_BLOCKED {
            break;
        }
    }
    c.reset()?;
    out(
        "reset: keys and certificates wiped; PIN 123456, PUK 12345678, management key back to the factory value",
        json!({ "reset": true }),
    )
}
