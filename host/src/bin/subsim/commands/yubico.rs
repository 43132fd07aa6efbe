//! Yubico's PIV management commands: key metadata (`key info`),
//! attestation (`key attest`), import (`key import`), PIN and PUK try
//! counts (`pin retries`) and the PIV reset (`reset`). Cards without them
//! (`--profile piv`, a plain PIV card) are told so, exit 6.

use applet_spec::messages::{ImportedKey, KeyOrigin, Metadata};
use applet_spec::piv::{KEY_REF_MANAGEMENT, KEY_REF_PIN, KEY_REF_PUK};
use rsa::pkcs8::DecodePrivateKey;
use subsim_host::Profile;

use super::*;
use crate::AlgorithmArg;

/// The command line's algorithm names.
pub fn key_algorithm(a: AlgorithmArg) -> KeyAlgorithm {
    match a {
        AlgorithmArg::Rsa1024 => KeyAlgorithm::Rsa1024,
        AlgorithmArg::Rsa2048 => KeyAlgorithm::Rsa2048,
        AlgorithmArg::Rsa3072 => KeyAlgorithm::Rsa3072,
        AlgorithmArg::Rsa4096 => KeyAlgorithm::Rsa4096,
        AlgorithmArg::P256 => KeyAlgorithm::EccP256,
        AlgorithmArg::P384 => KeyAlgorithm::EccP384,
        AlgorithmArg::Ed25519 => KeyAlgorithm::Ed25519,
        AlgorithmArg::X25519 => KeyAlgorithm::X25519,
    }
}

/// The policy options as tags AA and AB carry them (Yubico's codes): the
/// card refuses (`6A80`) what it would not enforce, and says so.
pub fn policies(p: &crate::PolicyArgs) -> applet_spec::messages::Policies {
    use crate::{PinPolicyArg as P, TouchPolicyArg as T};
    let pin = match p.pin_policy {
        P::Default => None,
        P::Never => Some(1),
        P::Once => Some(2),
        P::Always => Some(3),
        P::MatchOnce => Some(piv::PIN_POLICY_MATCH_ONCE),
        P::MatchAlways => Some(piv::PIN_POLICY_MATCH_ALWAYS),
    };
    let touch = match p.touch_policy {
        T::Default => None,
        T::Never => Some(1),
        T::Always => Some(2),
        T::Cached => Some(3),
    };
    applet_spec::messages::Policies { pin, touch }
}

/// Replacing F9, the attestation key, only with --force: every attestation
/// after it chains to a key no vendor certificate names.
pub fn f9_needs_force(slot: Slot, force: bool, what: &str) -> Result<(), Failure> {
    if slot == Slot::Attestation && !force {
        return Err(Failure::Usage(format!(
            "{what} f9 replaces the card's attestation key: attestations will no longer chain to the \
             manufacturer's certificate. Nothing done; repeat with --force, then store the new key's \
             certificate (`subsim cert import f9 FILE`)"
        )));
    }
    Ok(())
}

/// GET METADATA is Yubico's: refused politely where the card (or --profile) lacks it.
fn require_metadata(s: &mut Session, what: &str) -> Result<(), Failure> {
    s.require(Profile::Yubico, what)?;
    if s.profile()?.metadata {
        Ok(())
    } else {
        Err(Failure::Unsupported(format!("this card does not answer GET METADATA: {what} needs it")))
    }
}

/// The key's origin in words; a code Yubico does not use is shown as
/// unknown, with its byte (PivApplet's `00`/`01`, say).
fn origin_name(o: Option<KeyOrigin>, code: Option<u8>) -> String {
    match (o, code) {
        (Some(KeyOrigin::Generated), _) => "generated".into(),
        (Some(KeyOrigin::Imported), _) => "imported".into(),
        (None, Some(c)) => format!("unknown ({c:02X})"),
        (None, None) => "unknown".into(),
    }
}

fn policy_name(code: Option<u8>) -> &'static str {
    match code.and_then(PinPolicy::from_code) {
        Some(PinPolicy::Never) => "never",
        Some(PinPolicy::Once) => "once",
        Some(PinPolicy::Always) => "always",
        None => "default",
    }
}

/// One slot's metadata, in words and JSON; `None` for an empty slot.
fn describe_slot(slot: Slot, m: Option<&Metadata>) -> Result<(String, Value), Failure> {
    let Some(m) = m else {
        return Ok((format!("{slot}: empty"), json!({ "slot": names::slot(slot), "empty": true })));
    };
    let alg = KeyAlgorithm::from_id(m.algorithm).map_or_else(|| format!("{:02X}", m.algorithm), |a| a.name().into());
    let origin = origin_name(m.origin, m.origin_code);
    let pin = policy_name(m.policy.map(|p| p.0));
    let forbidden = m.import_forbidden == Some(true);
    let pem = match &m.public_key {
        Some(k) => match KeyAlgorithm::from_id(m.algorithm) {
            Some(a) => Some(String::from_utf8_lossy(&PublicKey::from_card(a, k)?.encode(Format::Pem)?).into_owned()),
            None => None,
        },
        None => None,
    };
    let text = format!(
        "{slot}: {alg}, {}, PIN {pin}{}",
        if origin == "generated" { "generated on the card" } else { &origin },
        if forbidden { ", import forbidden" } else { "" }
    );
    let j = json!({
        "slot": names::slot(slot), "empty": false, "algorithm": alg, "origin": origin,
        "pin_policy": pin, "import_forbidden": forbidden, "public_key_pem": pem,
    });
    Ok((text, j))
}

fn slot_metadata(s: &mut Session, slot: Slot) -> Result<Option<Metadata>, Failure> {
    let r = s.card()?.slot_metadata(slot);
    r.map_err(Failure::from)
}

/// `key info [SLOT]`: one slot's metadata, or every slot's (retired ones
/// when they hold a key) and the PIN's, PUK's and management key's.
pub(super) fn key_info(s: &mut Session, slot: Option<Slot>) -> Result<Out, Failure> {
    require_metadata(s, "key info")?;
    if let Some(slot) = slot {
        let m = slot_metadata(s, slot)?;
        let (text, j) = describe_slot(slot, m.as_ref())?;
        return out(text, j);
    }
    let (mut lines, mut slots) = (Vec::new(), Vec::new());
    for slot in Slot::every() {
        let m = slot_metadata(s, slot)?;
        if m.is_none() && matches!(slot, Slot::Retired(_)) {
            continue;
        }
        let (text, j) = describe_slot(slot, m.as_ref())?;
        lines.push(text);
        slots.push(j);
    }
    let mut j = json!({ "slots": slots });
    for (name, r) in [("pin", KEY_REF_PIN), ("puk", KEY_REF_PUK), ("management_key", KEY_REF_MANAGEMENT)] {
        let m = s.card()?.metadata(r)?;
        let default = m.is_default == Some(true);
        let tries = m.retries.map(|(total, left)| format!(", {left} of {total} tries left")).unwrap_or_default();
        let alg = MgmAlgorithm::from_id(m.algorithm).map(names::mgm_algorithm);
        let label = match name {
            "pin" => "PIN".to_string(),
            "puk" => "PUK".to_string(),
            _ => format!(
                "management key: {}",
                MgmAlgorithm::from_id(m.algorithm).map_or("algorithm not told", names::mgm_label)
            ),
        };
        let factory = if default { "factory value" } else { "changed from the factory value" };
        lines.push(format!("{label}{}{factory}{tries}", if name == "management_key" { ", " } else { ": " }));
        j[name] = json!({ "default": default, "tries_total": m.retries.map(|r| r.0),
                          "tries_left": m.retries.map(|r| r.1) });
        if let Some(a) = alg {
            j[name]["algorithm"] = a.into();
        }
    }
    out(lines.join("\n"), j)
}

/// `key attest SLOT`: the card's certificate that the slot's key was made
/// on it, and with `--chain` the attestation key's (F9) certificate after
/// it, as `openssl verify -untrusted` wants them.
pub(super) fn key_attest(
    s: &mut Session,
    slot: Slot,
    chain: bool,
    format: Format,
    to: Option<&Path>,
) -> Result<Out, Failure> {
    s.require(Profile::Yubico, "key attest")?;
    let r = s.card()?.attest(slot);
    let att = r.map_err(|e| explain(s, e, Op::Attest(slot)))?;
    let f9 = match chain {
        true => Some(
            s.card()?
                .attestation_certificate()?
                .ok_or_else(|| Failure::Usage("the card has no attestation certificate (F9) to chain to".into()))?,
        ),
        false => None,
    };
    let pem = |der: &[u8]| {
        pem_rfc7468::encode_string("CERTIFICATE", pem_rfc7468::LineEnding::LF, der)
            .map_err(|e| Failure::Usage(e.to_string()))
    };
    let mut j = json!({ "slot": names::slot(slot), "attestation_pem": pem(&att)? });
    if let Some(f9) = &f9 {
        j["f9_certificate_pem"] = pem(f9)?.into();
    }
    match format {
        Format::Pem => {
            let text = format!("{}{}", pem(&att)?, f9.as_deref().map(pem).transpose()?.unwrap_or_default());
            deliver(s, to, text.into_bytes(), true, "attestation_pem", j)
        }
        Format::Der => {
            let bytes = [att, f9.unwrap_or_default()].concat();
            deliver(s, to, bytes, false, "attestation_der_base64", j)
        }
    }
}

/// A private key the card can hold: RSA, P-256, P-384, Ed25519, X25519.
enum PrivateKey {
    Rsa(Box<rsa::RsaPrivateKey>),
    Ec(KeyAlgorithm, ImportedKey),
}

/// The key in unencrypted PKCS#8 DER (as `keyfile` gives every format).
fn read_private_key(der: &[u8]) -> Result<PrivateKey, Failure> {
    if let Ok(k) = rsa::RsaPrivateKey::from_pkcs8_der(der) {
        return Ok(PrivateKey::Rsa(Box::new(k)));
    }
    if let Ok(k) = p256::SecretKey::from_pkcs8_der(der) {
        return Ok(PrivateKey::Ec(KeyAlgorithm::EccP256, ImportedKey::Ec { scalar: k.to_bytes().to_vec() }));
    }
    if let Ok(k) = p384::SecretKey::from_pkcs8_der(der) {
        return Ok(PrivateKey::Ec(KeyAlgorithm::EccP384, ImportedKey::Ec { scalar: k.to_bytes().to_vec() }));
    }
    // RFC 8410's PKCS#8 for Ed25519 and X25519: OpenSSL reads it.
    if let Ok(k) = openssl::pkey::PKey::private_key_from_der(der) {
        let raw = || k.raw_private_key().map_err(|e| Failure::Usage(e.to_string()));
        match k.id() {
            openssl::pkey::Id::ED25519 => {
                return Ok(PrivateKey::Ec(KeyAlgorithm::Ed25519, ImportedKey::Ed25519 { seed: raw()? }))
            }
            openssl::pkey::Id::X25519 => {
                return Ok(PrivateKey::Ec(KeyAlgorithm::X25519, ImportedKey::X25519 { scalar: raw()? }))
            }
            _ => {}
        }
    }
    Err(Failure::Usage("the key is not RSA, P-256, P-384, Ed25519 or X25519: the card holds no other kind".into()))
}

/// `key import SLOT FILE`: a private key made elsewhere into the slot
/// (recorded as imported: it gets no attestation); a PKCS#12 file's
/// certificate is stored in the slot too.
pub(super) fn key_import(
    s: &mut Session,
    slot: Slot,
    file: &Path,
    m: &MgmArgs,
    kf: &super::keyfile::KeyFileArgs,
    policy: &crate::PolicyArgs,
    force: bool,
) -> Result<Out, Failure> {
    s.require(Profile::Yubico, "key import")?;
    f9_needs_force(slot, force, "key import")?;
    let loaded = super::keyfile::load(file, kf)?;
    let key = read_private_key(&loaded.pkcs8_der)?;
    if let PrivateKey::Rsa(k) = &key {
        usable_rsa(&k.to_public_key()).map_err(Failure::Usage)?;
    }
    authenticate(s, m)?;
    let (r, alg) = match &key {
        PrivateKey::Rsa(k) => {
            let alg = PublicKey::Rsa(k.to_public_key()).algorithm();
            (s.card()?.import_rsa_key_with(slot, k, policies(policy)), alg)
        }
        PrivateKey::Ec(alg, k) => (s.card()?.import_key_with(slot, *alg, k, policies(policy)), *alg),
    };
    r.map_err(|e| explain(s, e, Op::NeedsMgm))?;
    s.generated.remove(&slot);
    let mut text = format!("{} key imported into {slot} (recorded as imported: it gets no attestation)", alg.name());
    let mut j = json!({ "slot": names::slot(slot), "algorithm": alg.name(), "origin": "imported" });
    if let Some(cert) = &loaded.certificate {
        let r = s.card()?.write_certificate(slot, cert);
        r.map_err(|e| explain(s, e, Op::NeedsMgm))?;
        let subject = describe_cert(cert).map(|(subject, _, _)| subject).unwrap_or_else(|_| "?".into());
        text.push_str(&format!("; its certificate for {subject} stored in {slot}"));
        j["certificate_subject"] = subject.into();
    }
    out(text, j)
}

/// `pin retries PIN_TRIES PUK_TRIES`: with the management key and the PIN;
/// PIN and PUK go back to their factory values.
pub(super) fn pin_retries(
    s: &mut Session,
    pin_tries: u8,
    puk_tries: u8,
    p: &PinArgs,
    m: &MgmArgs,
    c: crate::Confirm,
) -> Result<Out, Failure> {
    s.require(Profile::Yubico, "pin retries")?;
    let question = "Put the PIN and PUK back to their factory values (123456, 12345678) on";
    super::card::confirm(s, c, question, "pin retries", "puts the PIN and PUK back to their factory values")?;
    authenticate(s, m)?;
    verify_pin(s, p)?;
    let r = s.card()?.set_pin_retries(pin_tries, puk_tries);
    r.map_err(|e| explain(s, e, Op::NeedsMgm))?;
    out(
        format!(
            "{pin_tries} PIN tries, {puk_tries} PUK tries; PIN and PUK are back to 123456 and 12345678: change them"
        ),
        json!({ "pin_tries": pin_tries, "puk_tries": puk_tries }),
    )
}

/// `reset`: Yubico's PIV reset. As ykman does, it first blocks the PIN
/// and the PUK with wrong values (RESET needs both blocked), then resets.
pub(super) fn reset(s: &mut Session, c: crate::Confirm) -> Result<Out, Failure> {
    s.require(Profile::Yubico, "reset")?;
    let question = "Block the PIN and PUK, then wipe every key and certificate on";
    super::card::confirm(s, c, question, "reset", "wipes the card")?;
    let c = s.card()?;
    // Wrong values count down (at most 15 tries each, the card's limit);
    // the PIN is blocked when its counter is.
    for _ in 0..16 {
        if c.verify_pin(b"00000000").err().and_then(|e| e.sw()) == Some(Sw::AUTH_METHOD_BLOCKED) {
            break;
        }
    }
    for _ in 0..16 {
        // A wrong PUK (RESET RETRY COUNTER): counted before the new PIN is looked at.
        if c.unblock_pin(b"00000000", b"00000000").err().and_then(|e| e.sw()) == Some(Sw::AUTH_METHOD_BLOCKED) {
            break;
        }
    }
    let r = s.card()?.reset();
    r.map_err(|e| explain(s, e, Op::NeedsMgm))?;
    s.generated.clear();
    out(
        "reset: keys and certificates wiped; PIN 123456, PUK 12345678, management key back to the factory value",
        json!({ "reset": true }),
    )
}
