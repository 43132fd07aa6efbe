//! `subsim rules`: the card's access rules (its ARA-M, GlobalPlatform SEAC
//! 1.1), which decide which phone apps reach which applet. Listing reads
//! them as a phone does; adding and removing is the issuer's, proven with
//! the card's management key (docs/phone.md).

use applet_spec::aram::{AidRef, ApduFilter, ApduRule, AppRef, Rule, StoreCommand};
use subsim_host::Phone;

use super::*;
use crate::{RuleAccess, RuleTarget, RulesCmd};

fn hex_arg(what: &str, s: &str) -> Result<Vec<u8>, Failure> {
    hex::decode(s.replace([' ', ':'], "")).map_err(|e| Failure::Usage(format!("{what}: not hex ({e})")))
}

fn aid_ref(aid: &str) -> Result<AidRef, Failure> {
    if aid == "all" {
        return Ok(AidRef::All);
    }
    let aid = hex_arg("--aid", aid)?;
    if !(5..=16).contains(&aid.len()) {
        return Err(Failure::Usage(format!("--aid: an AID has 5 to 16 bytes, this one {}", aid.len())));
    }
    Ok(AidRef::Aid(aid))
}

fn app_ref(t: &RuleTarget) -> Result<AppRef, Failure> {
    match (t.app_cert.as_deref(), t.hash.as_deref(), t.all_apps) {
        (Some(c), None, false) => {
            Ok(AppRef::Hash(App::from_certificate(&files::read_certificate(c)?).sha256().to_vec()))
        }
        (None, Some(h), false) => match hex_arg("--hash", h)? {
            h if h.len() == 20 || h.len() == 32 => Ok(AppRef::Hash(h)),
            h => Err(Failure::Usage(format!("--hash: a SHA-1 (20 bytes) or SHA-256 (32 bytes), this one {}", h.len()))),
        },
        (None, None, true) => Ok(AppRef::All),
        _ => Err(Failure::Usage("name the app with one of --app-cert FILE, --hash HEX or --all-apps".into())),
    }
}

fn filter(f: &str) -> Result<ApduFilter, Failure> {
    let (h, m) =
        f.split_once('/').ok_or_else(|| Failure::Usage(format!("--filter {f}: HEADER/MASK, 8 hex digits each")))?;
    let (h, m) = (hex_arg("--filter", h)?, hex_arg("--filter", m)?);
    match (<[u8; 4]>::try_from(h.as_slice()), <[u8; 4]>::try_from(m.as_slice())) {
        (Ok(header), Ok(mask)) => Ok(ApduFilter { header, mask }),
        _ => Err(Failure::Usage(format!("--filter {f}: HEADER/MASK, 4 bytes each (like 00CB3FFF/00FFFFFF)"))),
    }
}

fn describe(r: &Rule) -> (String, Value) {
    let aid = match &r.aid {
        AidRef::Aid(a) => hex::encode_upper(a),
        AidRef::All => "all".into(),
    };
    let app = match &r.app {
        AppRef::Hash(h) => hex::encode_upper(h),
        AppRef::All => "all".into(),
    };
    let (apdu, filters) = match &r.apdu {
        ApduRule::Always => ("always", vec![]),
        ApduRule::Never => ("never", vec![]),
        ApduRule::Filters(f) => (
            "filters",
            f.iter().map(|f| format!("{}/{}", hex::encode_upper(f.header), hex::encode_upper(f.mask))).collect(),
        ),
    };
    let text = format!(
        "applet {aid}  app {app}  APDUs {apdu}{}",
        if filters.is_empty() { String::new() } else { format!(" {}", filters.join(" ")) }
    );
    (text, json!({ "aid": aid, "app": app, "apdu": apdu, "filters": filters }))
}

/// The issuer's key for the ARA-M: the management key, found as for every
/// command that authenticates (`credentials::management_key`).
fn issuer_key(s: &mut Session, m: &MgmArgs) -> Result<(MgmAlgorithm, Zeroizing<Vec<u8>>), Failure> {
    let (alg, key, _) = credentials::management_key(s, m)?;
    Ok((alg, key))
}

fn store(s: &mut Session, m: &MgmArgs, command: &StoreCommand) -> Result<(), Failure> {
    let (alg, key) = issuer_key(s, m)?;
    let phone = Phone::new(s.card()?.transport_mut());
    phone.store_rules(command, &mut |t| Client::new(t).authenticate(alg, &key)).map_err(|e| match e.sw() {
        Some(sw) => Failure::Refused(Refusal {
            message: format!("the card's ARA-M refused: {sw}"),
            hint: Some(
                match sw {
                    Sw::SECURITY_STATUS_NOT_SATISFIED => {
                        "the management key was not the card's: give it with --mgm-key HEX"
                    }
                    Sw::ALREADY_EXISTS => "a rule for that applet and app exists: remove it first",
                    Sw::NOT_ENOUGH_MEMORY => "the card holds 16 rules at most",
                    Sw::REFERENCE_NOT_FOUND => "no such rule: see `subsim rules list`",
                    _ => "see docs/phone.md",
                }
                .into(),
            ),
            sw,
        }),
        None => Failure::Card(e),
    })
}

pub fn rules(s: &mut Session, cmd: &RulesCmd) -> Result<Out, Failure> {
    if s.opts.phone.is_some() {
        return Err(Failure::Usage("`subsim rules` is the issuer's, on the card itself: leave --phone out".into()));
    }
    s.require_subsim("the ARA-M's access rules")?;
    match cmd {
        RulesCmd::List => {
            let rules = Phone::new(s.card()?.transport_mut()).rules()?;
            let (lines, items): (Vec<String>, Vec<Value>) = rules.iter().map(describe).unzip();
            let text = if lines.is_empty() {
                "no access rules: no phone app reaches an applet".to_string()
            } else {
                lines.join("\n")
            };
            out(text, json!({ "rules": items }))
        }
        RulesCmd::Add { target, access, filter: filters, mgm } => {
            let apdu = match access {
                RuleAccess::Always if filters.is_empty() => ApduRule::Always,
                RuleAccess::Never if filters.is_empty() => ApduRule::Never,
                RuleAccess::Filters if !filters.is_empty() => {
                    ApduRule::Filters(filters.iter().map(|f| filter(f)).collect::<Result<_, _>>()?)
                }
                _ => {
                    return Err(Failure::Usage(
                        "--access filters goes with one or more --filter HEADER/MASK, and only it".into(),
                    ))
                }
            };
            let rule = Rule { aid: aid_ref(&target.aid)?, app: app_ref(target)?, apdu };
            store(s, mgm, &StoreCommand::Store(vec![rule.clone()]))?;
            let (text, j) = describe(&rule);
            out(format!("added: {text}"), json!({ "added": j }))
        }
        RulesCmd::Remove { target, every, mgm } => {
            let command = if *every {
                StoreCommand::DeleteAll
            } else if target.app_cert.is_none() && target.hash.is_none() && !target.all_apps {
                StoreCommand::DeleteAid(aid_ref(&target.aid)?)
            } else {
                StoreCommand::Delete(aid_ref(&target.aid)?, app_ref(target)?)
            };
            store(s, mgm, &command)?;
            out("removed", json!({ "removed": true }))
        }
    }
}
