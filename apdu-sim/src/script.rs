//! The APDU script format: one C-APDU per line as hex (spaces allowed),
//! blank lines and `#` comments ignored.

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
    hex::decode(&compact).map(Some).map_err(|_| ScriptError { line, text: text.trim_end().to_string() })
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
    }
}
