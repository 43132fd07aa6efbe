//! PINs, PUKs and management keys from the user: a hidden prompt by
//! default, a file or an environment variable for automation, or a plain
//! argument (works, with a warning: it lands in the shell history and the
//! process list). Values are wiped when dropped. A secret is never read
//! from a terminal without a prompt; a new one is asked twice at a terminal.

use std::io::{IsTerminal, Read};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};

use zeroize::Zeroizing;

use crate::session::TerminalGuard;

/// Set while the lines of a `run` file or a `shell` run: their words are
/// on no command line (no process list, no shell history), so a secret
/// among them is not warned about.
static IN_SESSION: AtomicBool = AtomicBool::new(false);

pub fn set_in_session(on: bool) {
    IN_SESSION.store(on, Ordering::SeqCst);
}

/// The warning for a secret given as a program argument (`what`: "PIN";
/// `better`: the other ways to give it). None inside a session's lines.
pub fn warn_argument(what: &str, better: &str) {
    if !IN_SESSION.load(Ordering::SeqCst) {
        eprintln!("subsim: warning: a {what} given on the command line is visible to other users; prefer {better}");
    }
}

/// An environment variable's value; empty counts as unset (`SUBSIM_PIN=`).
pub fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// Where a secret comes from, as the options say.
#[derive(Default, Clone)]
pub struct Source {
    /// The value given on the command line.
    pub plain: Option<String>,
    /// A file to read it from (`-`: stdin, when it is a pipe).
    pub file: Option<PathBuf>,
    /// The option that names such a file, for messages (`--pin-file`).
    pub file_option: &'static str,
}

impl Source {
    /// A source with only a file option.
    pub fn file(file: Option<PathBuf>, file_option: &'static str) -> Source {
        Source { plain: None, file, file_option }
    }

    /// Whether a value is at hand without asking anyone.
    pub fn given(&self, env: &str) -> bool {
        self.plain.is_some() || self.file.is_some() || self::env(env).is_some()
    }

    /// The secret: the file, the argument, `$env`, or a hidden prompt.
    pub fn get(&self, what: &str, env: &str) -> Result<Zeroizing<String>, String> {
        self.read(what, env, false)
    }

    /// A new secret: as [`Source::get`], but a prompt asks twice.
    pub fn get_new(&self, what: &str, env: &str) -> Result<Zeroizing<String>, String> {
        self.read(what, env, true)
    }

    fn read(&self, what: &str, env: &str, twice: bool) -> Result<Zeroizing<String>, String> {
        if let Some(path) = &self.file {
            let text = if path.as_os_str() == "-" {
                if std::io::stdin().is_terminal() {
                    return Err(format!(
                        "{} - reads the {what} from a pipe, not a terminal: leave it out to be prompted",
                        self.file_option
                    ));
                }
                read_secret(std::io::stdin(), "stdin")?
            } else {
                let name = path.display().to_string();
                read_secret(std::fs::File::open(path).map_err(|e| format!("{name}: {e}"))?, &name)?
            };
            return Ok(Zeroizing::new(text.trim_end_matches(['\n', '\r']).to_string()));
        }
        if let Some(v) = &self.plain {
            warn_argument(what, &format!("a prompt, {} or ${env}", self.file_option));
            return Ok(Zeroizing::new(v.clone()));
        }
        if let Some(v) = self::env(env) {
            return Ok(Zeroizing::new(v));
        }
        if !std::io::stdin().is_terminal() {
            return Err(format!(
                "no {what}: stdin is not a terminal to ask at; use {} FILE or ${env}",
                self.file_option
            ));
        }
        let first = prompt(&format!("{what}: "))?;
        if twice {
            let again = prompt(&format!("{what} again: "))?;
            if *again != *first {
                return Err(format!("the two entries of the {what} differ: nothing changed"));
            }
        }
        Ok(first)
    }
}

/// A hidden prompt on the terminal; Ctrl-C restores its echo.
/// The most a PIN, PUK or key file may hold (a secret and some blank lines).
const MAX_SECRET_FILE: u64 = 4096;

/// A secret file's text, bounded and wiped when dropped (read into room
/// made beforehand, so no copy is left behind by a growing buffer).
fn read_secret(input: impl Read, name: &str) -> Result<Zeroizing<String>, String> {
    read_secret_bounded(input, MAX_SECRET_FILE, name)
}

/// A private key file's bytes (PEM, DER, PKCS#12: `-` is stdin, a pipe),
/// bounded and wiped when dropped.
pub fn read_private_key_bytes(p: &std::path::Path) -> Result<Zeroizing<Vec<u8>>, String> {
    /// An RSA-4096 key in PEM is about 3.3 KB; a PKCS#12 file with its certificate some 7 KB.
    const LIMIT: u64 = 16 << 10;
    let mut bytes = Zeroizing::new(Vec::with_capacity(LIMIT as usize + 1));
    match crate::session::file_arg(p) {
        Some(path) => {
            let name = path.display().to_string();
            let file = std::fs::File::open(path).map_err(|e| format!("{name}: {e}"))?;
            crate::session::read_bounded(file, LIMIT, &name, &mut bytes)?;
        }
        None if std::io::stdin().is_terminal() => {
            return Err("the private key is read from a file or a pipe, not typed at a terminal".into())
        }
        None => crate::session::read_bounded(std::io::stdin(), LIMIT, "stdin", &mut bytes)?,
    }
    Ok(bytes)
}

fn read_secret_bounded(input: impl Read, limit: u64, name: &str) -> Result<Zeroizing<String>, String> {
    let mut bytes = Zeroizing::new(Vec::with_capacity(limit as usize + 1));
    crate::session::read_bounded(input, limit, name, &mut bytes)?;
    let text = std::str::from_utf8(&bytes).map_err(|_| format!("{name}: not text"))?;
    Ok(Zeroizing::new(text.to_string()))
}

pub fn prompt(text: &str) -> Result<Zeroizing<String>, String> {
    let _guard = TerminalGuard::save();
    match rpassword::prompt_password(text) {
        Ok(v) => Ok(Zeroizing::new(v)),
        // Ctrl-C interrupted the read: end as the interrupt handler does.
        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => crate::session::interrupted(),
        Err(e) => Err(format!("{}: {e}", text.trim_end_matches([':', ' ']))),
    }
}

/// A management key in hex (48, 32 or 64 digits), from `--mgm-key-file`,
/// `--mgm-key` (warned about) or `$SUBSIM_MGM_KEY`; None when none is given.
pub fn mgm_key(arg: Option<&str>, file: Option<&std::path::Path>) -> Result<Option<Zeroizing<Vec<u8>>>, String> {
    let source =
        Source { plain: arg.map(str::to_string), file: file.map(PathBuf::from), file_option: "--mgm-key-file" };
    let hex_key = match source.given("SUBSIM_MGM_KEY") {
        true => Some(source.get("management key", "SUBSIM_MGM_KEY")?),
        false => None,
    };
    match hex_key {
        None => Ok(None),
        Some(h) => hex_decode(&h)
            .map(|k| Some(Zeroizing::new(k)))
            .ok_or_else(|| "the management key must be hex (48, 32 or 64 digits)".to_string()),
    }
}

pub fn hex_decode(h: &str) -> Option<Vec<u8>> {
    let h: String = h.chars().filter(|c| !c.is_whitespace()).collect();
    if !h.len().is_multiple_of(2) {
        return None;
    }
    (0..h.len()).step_by(2).map(|i| u8::from_str_radix(h.get(i..i + 2)?, 16).ok()).collect()
}
