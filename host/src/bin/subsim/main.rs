//! `subsim`: the sub-SIM for card engineers, on the embedded simulated card
//! or any PIV card in a PC/SC reader.
//!
//! Exit codes (also in `--help` and docs/cli.md): 0 done; 1 the card refused
//! (status word); 2 bad input or usage; 3 no pcscd, reader or card, or a
//! timeout; 4 a signature or login did not verify; 5 the card answered
//! something malformed; 6 the card lacks the feature (profile); 7 the card is in
//! use by another program (the simulated card's file, or a reader held
//! exclusively); 130 interrupted.

mod commands;
mod demo;
mod open;
mod secret;
mod session;
mod shell;

use std::path::PathBuf;
use std::process::ExitCode;

use applet_spec::piv::{Retired, Slot};
use clap::{Args, Parser, Subcommand, ValueEnum};
use subsim_host::Profile;

pub use commands::{Failure, Out};

const AFTER_HELP: &str = concat!(
    "Exit codes: 0 done; 1 the card refused (status word); 2 bad input or usage; ",
    "3 no pcscd, reader or card, or a timeout; 4 a signature or login did not verify; ",
    "5 the card answered something malformed; 6 the card lacks the feature (for example no sub-SIM extensions); ",
    "7 the card is in use by another program (see --wait); 130 interrupted. A closed output pipe ends a command quietly (exit 0).\n",
    "Output: text for people; with --json one JSON object on stdout for every outcome (docs/cli.md).\n",
    "Environment (an empty variable counts as unset): SUBSIM_PIN, SUBSIM_NEW_PIN, SUBSIM_PUK, SUBSIM_NEW_PUK, ",
    "SUBSIM_MGM_KEY and SUBSIM_NEW_MGM_KEY (hex), SUBSIM_BINDING (hex), SUBSIM_KEY_PASSWORD, SUBSIM_HOME, SUBSIM_PROFILE.\n",
    "Commands that reset or destroy (reset, terminate, pin retries, cert delete) ask at a terminal; elsewhere they need --yes (-f, --force).\n\n",
    "Examples:\n",
    "  subsim init                          a simulated card in $SUBSIM_HOME/card.json\n",
    "  subsim info                          everything the card tells about itself\n",
    "  subsim key generate 9a --out 9a.pub  a key pair on the card; its public key\n",
    "  subsim --reader Yubi --profile piv info    a card in a reader, standard PIV commands only\n",
    "  subsim run session.txt               several commands in one card session"
);

#[derive(Parser)]
#[command(
    name = "subsim",
    version,
    about = "Drive a sub-SIM or any PIV card: the embedded simulated card or a card in a PC/SC reader",
    after_help = AFTER_HELP
)]
pub struct Cli {
    /// Use the card in this PC/SC reader (exact name or a unique part of it).
    #[arg(help_heading = "Global options", long, global = true, conflicts_with_all = ["serial", "sim"])]
    reader: Option<String>,
    /// Use the card with this serial, in whichever reader it is.
    #[arg(help_heading = "Global options", long, global = true, conflicts_with = "sim")]
    serial: Option<u32>,
    /// Use the embedded simulated card kept in FILE (the default target,
    /// with the file $SUBSIM_HOME/card.json, else
    /// $XDG_DATA_HOME/subsim/card.json, else ~/.local/share/subsim/card.json).
    #[arg(help_heading = "Global options", long, global = true, value_name = "FILE", value_parser = parse_sim_file)]
    sim: Option<PathBuf>,
    /// Create the simulated card's file if it does not exist (else: "no card file").
    #[arg(help_heading = "Global options", long, global = true)]
    create: bool,
    /// Use only this card profile's commands: piv (any SP 800-73-4 card),
    /// yubico (plus Yubico's management commands) or subsim (plus the
    /// sub-SIM extensions). Default: whatever the card has.
    #[arg(help_heading = "Global options", long, global = true, env = "SUBSIM_PROFILE", value_parser = parse_profile, value_name = "PROFILE")]
    profile: Option<Profile>,
    /// When another program holds the simulated card's file, wait up to
    /// SECONDS for it instead of failing at once (exit code 7).
    #[arg(help_heading = "Global options", long, global = true, value_name = "SECONDS", value_parser = apdu_sim::cardfile::parse_wait)]
    wait: Option<std::time::Duration>,
    /// Run the command as an Android app would reach the card: through the
    /// Open Mobile API's checks (the card's access rules for the app signed
    /// with --app-cert), on a logical channel of its own (docs/phone.md).
    #[arg(help_heading = "Global options", long, global = true, requires = "app_cert")]
    phone: bool,
    /// With --phone: the app's signing certificate (PEM or DER); its SHA-1 and
    /// SHA-256 are what the access rules name.
    #[arg(help_heading = "Global options", long, global = true, value_name = "CERT", requires = "phone")]
    app_cert: Option<PathBuf>,
    /// Show every APDU both ways on stderr (PINs and keys redacted).
    #[arg(help_heading = "Global options", long, global = true)]
    trace: bool,
    /// Machine-readable output: one JSON object on stdout for every outcome (docs/cli.md).
    #[arg(help_heading = "Global options", long, global = true)]
    json: bool,
    /// No progress or warnings on stderr; the result and errors still appear.
    #[arg(help_heading = "Global options", short, long, global = true, conflicts_with = "verbose")]
    quiet: bool,
    /// More detail on stderr.
    #[arg(help_heading = "Global options", short, long, global = true)]
    verbose: bool,
    #[command(subcommand)]
    command: Cmd,
}

/// A card file; a command's name where the file should be is a slip
/// (`subsim --sim info`), not a file called `info`.
fn parse_sim_file(s: &str) -> Result<PathBuf, String> {
    use clap::CommandFactory;
    let is_command = Cli::command().get_subcommands().any(|c| c.get_name() == s);
    if is_command && !std::path::Path::new(s).exists() {
        return Err(format!("--sim takes the card's file, and `{s}` is a command: write `subsim --sim FILE {s}`"));
    }
    Ok(PathBuf::from(s))
}

fn parse_hostile(s: &str) -> Result<subsim_host::relay::Hostile, String> {
    s.parse()
}

fn parse_profile(s: &str) -> Result<Profile, String> {
    s.parse()
}

/// Slots for keys and certificates, by key reference in any case or by
/// name: 9a, 9c, 9d, 9e (authentication, signature, key-management,
/// card-authentication) and the retired 82 to 95 (retired1 to retired20).
fn parse_slot(s: &str) -> Result<Slot, String> {
    let lower = s.to_ascii_lowercase();
    let named = match lower.as_str() {
        "authentication" => Some(Slot::Authentication),
        "signature" => Some(Slot::Signature),
        // ykman's names too (KEY_MANAGEMENT, CARD_AUTH), any case.
        "key-management" | "key_management" => Some(Slot::KeyManagement),
        "card-authentication" | "card_authentication" | "card-auth" | "card_auth" => Some(Slot::CardAuthentication),
        _ => None,
    };
    let retired = lower.strip_prefix("retired").and_then(|n| n.parse().ok()).and_then(Retired::new).map(Slot::Retired);
    let by_ref = u8::from_str_radix(&lower, 16).ok().filter(|_| lower.len() == 2).and_then(Slot::from_key_ref);
    named.or(retired).or(by_ref).filter(|s| *s != Slot::Attestation).ok_or_else(|| {
        format!(
            "{s:?} is not a slot: use 9a, 9c, 9d, 9e, 82 to 95, or authentication, signature, key-management \
             (key_management), card-authentication (card_auth), retired1 to retired20"
        )
    })
}

/// As [`parse_slot`], and also the attestation key F9 (`f9` or `attestation`).
fn parse_key_slot(s: &str) -> Result<Slot, String> {
    match s.to_ascii_lowercase().as_str() {
        "f9" | "attestation" => Ok(Slot::Attestation),
        _ => parse_slot(s).map_err(|e| format!("{e}, or f9 (attestation)")),
    }
}

/// A key usage given with --key-usage (parsed by `subsim_host::x509::parse_key_usage`).
#[derive(Clone, Debug)]
pub struct KeyUsageArg(pub x509_cert::ext::pkix::KeyUsage);

fn parse_key_usage(list: &str) -> Result<KeyUsageArg, String> {
    subsim_host::x509::parse_key_usage(list).map(KeyUsageArg)
}

/// Where a PIN comes from (default: $SUBSIM_PIN, else a hidden prompt).
#[derive(Args, Clone, Default)]
pub struct PinArgs {
    /// Read the PIN from this file (`-`: stdin, when it is not a terminal).
    #[arg(long, value_name = "FILE")]
    pin_file: Option<PathBuf>,
    /// The PIN itself (visible to other users: prefer the prompt, --pin-file or $SUBSIM_PIN).
    #[arg(long, value_name = "PIN")]
    pin: Option<String>,
}

/// The management key (default: $SUBSIM_MGM_KEY, else the factory key, else a hidden prompt).
#[derive(Args, Clone, Default)]
pub struct MgmArgs {
    /// The management key in hex (visible to other users: prefer --mgm-key-file, $SUBSIM_MGM_KEY or the prompt).
    #[arg(long, value_name = "HEX", conflicts_with = "mgm_key_file")]
    mgm_key: Option<String>,
    /// Read the management key (hex) from this file (`-`: stdin, when it is not a terminal).
    #[arg(long, value_name = "FILE")]
    mgm_key_file: Option<PathBuf>,
    /// The management key's algorithm, for cards that do not tell it (no
    /// sub-SIM status, no GET METADATA). Default: 3des.
    #[arg(long, value_enum, value_name = "ALGORITHM")]
    mgm_algorithm: Option<MgmAlg>,
}

/// How a bound card gets its binding, and how the PIN is entered, in the
/// same command as the signature.
#[derive(Args, Clone, Default)]
pub struct FlowArgs {
    /// Present this device binding value (hex) before signing (a bound card; visible to other
    /// users: prefer --binding-file or $SUBSIM_BINDING, which is presented when set).
    #[arg(long, value_name = "HEX", conflicts_with = "binding_file")]
    binding: Option<String>,
    /// Present the device binding value (hex text or raw bytes) read from this file.
    #[arg(long, value_name = "FILE")]
    binding_file: Option<PathBuf>,
    /// Enter the PIN on the card's random keypad (type the keys' letters), not as digits.
    #[arg(long, conflicts_with_all = ["pin", "pin_file"])]
    keypad: bool,
}

/// The one rule for every command that resets or destroys: it asks at a
/// terminal; elsewhere (a pipe, a script, a `run` file) it needs --yes.
#[derive(Args, Clone, Copy, Default)]
pub struct Confirm {
    /// Do not ask for confirmation (needed where nobody can answer: a pipe, a script).
    #[arg(long, short = 'f', visible_alias = "force")]
    pub yes: bool,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum HashArg {
    Sha256,
    Sha384,
    Sha512,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum Encoding {
    /// The signature's bytes.
    Raw,
    /// Base64 text.
    Base64,
    /// Hex text.
    Hex,
}

/// PEM or DER, for keys and certificates.
#[derive(Clone, Copy, ValueEnum, PartialEq, Eq, Default)]
pub enum Format {
    /// Base64 text between BEGIN/END lines.
    #[default]
    Pem,
    /// The binary encoding.
    Der,
}

/// A key pair's algorithm.
#[derive(Clone, Copy, ValueEnum)]
pub enum AlgorithmArg {
    /// RSA, 1024-bit modulus (legacy; Yubico's firmware 5.7 drops it).
    Rsa1024,
    /// RSA, 2048-bit modulus (every PIV card).
    Rsa2048,
    /// RSA, 3072-bit modulus (Yubico 5.7+).
    Rsa3072,
    /// RSA, 4096-bit modulus (Yubico 5.7+).
    Rsa4096,
    /// ECDSA/ECDH on NIST P-256.
    P256,
    /// ECDSA/ECDH on NIST P-384.
    P384,
    /// Ed25519 signatures (Yubico 5.7+).
    Ed25519,
    /// X25519 key agreement (Yubico 5.7+).
    X25519,
}

/// A key's PIN policy (ykman's names): when the card wants the PIN.
#[derive(Clone, Copy, ValueEnum)]
pub enum PinPolicyArg {
    /// The slot's own rule (9A, 9D, 82-95 once; 9C always; 9E never).
    Default,
    /// No PIN.
    Never,
    /// Once per card session.
    Once,
    /// Before every use.
    Always,
    /// A fingerprint once (YubiKey Bio; a sub-SIM refuses it).
    MatchOnce,
    /// A fingerprint before every use (YubiKey Bio; a sub-SIM refuses it).
    MatchAlways,
}

/// A key's touch policy (ykman's names); a sub-SIM has no button and takes only never.
#[derive(Clone, Copy, ValueEnum)]
pub enum TouchPolicyArg {
    /// The card's default (never, on a sub-SIM).
    Default,
    /// No touch.
    Never,
    /// A touch before every use.
    Always,
    /// A touch, remembered for 15 s.
    Cached,
}

/// PIN and touch policy of a new key (GENERATE, IMPORT KEY), ykman's options.
#[derive(Args, Clone, Copy)]
pub struct PolicyArgs {
    /// When the key wants the PIN.
    #[arg(long, value_enum, default_value = "default")]
    pub pin_policy: PinPolicyArg,
    /// When the key wants a touch.
    #[arg(long, value_enum, default_value = "default")]
    pub touch_policy: TouchPolicyArg,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum MgmAlg {
    /// Triple DES, 24-byte key (the factory algorithm).
    #[value(name = "3des")]
    TripleDes,
    /// AES-128, 16-byte key.
    Aes128,
    /// AES-192, 24-byte key.
    Aes192,
    /// AES-256, 32-byte key.
    Aes256,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum Policy {
    /// The PIN may be sent as digits (VERIFY) or entered on the keypad.
    Any,
    /// Only the card's random keypad (VERIFY KEYPAD).
    #[value(name = "keypad-only", alias = "keypad_only")]
    KeypadOnly,
}

#[derive(Subcommand)]
pub enum Cmd {
    /// Create the simulated card's file (a fresh card), or say that it exists.
    Init,
    /// Readers, whether a card is in each, and the card's serial.
    Readers,
    /// Everything the card tells about itself (profile, version, serial, PIN tries, slots).
    Info,
    /// PIN and PUK.
    #[command(subcommand)]
    Pin(PinCmd),
    /// The management key.
    #[command(subcommand)]
    Mgm(MgmCmd),
    /// Key pairs on the card.
    #[command(subcommand, visible_alias = "keys")]
    Key(KeyCmd),
    /// Sign a file (or stdin) with a slot's key; hashing and padding here.
    #[command(after_help = "Examples:\n  subsim sign 9a report.pdf > report.sig.b64\n  \
                            echo -n hello | subsim sign 9e - --output hex")]
    Sign {
        /// The slot: 9a, 9c, 9d, 9e, 82-95 (any case) or authentication, signature, key-management, card-authentication, retiredN.
        #[arg(value_parser = parse_slot)]
        slot: Slot,
        /// The file to sign; `-` for stdin (a pipe: a terminal is refused).
        file: Option<PathBuf>,
        /// The hash applied before signing.
        #[arg(long, value_enum, default_value = "sha256")]
        hash: HashArg,
        /// PSS padding (default: PKCS#1 v1.5).
        #[arg(long)]
        pss: bool,
        /// How the signature is written (with --json: always signature_base64).
        #[arg(long, value_enum, default_value = "base64")]
        output: Encoding,
        /// Write the signature to this file (`-`: stdout).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        #[command(flatten)]
        pin: PinArgs,
        #[command(flatten)]
        flow: FlowArgs,
    },
    /// Certificates in the card's slots.
    #[command(subcommand, visible_alias = "certificates")]
    Cert(CertCmd),
    /// Data objects (CHUID, CCC, printed information, any tag): list, export, import, generate.
    #[command(subcommand, visible_alias = "objects")]
    Object(commands::objects::ObjectCmd),
    /// Log in: the card signs a fresh random challenge with the 9A key, checked against its certificate
    /// (and, with --ca, the certificate against trusted CAs and CRLs, as a bank's server does).
    #[command(after_help = "Examples:\n  subsim login\n  subsim login --binding-file phone.bin --keypad\n  \
                            subsim login --ca bank-ca.pem --crl bank-ca.crl")]
    Login {
        #[command(flatten)]
        pin: PinArgs,
        #[command(flatten)]
        flow: FlowArgs,
        #[command(flatten)]
        trust: commands::ca::TrustArgs,
    },
    /// Transactions signed with the 9C key (a PIN for every signature).
    #[command(subcommand)]
    Tx(TxCmd),
    /// Device binding (sub-SIM).
    #[command(subcommand)]
    Bind(BindCmd),
    /// The card's access rules (its ARA-M): which phone apps reach which applet.
    #[command(subcommand)]
    Rules(RulesCmd),
    /// The card manager (GlobalPlatform's Issuer Security Domain, SCP03): card data,
    /// contents, application and card locks (docs/gp.md).
    #[command(subcommand)]
    Gp(commands::gp::GpCmd),
    /// The bank's or TSM's remote operations on the sub-SIM through an untrusted phone (a relay):
    /// an SCP03 session to the card manager, with the ISD keys as `subsim gp` takes them.
    #[command(after_help = "Example:\n  subsim issuer --via 127.0.0.1:4177 --key-file isd.hex wipe --yes")]
    Issuer {
        /// The relay (the phone) to reach the card through: HOST:PORT.
        #[arg(long, value_name = "HOST:PORT")]
        via: String,
        #[command(flatten)]
        keys: commands::gp::GpKeyArgs,
        #[command(subcommand)]
        op: commands::issuer::IssuerCmd,
    },
    /// Stand for the phone: forward APDUs between a TCP socket and the card (the global card
    /// options), one connection at a time; --hostile makes it attack the issuer's session.
    Relay {
        /// Where to listen (port 0: any; the address is the first line on stderr).
        #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:4177")]
        listen: String,
        /// What to do to the first command after the session opens: honest, alter-command,
        /// alter-answer, replay, inject, drop-answer.
        #[arg(long, default_value = "honest", value_parser = parse_hostile)]
        hostile: subsim_host::relay::Hostile,
        /// End after the first connection.
        #[arg(long)]
        once: bool,
    },
    /// A TEST certification authority in a directory (labs and demos only).
    #[command(subcommand)]
    Ca(commands::ca::CaCmd),
    /// Yubico's PIV reset: blocks the PIN and PUK (as ykman does), then wipes keys and
    /// certificates; factory PIN, PUK and management key. The attestation key stays.
    Reset {
        #[command(flatten)]
        confirm: Confirm,
    },
    /// Wipe the card (sub-SIM): keys, certificates, binding; factory PIN, PUK, management key.
    Terminate {
        #[command(flatten)]
        confirm: Confirm,
        #[command(flatten)]
        mgm: MgmArgs,
    },
    /// Send raw APDUs (hex); chaining and GET RESPONSE are handled. Exits 1
    /// when the last answer is not 9000 or 61xx, unless --allow-sw accepts it.
    #[command(after_help = "Examples:\n  subsim apdu 00FD0000            GET VERSION\n  \
                            subsim apdu 0020008000 --allow-sw 63C0-63CF   the PIN's tries left")]
    Apdu {
        /// The command APDUs, in hex (spaces allowed inside one argument).
        #[arg(required = true)]
        apdus: Vec<String>,
        /// Also accept these status words for the last answer (hex, like 6A82,
        /// or a range like 63C0-63CF; repeatable).
        #[arg(long, value_name = "SW")]
        allow_sw: Vec<String>,
    },
    /// A PKCS#10 certificate request for a slot's key, signed on the card (PEM).
    #[command(after_help = "Examples:\n  subsim csr 9a --subject 'CN=Alice,O=Bank' --pubkey 9a.pub --out 9a.csr\n  \
                            subsim cert request 9a 9a.pub 9a.csr -s 'CN=Alice,O=Bank'   (ykman's words)")]
    Csr(CsrArgs),
    /// Run subsim commands from FILE (`-`: stdin), one per line, in ONE card
    /// session: a PIN verified or a binding presented stays for the next lines.
    #[command(after_help = "Example file:\n  bind present 5a5a...5a\n  pin keypad\n  login\n\n\
                            Lines are split like a shell's words; # starts a comment. The card options \
                            (--reader, --serial, --sim) go before `run`. Stops at the first failure, \
                            with its exit code.")]
    Run {
        /// The file of commands; `-` for stdin.
        file: PathBuf,
    },
    /// An interactive session: one subsim command per line, one card session; line editing and
    /// history, Ctrl-C cancels the line, Ctrl-D ends.
    Shell,
    /// A guided tour on a fresh simulated card: personalise, keys, CSRs, a test
    /// CA (checking attestation when the card has ATTEST), certificates, keypad
    /// PIN, a checked login and its replay refused, a transfer, an altered one
    /// caught, a revoked certificate refused.
    /// With --sim FILE, the tour runs on a fresh card kept in FILE (which must not exist yet).
    Demo,
    /// Shell completions for bash, zsh, fish, elvish or PowerShell.
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// The man pages (roff), from the same definitions as --help.
    #[command(long_about = "The man pages (roff), from the same definitions as --help. Without --dir, \
                            subsim(1) on stdout; the pages it refers to (subsim-pin(1)...) are those \
                            --dir writes: `subsim man --dir ~/.local/share/man/man1`.")]
    Man {
        /// Write one page per command (subsim.1, subsim-pin.1, subsim-pin-verify.1...) into DIR.
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
pub enum PinCmd {
    /// Verify the PIN (or, with --status, show the tries left).
    #[command(after_help = "Examples:\n  subsim pin verify\n  subsim pin verify --status --json")]
    Verify {
        /// Only show whether the PIN is verified and the tries left (spends none).
        #[arg(long)]
        status: bool,
        #[command(flatten)]
        pin: PinArgs,
    },
    /// Change the PIN (the new one from --new-pin-file, $SUBSIM_NEW_PIN, or a prompt, asked twice).
    #[command(visible_alias = "change-pin")]
    Change {
        #[command(flatten)]
        pin: PinArgs,
        /// Read the new PIN from this file.
        #[arg(long, value_name = "FILE")]
        new_pin_file: Option<PathBuf>,
    },
    /// Set a new PIN with the PUK (from files, $SUBSIM_PUK and $SUBSIM_NEW_PIN, or prompts).
    #[command(visible_alias = "unblock-pin")]
    Unblock {
        /// Read the PUK from this file.
        #[arg(long, value_name = "FILE")]
        puk_file: Option<PathBuf>,
        /// Read the new PIN from this file.
        #[arg(long, value_name = "FILE")]
        new_pin_file: Option<PathBuf>,
    },
    /// Change the PUK (from files, $SUBSIM_PUK and $SUBSIM_NEW_PUK, or prompts; the new one asked twice).
    ChangePuk {
        /// Read the current PUK from this file.
        #[arg(long, value_name = "FILE")]
        puk_file: Option<PathBuf>,
        /// Read the new PUK from this file.
        #[arg(long, value_name = "FILE")]
        new_puk_file: Option<PathBuf>,
    },
    /// Whether plain VERIFY may carry the PIN, or only the keypad (sub-SIM).
    Policy {
        /// The PIN entry policy.
        #[arg(value_enum)]
        policy: Policy,
        #[command(flatten)]
        mgm: MgmArgs,
    },
    /// Set the PIN's and PUK's try counts, 1 to 15 (Yubico); PIN and PUK go back to their factory values
    /// (asks first; --yes where nobody can answer).
    #[command(visible_alias = "set-retries", after_help = "Example:\n  subsim pin retries 5 3 --yes")]
    Retries {
        /// The PIN's tries, 1 to 15.
        #[arg(value_parser = clap::value_parser!(u8).range(1..=15))]
        pin_tries: u8,
        /// The PUK's tries, 1 to 15.
        #[arg(value_parser = clap::value_parser!(u8).range(1..=15))]
        puk_tries: u8,
        #[command(flatten)]
        confirm: Confirm,
        #[command(flatten)]
        pin: PinArgs,
        #[command(flatten)]
        mgm: MgmArgs,
    },
    /// Enter the PIN on the card's random keypad (sub-SIM): type the keys' letters, never digits.
    /// When stdin is not a terminal the layout is printed on stderr and letters are read from stdin.
    Keypad,
}

#[derive(Subcommand)]
pub enum MgmCmd {
    /// Authenticate with the management key (mutual).
    Auth {
        #[command(flatten)]
        mgm: MgmArgs,
    },
    /// Set a new management key: from --new-mgm-key-file, $SUBSIM_NEW_MGM_KEY, a prompt (asked
    /// twice), or --generate (a random key, printed unless --protect stores it PIN-protected, as ykman does).
    #[command(
        visible_alias = "change-management-key",
        after_help = "Examples:\n  subsim mgm set aes256 --generate --protect    the PIN unlocks it from then on\n  \
                      SUBSIM_NEW_MGM_KEY=$(openssl rand -hex 32) subsim mgm set aes256"
    )]
    Set {
        /// The new key's algorithm.
        #[arg(value_enum)]
        algorithm: MgmAlg,
        /// The new key in hex (visible to other users: prefer a prompt, --new-mgm-key-file or $SUBSIM_NEW_MGM_KEY).
        #[arg(conflicts_with_all = ["generate", "new_mgm_key_file"])]
        new_key: Option<String>,
        /// Read the new key (hex) from this file.
        #[arg(long, value_name = "FILE", conflicts_with = "generate")]
        new_mgm_key_file: Option<PathBuf>,
        /// A random new key, made here (and printed, unless --protect).
        #[arg(long)]
        generate: bool,
        /// Store the new key on the card, readable only after the PIN (ykman's PIN-protected
        /// management key: objects 5FC109 and 5FFF00); commands then need only the PIN.
        #[arg(long)]
        protect: bool,
        #[command(flatten)]
        pin: PinArgs,
        #[command(flatten)]
        mgm: MgmArgs,
    },
}

#[derive(Subcommand)]
pub enum KeyCmd {
    /// Generate a key pair in a slot (RSA-2048 unless --algorithm says; real cards take 2 to 20 s
    /// for RSA); prints its public key.
    #[command(after_help = "Examples:\n  subsim key generate 9a --out 9a.pub\n  \
                            subsim key generate signature --algorithm p256 --format der --out 9c.der")]
    Generate {
        /// The slot: 9a, 9c, 9d, 9e, 82-95, f9 (any case) or its name.
        #[arg(value_parser = parse_key_slot)]
        slot: Slot,
        /// The key's algorithm.
        #[arg(long, value_enum, default_value = "rsa2048")]
        algorithm: AlgorithmArg,
        /// Give up after this many seconds, at least 1 (exit 3; the card may finish anyway).
        #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
        timeout: u64,
        /// How the public key is written.
        #[arg(long, value_enum, default_value = "pem")]
        format: Format,
        /// Write the public key to this file (`-`: stdout).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        #[command(flatten)]
        policy: PolicyArgs,
        /// Replace the attestation key (slot F9): every attestation after this chains to the
        /// new key, whose certificate you must store (`subsim cert import f9`).
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        mgm: MgmArgs,
    },
    /// Move a key to an empty slot (Yubico 5.7 MOVE KEY): its policies and origin go with it; the
    /// certificates stay where they are.
    #[command(visible_alias = "mv", after_help = "Example:\n  subsim key move 9a 82")]
    Move {
        /// The slot the key is in: 9a, 9c, 9d, 9e, 82-95 (any case) or its name.
        #[arg(value_parser = parse_slot)]
        from: Slot,
        /// The empty slot it goes to.
        #[arg(value_parser = parse_slot)]
        to: Slot,
        #[command(flatten)]
        mgm: MgmArgs,
    },
    /// Destroy the key in a slot (Yubico 5.7); its certificate stays (`subsim cert delete`). Asks first.
    #[command(visible_alias = "rm", after_help = "Example:\n  subsim key delete 82 --yes")]
    Delete {
        /// The slot: 9a, 9c, 9d, 9e, 82-95, f9 (any case) or its name.
        #[arg(value_parser = parse_key_slot)]
        slot: Slot,
        #[command(flatten)]
        confirm: Confirm,
        #[command(flatten)]
        mgm: MgmArgs,
    },
    /// A slot's public key: from the card's metadata where it has it, else from the slot's certificate.
    #[command(visible_alias = "export")]
    Public {
        /// The slot: 9a, 9c, 9d, 9e, 82-95 (any case) or its name.
        #[arg(value_parser = parse_slot)]
        slot: Slot,
        /// How the public key is written.
        #[arg(long, value_enum, default_value = "pem")]
        format: Format,
        /// Write the public key to this file (`-`: stdout).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// What the card tells about a slot's key (GET METADATA, Yubico): algorithm, origin, PIN
    /// policy, public key; without SLOT every slot, the PIN, PUK and management key.
    #[command(after_help = "Examples:\n  subsim key info\n  subsim key info 9a --json")]
    Info {
        /// The slot: 9a, 9c, 9d, 9e, 82-95, f9 (any case) or its name.
        #[arg(value_parser = parse_key_slot)]
        slot: Option<Slot>,
    },
    /// The card's certificate that a slot's key was generated on it (ATTEST, Yubico), PEM.
    #[command(after_help = "Example:\n  subsim key attest 9a --chain --out 9a-attest.pem\n  \
                            openssl verify -CAfile vendor-ca.pem -untrusted <(sed 1,/END/d 9a-attest.pem) 9a-attest.pem")]
    Attest {
        /// The slot: 9a, 9c, 9d, 9e, 82-95 (any case) or its name.
        #[arg(value_parser = parse_key_slot)]
        slot: Slot,
        /// Also write the attestation key's certificate (F9) after it, for `openssl verify -untrusted`.
        #[arg(long)]
        chain: bool,
        /// How the certificates are written (DER: concatenated).
        #[arg(long, value_enum, default_value = "pem")]
        format: Format,
        /// Write the certificates to this file (`-`: stdout).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Import a private key made elsewhere into a slot (Yubico): PEM or DER, PKCS#8 (encrypted
    /// too: a password), PKCS#1 or SEC1, or PKCS#12 (its certificate stored too); RSA, P-256,
    /// P-384, Ed25519 or X25519. It gets no attestation.
    #[command(
        after_help = "Example:\n  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 | subsim key import 9d -"
    )]
    Import {
        /// The slot: 9a, 9c, 9d, 9e, 82-95, f9 (any case) or its name.
        #[arg(value_parser = parse_key_slot)]
        slot: Slot,
        /// The private key (PEM, DER or PKCS#12); `-` for stdin.
        file: PathBuf,
        #[command(flatten)]
        policy: PolicyArgs,
        /// Replace the attestation key (slot F9) with this one.
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        mgm: MgmArgs,
        #[command(flatten)]
        key_file: commands::keyfile::KeyFileArgs,
    },
}

/// What a certificate request is made of: `csr` and `cert request`.
#[derive(Args)]
pub struct CsrArgs {
    /// The slot: 9a, 9c, 9d, 9e, 82-95 (any case) or its name.
    #[arg(value_parser = parse_slot)]
    pub slot: Slot,
    /// The subject, like "CN=Alice,O=Bank".
    #[arg(long, short = 's')]
    pub subject: String,
    /// The slot's public key (PEM or DER, `-` for stdin); default: what
    /// the card tells (its metadata, or the slot's certificate). The
    /// request is checked against it.
    #[arg(long, value_name = "FILE")]
    pub pubkey: Option<PathBuf>,
    /// Write the request to this file (`-`: stdout).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// The key usage the request asks for, names separated by commas (RFC 5280:
    /// digitalSignature, nonRepudiation, keyEncipherment, keyAgreement...);
    /// default: the slot's PIV usage (9A, 9E digitalSignature; 9C
    /// digitalSignature,nonRepudiation; 9D and 82-95 keyEncipherment for
    /// RSA, keyAgreement for EC).
    #[arg(long, value_name = "LIST", value_parser = parse_key_usage)]
    pub key_usage: Option<KeyUsageArg>,
    #[command(flatten)]
    pub pin: PinArgs,
}

#[derive(Subcommand)]
pub enum CertCmd {
    /// Store a certificate (PEM or DER) in a slot, after checking it holds the slot's key (f9:
    /// the attestation key's certificate, which every `key attest` chains to).
    #[command(after_help = "Example:\n  subsim cert import 9a 9a.crt\n  subsim cert import f9 my-attestation-ca.crt")]
    Import {
        /// The slot: 9a, 9c, 9d, 9e, 82-95, f9 (any case) or its name.
        #[arg(value_parser = parse_key_slot)]
        slot: Slot,
        /// The certificate (PEM or DER); `-` for stdin.
        file: PathBuf,
        /// Store it without checking it against the slot's key.
        #[arg(long)]
        no_check: bool,
        #[command(flatten)]
        pin: PinArgs,
        #[command(flatten)]
        mgm: MgmArgs,
    },
    /// Make a self-signed certificate for a slot's key on the card and store it (for the lab).
    #[command(
        visible_alias = "generate",
        after_help = "Example:\n  subsim cert selfsign 9a --subject 'CN=Lab Card' --pubkey 9a.pub"
    )]
    Selfsign {
        /// The slot: 9a, 9c, 9d, 9e, 82-95 (any case) or its name.
        #[arg(value_parser = parse_slot)]
        slot: Slot,
        /// The subject (and issuer), like "CN=Lab Card,O=Bank".
        #[arg(long)]
        subject: String,
        /// The slot's public key (PEM or DER, `-` for stdin; from `key generate`);
        /// default: what the card tells. The certificate is checked against it.
        #[arg(long, value_name = "FILE")]
        pubkey: Option<PathBuf>,
        /// Days of validity (at least 1).
        #[arg(long, default_value_t = 365, value_parser = clap::value_parser!(u64).range(1..=36500))]
        days: u64,
        /// The certificate's key usage, names separated by commas (RFC 5280:
        /// digitalSignature, nonRepudiation, keyEncipherment, keyAgreement...);
        /// default: the slot's PIV usage (9A, 9E digitalSignature; 9C
        /// digitalSignature,nonRepudiation; 9D and 82-95 keyEncipherment for
        /// RSA, keyAgreement for EC).
        #[arg(long, value_name = "LIST", value_parser = parse_key_usage)]
        key_usage: Option<KeyUsageArg>,
        #[command(flatten)]
        pin: PinArgs,
        #[command(flatten)]
        mgm: MgmArgs,
    },
    /// A certificate request for a slot's key, signed on the card: `subsim csr` under
    /// ykman's name (`ykman piv certificates request`), its public key and output file also
    /// taken as ykman's positional arguments.
    #[command(after_help = "Example:\n  subsim cert request 9a 9a.pub 9a.csr -s 'CN=Alice,O=Bank'")]
    Request {
        #[command(flatten)]
        csr: CsrArgs,
        /// The slot's public key, as --pubkey (ykman's PUBLIC-KEY).
        #[arg(value_name = "PUBLIC-KEY", conflicts_with = "pubkey")]
        public_key: Option<PathBuf>,
        /// Where the request goes, as --out (ykman's CSR-OUTPUT; `-`: stdout).
        #[arg(value_name = "CSR-OUTPUT", conflicts_with = "out")]
        csr_output: Option<PathBuf>,
    },
    /// Delete a slot's certificate (the key stays; asks first, --yes where nobody can answer).
    #[command(after_help = "Example:\n  subsim cert delete 9a --yes")]
    Delete {
        /// The slot: 9a, 9c, 9d, 9e, 82-95 (any case) or its name.
        #[arg(value_parser = parse_slot)]
        slot: Slot,
        #[command(flatten)]
        confirm: Confirm,
        #[command(flatten)]
        mgm: MgmArgs,
    },
    /// Write a slot's certificate (PEM by default).
    #[command(
        after_help = "Examples:\n  subsim cert export 9a > 9a.crt\n  subsim cert export 9a --format der --out 9a.der"
    )]
    Export {
        /// The slot: 9a, 9c, 9d, 9e, 82-95 (any case) or its name.
        #[arg(value_parser = parse_slot)]
        slot: Slot,
        /// How the certificate is written.
        #[arg(long, value_enum, default_value = "pem")]
        format: Format,
        /// The same as --format der.
        #[arg(long, conflicts_with = "format")]
        der: bool,
        /// Write the certificate to this file (`-`: stdout).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
pub enum TxCmd {
    /// Sign a transaction text (a file, or `-` for a pipe) with the 9C key; prints the signature (base64).
    #[command(after_help = "Examples:\n  subsim tx sign transfer.txt > transfer.sig\n  \
                            subsim tx sign transfer.txt --binding-file phone.bin --keypad")]
    Sign {
        /// The transaction text; `-` for stdin (a pipe: a terminal is refused).
        file: Option<PathBuf>,
        /// Write the signature (base64) to this file (`-`: stdout).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        #[command(flatten)]
        pin: PinArgs,
        #[command(flatten)]
        flow: FlowArgs,
    },
    /// Verify a transaction text against its signature and the 9C certificate.
    #[command(after_help = "Example:\n  subsim tx verify transfer.txt --signature-file transfer.sig")]
    Verify {
        /// The transaction text; `-` for stdin.
        file: Option<PathBuf>,
        /// The signature as base64 text.
        #[arg(long, value_name = "BASE64", required_unless_present = "signature_file")]
        signature: Option<String>,
        /// The signature in a file (base64 text or raw bytes).
        #[arg(long, value_name = "FILE", conflicts_with = "signature")]
        signature_file: Option<PathBuf>,
        /// Check against this certificate (PEM or DER) instead of the card's.
        #[arg(long, value_name = "FILE")]
        cert: Option<PathBuf>,
        /// The statement the server issued (canonical transfer statement):
        /// the signed text must be the same, field by field.
        #[arg(long, value_name = "FILE")]
        expect: Option<PathBuf>,
        #[command(flatten)]
        trust: commands::ca::TrustArgs,
    },
}

/// What a rule lets an app send.
#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum RuleAccess {
    /// Every APDU.
    Always,
    /// None: the app is refused.
    Never,
    /// Only APDUs matching a --filter.
    Filters,
}

#[derive(Subcommand)]
pub enum RulesCmd {
    /// The rules, as a phone reads them (GET DATA from the ARA-M).
    List,
    /// Add a rule (the issuer's: needs the card's management key).
    #[command(after_help = "Examples:\n  subsim rules add --app-cert bank-app.pem\n  \
                            subsim rules add --hash 3F...A1 --access filters --filter 00CB3FFF/00FFFFFF\n  \
                            subsim rules add --all-apps --access never")]
    Add {
        #[command(flatten)]
        target: RuleTarget,
        /// What the app may send.
        #[arg(long, value_enum, default_value = "always")]
        access: RuleAccess,
        /// With --access filters: HEADER/MASK, 4 bytes each in hex (CLA INS P1 P2; repeatable).
        #[arg(long, value_name = "HEADER/MASK")]
        filter: Vec<String>,
        #[command(flatten)]
        mgm: MgmArgs,
    },
    /// Remove the rule for an applet and an app (or every rule for the applet, or --every rule).
    Remove {
        #[command(flatten)]
        target: RuleTarget,
        /// Every rule on the card.
        #[arg(long, conflicts_with_all = ["app_cert", "hash", "all_apps"])]
        every: bool,
        #[command(flatten)]
        mgm: MgmArgs,
    },
}

/// The applet and the app a rule is for.
#[derive(Args, Clone)]
pub struct RuleTarget {
    /// The applet's AID in hex (default: the PIV/sub-SIM applet), or `all`.
    #[arg(long, default_value = "A000000308000010000100", value_name = "HEX|all")]
    aid: String,
    /// The app's signing certificate (PEM or DER): the rule names its SHA-256.
    #[arg(long, value_name = "CERT")]
    app_cert: Option<PathBuf>,
    /// The app's certificate hash in hex: SHA-1 (40 digits) or SHA-256 (64).
    #[arg(long, value_name = "HEX")]
    hash: Option<String>,
    /// Every app.
    #[arg(long)]
    all_apps: bool,
}

#[derive(Subcommand)]
pub enum BindCmd {
    /// Bind the card to a device: the binding value, 16 to 64 bytes (hex), from a file,
    /// $SUBSIM_BINDING or a prompt (asked twice).
    Set {
        /// The binding value, hex (visible to other users: prefer --binding-file, $SUBSIM_BINDING or the prompt).
        #[arg(conflicts_with = "binding_file")]
        value: Option<String>,
        /// Read the binding value (hex text or raw bytes) from this file.
        #[arg(long, value_name = "FILE")]
        binding_file: Option<PathBuf>,
        #[command(flatten)]
        mgm: MgmArgs,
    },
    /// Present the device's binding value for this card session (see `subsim run`): from a file,
    /// $SUBSIM_BINDING or a prompt.
    Present {
        /// The binding value, hex (visible to other users: prefer --binding-file, $SUBSIM_BINDING or the prompt).
        #[arg(conflicts_with = "binding_file")]
        value: Option<String>,
        /// Read the binding value (hex text or raw bytes) from this file.
        #[arg(long, value_name = "FILE")]
        binding_file: Option<PathBuf>,
    },
    /// Remove the binding.
    Clear {
        #[command(flatten)]
        mgm: MgmArgs,
    },
}

fn main() -> ExitCode {
    session::install_interrupt_handler();
    // Past `ulimit -f` a write fails with EFBIG instead of the default
    // SIGXFSZ killing us silently: reported like a full disk (a card save
    // that fails is a power cut: exit 3, with JSON).
    // SAFETY: SIG_IGN for SIGXFSZ installs no handler code.
    unsafe { libc::signal(libc::SIGXFSZ, libc::SIG_IGN) };
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let cli = match Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(e) => return commands::usage_error(e, &args),
    };
    ExitCode::from(session::main(&cli))
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    /// Every command and every argument says what it is for.
    #[test]
    fn every_argument_has_help() {
        fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
            let path = format!("{path} {}", cmd.get_name());
            if cmd.get_about().is_none() && path != "subsim" {
                missing.push(format!("{path}: no about"));
            }
            for arg in cmd.get_arguments() {
                if arg.get_help().is_none() && !arg.is_hide_set() {
                    missing.push(format!("{path}: {}", arg.get_id()));
                }
            }
            for sub in cmd.get_subcommands() {
                walk(sub, &path, missing);
            }
        }
        let mut missing = Vec::new();
        walk(&super::Cli::command(), "", &mut missing);
        assert!(missing.is_empty(), "without help: {missing:#?}");
    }
}
