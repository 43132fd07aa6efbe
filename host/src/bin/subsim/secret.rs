//! PINs, PUKs and management keys from the user: a hidden prompt by
//! default, a file or an environment variable for automation, or a plain
//! argument (works, with a warning: it lands in the shell history and the
//! process list). Values are wiped when dropped. A secret is never read
//! from a terminal without a prompt; a new one is asked twice at a terminal.

use std::io::{IsTerminal, Read};
use std::path::PathBuf;

use zeroize::Zeroizing;

use crate::session::TerminalGuard;

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
        self.plain.is_some() || self.file.is_some() || std::env::var_os(env).is_some()
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
            eprintln!(
                "subsim: warning: a {what} given on the command line is visible to other users; prefer a prompt, {} or ${env}",
                self.file_option
            );
            return Ok(Zeroizing::new(v.clone()));
        }
        if let Ok(v) = std::env::var(env) {
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

/// The most a private key file may hold (an RSA-4096 key in PEM is about 3.3 KB).
const MAX_PRIVATE_KEY_FILE: u64 = 16 << 10;

/// A private key file's text (`-`: stdin, a pipe), as [`read_secret`] reads.
pub fn read_private_key(p: &std::path::Path) -> Result<Zeroizing<String>, String> {
    match crate::session::file_arg(p) {
        Some(path) => {
            let name = path.display().to_string();
            let file = std::fs::File::open(path).map_err(|e| format!("{name}: {e}"))?;
            read_secret_bounded(file, MAX_PRIVATE_KEY_FILE, &name)
        }
        None if std::io::stdin().is_terminal() => {
            Err("the private key is read from a file or a pipe, not typed at a terminal".into())
        }
        None => read_secret_bounded(std::io::stdin(), MAX_PRIVATE_KEY_FILE, "stdin"),
    }
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

/// A management key in hex (48, 32 or 64 digits), from `--mgm-key` or
/// `$SUBSIM_MGM_KEY`; None when neither is given.
pub fn mgm_key(arg: Option<&str>) -> Result<Option<Zeroizing<Vec<u8>>>, String> {
    let hex_key =
        arg.map(|s| Zeroizing::new(s.to_string())).or_else(|| std::env::var("SUBSIM_MGM_KEY").ok().map(Zeroizing::new));
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
