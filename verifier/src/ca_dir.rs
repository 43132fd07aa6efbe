//! A test CA's directory, held like a card in a reader (the card files'
//! mechanism, `apdu_sim::cardfile::HeldFile`): one holder at a time, every
//! change one durable state.
//!
//! - **One state file**, `ca.json` (0600: it holds the private key): the
//!   key, the certificate, every issued and revoked certificate and the
//!   last CRL number, together. It is replaced whole (temporary file,
//!   fsync, rename, folder fsync), so after any kill the CA is the state
//!   before or after a change, never a mix: key and certificate never
//!   disagree, and nothing is printed before it is in the state.
//! - **One holder**: the holder keeps an exclusive lock on the state file;
//!   a second process waits (`wait`) or gets [`CaError::InUse`].
//! - **Published beside it**, each replaced atomically with exactly 0644
//!   whatever the umask, never through a symlink: `ca.pem` (the
//!   certificate; written again on open when it does not match the state,
//!   e.g. after a kill during `init --force`), `README.txt`, `crl.pem`, and
//!   `issued/<serial>.pem`. A CRL is published only after its number is in
//!   the state, so a number is never used twice.
//! - **Leftovers**: a killed writer's temporary files (ours, unlocked) are
//!   removed on the next open; any other file is left alone.
//! - **Reads are bounded**: the state file at most [`MAX_STATE_LEN`] bytes,
//!   a regular file, never through a symlink or from a FIFO or device.

use std::fs;
use std::io::Read;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use apdu_sim::cardfile::{remove_stale_temporaries, replace_file, HeldFile};
use apdu_sim::persist::StateError;
use zeroize::Zeroizing;

use crate::testca::{CaError, TestCa, README};

/// The file holding a CA's whole state.
pub const STATE_FILE: &str = "ca.json";
/// The largest state file read (16 MiB: some 80,000 issued certificates).
pub const MAX_STATE_LEN: u64 = 16 << 20;
/// Files of an older layout (key and records apart): refused, replaced by `init --force`.
const OLD_LAYOUT: [&str; 2] = ["ca-key.pem", "state.json"];
/// Mode of what the CA publishes.
const PUBLIC: u32 = 0o644;

/// A CA directory held by this process: its [`TestCa`] and the lock.
pub struct CaDirectory {
    dir: PathBuf,
    held: HeldFile,
    ca: TestCa,
}

fn file_error(path: &Path, detail: impl std::fmt::Display) -> CaError {
    CaError::File { path: path.display().to_string(), detail: detail.to_string() }
}

/// The held file's errors in the CA's words.
fn state_error(dir: &Path, e: StateError) -> CaError {
    match e {
        StateError::InUse { holder, .. } => CaError::InUse { dir: dir.display().to_string(), holder },
        StateError::Io { path, source } => file_error(&path, source),
        StateError::Invalid { path, problem } => file_error(&path, problem),
        StateError::NotRegular { path, what } => file_error(&path, format!("{what}, not a regular file")),
        StateError::ReadOnly { path, why } => file_error(&path, format!("read-only ({why})")),
    }
}

impl CaDirectory {
    /// Holds the CA in `dir`, waiting up to `wait` for another holder.
    pub fn open(dir: &Path, wait: Duration) -> Result<CaDirectory, CaError> {
        let path = dir.join(STATE_FILE);
        let held = match HeldFile::open_existing(&path, wait, MAX_STATE_LEN) {
            Ok(h) => h,
            Err(StateError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
                return Err(CaError::Invalid(if OLD_LAYOUT.iter().any(|f| dir.join(f).exists()) {
                    format!(
                        "{} holds a test CA of an older layout (ca-key.pem, state.json): \
                         replace it with `subsim ca init --force`",
                        dir.display()
                    )
                } else {
                    format!("{} holds no test CA (make one with `subsim ca init`)", dir.display())
                }));
            }
            Err(e) => return Err(state_error(dir, e)),
        };
        let ca = TestCa::from_state(&held.bytes).map_err(|e| file_error(&path, e))?;
        let mut d = CaDirectory { dir: dir.to_owned(), held: held.file, ca };
        d.tidy()?;
        Ok(d)
    }

    /// Makes a CA in `dir` (created 0700 if missing) with `make`, or with
    /// `force` replaces the one there. `Ok((held, false))` when `dir`
    /// already holds a CA and `force` is not given: nothing changed.
    pub fn create(
        dir: &Path,
        wait: Duration,
        force: bool,
        make: impl FnOnce() -> Result<TestCa, CaError>,
    ) -> Result<(CaDirectory, bool), CaError> {
        if !force && OLD_LAYOUT.iter().any(|f| dir.join(f).exists()) {
            return Err(CaError::Invalid(format!(
                "{} already holds a CA of an older layout (use --force to replace it)",
                dir.display()
            )));
        }
        fs::DirBuilder::new().recursive(true).mode(0o700).create(dir).map_err(|e| file_error(dir, e))?;
        let path = dir.join(STATE_FILE);
        let mut make = Some(make);
        let (mut made, mut failed) = (None, None);
        let new = || {
            let bytes = (make.take().expect("called once"))().and_then(|ca| ca.to_state().map(|b| (ca, b)));
            match bytes {
                Ok((ca, b)) => {
                    made = Some(ca);
                    Ok(Zeroizing::new(b))
                }
                Err(e) => {
                    let problem = e.to_string();
                    failed = Some(e);
                    Err(StateError::Invalid { path: path.clone(), problem })
                }
            }
        };
        let held = match HeldFile::open(&path, wait, MAX_STATE_LEN, Some(new)) {
            Ok(h) => h,
            Err(e) => return Err(failed.unwrap_or_else(|| state_error(dir, e))),
        };
        let (ca, changed, file) = match made {
            Some(ca) if held.created => (ca, true, held.file),
            _ if !force => {
                let ca = TestCa::from_state(&held.bytes).map_err(|e| file_error(&path, e))?;
                (ca, false, held.file)
            }
            _ => {
                let ca = (make.take().expect("not called: the file existed"))()?;
                let mut file = held.file;
                file.save(&Zeroizing::new(ca.to_state()?)).map_err(|e| state_error(dir, e))?;
                (ca, true, file)
            }
        };
        let mut d = CaDirectory { dir: dir.to_owned(), held: file, ca };
        d.tidy()?;
        Ok((d, changed))
    }

    /// Whether `dir` holds a CA (of this or an older layout).
    pub fn holds_a_ca(dir: &Path) -> bool {
        std::iter::once(STATE_FILE).chain(OLD_LAYOUT).any(|f| fs::symlink_metadata(dir.join(f)).is_ok())
    }

    /// The CA's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The CA as held.
    pub fn ca(&self) -> &TestCa {
        &self.ca
    }

    /// The CA, to change; [`CaDirectory::commit`] makes the change count.
    pub fn ca_mut(&mut self) -> &mut TestCa {
        &mut self.ca
    }

    /// Writes the CA's whole state, durably, before anything is published
    /// or printed about the change.
    pub fn commit(&mut self) -> Result<(), CaError> {
        let state = Zeroizing::new(self.ca.to_state()?);
        self.held.save(&state).map_err(|e| state_error(&self.dir, e))
    }

    /// Publishes `bytes` as `name` in the CA's directory (0644, atomic).
    pub fn publish(&self, name: &str, bytes: &[u8]) -> Result<PathBuf, CaError> {
        let path = self.dir.join(name);
        replace_file(&path, bytes, PUBLIC).map_err(|e| file_error(&path, e))?;
        Ok(path)
    }

    /// Publishes an issued certificate as `issued/<serial>.pem`.
    pub fn publish_issued(&self, serial: &str, pem: &[u8]) -> Result<PathBuf, CaError> {
        let issued = self.issued_dir()?;
        let path = issued.join(format!("{serial}.pem"));
        replace_file(&path, pem, PUBLIC).map_err(|e| file_error(&path, e))?;
        Ok(path)
    }

    /// `issued/`, created 0755 if missing; a symlink or file there is refused.
    fn issued_dir(&self) -> Result<PathBuf, CaError> {
        let issued = self.dir.join("issued");
        match fs::DirBuilder::new().mode(0o755).create(&issued) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(file_error(&issued, e)),
        }
        match fs::symlink_metadata(&issued) {
            Ok(m) if m.is_dir() => Ok(issued),
            Ok(_) => Err(file_error(&issued, "not a directory (a symlink or file is never followed)")),
            Err(e) => Err(file_error(&issued, e)),
        }
    }

    /// After a kill: `ca.pem` and `README.txt` as the state says, old-layout
    /// files and our stale temporary files gone.
    fn tidy(&mut self) -> Result<(), CaError> {
        let cert = self.ca.certificate().to_pem()?;
        for (name, want) in [("ca.pem", &cert[..]), ("README.txt", README.as_bytes())] {
            if read_small(&self.dir.join(name)).as_deref() != Some(want) {
                self.publish(name, want)?;
            }
        }
        for old in OLD_LAYOUT {
            let p = self.dir.join(old);
            if fs::symlink_metadata(&p).is_ok_and(|m| m.is_file() || m.file_type().is_symlink()) {
                let _ = fs::remove_file(&p);
            }
        }
        remove_stale_temporaries(&self.dir);
        if fs::symlink_metadata(self.dir.join("issued")).is_ok_and(|m| m.is_dir()) {
            remove_stale_temporaries(&self.dir.join("issued"));
        }
        Ok(())
    }
}

/// A published file's bytes if it is a regular file of at most 1 MiB (never through a link).
fn read_small(path: &Path) -> Option<Vec<u8>> {
    let f = fs::OpenOptions::new().read(true).custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK).open(path).ok()?;
    if !f.metadata().ok()?.is_file() {
        return None;
    }
    let mut bytes = Vec::new();
    f.take(1 << 20).read_to_end(&mut bytes).ok()?;
    Some(bytes)
}
