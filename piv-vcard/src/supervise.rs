//! The process a user starts is a supervisor: it holds the state directory
//! and runs the card in a child process, started again whenever it dies
//! from a panic, as a token reboots: the card leaves the reader (the command
//! in flight goes unanswered) and comes back with its flash as it was.
//! Without `--state`, the flash lives in a private temporary directory that
//! outlives card crashes but not the supervisor.

use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, ExitStatus};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::{platform, CARD_PROCESS};

const POLL: Duration = Duration::from_millis(50);
/// A card that ran this long before crashing is restarted at once again.
const STABLE: Duration = Duration::from_secs(10);
const MAX_PAUSE: Duration = Duration::from_secs(2);

pub fn run(state: Option<&Path>, stop: &AtomicBool) -> ExitCode {
    let (dir, temporary) = match state {
        Some(dir) => (dir.to_path_buf(), false),
        None => (std::env::temp_dir().join(format!("piv-vcard-{}", std::process::id())), true),
    };
    if temporary {
        // A directory of an earlier process with our pid is not ours to keep.
        let _ = std::fs::remove_dir_all(&dir);
    }
    let code = match platform::lock_dir(&dir) {
        Ok(_lock) => supervise(&dir, stop),
        Err(e) => {
            eprintln!("piv-vcard: {}: {e}", dir.display());
            ExitCode::FAILURE
        }
    };
    if temporary {
        let _ = std::fs::remove_dir_all(&dir);
    }
    code
}

fn supervise(dir: &Path, stop: &AtomicBool) -> ExitCode {
    let mut pause = Duration::from_millis(100);
    loop {
        let started = Instant::now();
        let mut card = match spawn(dir) {
            Ok(card) => card,
            Err(e) => {
                eprintln!("piv-vcard: cannot start the card process: {e}");
                return ExitCode::FAILURE;
            }
        };
        let status = match wait(&mut card, stop) {
            Ok(status) => status,
            Err(e) => {
                eprintln!("piv-vcard: lost the card process: {e}");
                let _ = card.kill();
                return ExitCode::FAILURE;
            }
        };
        if stop.load(Ordering::Relaxed) {
            eprintln!("piv-vcard: stopped");
            return ExitCode::SUCCESS;
        }
        match (status.code(), status.signal()) {
            // It exited by itself: a configuration error it has reported.
            (Some(code), _) => return ExitCode::from(u8::try_from(code).unwrap_or(1)),
            (None, signal) => eprintln!(
                "piv-vcard: the card crashed (signal {}); it restarts, as a token reboots",
                signal.unwrap_or(0)
            ),
        }
        if started.elapsed() > STABLE {
            pause = Duration::from_millis(100);
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(MAX_PAUSE);
    }
}

fn spawn(dir: &Path) -> std::io::Result<Child> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    // The card process always keeps its flash in the supervisor's directory.
    if !args.iter().any(|a| a == "--state" || a.starts_with("--state=")) {
        args.push("--state".into());
        args.push(PathBuf::from(dir).to_string_lossy().into_owned());
    }
    Command::new(std::env::current_exe()?).args(args).env(CARD_PROCESS, "1").spawn()
}

/// Waits for the card process to end; on stop, asks it to stop first.
fn wait(card: &mut Child, stop: &AtomicBool) -> std::io::Result<ExitStatus> {
    let mut asked = false;
    loop {
        if let Some(status) = card.try_wait()? {
            return Ok(status);
        }
        if stop.load(Ordering::Relaxed) && !asked {
            // SAFETY: kill(2) on our own child's pid.
            unsafe { libc::kill(card.id() as i32, libc::SIGTERM) };
            asked = true;
        }
        std::thread::sleep(POLL);
    }
}

/// In the card process: end with the supervisor, should it be killed.
pub fn die_with_parent() {
    // SAFETY: prctl with an integer argument; no memory is involved.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) };
}
