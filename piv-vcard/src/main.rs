//! piv-vcard: an independent PIV card for tests. Nitrokey's piv-authenticator
//! (the PIV application of the Nitrokey 3) runs on trussed's virtual
//! platform and is served to pcscd through vsmartcard's vpcd, so that PC/SC
//! clients see it in a reader like a card in a USB token.

mod card;
mod dispatch;
mod flash;
mod platform;
mod supervise;
mod vpcd;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use card::End;

const USAGE: &str = "\
Usage: piv-vcard [--port PORT | --addr HOST:PORT] [--state DIR]

Nitrokey's piv-authenticator as a virtual card behind pcscd (vsmartcard vpcd).

  --addr HOST:PORT  vpcd's address (default 127.0.0.1:35963: reader \"Virtual PCD 00 00\";
                    35964 is \"Virtual PCD 00 01\")
  --port PORT       shorthand for --addr 127.0.0.1:PORT
  --state DIR       keep the card's flash images in DIR (created if missing), so that it
                    keeps its PINs, keys and objects across runs; without it the card
                    lives in RAM and is new every time
  -h, --help        this text
  -V, --version     the version
";

/// The command line. Three options do not justify clap: it would be the
/// slowest crate of this build, and CI builds it from scratch every time.
struct Args {
    addr: String,
    state: Option<PathBuf>,
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut addr = String::from("127.0.0.1:35963");
    let mut state = None;
    while let Some(arg) = args.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((name, value)) if name.starts_with("--") => (name.to_string(), Some(value.to_string())),
            _ => (arg, None),
        };
        let mut value = || inline.clone().or_else(|| args.next()).ok_or(format!("{name} needs a value"));
        match name.as_str() {
            "--addr" => addr = value()?,
            "--port" => {
                let port: u16 = value()?.parse().map_err(|_| "--port needs a port number".to_string())?;
                addr = format!("127.0.0.1:{port}");
            }
            "--state" => state = Some(PathBuf::from(value()?)),
            "-h" | "--help" => {
                print!("{USAGE}");
                std::process::exit(0);
            }
            "-V" | "--version" => {
                println!("piv-vcard {}", env!("CARGO_PKG_VERSION"));
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(Args { addr, state })
}

/// Set in the card process's environment by the supervisor.
const CARD_PROCESS: &str = "PIV_VCARD_CARD_PROCESS";

fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(e) => {
            eprint!("piv-vcard: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        if let Err(e) = signal_hook::flag::register(signal, Arc::clone(&stop)) {
            eprintln!("piv-vcard: cannot handle signal {signal}: {e}");
            return ExitCode::FAILURE;
        }
    }
    match (std::env::var_os(CARD_PROCESS), &args.state) {
        (Some(_), Some(dir)) => card_process(&args.addr, dir, &stop),
        _ => supervise::run(args.state.as_deref(), &stop),
    }
}

/// The card itself: serves vpcd until stopped. A panic anywhere aborts the
/// process, as it resets a token: piv-authenticator's key guards panic again
/// while unwinding, and trussed's service thread would never be joined.
fn card_process(addr: &str, dir: &Path, stop: &AtomicBool) -> ExitCode {
    supervise::die_with_parent();
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        default_hook(info);
        std::process::abort();
    }));
    let mut config = match platform::store_config(dir) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("piv-vcard: the card's flash images in {}: {e}", dir.display());
            return ExitCode::FAILURE;
        }
    };
    while let Some(mut link) = vpcd::connect(addr, stop) {
        eprintln!("piv-vcard: card inserted in vpcd at {addr}");
        let end = loop {
            let end = card::power_on(&mut config, &mut link, stop);
            platform::after_power_on(&mut config);
            match end {
                Ok(End::PowerCycle) => continue,
                other => break other,
            }
        };
        match end {
            Ok(End::Stop) => break,
            Ok(End::Removed) => eprintln!("piv-vcard: vpcd closed the connection; reconnecting"),
            Err(e) => eprintln!("piv-vcard: connection to vpcd lost ({e}); reconnecting"),
            Ok(End::PowerCycle) => unreachable!("power cycles continue the session loop"),
        }
        if stop.load(Ordering::Relaxed) {
            break;
        }
    }
    ExitCode::SUCCESS
}
