//! piv-vcard: an independent PIV card for tests. Nitrokey's piv-authenticator
//! (the PIV application of the Nitrokey 3) runs on trussed's virtual
//! platform and is served to pcscd through vsmartcard's vpcd, so that PC/SC
//! clients see it in a reader like a card in a USB token.

mod card;
mod dispatch;
mod platform;
mod vpcd;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use clap::Parser;

use card::End;
use platform::Storage;

#[derive(Parser)]
#[command(version, about = "Nitrokey's piv-authenticator as a virtual card behind pcscd (vsmartcard vpcd)")]
struct Args {
    /// vpcd's address: reader "Virtual PCD 00 00" listens on port 35963,
    /// "Virtual PCD 00 01" on 35964.
    #[arg(long, default_value = "127.0.0.1:35963", conflicts_with = "port")]
    addr: String,
    /// Shorthand for --addr 127.0.0.1:PORT.
    #[arg(long)]
    port: Option<u16>,
    /// Keep the card's flash images in DIR (created if missing) so that it
    /// keeps its PINs, keys and objects across runs; without it the card
    /// lives in RAM and is new every time.
    #[arg(long, value_name = "DIR")]
    state: Option<PathBuf>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let addr = args.port.map_or(args.addr, |port| format!("127.0.0.1:{port}"));
    let storage = match &args.state {
        None => Storage::Ram,
        Some(dir) => match Storage::dir(dir) {
            Ok(storage) => storage,
            Err(e) => {
                eprintln!("piv-vcard: {}: {e}", dir.display());
                return ExitCode::FAILURE;
            }
        },
    };
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        if let Err(e) = signal_hook::flag::register(signal, Arc::clone(&stop)) {
            eprintln!("piv-vcard: cannot handle signal {signal}: {e}");
            return ExitCode::FAILURE;
        }
    }

    let mut config = storage.config();
    while let Some(mut link) = vpcd::connect(&addr, &stop) {
        eprintln!("piv-vcard: card inserted in vpcd at {addr}");
        let end = loop {
            let end = card::power_on(&mut config, &mut link, &stop);
            platform::after_power_on(&mut config);
            match end {
                Ok(End::PowerCycle) => continue,
                other => break other,
            }
        };
        match end {
            Ok(End::Stop) => break,
            Ok(End::Removed) => eprintln!("piv-vcard: vpcd closed the connection; reconnecting"),
            Ok(End::Crashed) => eprintln!("piv-vcard: the card's software panicked; reinserting the card"),
            Err(e) => eprintln!("piv-vcard: connection to vpcd lost ({e}); reconnecting"),
            Ok(End::PowerCycle) => unreachable!("power cycles continue the session loop"),
        }
        if stop.load(Ordering::Relaxed) {
            break;
        }
    }
    eprintln!("piv-vcard: stopped");
    ExitCode::SUCCESS
}
