//! The APDU script format: one C-APDU per line as hex (spaces allowed),
//! blank lines and `#` comments ignored. A line is at most [`MAX_LINE`]
//! bytes: the longest extended APDU, spaced out, is a fifth of that.

use std::io::{BufRead, Read};

/// The longest script line read (1 MiB); a longer one is refused before
/// it is all in memory.
pub const MAX_LINE: usize = 1 << 20;

/// How much of a bad line an error repeats: the header's 8 hex digits at
/// most (the data may be a PIN or a key; the line may be huge).
const ECHO: usize = 8;

/// A line that is not a C-APDU.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: not valid hex: {text:?}")]
pub struct ScriptError {
    /// Line number, from 1.
    pub line: usize,
    /// The line as read.
    pub text: String,
}

/// Parses one script line (1-based `line` number for errors): `Ok(None)` for
/// a blank or comment line.
pub fn parse_line(line: usize, text: &str) -> Result<Option<Vec<u8>>, ScriptError> {
    let code = text.split('#').next().unwrap_or("");
    let compact: String = code.split_whitespace().collect();
    if compact.is_empty() {
        return Ok(None);
    }
    hex::decode(&compact).map(Some).map_err(|_| ScriptError { line, text: shortened(text.trim()) })
}

/// The start of `text` as written, up to its [`ECHO`]th non-blank
/// character, for an error message.
fn shortened(text: &str) -> String {
    let mut seen = 0;
    match text.char_indices().find(|(_, c)| {
        !c.is_whitespace() && {
            seen += 1;
            seen > ECHO
        }
    }) {
        Some((end, _)) => format!("{}...", text[..end].trim_end()),
        None => text.to_string(),
    }
}

/// Reads script line number `line` into `buf` (without its line end), at
/// most [`MAX_LINE`] bytes: `Ok(false)` at the end of the input.
pub fn read_line(input: &mut impl BufRead, line: usize, buf: &mut String) -> Result<bool, String> {
    let mut raw = Vec::new();
    input.by_ref().take(MAX_LINE as u64 + 1).read_until(b'\n', &mut raw).map_err(|e| format!("line {line}: {e}"))?;
    if raw.is_empty() {
        return Ok(false);
    }
    if raw.last() == Some(&b'\n') {
        raw.pop();
    } else if raw.len() > MAX_LINE {
        return Err(format!("line {line}: longer than {MAX_LINE} bytes, the longest script line"));
    }
    *buf = String::from_utf8(raw).map_err(|_| format!("line {line}: not UTF-8 text"))?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines() {
        assert_eq!(parse_line(1, "  # comment").unwrap(), None);
        assert_eq!(parse_line(1, "").unwrap(), None);
        assert_eq!(parse_line(1, "00 a4 04 00 # select").unwrap(), Some(vec![0, 0xA4, 4, 0]));
        assert_eq!(parse_line(3, "00 A").unwrap_err().line, 3);
        assert!(parse_line(4, "zz").is_err());
        let long = "z".repeat(100);
        assert_eq!(parse_line(5, &long).unwrap_err().text, format!("{}...", &long[..ECHO]));
        let pin = "00 20 00 80 08 31 32 33 34 35 36 FF FZ";
        assert_eq!(parse_line(6, pin).unwrap_err().to_string(), "line 6: not valid hex: \"00 20 00 80...\"");
    }

    #[test]
    fn lines_are_read_bounded() {
        let mut buf = String::new();
        let mut two = "00 A4\r\n00".as_bytes();
        assert!(read_line(&mut two, 1, &mut buf).unwrap());
        assert_eq!(buf, "00 A4\r");
        assert!(read_line(&mut two, 2, &mut buf).unwrap());
        assert_eq!(buf, "00");
        assert!(!read_line(&mut two, 3, &mut buf).unwrap());
        let exact = "A".repeat(MAX_LINE) + "\n";
        assert!(read_line(&mut exact.as_bytes(), 1, &mut buf).unwrap());
        let over = "A".repeat(MAX_LINE + 1);
        assert!(read_line(&mut over.as_bytes(), 7, &mut buf).unwrap_err().contains("line 7: longer than"));
        assert!(read_line(&mut &b"\xff\n"[..], 2, &mut buf).unwrap_err().contains("line 2: not UTF-8"));
    }
}
