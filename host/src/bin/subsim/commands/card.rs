//! Commands about the card and its readers: init, readers, info, bind,
//! terminate, raw APDUs, and the man pages.

use super::*;

use crate::open::Target;
use applet_spec::reports::PrimaryPin;

pub(super) fn init(s: &mut Session) -> Result<Out, Failure> {
    let Target::Sim(path) = &s.target else {
        return Err(Failure::Usage("init creates a simulated card's file; a card in a reader needs none".into()));
    };
    let path = path.clone();
    let existed = path.exists();
    s.opts.create = true;
    let serial = s.card()?.serial()?;
    let text = if existed {
        format!("card file {} exists: card {serial} (left as it is)", path.display())
    } else {
        format!("card file {} created: a fresh card, serial {serial}", path.display())
    };
    out(text, json!({ "file": path.display().to_string(), "created": !existed, "serial": serial }))
}

pub(super) fn readers() -> Result<Out, Failure> {
    let mut rows = Vec::new();
    let mut json_rows = Vec::new();
    for r in list_readers()? {
        let serial = if r.card_present {
            subsim_host::PcscTransport::connect(&ReaderChoice::Exact(r.name.clone())).ok().and_then(|t| {
                let mut c = Client::new(t);
                c.select().ok()?;
                c.serial().ok()
            })
        } else {
            None
        };
        let card = match (r.card_present, serial) {
            (false, _) => "no card".to_string(),
            (true, Some(s)) => format!("card {s}"),
            (true, None) => "card (no serial told)".to_string(),
        };
        rows.push(format!("{}: {card}", shown(&r.name)));
        json_rows.push(json!({ "reader": r.name, "card_present": r.card_present, "serial": serial, "atr": hex::encode_upper(&r.atr) }));
    }
    let text = if rows.is_empty() { "no readers".to_string() } else { rows.join("\n") };
    out(text, json!({ "readers": json_rows }))
}

/// What the card tells, by standard PIV commands and as far as its profile
/// goes: GET STATUS on a sub-SIM; GET VERSION, GET SERIAL and GET METADATA
/// on Yubico-compatible cards; VERIFY and GET DATA on any PIV card.
pub(super) fn info(s: &mut Session) -> Result<Out, Failure> {
    let p = s.profile()?;
    let describe = shown(&s.card()?.transport().describe()); // a reader's name is the reader's words
    s.card()?.select()?;
    let state = if p.subsim { s.card()?.card_state().ok().flatten() } else { None };
    let serial = if p.yubico { s.card()?.serial().ok() } else { None }.or(state.map(|c| c.serial));
    let version = p.version.as_ref().map(|v| v.to_string());
    // What the card reports of itself, decoded field by field: odd values are noted, never fatal.
    let mut oddities: Vec<String> = p.version.iter().flat_map(|v| v.oddities()).collect();
    let discovery = reported(s.card()?.discovery(), "the discovery object", &mut oddities)?;
    let history = reported(s.card()?.key_history(), "the key history object", &mut oddities)?;
    oddities.extend(discovery.iter().flat_map(|d| d.oddities()));
    oddities.extend(history.iter().flat_map(|h| h.oddities()));
    let status = if p.subsim { Some(s.card()?.status()?) } else { None };
    let (pin_tries, pin_verified) = match &status {
        Some(st) => (Some(st.pin_tries), st.pin_verified),
        None => match s.card()?.pin_state()? {
            PinState::Verified => (None, true),
            PinState::NotVerified { tries_left } => (Some(tries_left), false),
            PinState::Blocked => (Some(0), false),
        },
    };
    // Keys: the sub-SIM's status, else the card's metadata, else unknown.
    let keys: Option<Vec<Slot>> = match &status {
        Some(st) => Some(Slot::ALL.into_iter().filter(|sl| st.keys & sl.bit() != 0).collect()),
        None if p.metadata => {
            let mut v = Vec::new();
            for slot in Slot::ALL {
                if metadata(s, slot.key_ref())?.is_some() {
                    v.push(slot);
                }
            }
            Some(v)
        }
        None => None,
    };
    // Retired slots (82-95) holding a key, where the card's metadata tells.
    let mut retired = Vec::new();
    if p.metadata {
        for slot in piv::Retired::all().map(Slot::Retired) {
            if metadata(s, slot.key_ref())?.is_some() {
                retired.push(slot);
            }
        }
    }
    let keys = keys.map(|k| [k, retired].concat());
    // Every retired slot is looked at: a certificate may sit in one without a key.
    let mut certs = Vec::new();
    for slot in Slot::ALL.into_iter().chain(piv::Retired::all().map(Slot::Retired)) {
        // GET STATUS has a bit for the four host slots only.
        if slot.bit() != 0 && status.as_ref().is_some_and(|st| st.certs & slot.bit() == 0) {
            continue;
        }
        // A card without the retired objects may refuse them in its own words: nothing there.
        let read = s.card()?.read_certificate(slot);
        let der = match read {
            Err(Error::Status { .. }) if matches!(slot, Slot::Retired(_)) => None,
            other => other?,
        };
        if let Some(der) = der {
            let (subject, not_after, key) = match describe_cert(&der) {
                Ok((subject, not_after, key)) => (subject, not_after, Some(key)),
                Err(_) => {
                    ("(not an X.509 certificate with an RSA, P-256 or P-384 key)".to_string(), "?".to_string(), None)
                }
            };
            // Whether it holds the slot's key, where the card (metadata) or this session tells the key.
            let slot_key = match metadata(s, slot.key_ref())? {
                Some(m) => metadata_key(&m),
                None if p.metadata => None,
                None => s.generated.get(&slot).cloned(),
            };
            let has_key = keys.as_ref().map(|k| k.contains(&slot));
            let matches = match (&key, slot_key, has_key) {
                (_, _, Some(false)) => Some(false),
                (Some(c), Some(k), _) => Some(*c == k),
                _ => None,
            };
            certs.push((slot, subject, not_after, matches));
        }
    }
    let mgm = match &status {
        Some(st) => Some(st.mgm_algorithm),
        None => metadata(s, piv::KEY_REF_MANAGEMENT)?.and_then(|m| MgmAlgorithm::from_id(m.algorithm)),
    };
    // Factory values still in use, where the card's metadata tells.
    let mut factory = Vec::new();
    for (key_ref, what) in
        [(piv::KEY_REF_PIN, "PIN"), (piv::KEY_REF_PUK, "PUK"), (piv::KEY_REF_MANAGEMENT, "management key")]
    {
        if metadata(s, key_ref)?.and_then(|m| m.is_default) == Some(true) {
            factory.push(what);
        }
    }
    if !factory.is_empty() {
        s.say(&format!("warning: this card still has the factory {}", factory.join(", ")));
    }
    let slots = |v: &[Slot]| v.iter().map(|sl| names::slot(*sl)).collect::<Vec<_>>();

    let mut text = match serial {
        Some(n) => format!("card {n} ({describe}), profile {}", p.widest()),
        None => format!("PIV card ({describe}), profile {}", p.widest()),
    };
    if let Some(v) = &version {
        text.push_str(&format!(", version {v}"));
    }
    text.push('\n');
    text.push_str(&match (pin_tries, pin_verified) {
        (_, true) => "PIN verified".to_string(),
        (Some(n), false) => format!("PIN tries left {n}"),
        (None, false) => "PIN tries left unknown".to_string(),
    });
    match &status {
        Some(st) => {
            let binding = match st.binding {
                BindingState::None => "none",
                BindingState::Required => "set, not presented",
                BindingState::Presented => "presented",
                BindingState::Blocked => "blocked",
            };
            let entry = if st.pin_entry == PinEntry::KeypadOnly { "keypad-only" } else { "any" };
            text.push_str(&format!(", PUK tries left {}, PIN entry {entry}\nbinding {binding}", st.puk_tries));
            // Wrong values tolerated matter only while a binding is set.
            if st.binding != BindingState::None {
                text.push_str(&format!(" ({} for wrong values)", tries_words(st.binding_tries)));
            }
        }
        None => text.push_str(" (PUK tries, PIN entry, binding: sub-SIM only)"),
    }
    text.push_str(&match &keys {
        Some(k) if k.is_empty() => "\nkeys in no slot".to_string(),
        Some(k) => format!("\nkeys in {}", slots(k).join(", ")),
        None => "\nkeys: the card does not tell (no GET METADATA); slots with certificates below".to_string(),
    });
    if let Some(a) = mgm {
        text.push_str(&format!("\nmanagement key {}", names::mgm_label(a)));
    }
    if let Some(st) = &status {
        // GET STATUS's counter of changes to keys and objects (what a certificate cache keys on).
        text.push_str(&format!("\nchanges to keys and objects: {}", st.changes));
    }
    if let Some(policy) = discovery.as_ref().and_then(|d| d.pin_policy) {
        text.push_str(&format!("\nPIN usage policy {policy}"));
    }
    if let Some(h) = &history {
        let count = |n: Option<u8>| n.map_or("?".to_string(), |n| n.to_string());
        text.push_str(&format!(
            "\nkey history: {} retired keys with certificates on the card, {} off it",
            count(h.on_card),
            count(h.off_card)
        ));
        if let Some(url) = &h.url {
            text.push_str(&format!(" ({})", shown(&String::from_utf8_lossy(url))));
        }
    }
    for (slot, subject, not_after, matches) in &certs {
        text.push_str(&format!("\ncertificate {slot}: {}, valid until {not_after}", shown(subject)));
        match (matches, keys.as_ref().is_some_and(|k| k.contains(slot))) {
            (Some(false), false) => text.push_str(" (no key in the slot)"),
            (Some(false), true) => text.push_str(" (STALE: it holds another key than the slot's)"),
            _ => {}
        }
    }
    for o in &oddities {
        text.push_str(&format!("\nnote: {}", shown(o)));
    }
    let policy = discovery.as_ref().and_then(|d| d.pin_policy);
    out(
        text,
        json!({
            "pin_usage_policy": policy.map(|p| json!({
                "bytes": hex::encode_upper(p.0),
                "methods": p.methods(),
                "primary": match p.primary() {
                    PrimaryPin::NotNamed => json!(null),
                    PrimaryPin::PivPin => json!("piv_pin"),
                    PrimaryPin::GlobalPin => json!("global_pin"),
                    PrimaryPin::Unknown(b) => json!(format!("unknown {b:02X}")),
                },
            })),
            "key_history": history.as_ref().map(|h| json!({
                "on_card": h.on_card,
                "off_card": h.off_card,
                "url": h.url.as_ref().map(|u| String::from_utf8_lossy(u).into_owned()),
            })),
            "oddities": oddities,
            "profile": p.widest().name(),
            "serial": serial,
            "version": version,
            "pin_tries": pin_tries,
            "pin_verified": pin_verified,
            "puk_tries": status.as_ref().map(|st| st.puk_tries),
            "pin_entry": status.as_ref().map(|st| names::pin_entry(st.pin_entry)),
            "binding": status.as_ref().map(|st| names::binding(st.binding)),
            "binding_tries": status.as_ref().map(|st| st.binding_tries),
            "keys": keys.as_deref().map(slots),
            "certificates": certs.iter().map(|(slot, subject, not_after, matches)| json!({"slot": names::slot(*slot), "subject": subject, "not_after": not_after, "matches_key": matches})).collect::<Vec<_>>(),
            "mgm_algorithm": mgm.map(names::mgm_algorithm),
            "changes": status.as_ref().map(|st| st.changes),
        }),
    )
}

/// An object the card reports about itself: absent, refused or undecodable
/// is a note in `oddities`, never the end of `info`; a dead transport is.
fn reported<T>(r: Result<Option<T>, Error>, what: &str, oddities: &mut Vec<String>) -> Result<Option<T>, Failure> {
    match r {
        Ok(v) => Ok(v),
        Err(e @ (Error::Status { .. } | Error::Malformed { .. })) => {
            oddities.push(format!("{what} could not be read: {e}"));
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}

/// A binding value from the argument (warned about), `--binding-file`
/// (hex text or raw bytes), `$SUBSIM_BINDING` or a hidden prompt (asked
/// twice when it is a new one); 16 to 64 bytes, checked here.
pub fn binding_secret(
    plain: &Option<String>,
    file: &Option<PathBuf>,
    new: bool,
) -> Result<Zeroizing<Vec<u8>>, Failure> {
    use applet_spec::messages::{BINDING_MAX_LEN, BINDING_MIN_LEN};
    let value = match file {
        Some(p) => {
            let bytes = Zeroizing::new(read_file(p, "the binding value")?);
            let hex = std::str::from_utf8(&bytes).ok().and_then(|t| secret::hex_decode(t.trim()));
            Zeroizing::new(hex.unwrap_or_else(|| bytes.to_vec()))
        }
        None => {
            let source = Source { plain: plain.clone(), file: None, file_option: "--binding-file" };
            let text = match new {
                true => source.get_new("binding value (hex)", "SUBSIM_BINDING")?,
                false => source.get("binding value (hex)", "SUBSIM_BINDING")?,
            };
            Zeroizing::new(
                secret::hex_decode(&text).ok_or_else(|| Failure::Usage("the binding value must be hex".into()))?,
            )
        }
    };
    if !(BINDING_MIN_LEN..=BINDING_MAX_LEN).contains(&value.len()) {
        return Err(Failure::Usage(format!(
            "a binding value is {BINDING_MIN_LEN} to {BINDING_MAX_LEN} bytes ({} to {} hex digits); this one is {} bytes",
            BINDING_MIN_LEN * 2,
            BINDING_MAX_LEN * 2,
            value.len()
        )));
    }
    Ok(value)
}

pub(super) fn bind(s: &mut Session, b: &BindCmd) -> Result<Out, Failure> {
    s.require_subsim("device binding")?;
    match b {
        BindCmd::Set { value, binding_file, mgm } => {
            let v = binding_secret(value, binding_file, true)?;
            authenticate(s, mgm)?;
            let r = s.card()?.set_binding(&v);
            r.map_err(|e| explain(s, e, Op::NeedsMgm))?;
            out("binding set: private keys work only once the value is presented", json!({ "binding": "required" }))
        }
        BindCmd::Present { value, binding_file } => {
            if binding(s) == Some(BindingState::None) {
                return Err(Failure::Usage(
                    "this card is bound to no device: there is no binding to present (`subsim bind set` binds it)"
                        .into(),
                ));
            }
            present_binding(s, &binding_secret(value, binding_file, false)?)?;
            out("binding presented for this card session", json!({ "binding": "presented" }))
        }
        BindCmd::Clear { mgm } => {
            authenticate(s, mgm)?;
            let r = s.card()?.clear_binding();
            r.map_err(|e| explain(s, e, Op::NeedsMgm))?;
            out("binding cleared", json!({ "binding": "none" }))
        }
    }
}

/// The one rule for every command that resets or destroys: with --yes it
/// goes ahead; at a terminal it asks (`question` ends with the card's
/// description); elsewhere it is refused before the card is touched, and
/// says what `command` would destroy (`does`).
pub(super) fn confirm(s: &mut Session, c: Confirm, question: &str, command: &str, does: &str) -> Result<(), Failure> {
    if c.yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        return Err(Failure::Usage(format!(
            "{command} {does}: nothing done; confirm with --yes (or -f, --force) where nobody can answer"
        )));
    }
    let describe = shown(&s.card()?.transport().describe());
    eprint!("{question} {describe}? Type 'yes': ");
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer).map_err(|e| Failure::Usage(e.to_string()))?;
    if answer.trim() != "yes" {
        return Err(Failure::Usage(format!("nothing done: {command} not confirmed")));
    }
    Ok(())
}

pub(super) fn terminate(s: &mut Session, c: Confirm, mgm: &MgmArgs) -> Result<Out, Failure> {
    s.require_subsim("terminate")?;
    confirm(s, c, "Wipe every key, certificate and binding on", "terminate", "wipes the card")?;
    // With the management key; a card with PIN and PUK blocked needs none.
    let quiet = std::mem::replace(&mut s.opts.quiet, true);
    let _ = authenticate(s, mgm);
    s.opts.quiet = quiet;
    let r = s.card()?.terminate();
    r.map_err(|e| explain(s, e, Op::NeedsMgm))?;
    s.generated.clear();
    out(
        "terminated: keys, certificates and binding wiped; PIN, PUK and management key back to factory values",
        json!({ "terminated": true }),
    )
}

/// `6A82`, or a range `63C0-63CF`.
fn allowed(list: &[String]) -> Result<Vec<(u16, u16)>, Failure> {
    let sw = |t: &str| {
        u16::from_str_radix(t.trim(), 16)
            .ok()
            .filter(|_| t.trim().len() == 4)
            .ok_or_else(|| Failure::Usage(format!("--allow-sw {t:?}: a status word is 4 hex digits, like 6A82")))
    };
    list.iter()
        .flat_map(|a| a.split(','))
        .map(|a| match a.split_once('-') {
            Some((lo, hi)) => Ok((sw(lo)?, sw(hi)?)),
            None => sw(a).map(|v| (v, v)),
        })
        .collect()
}

pub(super) fn apdu(s: &mut Session, apdus: &[String], allow_sw: &[String]) -> Result<Out, Failure> {
    let allow = allowed(allow_sw)?;
    let mut commands = Vec::new();
    // A bad APDU is named by its place and header, never its data (a PIN or a key).
    for (n, a) in apdus.iter().enumerate() {
        let n = n + 1;
        let bytes = secret::hex_decode(a).ok_or_else(|| Failure::Usage(format!("APDU {n}: not hex")))?;
        let header = hex::encode_upper(&bytes[..bytes.len().min(4)]);
        commands.push(Command::parse(&bytes).map_err(|e| Failure::Usage(format!("APDU {n} ({header}...): {e}")))?);
    }
    let mut lines = Vec::new();
    let mut answers = Vec::new();
    let mut last = Sw::OK;
    for cmd in &commands {
        let r = s.card()?.transmit(cmd)?;
        lines.push(format!("{}  {:04X} ({})", hex::encode_upper(&r.data), r.sw.0, r.sw.meaning()));
        answers.push(
            json!({ "data": hex::encode_upper(&r.data), "sw": format!("{:04X}", r.sw.0), "meaning": r.sw.meaning() }),
        );
        last = r.sw;
    }
    let fine =
        last == Sw::OK || last.remaining().is_some() || allow.iter().any(|(lo, hi)| (*lo..=*hi).contains(&last.0));
    let text = lines.iter().map(|l| l.trim_start()).collect::<Vec<_>>().join("\n");
    if !fine {
        if !s.opts.json {
            session::stdout(format!("{text}\n").as_bytes());
        }
        let refused = Failure::Refused(Refusal {
            message: format!("the last answer was {last}; accept it with --allow-sw {:04X}", last.0),
            hint: None,
            sw: last,
        });
        return Err(Failure::WithData(Box::new(refused), json!({ "responses": answers })));
    }
    out(text, json!({ "responses": answers }))
}

pub(super) fn man(dir: Option<&Path>) -> Result<Out, Failure> {
    let cmd = <crate::Cli as clap::CommandFactory>::command();
    match dir {
        Some(d) => {
            std::fs::create_dir_all(d).map_err(|e| Failure::Usage(format!("{}: {e}", d.display())))?;
            clap_mangen::generate_to(cmd, d).map_err(|e| Failure::Usage(format!("{}: {e}", d.display())))?;
            let mut pages: Vec<String> = std::fs::read_dir(d)
                .map_err(|e| Failure::Usage(e.to_string()))?
                .filter_map(|e| e.ok()?.file_name().into_string().ok())
                .filter(|n| n.starts_with("subsim") && n.ends_with(".1"))
                .collect();
            pages.sort();
            out(
                format!("{} man pages written to {}", pages.len(), d.display()),
                json!({ "dir": d.display().to_string(), "pages": pages }),
            )
        }
        None => {
            // subsim(1) alone: its commands listed without references to
            // pages that only --dir writes.
            let cmd = cmd.disable_help_subcommand(true);
            let mut commands = String::from(".SH COMMANDS\n");
            for sub in cmd.get_subcommands() {
                let about = sub.get_about().map(|a| a.to_string()).unwrap_or_default();
                commands.push_str(&format!(".TP\n\\fBsubsim {}\\fR\n{}\n", sub.get_name(), about.replace('-', "\\-")));
            }
            commands.push_str(
                ".PP\nEach command's options: \\fBsubsim\\fR \\fICOMMAND\\fR \\fB\\-\\-help\\fR; \
                 a page per command: \\fBsubsim man \\-\\-dir\\fR \\fIDIR\\fR.\n",
            );
            let man = clap_mangen::Man::new(cmd);
            let mut buf = Vec::new();
            let render = |buf: &mut Vec<u8>| -> std::io::Result<()> {
                man.render_title(buf)?;
                man.render_name_section(buf)?;
                man.render_synopsis_section(buf)?;
                man.render_description_section(buf)?;
                man.render_options_section(buf)?;
                buf.extend_from_slice(commands.as_bytes());
                man.render_extra_section(buf)?;
                man.render_version_section(buf)
            };
            render(&mut buf).map_err(|e| Failure::Usage(e.to_string()))?;
            let text = String::from_utf8_lossy(&buf).into_owned();
            out(text.trim_end().to_string(), json!({ "man": text }))
        }
    }
}
