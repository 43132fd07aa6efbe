//! Data objects by tag (SP 800-73-4 part 1, table 3, and Yubico's): list,
//! export, import and delete any of them, generate a CHUID or CCC as ykman
//! does; and `cert delete`.

use super::*;
use crate::PinArgs;
use applet_spec::piv::{ObjectTag, MAX_OBJECT_LEN};
use applet_spec::tlv::flat;
use clap::{Subcommand, ValueEnum};

/// The objects `object list` looks at, with their names (ykman's, lower case).
const NAMED: [(&str, ObjectTag); 16] = [
    ("discovery", ObjectTag::DISCOVERY),
    ("chuid", ObjectTag::CHUID),
    ("capability", ObjectTag::CCC),
    ("authentication", ObjectTag::CERT_9A),
    ("signature", ObjectTag::CERT_9C),
    ("key_management", ObjectTag::CERT_9D),
    ("card_auth", ObjectTag::CERT_9E),
    ("fingerprints", ObjectTag::FINGERPRINTS),
    ("security", ObjectTag::SECURITY_OBJECT),
    ("facial", ObjectTag::FACIAL_IMAGE),
    ("printed", ObjectTag::PRINTED_INFORMATION),
    ("key_history", ObjectTag::KEY_HISTORY),
    ("iris", ObjectTag::IRIS_IMAGES),
    ("pairing_code", ObjectTag::PAIRING_CODE),
    ("admin_data", ObjectTag::ADMIN_DATA),
    ("attestation", ObjectTag::ATTESTATION_CERT),
];

/// An object by name (`chuid`, `ccc`, `printed`..., `retired1`, any case,
/// `-` or `_`) or by tag in hex (`5fc102`, `0x5FC102`, `7e`).
fn parse_object(s: &str) -> Result<ObjectTag, String> {
    let lower = s.to_ascii_lowercase().replace('-', "_");
    let alias = match lower.as_str() {
        "ccc" => "capability",
        "card_authentication" => "card_auth",
        "printed_information" => "printed",
        other => other,
    };
    if let Some((_, t)) = NAMED.iter().find(|(n, _)| *n == alias) {
        return Ok(*t);
    }
    if let Some(n) = alias.strip_prefix("retired").and_then(|n| n.parse().ok()).and_then(piv::Retired::new) {
        return Ok(Slot::Retired(n).cert_object());
    }
    let hex = alias.trim_start_matches("0x");
    secret::hex_decode(hex).and_then(|b| ObjectTag::from_bytes(&b)).ok_or_else(|| {
        format!("{s:?} is not a data object: name one (chuid, ccc, printed, security, key_history, retired1...) or give its tag in hex (5fc102)")
    })
}

fn name_of(tag: ObjectTag) -> String {
    let named = NAMED.iter().find(|(_, t)| *t == tag).map(|(n, _)| n.to_string());
    let retired =
        piv::Retired::all().find(|r| Slot::Retired(*r).cert_object() == tag).map(|r| format!("retired{}", r.number()));
    named.or(retired).unwrap_or_else(|| "-".into())
}

fn tag_hex(tag: ObjectTag) -> String {
    hex::encode_upper(tag.to_bytes())
}

#[derive(Clone, Copy, ValueEnum)]
pub enum Generated {
    /// Card Holder Unique Identifier (5FC102): ykman's non-federal FASC-N, a random GUID, expiry 2030-01-01.
    Chuid,
    /// Card Capability Container (5FC107): a random card identifier, as ykman writes it.
    Ccc,
}

#[derive(Subcommand)]
pub enum ObjectCmd {
    /// The data objects the card holds: tag, name, size (PIN-protected ones only with the PIN).
    List {
        #[command(flatten)]
        pin: PinArgs,
    },
    /// Write an object's value (the bytes inside tag 53), as ykman's `objects export`.
    #[command(
        after_help = "Examples:\n  subsim object export chuid --out chuid.bin\n  subsim object export 5fc10c --out history.bin"
    )]
    Export {
        /// The object: chuid, ccc, printed, security, key_history, retired1..20... or its tag in hex (5fc102).
        #[arg(value_parser = parse_object)]
        object: ObjectTag,
        /// Write the value to this file (`-`: stdout, never a terminal).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        #[command(flatten)]
        pin: PinArgs,
    },
    /// Store a value (a file, `-` for stdin) as an object, replacing what it held.
    #[command(after_help = "Example:\n  subsim object import chuid chuid.bin")]
    Import {
        /// The object: a name or its tag in hex.
        #[arg(value_parser = parse_object)]
        object: ObjectTag,
        /// The value's bytes; `-` for stdin.
        file: PathBuf,
        #[command(flatten)]
        mgm: MgmArgs,
    },
    /// Generate a CHUID or a CCC, as ykman does, and store it.
    Generate {
        /// Which object.
        #[arg(value_enum)]
        object: Generated,
        #[command(flatten)]
        mgm: MgmArgs,
    },
}

/// GET DATA that tells an empty object from one that needs the PIN, and
/// from a tag the card does not take at all.
enum Read {
    Value(Vec<u8>),
    Absent,
    NeedsPin,
    /// Refused with another status word (piv-authenticator answers `6A80`
    /// for Yubico's 5FFF00 and 5FFF01, objects it does not have).
    Refused(Sw),
}

fn read(s: &mut Session, tag: ObjectTag) -> Result<Read, Failure> {
    match s.card()?.read_object(tag) {
        Ok(Some(v)) => Ok(Read::Value(v)),
        Ok(None) => Ok(Read::Absent),
        Err(Error::Status { sw: Sw::SECURITY_STATUS_NOT_SATISFIED, .. }) => Ok(Read::NeedsPin),
        Err(Error::Status { sw, .. }) => Ok(Read::Refused(sw)),
        Err(e) => Err(e.into()),
    }
}

/// Verifies the PIN first when one is given (flag, file or environment).
fn pin_if_given(s: &mut Session, pin: &PinArgs) -> Result<(), Failure> {
    if pin_source(pin).given("SUBSIM_PIN") {
        verify_pin(s, pin)?;
    }
    Ok(())
}

pub fn run(s: &mut Session, o: &ObjectCmd) -> Result<Out, Failure> {
    match o {
        ObjectCmd::List { pin } => {
            pin_if_given(s, pin)?;
            let tags = NAMED.iter().map(|(_, t)| *t).chain(piv::Retired::all().map(|r| Slot::Retired(r).cert_object()));
            let (mut lines, mut rows, mut refused) = (Vec::new(), Vec::new(), Vec::new());
            for tag in tags.collect::<Vec<_>>() {
                let (size, needs_pin) = match read(s, tag)? {
                    Read::Absent => continue,
                    Read::Refused(sw) => {
                        refused
                            .push(json!({ "tag": tag_hex(tag), "name": name_of(tag), "sw": format!("{:04X}", sw.0) }));
                        lines.push(format!(
                            "{:<6} {:<14} not an object of this card (it answered {sw})",
                            tag_hex(tag),
                            name_of(tag)
                        ));
                        continue;
                    }
                    Read::Value(v) => (Some(v.len()), false),
                    Read::NeedsPin => (None, true),
                };
                let words = match size {
                    Some(n) => format!("{n} bytes"),
                    None => "present or not: the PIN is needed to read it (--pin-file, $SUBSIM_PIN)".into(),
                };
                lines.push(format!("{:<6} {:<14} {words}", tag_hex(tag), name_of(tag)));
                rows.push(json!({ "tag": tag_hex(tag), "name": name_of(tag), "bytes": size, "needs_pin": needs_pin }));
            }
            let text =
                if rows.is_empty() && refused.is_empty() { "no data objects".to_string() } else { lines.join("\n") };
            out(text, json!({ "objects": rows, "refused": refused }))
        }
        ObjectCmd::Export { object, out: to, pin } => {
            pin_if_given(s, pin)?;
            let value = match read(s, *object)? {
                Read::Value(v) => v,
                Read::Absent => {
                    return Err(Failure::Refused(Refusal {
                        message: format!("the card holds no object {} (card answered 6A82)", tag_hex(*object)),
                        hint: Some("`subsim object list` shows the objects it holds".into()),
                        sw: Sw::FILE_NOT_FOUND,
                    }))
                }
                Read::Refused(sw) => {
                    return Err(Failure::Refused(Refusal {
                        message: format!("the card does not take object {} (it answered {sw})", tag_hex(*object)),
                        hint: Some("`subsim object list` shows the objects it holds".into()),
                        sw,
                    }))
                }
                Read::NeedsPin => {
                    return Err(Failure::Refused(Refusal {
                        message: format!("object {} is read only after the PIN (card answered 6982)", tag_hex(*object)),
                        hint: Some("give the PIN: --pin-file FILE, $SUBSIM_PIN or --pin".into()),
                        sw: Sw::SECURITY_STATUS_NOT_SATISFIED,
                    }))
                }
            };
            let j = json!({ "tag": tag_hex(*object), "name": name_of(*object), "bytes": value.len() });
            deliver(s, to.as_deref(), value, false, "data_base64", j)
        }
        ObjectCmd::Import { object, file, mgm } => {
            let value = read_file(file, "the object's value")?;
            check_writable(*object, value.len())?;
            authenticate(s, mgm)?;
            write(s, *object, &value)
        }
        ObjectCmd::Generate { object, mgm } => {
            let (tag, value) = match object {
                Generated::Chuid => (ObjectTag::CHUID, chuid()),
                Generated::Ccc => (ObjectTag::CCC, ccc()),
            };
            authenticate(s, mgm)?;
            write(s, tag, &value)
        }
    }
}

/// What PUT DATA would refuse, said before the card is touched.
fn check_writable(tag: ObjectTag, len: usize) -> Result<(), Failure> {
    if !tag.is_writable() {
        return Err(Failure::Usage(format!(
            "object {} cannot be written (PUT DATA writes 5FC101-5FC123, 7F61 and Yubico's 5FFF00-5FFF15)",
            tag_hex(tag)
        )));
    }
    if len > MAX_OBJECT_LEN {
        return Err(Failure::Usage(format!("{len} bytes: an object holds at most {MAX_OBJECT_LEN} bytes")));
    }
    Ok(())
}

fn write(s: &mut Session, tag: ObjectTag, value: &[u8]) -> Result<Out, Failure> {
    let r = s.card()?.write_object(tag, value);
    r.map_err(|e| explain(s, e, Op::NeedsMgm))?;
    out(
        format!("object {} ({}) stored: {} bytes", tag_hex(tag), name_of(tag), value.len()),
        json!({ "tag": tag_hex(tag), "name": name_of(tag), "bytes": value.len() }),
    )
}

fn random<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut b);
    b
}

/// A CHUID as ykman writes one: the non-federal issuer FASC-N
/// 9999-9999-999999-0-1-0000000000300001, a random GUID, expiry
/// 2030-01-01, an empty signature and LRC.
fn chuid() -> Vec<u8> {
    const FASC_N: [u8; 25] = [
        0xD4, 0xE7, 0x39, 0xDA, 0x73, 0x9C, 0xED, 0x39, 0xCE, 0x73, 0x9D, 0x83, 0x68, 0x58, 0x21, 0x08, 0x42, 0x10,
        0x84, 0x21, 0xC8, 0x42, 0x10, 0xC3, 0xEB,
    ];
    let guid = random::<16>();
    flat::encode(&[(0x30, &FASC_N), (0x34, &guid), (0x35, b"20300101"), (0x3E, &[]), (0xFE, &[])])
}

/// A CCC as ykman writes one: card identifier A0 00 00 01 16 FF 02 and 14
/// random bytes, versions 21, and the empty items SP 800-73-4 lists.
fn ccc() -> Vec<u8> {
    let id = [&[0xA0, 0x00, 0x00, 0x01, 0x16, 0xFF, 0x02][..], &random::<14>()].concat();
    let empty: &[u8] = &[];
    flat::encode(&[
        (0xF0, &id),
        (0xF1, &[0x21]),
        (0xF2, &[0x21]),
        (0xF3, empty),
        (0xF4, &[0x00]),
        (0xF5, &[0x10]),
        (0xF6, empty),
        (0xF7, empty),
        (0xFA, empty),
        (0xFB, empty),
        (0xFC, empty),
        (0xFD, empty),
        (0xFE, empty),
    ])
}

/// `cert delete SLOT`: the slot's certificate object removed (PUT DATA with
/// an empty value); the key stays. Asks first.
pub fn cert_delete(s: &mut Session, slot: Slot, c: Confirm, mgm: &MgmArgs) -> Result<Out, Failure> {
    let Some(der) = s.card()?.read_certificate(slot)? else {
        return Err(empty_slot(slot, Holds::Certificate));
    };
    let subject = describe_cert(&der).map(|(subject, _, _)| subject).unwrap_or_else(|_| "(unreadable)".into());
    let question = format!("Delete slot {slot}'s certificate for {subject} on");
    super::card::confirm(s, c, &question, "cert delete", "deletes the slot's certificate")?;
    authenticate(s, mgm)?;
    let r = s.card()?.write_object(slot.cert_object(), &[]);
    r.map_err(|e| explain(s, e, Op::NeedsMgm))?;
    out(
        format!("certificate for {subject} deleted from {slot} (the key stays)"),
        json!({ "slot": names::slot(slot), "deleted": true, "subject": subject }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_by_name_and_tag() {
        assert_eq!(parse_object("CHUID"), Ok(ObjectTag::CHUID));
        assert_eq!(parse_object("ccc"), Ok(ObjectTag::CCC));
        assert_eq!(parse_object("0x5FC109"), Ok(ObjectTag::PRINTED_INFORMATION));
        assert_eq!(parse_object("retired1"), Ok(ObjectTag(0x5FC10D)));
        assert_eq!(parse_object("7e"), Ok(ObjectTag::DISCOVERY));
        assert!(parse_object("5fc1").is_err(), "an incomplete tag");
        assert!(parse_object("bogus").is_err());
        // The generated objects parse as PIV containers do.
        for v in [chuid(), ccc()] {
            let items = flat::parse(&v).unwrap();
            assert_eq!(items.last().map(|(t, _)| *t), Some(0xFE), "LRC last");
        }
        assert_eq!(flat::find(&flat::parse(&chuid()).unwrap(), 0x34).map(<[u8]>::len), Some(16));
    }
}
