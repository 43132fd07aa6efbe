//! The PIN-protected management key, stored as ykman stores it (so ykman
//! and subsim read each other's cards): the key in the printed information
//! object 5FC109 as `88 { 89 <key> }` (read only after the PIN), and bit
//! 0x02 of the flags `81` in the admin data 5FFF00 `80 { 81 <flags>, 82
//! <salt>?, 83 <PIN timestamp>? }` saying it is there. Other items of both
//! objects are kept as they are.

use super::*;
use applet_spec::piv::ObjectTag;
use applet_spec::tlv::flat;

const TAG_ADMIN: u8 = 0x80;
const TAG_FLAGS: u8 = 0x81;
const TAG_PROTECTED: u8 = 0x88;
const TAG_KEY: u8 = 0x89;
/// Flags bit: the management key is stored in the printed information.
const FLAG_MGM_PROTECTED: u8 = 0x02;

/// The items inside an object's one outer template (`outer`), or none.
fn items(object: Option<&[u8]>, outer: u8) -> Vec<(u8, Vec<u8>)> {
    let Some(bytes) = object else { return Vec::new() };
    let inner = flat::parse(bytes).ok().and_then(|o| flat::find(&o, outer).map(<[u8]>::to_vec)).unwrap_or_default();
    flat::parse(&inner).map(|v| v.into_iter().map(|(t, v)| (t, v.to_vec())).collect()).unwrap_or_default()
}

fn encode(outer: u8, items: &[(u8, Vec<u8>)]) -> Vec<u8> {
    let pairs: Vec<(u8, &[u8])> = items.iter().map(|(t, v)| (*t, v.as_slice())).collect();
    flat::encode(&[(outer, &flat::encode(&pairs))])
}

/// Replaces (or with `None` removes) one item, keeping the others in order.
fn set(items: &mut Vec<(u8, Vec<u8>)>, tag: u8, value: Option<Vec<u8>>) {
    match (items.iter_mut().find(|(t, _)| *t == tag), value) {
        (Some(slot), Some(v)) => slot.1 = v,
        (None, Some(v)) => items.push((tag, v)),
        (_, None) => items.retain(|(t, _)| *t != tag),
    }
}

/// GET DATA of an object where the card may refuse it (a plain PIV card
/// may not hold Yubico's objects at all): None.
fn read(s: &mut Session, tag: ObjectTag) -> Result<Option<Vec<u8>>, Failure> {
    match s.card()?.read_object(tag) {
        Ok(v) => Ok(v),
        Err(Error::Status { .. }) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Whether the admin data says the management key is stored PIN-protected.
pub fn is_protected(s: &mut Session) -> Result<bool, Failure> {
    let admin = read(s, ObjectTag::ADMIN_DATA)?;
    let flags = items(admin.as_deref(), TAG_ADMIN);
    Ok(flags.iter().any(|(t, v)| *t == TAG_FLAGS && v.first().is_some_and(|f| f & FLAG_MGM_PROTECTED != 0)))
}

/// The PIN-protected management key, where the card holds one: the PIN is
/// verified first (from the usual sources) unless it already is.
pub fn stored_key(s: &mut Session) -> Result<Option<Zeroizing<Vec<u8>>>, Failure> {
    if !is_protected(s)? {
        return Ok(None);
    }
    if s.card()?.pin_state()? != PinState::Verified {
        s.say("the management key is PIN-protected on this card: the PIN unlocks it");
        verify_pin(s, &PinArgs::default())?;
    }
    let printed = Zeroizing::new(read(s, ObjectTag::PRINTED_INFORMATION)?.unwrap_or_default());
    let found = items(Some(&printed), TAG_PROTECTED).into_iter().find(|(t, _)| *t == TAG_KEY);
    match found {
        Some((_, key)) => Ok(Some(Zeroizing::new(key))),
        None => Err(Failure::Usage(
            "the admin data (5FFF00) says the management key is PIN-protected, but the printed information (5FC109) \
             holds none: give the key with --mgm-key-file FILE or $SUBSIM_MGM_KEY"
                .into(),
        )),
    }
}

/// After SET MANAGEMENT KEY: the new key stored PIN-protected (`Some`), or
/// a previously stored one removed (`None`), with the admin data's flag in
/// step. The management key is authenticated (the session's).
pub fn record(s: &mut Session, key: Option<&[u8]>) -> Result<(), Failure> {
    let was = is_protected(s)?;
    if key.is_none() && !was {
        return Ok(());
    }
    let admin = read(s, ObjectTag::ADMIN_DATA)?;
    let mut admin_items = items(admin.as_deref(), TAG_ADMIN);
    let flags = admin_items.iter().find(|(t, _)| *t == TAG_FLAGS).and_then(|(_, v)| v.first().copied()).unwrap_or(0);
    let flags = if key.is_some() { flags | FLAG_MGM_PROTECTED } else { flags & !FLAG_MGM_PROTECTED };
    set(&mut admin_items, TAG_FLAGS, Some(vec![flags]));
    let printed = Zeroizing::new(read(s, ObjectTag::PRINTED_INFORMATION)?.unwrap_or_default());
    let mut printed_items = items(Some(&printed), TAG_PROTECTED);
    set(&mut printed_items, TAG_KEY, key.map(<[u8]>::to_vec));
    let printed = Zeroizing::new(encode(TAG_PROTECTED, &printed_items));
    for (_, v) in printed_items.iter_mut() {
        zeroize::Zeroize::zeroize(v);
    }
    let r = s.card()?.write_object(ObjectTag::PRINTED_INFORMATION, &printed);
    r.map_err(|e| explain(s, e, Op::NeedsMgm))?;
    let r = s.card()?.write_object(ObjectTag::ADMIN_DATA, &encode(TAG_ADMIN, &admin_items));
    r.map_err(|e| explain(s, e, Op::NeedsMgm))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bytes ykman writes for `--protect` (yubikit's PivmanData and
    /// PivmanProtectedData), read and rebuilt here with other items kept.
    #[test]
    fn ykman_layout() {
        let admin = [0x80, 0x03, 0x81, 0x01, 0x02];
        let got = items(Some(&admin), TAG_ADMIN);
        assert_eq!(got, vec![(0x81, vec![0x02])]);
        let mut with_salt = items(Some(&[0x80, 0x05, 0x82, 0x03, 1, 2, 3]), TAG_ADMIN);
        set(&mut with_salt, TAG_FLAGS, Some(vec![0x02]));
        assert_eq!(encode(TAG_ADMIN, &with_salt), [0x80, 0x08, 0x82, 0x03, 1, 2, 3, 0x81, 0x01, 0x02]);
        let key = [7u8; 24];
        let printed = encode(TAG_PROTECTED, &[(TAG_KEY, key.to_vec())]);
        assert_eq!(&printed[..4], &[0x88, 26, 0x89, 24]);
        assert_eq!(items(Some(&printed), TAG_PROTECTED), vec![(TAG_KEY, key.to_vec())]);
        assert!(items(Some(&[0x88, 0x05, 0x89]), TAG_PROTECTED).is_empty(), "broken TLV: nothing");
    }
}
