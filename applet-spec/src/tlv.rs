//! Thin helpers over `iso7816-tlv`'s BER-TLV types, so message code reads as
//! the templates it builds.

use iso7816_tlv::ber::{Tag, Tlv, Value};

use crate::SpecError;

fn tag(t: u32) -> Tag {
    // Every tag passed here is a constant of this crate; a bad one is a bug
    // caught by the unit tests, never reachable from input.
    Tag::try_from(t).expect("tag constant is valid BER")
}

/// A primitive data object.
pub fn prim(t: u32, value: impl Into<Vec<u8>>) -> Tlv {
    Tlv::new(tag(t), Value::Primitive(value.into())).expect("primitive tag")
}

/// A constructed data object.
pub fn cons(t: u32, children: Vec<Tlv>) -> Tlv {
    Tlv::new(tag(t), Value::Constructed(children)).expect("constructed tag")
}

/// Concatenated encodings of several data objects.
pub fn concat(items: &[Tlv]) -> Vec<u8> {
    items.iter().flat_map(Tlv::to_vec).collect()
}

/// Parses bytes holding exactly one data object.
pub fn parse_one(bytes: &[u8]) -> Result<Tlv, SpecError> {
    Tlv::from_bytes(bytes).map_err(|_| SpecError::Malformed("not one BER-TLV data object"))
}

/// Parses bytes holding a sequence of data objects, all bytes consumed.
pub fn parse_seq(mut bytes: &[u8]) -> Result<Vec<Tlv>, SpecError> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let (tlv, rest) = Tlv::parse(bytes);
        out.push(tlv.map_err(|_| SpecError::Malformed("broken BER-TLV sequence"))?);
        bytes = rest;
    }
    Ok(out)
}

/// Whether `t` has tag `want` (1 to 3 bytes in the low bits).
pub fn is(t: &Tlv, want: u32) -> bool {
    *t.tag() == tag(want)
}

/// The children of a constructed object with the expected tag.
pub fn children(t: &Tlv, want: u32) -> Result<&[Tlv], SpecError> {
    match t.value() {
        Value::Constructed(c) if is(t, want) => Ok(c),
        _ => Err(SpecError::Malformed("unexpected template")),
    }
}

/// The value of a primitive object.
pub fn value(t: &Tlv) -> Result<&[u8], SpecError> {
    match t.value() {
        Value::Primitive(v) => Ok(v),
        Value::Constructed(_) => Err(SpecError::Malformed("expected a primitive object")),
    }
}

/// The value of the first primitive child with tag `want`.
pub fn find(items: &[Tlv], want: u32) -> Option<&[u8]> {
    items.iter().find(|t| is(t, want)).and_then(|t| value(t).ok())
}

/// One level of BER-TLV: `(tag, value)` pairs with BER tags of 1 to 3
/// bytes (as `u32`), the values not looked into. For templates a card may
/// fill with bytes that are not BER inside (a G+D card's `79` holds the
/// bare RID), where a full parse would refuse the whole answer.
pub fn shallow(mut bytes: &[u8]) -> Result<Vec<(u32, &[u8])>, SpecError> {
    const BAD: SpecError = SpecError::Malformed("broken BER-TLV sequence");
    let mut out = Vec::new();
    while let [first, rest @ ..] = bytes {
        let mut tag = u32::from(*first);
        let mut rest = rest;
        if first & 0x1F == 0x1F {
            // Subsequent tag bytes: bit 8 set on all but the last; at most two here.
            loop {
                let [b, r @ ..] = rest else { return Err(BAD) };
                tag = (tag << 8) | u32::from(*b);
                rest = r;
                if b & 0x80 == 0 {
                    break;
                }
                if tag > 0xFFFF {
                    return Err(BAD);
                }
            }
        }
        let (value, r) = flat::split_value(rest).ok_or(BAD)?;
        out.push((tag, value));
        bytes = r;
    }
    Ok(out)
}

/// Flat TLV, for the contents of PIV containers. Their one-byte tags (70, 71,
/// FE in certificate objects; 30, 34, 35, 3E in the CHUID; AA, AB in a key
/// generation template) carry opaque values even where the BER constructed bit
/// is set, which `iso7816-tlv` rightly refuses to parse as primitive. These
/// walk them as tag, BER definite length, value.
pub mod flat {
    use crate::SpecError;

    fn push_len(out: &mut Vec<u8>, len: usize) {
        match len {
            0..=0x7F => out.push(len as u8),
            0x80..=0xFF => out.extend([0x81, len as u8]),
            _ => {
                out.push(0x82);
                out.extend((len as u16).to_be_bytes());
            }
        }
    }

    /// Encodes `(tag, value)` pairs; values must be shorter than 64 KiB.
    pub fn encode(items: &[(u8, &[u8])]) -> Vec<u8> {
        let mut out = Vec::new();
        for (tag, value) in items {
            out.push(*tag);
            push_len(&mut out, value.len());
            out.extend_from_slice(value);
        }
        out
    }

    /// A BER definite length and the value it covers, and what follows.
    pub(crate) fn split_value(rest: &[u8]) -> Option<(&[u8], &[u8])> {
        let (len, rest) = match rest {
            [l @ 0..=0x7F, r @ ..] => (*l as usize, r),
            [0x81, l, r @ ..] => (*l as usize, r),
            [0x82, h, l, r @ ..] => (u16::from_be_bytes([*h, *l]) as usize, r),
            _ => return None,
        };
        (rest.len() >= len).then(|| rest.split_at(len))
    }

    /// Splits bytes into `(tag, value)` pairs; every byte must be consumed.
    pub fn parse(mut bytes: &[u8]) -> Result<Vec<(u8, &[u8])>, SpecError> {
        const BAD: SpecError = SpecError::Malformed("broken TLV in a PIV container");
        let mut out = Vec::new();
        while let [tag, rest @ ..] = bytes {
            let (value, rest) = split_value(rest).ok_or(BAD)?;
            out.push((*tag, value));
            bytes = rest;
        }
        Ok(out)
    }

    /// The value of the first item with `tag`.
    pub fn find<'a>(items: &[(u8, &'a [u8])], tag: u8) -> Option<&'a [u8]> {
        items.iter().find(|(t, _)| *t == tag).map(|(_, v)| *v)
    }

    #[cfg(test)]
    mod tests {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn round_trip(items in proptest::collection::vec((any::<u8>(), proptest::collection::vec(any::<u8>(), 0..300)), 0..5)) {
                let pairs: Vec<(u8, &[u8])> = items.iter().map(|(t, v)| (*t, v.as_slice())).collect();
                let bytes = encode(&pairs);
                prop_assert_eq!(parse(&bytes).unwrap(), pairs);
            }

            #[test]
            fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
                let _ = parse(&bytes);
            }
        }
    }
}
