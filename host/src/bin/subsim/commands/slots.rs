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
    PublicKey::from_card(KeyAlgorithm::from_id(m.algorithm)?, m.public_key.as_ref()?).ok()
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

/// Whether the card says the slot is empty: GET METADATA answered 6A88.
/// Any other answer (or no GET METADATA) tells nothing.
pub fn said_empty(s: &mut Session, slot: Slot) -> Result<bool, Failure> {
    if !s.profile()?.metadata {
        return Ok(false);
    }
    Ok(matches!(s.card()?.slot_metadata(slot), Ok(None)))
}

/// The slot's public key: the file given, else what the card tells. A
/// file whose key is not the one the card's metadata tells is refused
/// before the card is asked for a PIN or a signature.
pub fn slot_public_key(s: &mut Session, slot: Slot, file: Option<&Path>) -> Result<PublicKey, Failure> {
    if let Some(p) = file {
        let given = read_public_key(p)?;
        if said_empty(s, slot)? {
            return Err(empty_slot(slot, Holds::Key));
        }
        match metadata(s, slot.key_ref())? {
            Some(m) => match metadata_key(&m) {
                Some(k) if k.algorithm() != given.algorithm() => {
                    return Err(Failure::Usage(format!(
                    "{} holds an {} key; slot {slot} holds a {} key: give that slot's public key (nothing was signed)",
                    p.display(),
                    given.algorithm().name(),
                    k.algorithm().name()
                )))
                }
                Some(k) if k != given => {
                    return Err(Failure::Usage(format!(
                        "{} is not slot {slot}'s public key (the card's metadata tells another {} key; a key generated \
                         since?): nothing was signed. Leave --pubkey out to use the card's",
                        p.display(),
                        k.algorithm().name()
                    )))
                }
                _ => {}
            },
            None => {}
        }
        return Ok(given);
    }
    match known_public_key(s, slot)? {
        Some((k, _)) => Ok(k),
        None if said_empty(s, slot)? => Err(empty_slot(slot, Holds::Key)),
        None => Err(Failure::Usage(format!(
            "the card does not tell slot {slot}'s public key (no certificate in the slot, and no GET METADATA): \
             give it with --pubkey FILE, as `subsim key generate` wrote it"
        ))),
    }
}

/// What an empty slot lacks.
#[derive(Clone, Copy)]
pub enum Holds {
    Key,
    Certificate,
}

/// A slot the card says is empty: one outcome wherever it is met (`cert
/// export`, `key public`, `key attest`, `csr`, `login`): the card's answer,
/// exit 1 (`card_refused`) with its status word, 6A88 for a key and 6A82 for
/// a certificate, and what to do.
pub fn empty_slot(slot: Slot, holds: Holds) -> Failure {
    let sw = match holds {
        Holds::Key => Sw::REFERENCE_NOT_FOUND,
        Holds::Certificate => Sw::FILE_NOT_FOUND,
    };
    empty_slot_answered(slot, holds, sw)
}

/// As [`empty_slot`], with the status word the card answered.
pub fn empty_slot_answered(slot: Slot, holds: Holds, sw: Sw) -> Failure {
    let lower = slot.to_string().to_lowercase();
    let (message, hint) = match holds {
        Holds::Key => (
            format!("slot {slot} holds no key"),
            format!("generate one: `subsim key generate {lower}` (or import one: `subsim key import {lower} FILE`)"),
        ),
        Holds::Certificate => {
            (format!("slot {slot} holds no certificate"), format!("import one: `subsim cert import {lower} FILE`"))
        }
    };
    Failure::Refused(Refusal { message: format!("{message} (card answered {:04X})", sw.0), hint: Some(hint), sw })
}

pub fn slot_certificate(s: &mut Session, slot: Slot) -> Result<Vec<u8>, Failure> {
    s.card()?.read_certificate(slot)?.ok_or_else(|| empty_slot(slot, Holds::Certificate))
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
