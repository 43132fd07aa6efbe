//! `docs/applet-spec.md` and this crate cannot drift: every command has a
//! section with its CLA and INS, every status word is in the table, and the
//! document names no command the crate does not define.

use applet_spec::ins::COMMANDS;
use applet_spec::sw::ALL_STATUS_WORDS;

fn doc() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/applet-spec.md");
    std::fs::read_to_string(path).expect("docs/applet-spec.md is readable")
}

/// The text of the `### NAME` section, up to the next section.
fn section<'a>(doc: &'a str, name: &str) -> Option<&'a str> {
    let heading = format!("\n### {name}\n");
    let start = doc.find(&heading)? + heading.len();
    let rest = &doc[start..];
    Some(&rest[..rest.find("\n### ").unwrap_or(rest.len())])
}

#[test]
fn every_command_has_a_complete_section() {
    let doc = doc();
    for c in COMMANDS {
        let s = section(&doc, c.name).unwrap_or_else(|| panic!("no section for {}", c.name));
        let header = format!("`{:02X} {:02X}", c.cla, c.ins);
        assert!(s.contains(&header), "{}: the C-APDU {header}... is not shown", c.name);
        assert!(s.contains("Status words:"), "{}: no status words", c.name);
        assert!(s.contains("Security:"), "{}: no security condition", c.name);
        assert!(s.contains("Response"), "{}: no response", c.name);
    }
}

#[test]
fn no_section_for_an_unknown_command() {
    let doc = doc();
    let commands = &doc[doc.find("## Commands").expect("a Commands chapter")..];
    for line in commands.lines().filter(|l| l.starts_with("### ")) {
        let name = &line[4..];
        assert!(COMMANDS.iter().any(|c| c.name == name), "the document names {name:?}, the crate does not");
    }
}

#[test]
fn every_status_word_is_in_the_table() {
    let doc = doc();
    for sw in ALL_STATUS_WORDS {
        let shown = match sw.0 {
            0x6100 => "`61xx`".to_string(),
            0x63C0 => "`63Cx`".to_string(),
            v => format!("`{v:04X}`"),
        };
        assert!(doc.contains(&format!("| {shown} |")), "status word {shown} is not in the table");
    }
}
