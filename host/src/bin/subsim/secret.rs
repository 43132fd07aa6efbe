//! PINs, PUKs and management keys from the user: a hidden prompt by
//! default, a file (`--pin-file`) or an environment variable for
//! automation, or a plain argument (works, with a warning: it lands in the
//! shell history and the process list). Values are wiped when dropped.

use std::io::IsTerminal;

use zeroize::Zeroizing;

/// Where a secret comes from, as the options say.
#[derive(Default, Clone)]
pub struct Source {
    pub plain: Option<String>,
    pub file: Option<std::path::PathBuf>,
}

impl Source {
    /// The secret: the file, the argument, `$env`, or a hidden prompt.
    pub fn get(&self, what: &str, env: &str) -> Result<Zeroizing<String>, String> {
        if let Some(path) = &self.file {
            let text = Zeroizing::new(std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?);
            return Ok(Zeroizing::new(text.trim_end_matches(['\n', '\r']).to_string()));
        }
        if let Some(v) = &self.plain {
            eprintln!("subsim: warning: a {what} given on the command line is visible to other users; prefer a prompt, --pin-file or ${env}");
            return Ok(Zeroizing::new(v.clone()));
        }
        if let Ok(v) = std::env::var(env) {
            return Ok(Zeroizing::new(v));
        }
        if !std::io::stdin().is_terminal() {
            return Err(format!("no {what}: stdin is not a terminal; use --pin-file or ${env}"));
        }
        rpassword::prompt_password(format!("{what}: ")).map(Zeroizing::new).map_err(|e| format!("{what}: {e}"))
    }
}

/// A management key in hex (48, 32 or 64 digits), from `--mgm-key` or
/// `$SUBSIM_MGM_KEY`; the factory key when neither is given.
pub fn mgm_key(arg: Option<&str>) -> Result<Zeroizing<Vec<u8>>, String> {
    let hex_key = arg.map(str::to_string).or_else(|| std::env::var("SUBSIM_MGM_KEY").ok());
    match hex_key {
        None => Ok(Zeroizing::new(applet_spec::piv::DEFAULT_MGM_KEY.to_vec())),
        Some(h) => hex_decode(&h).map(Zeroizing::new).ok_or_else(|| "the management key must be hex".to_string()),
    }
}

pub fn hex_decode(h: &str) -> Option<Vec<u8>> {
    let h: String = h.chars().filter(|c| !c.is_whitespace()).collect();
    if !h.len().is_multiple_of(2) {
        return None;
    }
    (0..h.len()).step_by(2).map(|i| u8::from_str_radix(h.get(i..i + 2)?, 16).ok()).collect()
}
