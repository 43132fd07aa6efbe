//! Opening the card the global options name: the embedded simulated card
//! (state in a file, saved after every command that changes it) or a card
//! in a PC/SC reader; with `--trace`, every APDU is written to stderr.

use std::path::{Path, PathBuf};

use apdu_sim::{persist, rng, SimCard};
use subsim_host::trace::Tracing;
use subsim_host::{Capabilities, Error, PcscTransport, ReaderChoice, Result, SimTransport, Transport};

/// Where the embedded simulated card lives when no file is named:
/// `$SUBSIM_HOME/card.json`, else `$XDG_DATA_HOME/subsim/card.json`, else
/// `~/.local/share/subsim/card.json`.
pub fn default_sim_state() -> PathBuf {
    if let Some(home) = std::env::var_os("SUBSIM_HOME") {
        return PathBuf::from(home).join("card.json");
    }
    let data = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| ".".into())).join(".local/share"));
    data.join("subsim/card.json")
}

/// The simulated card, saved to its file after every command that wrote.
struct SavedSim {
    sim: SimTransport,
    path: PathBuf,
}

impl SavedSim {
    /// Opens the card kept in `path`; a missing file is a fresh card only
    /// when `create` says so (a mistyped path must not become a new card).
    fn open(path: &Path, create: bool) -> Result<SavedSim> {
        if !create && !path.exists() {
            return Err(Error::Invalid(format!(
                "no card file at {}: create one with `subsim init` (or add --create)",
                path.display()
            )));
        }
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| Error::Invalid(format!("{}: {e}", dir.display())))?;
        }
        let mut rng = rng::from_os();
        let state = persist::load(path)
            .map_err(|e| Error::Invalid(e.to_string()))?
            .unwrap_or_else(|| apdu_sim::state::Persistent::manufacture(&mut rng));
        let s = SavedSim { sim: SimTransport::new(SimCard::new(state, rng)), path: path.to_owned() };
        s.save()?;
        Ok(s)
    }
    fn save(&self) -> Result<()> {
        persist::save(&self.path, self.sim.card().persistent()).map_err(|e| Error::Invalid(e.to_string()))
    }
}

impl Transport for SavedSim {
    fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>> {
        let writes = self.sim.card().writes();
        let answer = self.sim.transmit(apdu)?;
        if self.sim.card().writes() != writes {
            self.save()?;
        }
        Ok(answer)
    }
    fn capabilities(&self) -> Capabilities {
        self.sim.capabilities()
    }
    fn describe(&self) -> String {
        format!("simulated card ({})", self.path.display())
    }
    fn reset(&mut self) -> Result<()> {
        self.sim.reset()
    }
    fn exclusive(&mut self, f: &mut dyn FnMut(&mut dyn Transport) -> Result<()>) -> Result<()> {
        f(self)
    }
}

/// Which card the global options name.
pub enum Target {
    Sim(PathBuf),
    Reader(ReaderChoice),
}

pub fn open(target: &Target, trace: bool, create: bool) -> Result<Box<dyn Transport>> {
    let t: Box<dyn Transport> = match target {
        Target::Sim(path) => Box::new(SavedSim::open(path, create)?),
        Target::Reader(choice) => Box::new(PcscTransport::connect(choice)?),
    };
    Ok(if trace { Box::new(Tracing::new(t, std::io::stderr())) } else { t })
}
