//! Opening the card the global options name: the embedded simulated card
//! or a card in a PC/SC reader; with `--trace`, every APDU is written to
//! stderr.
//!
//! The embedded card's file is held for as long as the command runs, like a
//! card in a reader (one holder; see `apdu_sim::cardfile`): another program
//! holding it means exit code 7, or a wait with `--wait SECONDS`. Opening
//! writes nothing (a missing card is created only when asked: `subsim init`
//! or `--create`); each write is saved before its answer comes back.

use std::path::{Path, PathBuf};
use std::time::Duration;

use apdu_sim::persist::StateError;
use apdu_sim::{rng, SimCard};
use subsim_host::trace::Tracing;
use subsim_host::{Error, PcscTransport, ReaderChoice, Result, SimTransport, Transport, TransportKind};

/// Where the embedded simulated card lives when no file is named:
/// `$SUBSIM_HOME/card.json`, else `$XDG_DATA_HOME/subsim/card.json`, else
/// `~/.local/share/subsim/card.json`.
/// An empty variable counts as unset, and so does a relative
/// `$XDG_DATA_HOME` (the XDG base directory rules): neither may put the card
/// in whatever folder a command runs from.
pub fn default_sim_state() -> PathBuf {
    if let Some(home) = std::env::var_os("SUBSIM_HOME").filter(|h| !h.is_empty()) {
        return PathBuf::from(home).join("card.json");
    }
    let data = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .filter(|d| d.is_absolute())
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| ".".into())).join(".local/share"));
    data.join("subsim/card.json")
}

/// Which card the global options name.
pub enum Target {
    Sim(PathBuf),
    Reader(ReaderChoice),
}

/// The embedded card in `path`, held (waiting up to `wait` for another
/// holder). A missing file is a fresh card only when `create` says so: a
/// mistyped path must not become a new card.
fn open_sim(path: &Path, create: bool, wait: Duration) -> Result<SimTransport> {
    // Anything at the path (even a dangling link) goes to SimCard::open,
    // which refuses what is not a regular file with its own clear error.
    if !create && path.symlink_metadata().is_err() {
        return Err(Error::Invalid(format!(
            "no card file at {}: create one with `subsim init` (or add --create)",
            path.display()
        )));
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty() && !d.exists()) {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| Error::Invalid(format!("{}: {e}", dir.display())))?;
    }
    match SimCard::open(path, wait, rng::from_os()) {
        Ok(mut card) => {
            // A lab mode for testing hosts (docs/lab.md): the embedded card
            // drops the keys' PIN state on every SELECT, as PivApplet does.
            if std::env::var_os("SUBSIM_SIM_DROP_PIN_ON_RESELECT").is_some_and(|v| v == "1") {
                card.set_drop_pin_on_reselect(true);
            }
            Ok(SimTransport::new(card))
        }
        Err(e @ StateError::InUse { .. }) => Err(Error::transport(
            TransportKind::SharingViolation,
            e.to_string(),
            Some("wait until it is done, or pass --wait SECONDS"),
        )),
        Err(e) => Err(Error::Invalid(e.to_string())),
    }
}

pub fn open(target: &Target, trace: bool, create: bool) -> Result<Box<dyn Transport>> {
    open_waiting(target, trace, create, Duration::ZERO)
}

/// Like [`open`], waiting up to `wait` for a card file another program holds.
pub fn open_waiting(target: &Target, trace: bool, create: bool, wait: Duration) -> Result<Box<dyn Transport>> {
    let t: Box<dyn Transport> = match target {
        Target::Sim(path) => Box::new(open_sim(path, create, wait)?),
        Target::Reader(choice) => Box::new(PcscTransport::connect(choice)?),
    };
    Ok(if trace { Box::new(Tracing::new(t, std::io::stderr())) } else { t })
}
