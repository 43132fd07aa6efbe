//! What the card tells about a slot's key and certificate: GET METADATA
//! where it answers, a key generated in this session, the certificate.

use super::*;
use applet_spec::messages::Metadata;

/// GET METADATA (Yubico, firmware 5.3+) of a key reference, through the
/// typed client and `applet_spec`'s one decoder: `None` where the card has
/// no metadata (profile), the reference is empty (6A88) or the answer does
/// not decode.
pub fn metadata(s: &mut Session, key_ref: u8) -> Result<Option<Metadata>, Failure> {
    if !s.profile()?.metadata {
        return Ok(None);
    }
    match s.card()?.metadata(key_ref) {
        Ok(m) => Ok(Some(m)),
        Err(Error::Status { .. } | Error::Malformed { .. }) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// The public key a metadata answer carries (tag 04), if any.
pub fn metadata_key(m: &Metadata) -> Option<PublicKey> {
    PublicKey::from_card(m.public_key.as_ref()?).ok()
}

/// The slot's public key from the card's metadata.
pub fn metadata_public_key(s: &mut Session, slot: Slot) -> Result<Option<PublicKey>, Failure> {
    Ok(metadata(s, slot.key_ref())?.as_ref().and_then(metadata_key))
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
    use applet_spec::tlv::flat;

    /// GET METADATA answers shaped as Yubico documents them, read as the
    /// command line reads them.
    #[test]
    fn metadata_items_decode() {
        let decode = |m: &[u8]| Metadata::decode(m).ok();
        let key = rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 1024).unwrap().to_public_key();
        use rsa::traits::PublicKeyParts;
        let (n, e) = (key.n().to_bytes_be(), key.e().to_bytes_be());
        let public = flat::encode(&[(0x81, &n), (0x82, &e)]);
        let slot = flat::encode(&[(0x01, &[0x07]), (0x02, &[0x02, 0x01]), (0x03, &[0x01]), (0x04, &public)]);
        let slot = decode(&slot).unwrap();
        assert_eq!(metadata_key(&slot), Some(PublicKey::Rsa(key)));
        assert_eq!(slot.algorithm, 0x07);
        assert_eq!(slot.is_default, None);
        let mgm = decode(&flat::encode(&[(0x01, &[0x0C]), (0x02, &[0x00, 0x01]), (0x05, &[0x01])])).unwrap();
        assert_eq!(MgmAlgorithm::from_id(mgm.algorithm), Some(MgmAlgorithm::Aes256));
        assert_eq!(mgm.is_default, Some(true));
        assert_eq!(metadata_key(&mgm), None);
        assert_eq!(decode(&[0x01, 0x05]), None, "broken TLV");
    }
}
