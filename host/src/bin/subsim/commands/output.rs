//! The output contract: what a command gives back, how a failure is
//! reported (words, JSON, exit code), and the words used for the card's enums.

use super::*;

/// What a command gives back: words for people, JSON for programs, and
/// for binary results (a raw signature, DER) the bytes written as they are.
pub struct Out {
    pub text: String,
    pub json: Value,
    pub bytes: Option<Vec<u8>>,
}

/// A result in words and JSON.
pub fn out(text: impl Into<String>, json: Value) -> Result<Out, Failure> {
    Ok(Out { text: text.into(), json, bytes: None })
}

/// A string from outside (a certificate's subject, a CRL's issuer, a card's
/// label, a file's content) as it may be shown on a terminal or in plain
/// output: every character that could move the cursor, recolour, hide or
/// reorder text is written visibly as an escape, so a certificate cannot
/// forge a line of our output. Control characters (C0, DEL, C1, so ANSI
/// escapes and NUL) become `\n`, `\0`, `\x1b`...; bidirectional and
/// invisible format characters (U+202E, U+2066, U+200B, U+FEFF...) become
/// `\u{202e}`. JSON carries the exact value instead. The one place this is done.
pub fn shown(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\0' => out.push_str("\\0"),
            c if (c as u32) < 0x80 && c.is_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if c.is_control() || is_format(c) => out.push_str(&format!("\\u{{{:04x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// Unicode format characters that reorder or hide text (bidi controls,
/// zero-width characters, tags, the line and paragraph separators).
fn is_format(c: char) -> bool {
    matches!(c as u32,
        0x00AD | 0x061C | 0x180E | 0x200B..=0x200F | 0x2028..=0x202E | 0x2060..=0x2064 | 0x2066..=0x206F
        | 0xFEFF | 0xFFF9..=0xFFFB | 0xE0001 | 0xE0020..=0xE007F)
}

/// A command's failure. Each kind has its exit code and JSON `kind`.
pub enum Failure {
    /// The card or transport failed; see [`explain()`] for the meaning.
    Card(Error),
    /// The card refused, explained for the command.
    Refused(Refusal),
    /// Bad input or usage (exit 2).
    Usage(String),
    /// A signature or login did not verify (exit 4).
    NotVerified(String),
    /// The card lacks the feature (exit 6).
    Unsupported(String),
    /// The card did not answer in time (exit 3).
    Timeout(String),
    /// Ctrl-C or another signal (exit 130).
    Interrupted,
    /// A failure that still has results to show: the object's fields are
    /// added to the error's JSON (`apdu`'s answers, say).
    WithData(Box<Failure>, Value),
}

/// A card's refusal, in words for the command that met it.
pub struct Refusal {
    pub message: String,
    pub hint: Option<String>,
    pub sw: Sw,
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure::Card(e)
    }
}
impl From<String> for Failure {
    fn from(e: String) -> Self {
        Failure::Usage(e)
    }
}

/// A failure as printed: the same fields in words and in JSON.
pub struct Report {
    pub kind: &'static str,
    pub code: u8,
    pub message: String,
    pub hint: Option<String>,
    pub sw: Option<Sw>,
    pub tries_left: Option<u8>,
    /// More fields for the JSON object.
    pub data: Option<Value>,
}

impl Report {
    /// `{"ok": false, "error", "kind", "exit_code", "hint"?, "sw"?, "tries_left"?}`
    pub fn json(&self) -> Value {
        let mut j = json!({ "ok": false, "error": self.message, "kind": self.kind, "exit_code": self.code });
        if let Some(h) = &self.hint {
            j["hint"] = h.as_str().into();
        }
        if let Some(sw) = self.sw {
            j["sw"] = format!("{:04X}", sw.0).into();
        }
        if let Some(n) = self.tries_left {
            j["tries_left"] = n.into();
        }
        if let Some(Value::Object(data)) = &self.data {
            for (k, v) in data {
                j[k] = v.clone();
            }
        }
        j
    }
}

pub fn tries_left(sw: Sw) -> Option<u8> {
    sw.retries().or((sw == Sw::AUTH_METHOD_BLOCKED).then_some(0))
}

impl Failure {
    pub fn report(&self) -> Report {
        let plain = |kind, code, message: &str| Report {
            kind,
            code,
            message: message.to_string(),
            hint: None,
            sw: None,
            tries_left: None,
            data: None,
        };
        match self {
            Failure::Card(e) => {
                let (kind, code) = match e {
                    Error::Status { .. } => ("card_refused", 1),
                    Error::Invalid(_) => ("usage", 2),
                    Error::Transport { kind: TransportKind::SharingViolation, .. } => {
                        ("in_use", apdu_sim::cardfile::EXIT_IN_USE)
                    }
                    Error::Transport { kind: TransportKind::AccessDenied, .. } => ("access_denied", 1),
                    Error::Transport { .. } => ("transport", 3),
                    Error::Malformed { .. } => ("malformed", 5),
                };
                Report {
                    kind,
                    code,
                    message: e.to_string(),
                    hint: e.hint().map(str::to_string),
                    sw: e.sw(),
                    tries_left: e.sw().and_then(tries_left),
                    data: None,
                }
            }
            Failure::Refused(r) => Report {
                kind: "card_refused",
                code: 1,
                message: r.message.clone(),
                hint: r.hint.clone(),
                sw: Some(r.sw),
                tries_left: tries_left(r.sw),
                data: None,
            },
            Failure::Usage(m) => plain("usage", 2, m),
            Failure::NotVerified(m) => plain("not_verified", 4, m),
            Failure::Unsupported(m) => plain("unsupported", 6, m),
            Failure::Timeout(m) => plain("timeout", 3, m),
            Failure::Interrupted => plain("interrupted", 130, "interrupted"),
            Failure::WithData(inner, data) => Report { data: Some(data.clone()), ..inner.report() },
        }
    }
}

/// The command line did not parse: help and version as clap prints them,
/// anything else a usage error (exit 2), as JSON too when `--json` is among
/// the arguments.
pub fn usage_error(e: clap::Error, args: &[std::ffi::OsString]) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
        session::stdout(e.render().to_string().as_bytes());
        return ExitCode::SUCCESS;
    }
    let json = args.iter().skip(1).take_while(|a| *a != "--").any(|a| a == "--json");
    if json {
        let message = e.render().to_string();
        let first = message.lines().next().unwrap_or("").trim_start_matches("error: ").to_string();
        let r = Report { kind: "usage", code: 2, message: first, hint: None, sw: None, tries_left: None, data: None };
        session::stdout(format!("{}\n", r.json()).as_bytes());
    }
    let _ = e.print();
    ExitCode::from(2)
}

/// The words output uses for the card's enums.
pub mod names {
    use super::*;

    pub fn slot(s: Slot) -> String {
        s.to_string()
    }
    pub fn mgm_algorithm(a: MgmAlgorithm) -> &'static str {
        match a {
            MgmAlgorithm::TripleDes => "3des",
            MgmAlgorithm::Aes128 => "aes128",
            MgmAlgorithm::Aes192 => "aes192",
            MgmAlgorithm::Aes256 => "aes256",
        }
    }
    pub fn mgm_label(a: MgmAlgorithm) -> &'static str {
        match a {
            MgmAlgorithm::TripleDes => "3DES",
            MgmAlgorithm::Aes128 => "AES-128",
            MgmAlgorithm::Aes192 => "AES-192",
            MgmAlgorithm::Aes256 => "AES-256",
        }
    }
    pub fn pin_entry(p: PinEntry) -> &'static str {
        match p {
            PinEntry::Any => "any",
            PinEntry::KeypadOnly => "keypad_only",
        }
    }
    pub fn binding(b: BindingState) -> &'static str {
        match b {
            BindingState::None => "none",
            BindingState::Required => "required",
            BindingState::Presented => "presented",
            BindingState::Blocked => "blocked",
        }
    }
}

pub fn mgm_alg(a: MgmAlg) -> MgmAlgorithm {
    match a {
        MgmAlg::TripleDes => MgmAlgorithm::TripleDes,
        MgmAlg::Aes128 => MgmAlgorithm::Aes128,
        MgmAlg::Aes192 => MgmAlgorithm::Aes192,
        MgmAlg::Aes256 => MgmAlgorithm::Aes256,
    }
}

#[cfg(test)]
mod tests {
    use super::shown;

    #[test]
    fn foreign_strings_are_shown_with_every_control_and_bidi_character_visible() {
        let forged =
            "Mallory\nlogin refused (revoked): x\r\x1b[2K\x1b[1A\0\u{202e}KO\u{2066}\u{200b}\u{9b}\u{7f}\u{feff}";
        let s = shown(forged);
        assert_eq!(
            s,
            "Mallory\\nlogin refused (revoked): x\\r\\x1b[2K\\x1b[1A\\0\\u{202e}KO\\u{2066}\\u{200b}\\u{009b}\\x7f\\u{feff}"
        );
        assert!(s.chars().all(|c| !c.is_control()));
        assert_eq!(shown("CN=Alice,O=Bank äöü 日本"), "CN=Alice,O=Bank äöü 日本", "ordinary text stays as it is");
    }
}
