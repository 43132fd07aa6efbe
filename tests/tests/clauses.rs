//! Every clause the suite cites is one it knows, and the right one: each
//! citation found in the suite's sources is looked up in a table of clause
//! titles kept here; a citation next to a command or object name that is
//! another clause's title is wrong (PUT DATA is Part 2, 3.3.1, not 3.3.2).

use std::collections::BTreeMap;

/// (document, clause) and its title. SP 800-73-4 part 2's command clauses
/// are its section 3; the rest are the clauses this suite cites.
const CLAUSES: &[(&str, &str, &str)] = &[
    ("SP 800-73-4 Part 2", "2.4.3", "Authentication of an individual (PIN characters)"),
    ("SP 800-73-4 Part 2", "3.1.1", "SELECT"),
    ("SP 800-73-4 Part 2", "3.1.2", "GET DATA"),
    ("SP 800-73-4 Part 2", "3.2.1", "VERIFY"),
    ("SP 800-73-4 Part 2", "3.2.2", "CHANGE REFERENCE DATA"),
    ("SP 800-73-4 Part 2", "3.2.3", "RESET RETRY COUNTER"),
    ("SP 800-73-4 Part 2", "3.2.4", "GENERAL AUTHENTICATE"),
    ("SP 800-73-4 Part 2", "3.3.1", "PUT DATA"),
    ("SP 800-73-4 Part 2", "3.3.2", "GENERATE ASYMMETRIC KEY PAIR"),
    ("SP 800-73-4 Part 1", "3.1", "Mandatory data objects"),
    ("SP 800-73-4 Part 1", "3.1.1", "Card Capability Container"),
    ("SP 800-73-4 Part 1", "3.1.2", "Card Holder Unique Identifier"),
    ("SP 800-73-4 Part 1", "3.3.2", "Discovery object and key history (optional objects)"),
    ("SP 800-73-4 Part 1", "3.3.3", "Retired X.509 certificates for key management"),
    ("SP 800-73-4 Part 1", "3.5", "Key references"),
    ("SP 800-73-4 Part 1", "Table 3", "PIV data containers and their access rules"),
    ("SP 800-78-4", "Table 5", "Algorithm identifiers of the card management key"),
    ("SP 800-78-4", "Table 6", "Algorithm identifiers (table 6-2)"),
    ("ISO 7816-4", "5.1", "Command-response pairs"),
    ("ISO 7816-4", "5.1.1", "Class byte"),
    ("ISO 7816-4", "5.1.1.1", "Command chaining"),
    ("ISO 7816-4", "5.1.3", "Status bytes (61xx: GET RESPONSE)"),
    ("ISO 7816-4", "5.4", "Security status"),
    ("ISO 7816-4", "5.6", "Status bytes, tables 5 and 6"),
    ("ISO 7816-4", "7.1.1", "SELECT (selection leaves the current one on failure)"),
    ("ISO 7816-4", "7.6.1", "GET RESPONSE"),
    ("ISO 7816-4", "8.4", "Application selection at reset"),
    ("ISO 7816-4", "10.5.1", "VERIFY"),
    ("ISO 7816-4", "11.2.2", "SELECT"),
    ("ISO 7816-4", "11.2.2.2", "Selection by DF name (partial names)"),
];

/// Command names a citation sits next to, and the Part 2 clause each is.
fn commands() -> Vec<(&'static str, &'static str)> {
    CLAUSES
        .iter()
        .filter(|(d, c, _)| *d == "SP 800-73-4 Part 2" && c.starts_with("3."))
        .map(|(_, c, t)| (*t, *c))
        .collect()
}

/// The clause right after a citation's prefix: `3.3.1`, `5.1.1.1` or `Table 3`.
fn clause_at(rest: &str) -> Option<String> {
    let table = rest.strip_prefix("Table ").or_else(|| rest.strip_prefix("table "));
    let (body, prefix) = match table {
        Some(t) => (t, "Table "),
        None => (rest, ""),
    };
    let token: String = body.chars().take_while(|c| c.is_ascii_digit() || *c == '.').collect();
    let token = token.trim_end_matches('.');
    let dotted = token.contains('.') && token.split('.').all(|p| !p.is_empty());
    let number = !token.is_empty() && token.chars().all(|c| c.is_ascii_digit());
    ((table.is_some() && number) || (table.is_none() && dotted)).then(|| format!("{prefix}{token}"))
}

/// Every citation in the suite's sources: (document, clause, file:line, the line).
/// "Part N, X" (SP 800-73-4), "ISO 7816-4, X", "SP 800-78-4, X".
fn citations() -> Vec<(String, String, String, String)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<_> = ["tests", "src"]
        .iter()
        .flat_map(|d| std::fs::read_dir(dir.join(d)).unwrap())
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "rs") && !p.ends_with("clauses.rs"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        for (i, line) in text.lines().enumerate() {
            let at = format!("{}:{}", f.file_name().unwrap().to_string_lossy(), i + 1);
            let mut found = |doc: String, rest: &str| {
                if let Some(c) = clause_at(rest) {
                    out.push((doc, c, at.clone(), line.to_string()));
                }
            };
            for (pos, _) in line.match_indices("art ") {
                let rest = &line[pos + 4..];
                let ok = pos > 0 && matches!(&line[pos - 1..pos], "P" | "p");
                if let (true, Some(part @ ('1' | '2')), Some(rest)) =
                    (ok, rest.chars().next(), rest.get(1..).and_then(|r| r.strip_prefix(", ")))
                {
                    found(format!("SP 800-73-4 Part {part}"), rest);
                }
            }
            for doc in ["ISO 7816-4", "SP 800-78-4"] {
                for (pos, _) in line.match_indices(&format!("{doc}, ")) {
                    found(doc.to_string(), &line[pos + doc.len() + 2..]);
                }
            }
        }
    }
    out
}

#[test]
fn every_cited_clause_is_in_the_table_and_fits_what_it_is_cited_for() {
    let table: BTreeMap<(&str, &str), &str> = CLAUSES.iter().map(|(d, c, t)| ((*d, *c), *t)).collect();
    let cited = citations();
    assert!(cited.len() > 50, "the suite cites its clauses: found only {}", cited.len());
    let mut wrong = Vec::new();
    for (doc, clause, at, line) in &cited {
        let Some(title) = table.get(&(doc.as_str(), clause.as_str())) else {
            wrong.push(format!("{at}: {doc}, {clause} is not in the table of clauses (tests/tests/clauses.rs)"));
            continue;
        };
        if doc != "SP 800-73-4 Part 2" {
            continue;
        }
        // A command named on the citation's line (or by its constant) is
        // cited with that command's clause.
        let upper = line.to_uppercase().replace('_', " ");
        for (command, its) in commands() {
            if upper.contains(command) && !upper.contains(title) && its != clause {
                wrong.push(format!("{at}: {command} cited as Part 2, {clause} ({title}); {command} is {its}: {line}"));
            }
        }
    }
    assert!(wrong.is_empty(), "wrong citations:\n{}", wrong.join("\n"));
}

#[test]
fn the_check_catches_a_wrong_citation() {
    let line = "const PUT_DATA: &str = \"SP 800-73-4 Part 2, 3.3.2\";".to_uppercase().replace('_', " ");
    let (command, its) = commands().into_iter().find(|(c, _)| *c == "PUT DATA").unwrap();
    assert!(line.contains(command) && its == "3.3.1" && !line.contains("GENERATE ASYMMETRIC KEY PAIR"));
}
