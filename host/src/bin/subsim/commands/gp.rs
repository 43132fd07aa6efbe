//! `subsim gp`: the card manager (GlobalPlatform's Issuer Security Domain)
//! through `subsim_host::gp`: what the card tells of itself, what it holds,
//! and the issuer's locks. Every command but `info` opens an SCP03 session
//! with the ISD's keys: `--key-file`, `$SUBSIM_GP_KEY`, `--key` (warned
//! about), else GP's development key (a development card's), asked for at a
//! terminal when the card says it is not theirs (docs/gp.md).

use applet_spec::gp::{self as spec, CardLifeCycle, RegistryEntry, StatusScope, DEVELOPMENT_KEY};
use applet_spec::scp03::{Diversification, SecurityLevel, StaticKeys};
use clap::{Args, Subcommand, ValueEnum};
use subsim_host::gp::GpClient;

use super::card::confirm;
use super::*;

#[derive(Subcommand)]
pub enum GpCmd {
    /// CPLC, card data, key information; with the keys, the card's life cycle.
    #[command(after_help = "Example:\n  subsim gp info --json")]
    Info {
        #[command(flatten)]
        keys: GpKeyArgs,
    },
    /// What the card holds (GET STATUS): its ISD, applications, load files and their modules.
    List {
        #[command(flatten)]
        keys: GpKeyArgs,
    },
    /// Lock an application: nobody can select it until it is unlocked.
    #[command(after_help = "Example:\n  subsim gp lock A000000308000010000100")]
    Lock {
        /// The application's AID (hex).
        aid: String,
        #[command(flatten)]
        keys: GpKeyArgs,
    },
    /// Unlock an application.
    Unlock {
        /// The application's AID (hex).
        aid: String,
        #[command(flatten)]
        keys: GpKeyArgs,
    },
    /// Lock the card: only the ISD answers until `unlock-card`.
    LockCard {
        #[command(flatten)]
        confirm: Confirm,
        #[command(flatten)]
        keys: GpKeyArgs,
    },
    /// Unlock a locked card.
    UnlockCard {
        #[command(flatten)]
        keys: GpKeyArgs,
    },
    /// Terminate the card for good: nothing but GET DATA answers ever again.
    TerminateCard {
        #[command(flatten)]
        confirm: Confirm,
        #[command(flatten)]
        keys: GpKeyArgs,
    },
    /// Delete an application (the sub-SIM instance: its keys, PIN, certificates and binding
    /// are gone for good), or a package with --related and its instances.
    #[command(after_help = "Example:\n  subsim gp delete A000000308000010000100 --yes")]
    Delete {
        /// The AID (hex).
        aid: String,
        /// The package and its related objects (its instances).
        #[arg(long)]
        related: bool,
        #[command(flatten)]
        confirm: Confirm,
        #[command(flatten)]
        keys: GpKeyArgs,
    },
    /// Load a CAP file's load file (INSTALL [for load], LOAD): kept and listed by the card.
    #[command(after_help = "Example:\n  subsim gp load applet/target/subsim.cap")]
    Load {
        /// The CAP file.
        cap: PathBuf,
        #[command(flatten)]
        keys: GpKeyArgs,
    },
    /// Install a factory-fresh sub-SIM instance from the sub-SIM package on the card (INSTALL
    /// [for install and make selectable]). This card holds one instance, at the PIV AID.
    Install {
        /// The instance's AID (hex).
        #[arg(long, default_value = "A000000308000010000100")]
        aid: String,
        /// Install parameters (hex, the C9 template's value).
        #[arg(long, value_name = "HEX", default_value = "")]
        params: String,
        #[command(flatten)]
        keys: GpKeyArgs,
    },
    /// A new key set (PUT KEY, the keys wrapped with the DEK and checked by their KCVs);
    /// with --replace, in place of the key set in use.
    #[command(
        after_help = "Example:\n  SUBSIM_GP_NEW_KEY=$(cat new.hex) subsim gp put-key --new-key-version 31 --replace"
    )]
    PutKey {
        /// A file holding the new key in hex (one key, or ENC:MAC:DEK); else $SUBSIM_GP_NEW_KEY, or a prompt.
        #[arg(long, value_name = "FILE")]
        new_key_file: Option<PathBuf>,
        /// The new key set's version (hex, 01-7F).
        #[arg(long, value_name = "HEX")]
        new_key_version: String,
        /// Derive the card's new keys from the new key as a master key.
        #[arg(long, value_enum, default_value = "none")]
        new_kdf: Kdf,
        /// Replace the key set of --key-version (the one in use) instead of adding one.
        #[arg(long)]
        replace: bool,
        #[command(flatten)]
        keys: GpKeyArgs,
    },
}

/// How a card's keys come from a master key (GlobalPlatformPro's names).
#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum Kdf {
    /// The key is the card's own.
    None,
    /// SCP03's KDF3 over the card's diversification data.
    Kdf3,
    /// EMV CPS 1.1 (3DES over the card's diversification data).
    Emv,
}

impl Kdf {
    fn method(self) -> Diversification {
        match self {
            Kdf::None => Diversification::None,
            Kdf::Kdf3 => Diversification::Kdf3,
            Kdf::Emv => Diversification::Emv,
        }
    }
}

/// The ISD's keys and the session's level.
#[derive(Args, Clone)]
pub struct GpKeyArgs {
    /// A file holding the ISD's key in hex: one key for ENC, MAC and DEK, or ENC:MAC:DEK.
    #[arg(long, value_name = "FILE")]
    key_file: Option<PathBuf>,
    /// The ISD's key in hex (visible to other users: prefer --key-file or $SUBSIM_GP_KEY).
    #[arg(long, value_name = "HEX", conflicts_with = "key_file")]
    key: Option<String>,
    /// The key set's version (hex; 00: the card's first).
    #[arg(long, value_name = "HEX", default_value = "00")]
    key_version: String,
    /// The session's security level (hex): 01 C-MAC, 03 +C-DEC, 11/13 +R-MAC, 33 +R-ENC.
    #[arg(long, value_name = "HEX", default_value = "33")]
    level: String,
    /// The key is the issuer's master key: the card's keys are diversified from it.
    #[arg(long, value_enum, default_value = "none")]
    kdf: Kdf,
}

fn hex_byte(option: &str, s: &str) -> Result<u8, Failure> {
    u8::from_str_radix(s.trim_start_matches("0x"), 16)
        .map_err(|_| Failure::Usage(format!("{option} {s}: one byte in hex (like 33)")))
}

/// The keys as the options say, and whether they were named (not the development key).
fn static_keys(k: &GpKeyArgs) -> Result<(StaticKeys, bool), Failure> {
    let source = secret::Source { plain: k.key.clone(), file: k.key_file.clone(), file_option: "--key-file" };
    if !source.given("SUBSIM_GP_KEY") {
        return Ok((StaticKeys::single(&DEVELOPMENT_KEY), false));
    }
    let text = source.get("ISD key", "SUBSIM_GP_KEY")?;
    Ok((parse_keys(&text)?, true))
}

fn parse_keys(text: &str) -> Result<StaticKeys, Failure> {
    let parts: Vec<Zeroizing<Vec<u8>>> = text
        .split(':')
        .map(|p| secret::hex_decode(p).map(Zeroizing::new))
        .collect::<Option<_>>()
        .ok_or_else(|| Failure::Usage("the ISD key must be hex (one key, or ENC:MAC:DEK)".into()))?;
    let keys = match parts.as_slice() {
        [one] => StaticKeys::single(one),
        [enc, mac, dek] => StaticKeys { enc: enc.clone(), mac: mac.clone(), dek: dek.clone() },
        _ => return Err(Failure::Usage("the ISD key: one key, or three as ENC:MAC:DEK".into())),
    };
    if !keys.well_formed() {
        return Err(Failure::Usage("the ISD keys must be AES keys of one length: 32, 48 or 64 hex digits".into()));
    }
    Ok(keys)
}

type Gp<'a> = GpClient<&'a mut Box<dyn Transport>>;

/// The ISD selected, or why not.
fn isd(s: &mut Session) -> Result<Gp<'_>, Failure> {
    if s.opts.phone.is_some() {
        return Err(Failure::Usage("`subsim gp` is the issuer's, on the card itself: leave --phone out".into()));
    }
    select_isd(GpClient::new(s.card_unselected()?.transport_mut()))
}

/// The ISD selected on any transport, or why not.
pub fn select_isd<T: Transport>(mut gp: GpClient<T>) -> Result<GpClient<T>, Failure> {
    match gp.select() {
        Ok(_) => Ok(gp),
        Err(e) if e.sw().is_some() => {
            Err(Failure::Unsupported(format!("the card has no GlobalPlatform card manager at A000000151000000 ({e})")))
        }
        Err(e) => Err(e.into()),
    }
}

/// The ISD with an SCP03 session open.
fn session<'a>(s: &'a mut Session, k: &GpKeyArgs) -> Result<Gp<'a>, Failure> {
    let gp = isd(s)?;
    open_session(gp, k)
}

/// An SCP03 session on a selected ISD with the keys the options give.
pub fn open_session<T: Transport>(mut gp: GpClient<T>, k: &GpKeyArgs) -> Result<GpClient<T>, Failure> {
    let version = hex_byte("--key-version", &k.key_version)?;
    let level = hex_byte("--level", &k.level)?;
    let level = SecurityLevel::from_p1(level)
        .ok_or_else(|| Failure::Usage(format!("--level {}: one of 00 01 03 11 13 33", k.level)))?;
    let (keys, named) = static_keys(k)?;
    let terminal = std::io::stdin().is_terminal();
    let div = k.kdf.method();
    match gp.open_diversified(&keys, div, version, level) {
        Ok(_) => Ok(gp),
        Err(e) if is_cryptogram(&e) && !named && terminal => {
            let text = secret::prompt("the ISD's key (hex, or ENC:MAC:DEK): ")?;
            let keys = parse_keys(&text)?;
            gp.open_diversified(&keys, div, version, level).map_err(|e| match is_cryptogram(&e) {
                true => Failure::NotVerified("the card cryptogram does not verify with that key".into()),
                false => refusal(e),
            })?;
            Ok(gp)
        }
        Err(e) if is_cryptogram(&e) && !named => Err(Failure::NotVerified(
            "the card is not a development card: GP's development key is not its key (no try was spent); \
             give the ISD's key with --key-file FILE or $SUBSIM_GP_KEY"
                .into(),
        )),
        Err(e) if is_cryptogram(&e) => Err(Failure::NotVerified(
            "the card cryptogram does not verify with the keys given: wrong keys or key version (no try was spent)"
                .into(),
        )),
        Err(e) => Err(refusal(e)),
    }
}

fn is_cryptogram(e: &Error) -> bool {
    matches!(e, Error::Transport { message, .. } if message.contains("card cryptogram"))
}

/// A card manager's refusal in words.
pub fn refusal(e: Error) -> Failure {
    let Some(sw) = e.sw() else { return Failure::Card(e) };
    let hint = match sw {
        Sw::AUTHENTICATION_FAILED => "the keys are not the card's; a try of the key set was spent",
        Sw::AUTH_METHOD_BLOCKED => "the key set is blocked after too many failed authentications",
        Sw::REFERENCE_NOT_FOUND => "no such key version or application on the card: see `subsim gp info` and `gp list`",
        Sw::CONDITIONS_NOT_SATISFIED => "not in the card's present life cycle state: see `subsim gp info`",
        Sw::SECURITY_STATUS_NOT_SATISFIED => "the secure channel was refused or closed",
        _ => "see docs/gp.md",
    };
    Failure::Refused(Refusal { message: format!("the card manager refused: {e}"), hint: Some(hint.into()), sw })
}

/// INSTALL [for install and make selectable] of a sub-SIM instance at
/// `instance` from the card's sub-SIM package, with install parameters
/// (hex, C9's value) that fit one secured short APDU at level 33.
pub fn subsim_install(instance: &[u8], params: &str) -> Result<spec::InstallForInstall, Failure> {
    let params = secret::hex_decode(params).ok_or_else(|| Failure::Usage("--params: hex".into()))?;
    if params.len() > 190 {
        return Err(Failure::Usage("--params: at most 190 bytes (one secured APDU)".into()));
    }
    Ok(spec::InstallForInstall {
        load_file: apdu_sim::gp::state::SUBSIM_PACKAGE.to_vec(),
        module: apdu_sim::gp::state::SUBSIM_MODULE.to_vec(),
        instance: instance.to_vec(),
        privileges: vec![0x00],
        params: [&[0xC9, params.len() as u8][..], &params].concat(),
        token: vec![],
    })
}

pub fn aid_arg(aid: &str) -> Result<Vec<u8>, Failure> {
    let aid = secret::hex_decode(aid).ok_or_else(|| Failure::Usage(format!("{aid}: an AID in hex")))?;
    if !(5..=16).contains(&aid.len()) {
        return Err(Failure::Usage(format!("an AID has 5 to 16 bytes, this one {}", aid.len())));
    }
    Ok(aid)
}

fn entry_json(e: &RegistryEntry) -> Value {
    let hexes = |v: &[Vec<u8>]| v.iter().map(hex::encode_upper).collect::<Vec<_>>();
    json!({
        "aid": hex::encode_upper(&e.aid),
        "life_cycle": format!("{:02X}", e.life_cycle),
        "locked": e.life_cycle & spec::app_state::LOCKED != 0 && e.life_cycle != 0xFF,
        "privileges": hex::encode_upper(e.privileges),
        "load_file": e.load_file.as_ref().map(hex::encode_upper),
        "modules": hexes(&e.modules),
    })
}

fn life_cycle_name(lc: u8) -> String {
    CardLifeCycle::from_byte(lc).map_or_else(|| format!("{lc:02X}"), |s| s.name().to_string())
}

pub fn run(s: &mut Session, cmd: &GpCmd) -> Result<Out, Failure> {
    match cmd {
        GpCmd::Info { keys } => info(s, keys),
        GpCmd::List { keys } => {
            let mut gp = session(s, keys)?;
            let isd = gp.status(StatusScope::Isd).map_err(refusal)?;
            let apps = gp.status(StatusScope::Applications).map_err(refusal)?;
            let files = gp.status(StatusScope::LoadFilesAndModules).map_err(refusal)?;
            let mut lines = Vec::new();
            for e in &isd {
                lines.push(format!("ISD   {}  {}", hex::encode_upper(&e.aid), life_cycle_name(e.life_cycle)));
            }
            for e in &apps {
                let state = if e.life_cycle & spec::app_state::LOCKED != 0 { "LOCKED" } else { "SELECTABLE" };
                lines.push(format!("APP   {}  {state}", hex::encode_upper(&e.aid)));
            }
            for e in &files {
                let modules: Vec<String> = e.modules.iter().map(hex::encode_upper).collect();
                lines.push(format!("PKG   {}  modules {}", hex::encode_upper(&e.aid), modules.join(" ")));
            }
            out(
                lines.join("\n"),
                json!({
                    "isd": isd.iter().map(entry_json).collect::<Vec<_>>(),
                    "applications": apps.iter().map(entry_json).collect::<Vec<_>>(),
                    "load_files": files.iter().map(entry_json).collect::<Vec<_>>(),
                }),
            )
        }
        GpCmd::Lock { aid, keys } | GpCmd::Unlock { aid, keys } => {
            let lock = matches!(cmd, GpCmd::Lock { .. });
            let aid = aid_arg(aid)?;
            session(s, keys)?.lock_application(&aid, lock).map_err(refusal)?;
            let word = if lock { "locked" } else { "unlocked" };
            out(
                format!("{word}: {}", hex::encode_upper(&aid)),
                json!({ "aid": hex::encode_upper(&aid), "locked": lock }),
            )
        }
        GpCmd::LockCard { confirm: c, keys } => {
            confirm(s, *c, "Lock (only its card manager answers until unlocked)", "gp lock-card", "locks the card")?;
            life_cycle(s, keys, CardLifeCycle::CardLocked)
        }
        GpCmd::UnlockCard { keys } => life_cycle(s, keys, CardLifeCycle::Secured),
        GpCmd::Load { cap, keys } => {
            let bytes = std::fs::read(cap).map_err(|e| Failure::Usage(format!("{}: {e}", cap.display())))?;
            let cap = subsim_host::cap::CapFile::from_zip(&bytes)
                .map_err(|e| Failure::Usage(format!("{}: {e}", shown(&cap.display().to_string()))))?;
            session(s, keys)?.load(&cap).map_err(refusal)?;
            let aid = hex::encode_upper(&cap.info.aid);
            let applets: Vec<String> = cap.info.applets.iter().map(hex::encode_upper).collect();
            out(
                format!("loaded: package {aid}, applets {}", applets.join(" ")),
                json!({ "aid": aid, "version": format!("{}.{}", cap.info.version[0], cap.info.version[1]), "applets": applets }),
            )
        }
        GpCmd::Delete { aid, related, confirm: c, keys } => {
            let aid = aid_arg(aid)?;
            let what = format!("Delete {} and everything it holds, for good, on", hex::encode_upper(&aid));
            confirm(s, *c, &what, "gp delete", "destroys what the application holds")?;
            session(s, keys)?.delete(&aid, *related).map_err(refusal)?;
            out(
                format!("deleted: {}", hex::encode_upper(&aid)),
                json!({ "aid": hex::encode_upper(&aid), "deleted": true }),
            )
        }
        GpCmd::Install { aid, params, keys } => {
            let instance = aid_arg(aid)?;
            let install = subsim_install(&instance, params)?;
            session(s, keys)?.install(&install).map_err(|e| match e.sw() {
                Some(Sw::INCORRECT_DATA) => Failure::Refused(Refusal {
                    message: "the card manager refused the INSTALL (6A80)".into(),
                    hint: Some(
                        "this card makes one sub-SIM instance, at A000000308000010000100, from its sub-SIM package"
                            .into(),
                    ),
                    sw: Sw::INCORRECT_DATA,
                }),
                Some(Sw::CONDITIONS_NOT_SATISFIED) => Failure::Refused(Refusal {
                    message: "the card has a sub-SIM instance already".into(),
                    hint: Some("delete it first: subsim gp delete A000000308000010000100".into()),
                    sw: Sw::CONDITIONS_NOT_SATISFIED,
                }),
                _ => refusal(e),
            })?;
            out(
                format!("installed: a factory-fresh sub-SIM at {}", hex::encode_upper(&instance)),
                json!({ "aid": hex::encode_upper(&instance), "installed": true }),
            )
        }
        GpCmd::PutKey { new_key_file, new_key_version, new_kdf, replace, keys } => {
            let version = hex_byte("--new-key-version", new_key_version)?;
            if !(0x01..=0x7F).contains(&version) {
                return Err(Failure::Usage(format!("--new-key-version {new_key_version}: 01 to 7F")));
            }
            let source = secret::Source::file(new_key_file.clone(), "--new-key-file");
            let new = parse_keys(&source.get_new("new ISD key", "SUBSIM_GP_NEW_KEY")?)?;
            let in_use = hex_byte("--key-version", &keys.key_version)?;
            let mut gp = session(s, keys)?;
            let kdd = gp.diversification().expect("a session is open");
            let new = new_kdf
                .method()
                .apply(&new, &kdd)
                .ok_or_else(|| Failure::Usage("--new-kdf emv takes a 16-byte master key".into()))?;
            let replace = match (replace, in_use) {
                (false, _) => None,
                (true, 0) => Some(gp.key_version().expect("a session is open")),
                (true, v) => Some(v),
            };
            gp.put_keys(version, replace, &new).map_err(refusal)?;
            let kcv = |k: &[u8]| hex::encode_upper(applet_spec::scp03::kcv(k).expect("AES"));
            let kcvs = [kcv(&new.enc), kcv(&new.mac), kcv(&new.dek)];
            out(
                format!("key set {version:02X} on the card (KCV {})", kcvs.join(" ")),
                json!({ "key_version": format!("{version:02X}"), "replaced": replace.map(|v| format!("{v:02X}")), "kcv": kcvs }),
            )
        }
        GpCmd::TerminateCard { confirm: c, keys } => {
            confirm(s, *c, "Terminate FOR GOOD (no way back)", "gp terminate-card", "ends the card's life")?;
            life_cycle(s, keys, CardLifeCycle::Terminated)
        }
    }
}

fn life_cycle(s: &mut Session, keys: &GpKeyArgs, to: CardLifeCycle) -> Result<Out, Failure> {
    session(s, keys)?.set_card_life_cycle(to).map_err(refusal)?;
    out(format!("the card is {}", to.name()), json!({ "life_cycle": to.name() }))
}

/// What the card tells without keys; the life cycle when a session opens
/// (with the keys given, or the development key on a development card).
fn info(s: &mut Session, keys: &GpKeyArgs) -> Result<Out, Failure> {
    let mut gp = isd(s)?;
    let cplc = gp.get_data(spec::data::CPLC)?;
    let card_data = gp.get_data(spec::data::CARD_DATA)?;
    let key_info = gp.key_info()?.unwrap_or_default();
    drop(gp);
    let mut lines = Vec::new();
    let cplc_fields = cplc.as_deref().and_then(|c| spec::decode_cplc(c).ok()).unwrap_or_default();
    let mut cplc_json = serde_json::Map::new();
    for (name, value) in &cplc_fields {
        lines.push(format!("CPLC {name}: {}", hex::encode_upper(value)));
        cplc_json.insert((*name).into(), hex::encode_upper(value).into());
    }
    let scps = card_data.as_deref().and_then(|d| spec::card_data_scps(d).ok()).unwrap_or_default();
    for (scp, i) in &scps {
        lines.push(format!("secure channel: SCP{scp:02X}, i={i:02X}"));
    }
    let key_sets: Vec<Value> = key_info
        .iter()
        .map(|k| {
            lines.push(format!("key {:02X} version {:02X}: type {:02X}, {} bytes", k.id, k.version, k.key_type, k.length));
            json!({ "id": k.id, "version": format!("{:02X}", k.version), "type": format!("{:02X}", k.key_type), "length": k.length })
        })
        .collect();
    // The life cycle needs a session; without the card's keys it stays unknown.
    let quiet_keys = GpKeyArgs { level: "01".into(), ..keys.clone() };
    let lc = match session(s, &quiet_keys) {
        Ok(mut gp) => Some(gp.life_cycle().map_err(refusal)?),
        Err(Failure::Refused(_) | Failure::NotVerified(_)) => None,
        Err(f) => return Err(f),
    };
    lines.push(format!("life cycle: {}", lc.map_or("unknown (needs the card's keys)", |l| l.name())));
    out(
        lines.join("\n"),
        json!({
            "cplc": cplc_json,
            "secure_channels": scps.iter().map(|(scp, i)| json!({ "scp": format!("{scp:02X}"), "i": format!("{i:02X}") })).collect::<Vec<_>>(),
            "keys": key_sets,
            "life_cycle": lc.map(|l| l.name()),
        }),
    )
}
