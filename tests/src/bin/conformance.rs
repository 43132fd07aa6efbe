//! `conformance`: the suite's companion for the lab.
//!
//! - `conformance report --dir DIR`: turns a run's libtest output
//!   (`DIR/cargo.out`) and recorded events (`DIR/events.jsonl`) into
//!   `DIR/report.json`, `DIR/report.md` and `DIR/junit.xml`, and prints the
//!   counts per profile and the findings. scripts/conformance runs it.
//! - `conformance identify --reader NAME`: what the suite would see of the
//!   card in that reader (profile, serial, GUID, ATR), with commands that
//!   change nothing: the name to give `SUBSIM_ALLOW_DESTRUCTIVE`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use subsim_conformance::report::{self, Outcome};
use subsim_conformance::Identity;
use subsim_host::{Client, PcscTransport, ReaderChoice};

#[derive(Parser)]
#[command(about = "Reports of the subsim conformance suite")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Writes report.json, report.md and junit.xml into DIR.
    Report {
        #[arg(long)]
        dir: PathBuf,
        /// libtest's standard output (default: DIR/cargo.out); cargo's
        /// standard error beside it, with the extension .err.
        #[arg(long)]
        log: Option<PathBuf>,
        /// The suite version to print (default: this crate's version).
        #[arg(long)]
        suite_version: Option<String>,
    },
    /// Shows what the suite sees of the card in a reader, changing nothing.
    Identify {
        #[arg(long)]
        reader: String,
    },
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Cmd::Report { dir, log, suite_version } => {
            let log = log.unwrap_or_else(|| dir.join("cargo.out"));
            let read = |p: &PathBuf| std::fs::read_to_string(p).unwrap_or_default();
            let (out, events) = (read(&log), read(&dir.join("events.jsonl")));
            let err = read(&log.with_extension("err"));
            if out.is_empty() {
                eprintln!("conformance: no test output in {}", log.display());
                return ExitCode::FAILURE;
            }
            let version = suite_version.unwrap_or_else(|| env!("CARGO_PKG_VERSION").to_string());
            let r = report::build(&out, &err, &events, &version, &report::now_utc());
            for (name, text) in
                [("report.json", r.to_json()), ("report.md", r.to_markdown()), ("junit.xml", r.to_junit())]
            {
                if let Err(e) = std::fs::write(dir.join(name), text) {
                    eprintln!("conformance: writing {}: {e}", dir.join(name).display());
                    return ExitCode::FAILURE;
                }
            }
            for t in &r.tests {
                for f in &t.findings {
                    println!(
                        "finding: {}::{}: {} -> {}: {} [{}]",
                        t.file, t.name, f.command, f.meaning, f.note, f.clause
                    );
                }
            }
            for line in r.profile_lines() {
                println!("profile {line}");
            }
            for t in r.tests.iter().filter(|t| t.outcome == Outcome::Failed) {
                println!("FAILED: {}::{}", t.file, t.name);
            }
            let s = &r.summary;
            println!(
                "conformance: {} passed, {} failed, {} skipped, {} findings; reports in {}",
                s.passed,
                s.failed,
                s.skipped,
                r.findings,
                dir.display()
            );
            ExitCode::SUCCESS
        }
        Cmd::Identify { reader } => {
            let t = match PcscTransport::connect(&ReaderChoice::Substring(reader.clone())) {
                Ok(t) => t,
                Err(e) => {
                    eprintln!("conformance: {e}");
                    return ExitCode::FAILURE;
                }
            };
            let (atr, name) = (hex::encode_upper(t.atr()), t.reader().to_string());
            let mut card = Client::new(t);
            let profile = match card.detect_profile() {
                Ok(p) => p,
                Err(e) => {
                    eprintln!("conformance: {name}: {e}");
                    return ExitCode::FAILURE;
                }
            };
            let id = Identity::read(&mut card, &profile);
            println!("reader   {name}");
            println!("ATR      {atr}");
            println!("profile  {profile}");
            println!("serial   {}", id.serial.map_or("-".into(), |s| s.to_string()));
            println!("GUID     {}", id.guid.as_deref().unwrap_or("-"));
            println!("allow    SUBSIM_ALLOW_DESTRUCTIVE={}", id.name());
            ExitCode::SUCCESS
        }
    }
}
