//! What the card tells about a slot's key and certificate: GET METADATA
//! where it answers, a key generated in this session, the certificate.

use super::*;

/// GET METADATA (Yubico, firmware 5.3+) of a key reference, where the card has it.
pub fn metadata(s: &mut Session, key_ref: u8) -> Result<Option<Vec<u8>>, Failure> {
    if !s.profile()?.metadata {
        return Ok(None);
    }
    let cmd = Command::new(ins::CLA_ISO, ins::GET_METADATA, 0x00, key_ref).with_ne(256);
    let r = s.card()?.transmit(&cmd)?;
    Ok((r.sw == Sw::OK).then_some(r.data))
}

/// What GET METADATA answers, as Yubico documents it: 01 algorithm,
/// 02 policy, 03 origin, 04 public key, 05 whether the value is the
/// factory default, 06 retries.
pub mod meta {
    use super::*;

    /// The public key in tag 04 (RSA: 81 modulus, 82 exponent; EC: 86 point).
    pub fn public_key(m: &[u8]) -> Option<PublicKey> {
        let data = applet_spec::messages::Metadata::decode(m).ok()?.public_key?;
        PublicKey::from_card(&data).ok()
    }
    /// The algorithm in tag 01 (the management key's, for key reference 9B).
    pub fn algorithm(m: &[u8]) -> Option<u8> {
        flat::parse(m).ok().and_then(|items| flat::find(&items, 0x01)?.first().copied())
    }
    /// Tag 05: the PIN, PUK or management key still has its factory value.
    pub fn is_default(m: &[u8]) -> Option<bool> {
        flat::parse(m).ok().and_then(|items| flat::find(&items, 0x05)?.first().map(|b| *b != 0))
    }
}

/// The slot's public key from the card's metadata.
pub fn metadata_public_key(s: &mut Session, slot: Slot) -> Result<Option<PublicKey>, Failure> {
    Ok(metadata(s, slot.key_ref())?.as_deref().and_then(meta::public_key))
}

/// Where the slot's public key is known from without a file: the card's
/// metadata, a key generated in this session, the slot's certificate.
pub fn known_public_key(s: &mut Session, slot: Slot) -> Result<Option<(PublicKey, &'static str)>, Failure> {
    if let Some(k) = metadata_public_key(s, slot)? {
        return Ok(Some((k, "the card's metadata")));
    }
    if let Some(k) = s.generated.get(&slot) {
        return Ok(Some((k.clone(), "the key generated in this session")));
    }
    match s.card()?.read_certificate(slot)? {
        Some(der) => Ok(Some((describe_cert(&der)?.2, "the slot's certificate"))),
        None => Ok(None),
    }
}

/// The slot's public key: the file given, else what the card tells.
pub fn slot_public_key(s: &mut Session, slot: Slot, file: Option<&Path>) -> Result<PublicKey, Failure> {
    if let Some(p) = file {
        return read_public_key(p);
    }
    match known_public_key(s, slot)? {
        Some((k, _)) => Ok(k),
        None => Err(Failure::Usage(format!(
            "the card does not tell slot {slot}'s public key (no certificate, no GET METADATA): give it with --pubkey FILE, as `subsim key generate` wrote it"
        ))),
    }
}

pub fn slot_certificate(s: &mut Session, slot: Slot) -> Result<Vec<u8>, Failure> {
    s.card()?.read_certificate(slot)?.ok_or_else(|| {
        Failure::Usage(format!(
            "slot {slot} holds no certificate: import one with `subsim cert import {}` FILE",
            slot.to_string().to_lowercase()
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// GET METADATA answers shaped as Yubico documents them.
    #[test]
    fn metadata_items_decode() {
        let key = rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 1024).unwrap().to_public_key();
        use rsa::traits::PublicKeyParts;
        let (n, e) = (key.n().to_bytes_be(), key.e().to_bytes_be());
        let public = flat::encode(&[(0x81, &n), (0x82, &e)]);
        let slot = flat::encode(&[(0x01, &[0x07]), (0x02, &[0x02, 0x01]), (0x03, &[0x01]), (0x04, &public)]);
        assert_eq!(meta::public_key(&slot), Some(PublicKey::Rsa(key)));
        assert_eq!(meta::algorithm(&slot), Some(0x07));
        assert_eq!(meta::is_default(&slot), None);
        let mgm = flat::encode(&[(0x01, &[0x0C]), (0x02, &[0x00, 0x01]), (0x05, &[0x01])]);
        assert_eq!(meta::algorithm(&mgm).and_then(MgmAlgorithm::from_id), Some(MgmAlgorithm::Aes256));
        assert_eq!(meta::is_default(&mgm), Some(true));
        assert_eq!(meta::public_key(&mgm), None);
        assert_eq!(meta::algorithm(&[0x01, 0x05]), None, "broken TLV");
    }
}
