//! Declarative conformance vectors (`tests/vectors/*.vectors`): one APDU
//! each with the answers its clause allows (format: the comment at the top
//! of `tests/vectors/piv.vectors`). The suite runs them (tests/vectors.rs);
//! the differential sends them to two implementations.

use std::path::{Path, PathBuf};

use applet_spec::Sw;

use crate::Profile;

/// One vector, as written in its file.
#[derive(Debug, Default, Clone)]
pub struct Vector {
    pub file: String,
    pub name: String,
    pub clause: String,
    pub profile: Option<Profile>,
    pub fresh: bool,
    pub login: String,
    pub send: String,
    pub expect: Vec<String>,
    pub variants: Vec<String>,
    pub data: Option<Vec<u8>>,
}

/// Parses one file; a malformed line is an error naming file and line.
pub fn parse(path: &Path) -> Result<Vec<Vector>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let file = path.file_name().unwrap().to_string_lossy().to_string();
    let mut out: Vec<Vector> = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let at = || format!("{file}:{}", n + 1);
        let line = line.split('#').next().unwrap().trim();
        if line.is_empty() {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            out.push(Vector { file: file.clone(), name: name.to_string(), login: "none".into(), ..Default::default() });
            continue;
        }
        let (key, value) = line.split_once('=').ok_or_else(|| format!("{}: expected key = value", at()))?;
        let v = out.last_mut().ok_or_else(|| format!("{}: a [name] line first", at()))?;
        let value = value.trim().to_string();
        let words = || value.split_whitespace().map(str::to_uppercase).collect::<Vec<_>>();
        match key.trim() {
            "clause" => v.clause = value,
            "profile" => v.profile = Some(value.parse().map_err(|e| format!("{}: {e}", at()))?),
            "card" => {
                v.fresh = match value.as_str() {
                    "fresh" => true,
                    "live" => false,
                    _ => return Err(format!("{}: card is live or fresh", at())),
                }
            }
            "login" if ["none", "pin", "admin"].contains(&value.as_str()) => v.login = value,
            "send" => v.send = value,
            "expect" => v.expect = words(),
            "variants" => v.variants = words(),
            "data" => v.data = Some(hex::decode(value.replace(' ', "")).map_err(|e| format!("{}: {e}", at()))?),
            other => return Err(format!("{}: unknown key {other:?}", at())),
        }
    }
    for v in &out {
        let ok = v.profile.is_some() && !v.clause.is_empty() && !v.expect.is_empty();
        let sws_ok = v
            .expect
            .iter()
            .chain(&v.variants)
            .all(|s| s.len() == 4 && s.chars().all(|c| c.is_ascii_hexdigit() || c == 'X'));
        let apdu_ok = hex::decode(v.send.replace(' ', "")).is_ok_and(|a| a.len() >= 4);
        if !(ok && sws_ok && apdu_ok) {
            return Err(format!(
                "{file}: [{}] needs clause, profile, send (hex APDU) and expect (4 hex digits or X)",
                v.name
            ));
        }
        if !v.fresh && v.login != "none" {
            return Err(format!("{file}: [{}]: login needs card = fresh", v.name));
        }
    }
    Ok(out)
}

/// Whether a status word matches a pattern like `63CX`.
pub fn matches(sw: Sw, pattern: &str) -> bool {
    let got = format!("{:04X}", sw.0);
    got.chars().zip(pattern.chars()).all(|(g, p)| p == 'X' || g == p)
}

pub fn vector_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("vectors");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "vectors"))
        .collect();
    files.sort();
    files
}
