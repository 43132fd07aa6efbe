//! `subsim`: the sub-SIM for card engineers, on the embedded simulated card
//! or a card in a PC/SC reader.
//!
//! Exit codes: 0 done; 1 the card refused (status word); 2 bad input or
//! usage; 3 no pcscd, reader or card (transport); 4 a signature or login did
//! not verify; 5 the card answered something malformed. (Also in `--help`.)

mod commands;
mod demo;
mod open;
mod secret;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};
use subsim_host::{Error, ReaderChoice};

#[derive(Parser)]
#[command(
    name = "subsim",
    version,
    about = "Drive a sub-SIM: the embedded simulated card or a card in a PC/SC reader",
    after_help = "Exit codes: 0 done; 1 the card refused (status word); 2 bad input or usage; \
                  3 no pcscd, reader or card, or a timeout; 4 a signature or login did not verify; \
                  5 the card answered something malformed.\n\
                  Environment: SUBSIM_PIN, SUBSIM_NEW_PIN, SUBSIM_PUK, SUBSIM_MGM_KEY (hex), SUBSIM_HOME."
)]
pub struct Cli {
    /// Use the card in this PC/SC reader (exact name or a unique part of it).
    #[arg(long, global = true, conflicts_with_all = ["serial", "sim"])]
    reader: Option<String>,
    /// Use the card with this serial, in whichever reader it is.
    #[arg(long, global = true, conflicts_with = "sim")]
    serial: Option<u32>,
    /// Use the embedded simulated card, kept in STATE_FILE (the default
    /// target; default file: $SUBSIM_HOME/card.json, else
    /// $XDG_DATA_HOME/subsim/card.json, else ~/.local/share/subsim/card.json).
    #[arg(long, global = true, value_name = "STATE_FILE", num_args = 0..=1, default_missing_value = "")]
    sim: Option<PathBuf>,
    /// Show every APDU both ways on stderr (PINs and keys redacted).
    #[arg(long, global = true)]
    trace: bool,
    /// Machine-readable output (one JSON object on stdout).
    #[arg(long, global = true)]
    json: bool,
    /// Only errors.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    quiet: bool,
    /// More detail.
    #[arg(short, long, global = true)]
    verbose: bool,
    #[command(subcommand)]
    command: Cmd,
}

/// Where a PIN comes from (default: a hidden prompt, or $SUBSIM_PIN).
#[derive(Args, Clone, Default)]
pub struct PinArgs {
    /// Read the PIN from this file.
    #[arg(long, value_name = "FILE")]
    pin_file: Option<PathBuf>,
    /// The PIN itself (visible to other users: prefer the prompt or --pin-file).
    #[arg(long)]
    pin: Option<String>,
}

/// The management key (default: $SUBSIM_MGM_KEY, else the factory key).
#[derive(Args, Clone, Default)]
pub struct MgmArgs {
    /// Management key in hex.
    #[arg(long, value_name = "HEX")]
    mgm_key: Option<String>,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum SlotArg {
    #[value(name = "9a")]
    A9a,
    #[value(name = "9c")]
    A9c,
    #[value(name = "9d")]
    A9d,
    #[value(name = "9e")]
    A9e,
    /// The attestation key (key info, import, generate only).
    #[value(name = "f9")]
    Af9,
}

/// A key pair's algorithm.
#[derive(Clone, Copy, ValueEnum)]
pub enum AlgorithmArg {
    Rsa2048,
    Rsa3072,
    Rsa4096,
    Rsa1024,
    P256,
    P384,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum HashArg {
    Sha256,
    Sha384,
    Sha512,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum Encoding {
    Raw,
    Base64,
    Hex,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum MgmAlg {
    #[value(name = "3des")]
    TripleDes,
    Aes128,
    Aes192,
    Aes256,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum Policy {
    Any,
    KeypadOnly,
}

#[derive(Subcommand)]
pub enum Cmd {
    /// Readers, whether a card is in each, and the card's serial.
    Readers,
    /// Everything the card tells about itself.
    Info,
    /// PIN and PUK.
    #[command(subcommand)]
    Pin(PinCmd),
    /// The management key.
    #[command(subcommand)]
    Mgm(MgmCmd),
    /// Key pairs on the card.
    #[command(subcommand)]
    Key(KeyCmd),
    /// Sign a file (or stdin) with a slot's key; hashing and padding here.
    Sign {
        #[arg(value_enum)]
        slot: SlotArg,
        /// The file to sign; `-` or nothing for stdin.
        file: Option<PathBuf>,
        #[arg(long, value_enum, default_value = "sha256")]
        hash: HashArg,
        /// PSS padding (default: PKCS#1 v1.5).
        #[arg(long)]
        pss: bool,
        #[arg(long, value_enum, default_value = "base64")]
        output: Encoding,
        #[command(flatten)]
        pin: PinArgs,
    },
    /// Certificates in the card's slots.
    #[command(subcommand)]
    Cert(CertCmd),
    /// Log in: the card signs a fresh random challenge with the 9A key, checked against its certificate.
    Login {
        #[command(flatten)]
        pin: PinArgs,
    },
    /// Transactions signed with the 9C key (a PIN for every signature).
    #[command(subcommand)]
    Tx(TxCmd),
    /// Device binding.
    #[command(subcommand)]
    Bind(BindCmd),
    /// Yubico's PIV reset: blocks PIN and PUK (as ykman does), then wipes keys and certificates.
    Reset {
        /// Do it (there is no undo).
        #[arg(long)]
        yes: bool,
    },
    /// Wipe the card: keys, certificates, binding; factory PIN, PUK, management key.
    Terminate {
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
        #[command(flatten)]
        mgm: MgmArgs,
    },
    /// Send raw APDUs (hex); chaining and GET RESPONSE are handled.
    Apdu {
        #[arg(required = true)]
        apdus: Vec<String>,
    },
    /// A PKCS#10 certificate request for a slot's key, signed on the card (PEM).
    Csr {
        #[arg(value_enum)]
        slot: SlotArg,
        /// The subject, like "CN=Alice,O=Bank".
        #[arg(long)]
        subject: String,
        /// The slot's public key (PEM, from `key generate`); default: from the slot's certificate.
        #[arg(long)]
        pubkey: Option<PathBuf>,
        #[command(flatten)]
        pin: PinArgs,
    },
    /// A guided tour on a fresh simulated card: personalise, keys, CSRs, a test
    /// CA, certificates, keypad PIN, login, a transfer, and a tampered one caught.
    Demo,
    /// Shell completions for bash, zsh, fish, elvish or PowerShell.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// The man page (roff), from the same definitions as --help.
    Man,
}

#[derive(Subcommand)]
pub enum PinCmd {
    /// Verify the PIN (or, with --status, show the tries left).
    Verify {
        #[arg(long)]
        status: bool,
        #[command(flatten)]
        pin: PinArgs,
    },
    /// Change the PIN ($SUBSIM_NEW_PIN or a prompt for the new one).
    Change {
        #[command(flatten)]
        pin: PinArgs,
    },
    /// Set a new PIN with the PUK ($SUBSIM_PUK and $SUBSIM_NEW_PIN, or prompts).
    Unblock,
    /// Whether plain VERIFY may carry the PIN, or only the keypad.
    Policy {
        #[arg(value_enum)]
        policy: Policy,
        #[command(flatten)]
        mgm: MgmArgs,
    },
    /// Set the PIN and PUK try counts (1 to 15); PIN and PUK go back to their factory values.
    Retries {
        pin_tries: u8,
        puk_tries: u8,
        #[command(flatten)]
        pin: PinArgs,
        #[command(flatten)]
        mgm: MgmArgs,
    },
    /// Enter the PIN on the card's random keypad: type the keys' letters, never digits.
    /// When stdin is not a terminal the layout is printed and letters are read from stdin.
    Keypad,
}

#[derive(Subcommand)]
pub enum MgmCmd {
    /// Authenticate with the management key (mutual).
    Auth {
        #[command(flatten)]
        mgm: MgmArgs,
    },
    /// Set a new management key.
    Set {
        #[arg(value_enum)]
        algorithm: MgmAlg,
        /// The new key in hex.
        new_key: String,
        #[command(flatten)]
        mgm: MgmArgs,
    },
}

#[derive(Subcommand)]
pub enum KeyCmd {
    /// Generate a key pair in a slot (RSA-2048 unless told; real cards take 2 to 20 s for RSA).
    Generate {
        #[arg(value_enum)]
        slot: SlotArg,
        /// The key's algorithm.
        #[arg(long, value_enum, default_value = "rsa2048")]
        algorithm: AlgorithmArg,
        /// Give up after this many seconds.
        #[arg(long, default_value_t = 60)]
        timeout: u64,
        #[command(flatten)]
        mgm: MgmArgs,
    },
    /// The slot's public key as PEM (from the card's metadata).
    Public {
        #[arg(value_enum)]
        slot: SlotArg,
    },
    /// What the card says about a slot's key (or every slot, PIN, PUK and management key).
    Info {
        #[arg(value_enum)]
        slot: Option<SlotArg>,
    },
    /// The card's attestation that the slot's key was generated on it (PEM).
    Attest {
        #[arg(value_enum)]
        slot: SlotArg,
        /// Also print the attestation key's certificate (F9), for `openssl verify -untrusted`.
        #[arg(long)]
        chain: bool,
    },
    /// Import a private key (PEM: PKCS#8, PKCS#1 or SEC1; RSA, P-256, P-384) into a slot.
    Import {
        #[arg(value_enum)]
        slot: SlotArg,
        file: PathBuf,
        #[command(flatten)]
        mgm: MgmArgs,
    },
}

#[derive(Subcommand)]
pub enum CertCmd {
    /// Store a certificate (PEM or DER) in a slot.
    Import {
        #[arg(value_enum)]
        slot: SlotArg,
        file: PathBuf,
        #[command(flatten)]
        mgm: MgmArgs,
    },
    /// Make a self-signed certificate for a slot's key on the card and store it (for the lab).
    Selfsign {
        #[arg(value_enum)]
        slot: SlotArg,
        #[arg(long)]
        subject: String,
        /// The slot's public key (PEM, from `key generate`).
        #[arg(long)]
        pubkey: PathBuf,
        #[arg(long, default_value_t = 365)]
        days: u64,
        #[command(flatten)]
        pin: PinArgs,
        #[command(flatten)]
        mgm: MgmArgs,
    },
    /// Print a slot's certificate.
    Export {
        #[arg(value_enum)]
        slot: SlotArg,
        /// DER instead of PEM (to stdout, or to --out).
        #[arg(long)]
        der: bool,
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
pub enum TxCmd {
    /// Sign a transaction text (file, or stdin) with the 9C key.
    Sign {
        file: Option<PathBuf>,
        #[command(flatten)]
        pin: PinArgs,
    },
    /// Verify a transaction text against its signature and the 9C certificate.
    Verify {
        file: Option<PathBuf>,
        /// The signature, base64.
        #[arg(long)]
        signature: String,
        /// Check against this certificate (PEM) instead of the card's.
        #[arg(long)]
        cert: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
pub enum BindCmd {
    /// Bind the card to a device: the binding value in hex (16 to 64 bytes).
    Set {
        value: String,
        #[command(flatten)]
        mgm: MgmArgs,
    },
    /// Present the device's binding value for this session.
    Present { value: String },
    /// Remove the binding.
    Clear {
        #[command(flatten)]
        mgm: MgmArgs,
    },
}

/// A command's failure, with its exit code.
pub enum Failure {
    Card(Error),
    Usage(String),
    NotVerified(String),
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure::Card(e)
    }
}
impl From<String> for Failure {
    fn from(e: String) -> Self {
        Failure::Usage(e)
    }
}

fn exit_code(e: &Error) -> u8 {
    match e {
        Error::Status { .. } => 1,
        Error::Invalid(_) => 2,
        Error::Transport { .. } => 3,
        Error::Malformed { .. } => 5,
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let target = match (&cli.reader, cli.serial, &cli.sim) {
        (Some(r), _, _) => open::Target::Reader(ReaderChoice::Substring(r.clone())),
        (_, Some(s), _) => open::Target::Reader(ReaderChoice::Serial(s)),
        (_, _, Some(p)) if !p.as_os_str().is_empty() => open::Target::Sim(p.clone()),
        _ => open::Target::Sim(open::default_sim_state()),
    };
    match commands::run(&cli, &target) {
        Ok(out) => {
            if cli.json {
                println!("{}", out.json);
            } else if !cli.quiet && !out.text.is_empty() {
                println!("{}", out.text);
            }
            ExitCode::SUCCESS
        }
        Err(f) => {
            let (code, line, hint) = match &f {
                Failure::Card(e) => (exit_code(e), e.to_string(), e.hint()),
                Failure::Usage(m) => (2, m.clone(), None),
                Failure::NotVerified(m) => (4, m.clone(), None),
            };
            if cli.json {
                println!("{}", serde_json::json!({ "error": line, "hint": hint, "exit_code": code }));
            }
            eprintln!("subsim: {line}");
            if let Some(h) = hint {
                eprintln!("hint: {h}");
            }
            ExitCode::from(code)
        }
    }
}
