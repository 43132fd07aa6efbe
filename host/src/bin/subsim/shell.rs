//! `subsim shell` at a terminal: line editing (rustyline), history, Ctrl-C
//! cancels the line being typed, Ctrl-D (or `exit`) ends the session.
//!
//! History is kept for the session, and across sessions in
//! `shell_history` beside the default card file (mode 0600), except lines
//! that may carry a secret (a PIN, a key or a binding value given on the
//! line): those are never written to the file.

use rustyline::error::ReadlineError;
use rustyline::history::DefaultHistory;
use rustyline::{Config, Editor};

use crate::session::{self, Opts, Session};

/// Options whose value is a secret, and commands whose argument is one.
const SECRET_OPTIONS: [&str; 4] = ["--pin", "--mgm-key", "--binding", "--new-key"];

/// Whether a line may hold a secret, so it stays out of the history file.
pub fn may_hold_secret(line: &str) -> bool {
    let words = shlex::split(line).unwrap_or_default();
    let option = words.iter().any(|w| SECRET_OPTIONS.iter().any(|o| w == o || w.starts_with(&format!("{o}="))));
    let argument = words.windows(2).any(|w| {
        matches!(
            (w[0].as_str(), w[1].as_str()),
            ("bind", "set" | "present") | ("mgm", "set") | ("mgm", "change-management-key")
        )
    });
    option || argument || words.iter().any(|w| session::looks_secret(w))
}

fn history_file() -> std::path::PathBuf {
    crate::open::default_sim_state().with_file_name("shell_history")
}

/// The interactive loop; the last command's exit code.
pub fn run(s: &mut Session, outer: &Opts) -> u8 {
    let config = Config::builder().auto_add_history(false).max_history_size(1000).map(|b| b.build());
    let editor = config
        .map_err(|e| e.to_string())
        .and_then(|c| Editor::<(), DefaultHistory>::with_config(c).map_err(|e| e.to_string()));
    let mut editor = match editor {
        Ok(e) => e,
        Err(e) => {
            eprintln!("subsim: the line editor: {e}");
            return 2;
        }
    };
    let file = history_file();
    let _ = editor.load_history(&file);
    // The lines kept in the file: the loaded ones and the new ones without secrets.
    let mut keep: Vec<String> = editor.history().iter().cloned().collect();
    let (mut last, mut number) = (0, 0);
    loop {
        match editor.readline("subsim> ") {
            Ok(line) => {
                let trimmed = line.trim();
                if trimmed.is_empty() {
                    continue;
                }
                let _ = editor.add_history_entry(trimmed);
                if !may_hold_secret(trimmed) {
                    keep.push(trimmed.to_string());
                }
                match trimmed {
                    "exit" | "quit" => break,
                    "help" => {
                        let mut c = <crate::Cli as clap::CommandFactory>::command();
                        let _ = c.print_help();
                        continue;
                    }
                    _ => {}
                }
                number += 1;
                if let Some(code) = session::run_line(s, outer, &line, number) {
                    last = code;
                }
            }
            // Ctrl-C: the line is dropped, the session goes on.
            Err(ReadlineError::Interrupted) => {
                if !outer.quiet {
                    eprintln!("(line cancelled; Ctrl-D ends the session)");
                }
            }
            Err(ReadlineError::Eof) => break,
            Err(e) => {
                eprintln!("subsim: {e}");
                last = 2;
                break;
            }
        }
    }
    save_history(&file, &keep);
    last
}

/// The history file, written whole (0600: it is the user's own record).
fn save_history(file: &std::path::Path, lines: &[String]) {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let Some(dir) = file.parent() else { return };
    if !dir.is_dir() {
        return;
    }
    let start = lines.len().saturating_sub(1000);
    let mut f = match std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(file) {
        Ok(f) => f,
        Err(_) => return,
    };
    // rustyline's own format: a version line, then one entry per line.
    let _ = writeln!(f, "#V2");
    for l in &lines[start..] {
        let _ = writeln!(f, "{}", l.replace('\\', "\\\\"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_with_secrets_stay_out_of_the_history_file() {
        for line in [
            "pin verify --pin 123456",
            "mgm auth --mgm-key=0102030405060708010203040506070801020304050607",
            "bind present 5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a",
            "mgm set aes128 00112233445566778899aabbccddeeff",
            "login --binding 5a5a",
            "pin verify 123456",
        ] {
            assert!(may_hold_secret(line), "{line}");
        }
        for line in ["info", "pin verify", "key generate 9a --algorithm p256", "login --binding-file phone.bin"] {
            assert!(!may_hold_secret(line), "{line}");
        }
    }
}
