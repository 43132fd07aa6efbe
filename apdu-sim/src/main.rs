//! `apdu-sim`: the simulated sub-SIM card as a program.
//!
//! Exit codes: 0 done; 2 an error (a bad script line, a state file refused,
//! a write that could not be saved); 7 ([`EXIT_IN_USE`]) the state file is
//! in use by another program.

use std::io::{self, BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use apdu_sim::cardfile::{parse_wait, EXIT_IN_USE};
use apdu_sim::crypto::RsaBackend;
use apdu_sim::persist::StateError;
use apdu_sim::{rng, script, timing, vpcd, SimCard};
use clap::{Parser, Subcommand};
use signal_hook::consts::{SIGINT, SIGTERM};

#[derive(Parser)]
#[command(
    name = "apdu-sim",
    version,
    about = "The simulated sub-SIM card",
    after_help = format!(
        "Exit codes: 0 done; 2 an error (a bad script line, a state file refused, a write that could not be \
         saved); {EXIT_IN_USE} the state file is in use by another program (see --wait)."
    )
)]
struct Cli {
    /// The library behind RSA private-key operations.
    #[arg(long, global = true, value_enum, default_value = "openssl")]
    rsa_backend: Backend,
    /// Take as long as a real chip: jcop4, j3h145 or secora (key generation
    /// and signing times from published measurements). Default: no delay.
    #[arg(long, global = true, value_name = "PROFILE", value_parser = parse_profile)]
    timing: Option<timing::Profile>,
    /// With --timing: the reader's speed in bits per second (0: instant transfers).
    #[arg(long, global = true, default_value_t = 0, requires = "timing")]
    reader_bps: u32,
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Backend {
    Openssl,
    Rust,
}

fn parse_profile(name: &str) -> Result<timing::Profile, String> {
    timing::profile(name).ok_or_else(|| {
        let names: Vec<&str> = timing::PROFILES.iter().map(|p| p.name).collect();
        format!("unknown profile {name:?}; one of {}", names.join(", "))
    })
}

impl From<Backend> for RsaBackend {
    fn from(b: Backend) -> RsaBackend {
        match b {
            Backend::Openssl => RsaBackend::OpenSsl,
            Backend::Rust => RsaBackend::RustCrypto,
        }
    }
}

#[derive(Subcommand)]
enum Cmd {
    /// Run C-APDUs (hex, one per line) from FILE or stdin; print each R-APDU.
    Script {
        /// Script file; stdin when absent.
        file: Option<PathBuf>,
        /// Card state file, held for the session (created factory-fresh if
        /// absent); every write is saved before its answer is printed.
        #[arg(long)]
        state: Option<PathBuf>,
        /// When another program holds the card file, wait up to SECONDS for
        /// it (default: fail at once, exit code 7).
        #[arg(long, value_name = "SECONDS", requires = "state", value_parser = parse_wait)]
        wait: Option<Duration>,
        /// Seed the card's RNG for a reproducible session (default: OS entropy).
        #[arg(long)]
        seed: Option<u64>,
        /// Fault injection: cut power at persistent write N (counted from 1
        /// over the whole session). That command gets no answer, the state
        /// file keeps what the card held at the cut (what a kill at that
        /// moment leaves), later lines are not run.
        #[arg(long, value_name = "N")]
        tear_at_write: Option<u64>,
    },
    /// Serve the card to pcscd through the vsmartcard vpcd reader driver.
    /// Stops on SIGINT or SIGTERM (every answered write is already saved).
    Vpcd {
        /// Where vpcd listens (35963 is reader "Virtual PCD 00 00", 35964 "00 01").
        #[arg(long, default_value = "127.0.0.1:35963")]
        addr: String,
        /// Card state file, held while serving (created factory-fresh if
        /// absent); every write is saved before its answer leaves. A write
        /// that cannot be saved removes the card and ends the program (exit 2).
        #[arg(long)]
        state: Option<PathBuf>,
        /// When another program holds the card file, wait up to SECONDS for
        /// it (default: fail at once, exit code 7).
        #[arg(long, value_name = "SECONDS", requires = "state", value_parser = parse_wait)]
        wait: Option<Duration>,
        /// Seed the card's RNG for a reproducible card (default: OS entropy).
        #[arg(long)]
        seed: Option<u64>,
        /// Not the sub-SIM: a card answering 9000 to everything at once, the
        /// floor for benchmarks of pcscd and vpcd.
        #[arg(long, conflicts_with_all = ["state", "seed", "wait"])]
        echo: bool,
    },
}

/// How the card behaves beyond its state: RSA backend and timing.
struct Behaviour {
    backend: RsaBackend,
    timing: Option<timing::Profile>,
    reader_bps: u32,
}

/// Why the program ends early: a message and its exit code.
struct Failure {
    code: u8,
    message: String,
}

impl From<String> for Failure {
    fn from(message: String) -> Self {
        Failure { code: 2, message }
    }
}

impl From<StateError> for Failure {
    fn from(e: StateError) -> Self {
        let code = if matches!(e, StateError::InUse { .. }) { EXIT_IN_USE } else { 2 };
        Failure { code, message: e.to_string() }
    }
}

/// The card: held in its state file when one is named (created
/// factory-fresh if absent), else in memory only.
fn open_card(
    state: Option<&Path>,
    wait: Option<Duration>,
    seed: Option<u64>,
    behaviour: &Behaviour,
) -> Result<SimCard, Failure> {
    let rng = seed.map_or_else(rng::from_os, rng::seeded);
    let mut card = match state {
        Some(path) => SimCard::open(path, wait.unwrap_or(Duration::ZERO), rng)?,
        None => {
            let mut rng = rng;
            SimCard::new(apdu_sim::state::Persistent::manufacture(&mut rng), rng)
        }
    };
    card.set_rsa_backend(behaviour.backend);
    let timing_seed = seed.unwrap_or_else(rand::random);
    card.set_timing(behaviour.timing.map(|p| timing::Timing::new(p, behaviour.reader_bps, timing_seed)));
    Ok(card)
}

fn stop_on_signals() -> Result<Arc<AtomicBool>, String> {
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [SIGINT, SIGTERM] {
        signal_hook::flag::register(signal, Arc::clone(&stop)).map_err(|e| format!("signal handler: {e}"))?;
    }
    Ok(stop)
}

fn run_echo(addr: &str) -> Result<(), Failure> {
    vpcd::check_addr(addr)?;
    let stop = stop_on_signals()?;
    Ok(vpcd::serve(&mut vpcd::EchoCard, addr, &stop)?)
}

fn run_vpcd(
    addr: &str,
    state: Option<PathBuf>,
    wait: Option<Duration>,
    seed: Option<u64>,
    behaviour: &Behaviour,
) -> Result<(), Failure> {
    // Until the card is held, SIGTERM and SIGINT keep their default (end at
    // once, even during --wait): nothing is in flight yet. From here on they
    // end the program between commands, each answered write already saved.
    vpcd::check_addr(addr)?;
    let mut card = open_card(state.as_deref(), wait, seed, behaviour)?;
    let stop = stop_on_signals()?;
    vpcd::serve(&mut card, addr, &stop)?;
    eprintln!("apdu-sim: stopped");
    Ok(())
}

fn run_script(
    file: Option<PathBuf>,
    state: Option<PathBuf>,
    wait: Option<Duration>,
    seed: Option<u64>,
    tear_at_write: Option<u64>,
    behaviour: &Behaviour,
) -> Result<(), Failure> {
    let mut input: Box<dyn BufRead> = match &file {
        Some(path) => {
            Box::new(io::BufReader::new(std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?))
        }
        None => Box::new(io::stdin().lock()),
    };
    // The script first: one that cannot be read makes no card.
    let mut card = open_card(state.as_deref(), wait, seed, behaviour)?;
    if let Some(n) = tear_at_write {
        card.tear_at_write(n);
    }
    let mut out = io::stdout().lock();
    let mut line = String::new();
    for i in 0.. {
        if !script::read_line(&mut input, i + 1, &mut line)? {
            break;
        }
        let Some(apdu) = script::parse_line(i + 1, &line).map_err(|e| e.to_string())? else {
            continue;
        };
        // Every write of the command is on disk before its answer is printed.
        let response = card.transmit(&apdu);
        if let Some(why) = card.failure() {
            return Err(format!("line {}: no answer: {why}", i + 1).into());
        }
        if card.power_lost() {
            eprintln!(
                "apdu-sim: power cut at persistent write {} during line {}; later lines not run",
                card.writes() + 1,
                i + 1
            );
            break;
        }
        // Flushed per line, so another program can drive us through pipes.
        writeln!(out, "{}", hex::encode_upper(response))
            .and_then(|()| out.flush())
            .map_err(|e| format!("stdout: {e}"))?;
    }
    if let Some(n) = tear_at_write.filter(|_| !card.power_lost()) {
        eprintln!("apdu-sim: the session made {} persistent writes; write {n} never came", card.writes());
    }
    Ok(())
}

fn main() -> ExitCode {
    // Past `ulimit -f` a write then fails with EFBIG, which a card save
    // treats as a power cut (an error naming the file), instead of the
    // default SIGXFSZ killing the card with no word.
    // SAFETY: SIG_IGN for SIGXFSZ installs no handler code.
    unsafe { libc::signal(libc::SIGXFSZ, libc::SIG_IGN) };
    let cli = Cli::parse();
    let behaviour = Behaviour { backend: cli.rsa_backend.into(), timing: cli.timing, reader_bps: cli.reader_bps };
    let result = match cli.command {
        Cmd::Script { file, state, wait, seed, tear_at_write } => {
            run_script(file, state, wait, seed, tear_at_write, &behaviour)
        }
        Cmd::Vpcd { addr, echo: true, .. } => run_echo(&addr),
        Cmd::Vpcd { addr, state, wait, seed, echo: false } => run_vpcd(&addr, state, wait, seed, &behaviour),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure { code, message }) => {
            eprintln!("apdu-sim: {message}");
            ExitCode::from(code)
        }
    }
}
