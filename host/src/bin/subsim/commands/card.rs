//! Commands about the card and its readers: readers, info, bind.

use super::*;

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
            (true, None) => "card (not a sub-SIM)".to_string(),
        };
        rows.push(format!("{}: {card}", r.name));
        json_rows.push(json!({ "reader": r.name, "card_present": r.card_present, "serial": serial, "atr": hex::encode_upper(&r.atr) }));
    }
    let text = if rows.is_empty() { "no readers".to_string() } else { rows.join("\n") };
    out(text, json!({ "readers": json_rows }))
}

pub(super) fn info(c: &mut Card) -> Result<Out, Failure> {
    let i = c.info()?;
    let s = &i.status;
    let mut certs = Vec::new();
    for slot in i.certificates() {
        let der = slot_certificate(c, slot)?;
        let (subject, not_after) = match describe_cert(&der) {
            Ok((subject, not_after, _)) => (subject, not_after),
            Err(_) => ("(not an X.509 RSA certificate)".to_string(), "?".to_string()),
        };
        certs.push((slot, subject, not_after));
    }
    let binding = match s.binding {
        BindingState::None => "none",
        BindingState::Required => "set, not presented",
        BindingState::Presented => "presented",
        BindingState::Blocked => "blocked",
    };
    let policy = match s.pin_entry {
        PinEntry::Any => "any",
        PinEntry::KeypadOnly => "keypad-only",
    };
    let slots = |v: Vec<Slot>| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let mut text = format!(
        "card {} ({}), version {}.{}.{}\nPIN tries left {}, PUK tries left {}, PIN entry {policy}\nbinding {binding} ({} tries left)\nkeys in {}\nmanagement key {:?}, change counter {}",
        i.serial,
        c.transport().describe(),
        i.version[0],
        i.version[1],
        i.version[2],
        s.pin_tries,
        s.puk_tries,
        s.binding_tries,
        if s.keys == 0 { "no slot".to_string() } else { slots(i.keys()).join(", ") },
        s.mgm_algorithm,
        s.changes
    );
    for (slot, subject, not_after) in &certs {
        text.push_str(&format!("\ncertificate {slot}: {subject}, valid until {not_after}"));
    }
    out(
        text,
        json!({
            "serial": i.serial, "version": format!("{}.{}.{}", i.version[0], i.version[1], i.version[2]),
            "pin_tries": s.pin_tries, "puk_tries": s.puk_tries, "pin_entry": policy,
            "binding": binding, "binding_tries": s.binding_tries, "keys": slots(i.keys()),
            "certificates": certs.iter().map(|(slot, subject, not_after)| json!({"slot": slot.to_string(), "subject": subject, "not_after": not_after})).collect::<Vec<_>>(),
            "mgm_algorithm": format!("{:?}", s.mgm_algorithm), "changes": s.changes,
        }),
    )
}

pub(super) fn bind(c: &mut Card, b: &BindCmd) -> Result<Out, Failure> {
    let value = |v: &str| {
        secret::hex_decode(v).map(Zeroizing::new).ok_or_else(|| Failure::Usage("the binding value must be hex".into()))
    };
    match b {
        BindCmd::Set { value: v, mgm } => {
            let v = value(v)?;
            authenticate(c, mgm)?;
            c.set_binding(&v)?;
            out("binding set: private keys work only once the value is presented", json!({ "binding": "set" }))
        }
        BindCmd::Present { value: v } => {
            c.present_binding(&value(v)?)?;
            out("binding presented for this session", json!({ "binding": "presented" }))
        }
        BindCmd::Clear { mgm } => {
            authenticate(c, mgm)?;
            c.clear_binding()?;
            out("binding cleared", json!({ "binding": "none" }))
        }
    }
}
