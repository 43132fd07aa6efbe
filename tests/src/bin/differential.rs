//! `differential`: two implementations of one interface, answering alike.
//!
//! Sends the same command sequences to the model (apdu-sim's card, in this
//! process) and to another card in a PC/SC reader (the Java Card applet on
//! jCardSim, in scripts/test), and compares every answer: the status word
//! always, the data's value where it is deterministic (SELECT, VERIFY, GET
//! VERSION, ...), its shape (length and first byte) elsewhere (keys, serials,
//! challenges and signatures differ by design). First the declarative vectors
//! (tests/vectors), then random sessions from the suite's property generator
//! (`subsim_conformance::sessions`), within a time budget.
//!
//! A session stops at its first difference of status words (what follows
//! would compare two cards in different states); both cards then go back to
//! factory state (the model: a new card; the other: TERMINATE,
//! `reset::factory_reset`). A difference in the data alone is counted and the
//! session goes on. Prints
//! each difference class with its count and first example (the command's
//! header only: data may hold PINs), and exits 1 when there is any.
//!
//! ```text
//! differential --reader NAME [--sessions 2000] [--seconds 300] [--seed 1]
//! ```

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use apdu_sim::SimCard;
use applet_spec::apdu::Response;
use applet_spec::piv::{KeyAlgorithm, KeyAlgorithms};
use clap::Parser;
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use subsim_conformance::reset::{self, ResetMode};
use subsim_conformance::sessions::{self, Helper};
use subsim_conformance::vectors;
use subsim_host::{Client, PcscTransport, ReaderChoice, SimTransport, Transport};

#[derive(Parser)]
#[command(about = "The model and another card, answer for answer")]
struct Cli {
    /// The other card's PC/SC reader (name or a part of it).
    #[arg(long)]
    reader: String,
    /// Random sessions to run at most.
    #[arg(long, default_value_t = 2000)]
    sessions: u32,
    /// Time budget for the random sessions, in seconds.
    #[arg(long, default_value_t = 300)]
    seconds: u64,
    /// The random sessions' seed (the same seed, the same sessions).
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

type Card = Client<Box<dyn Transport>>;

/// Where two answers differ, if they do: the difference's class.
fn compare(apdu: &[u8], model: &[u8], other: &[u8]) -> Option<String> {
    let ins = apdu.get(1).map_or("--".to_string(), |i| format!("{i:02X}"));
    let cla = apdu.first().map_or("--".to_string(), |c| format!("{:02X}", c & 0x80));
    let what = if apdu.len() < 4 { format!("a {}-byte APDU", apdu.len()) } else { format!("CLA {cla} INS {ins}") };
    let (Some(m), Some(o)) = (Response::parse(model), Response::parse(other)) else {
        return Some(format!("{what}: model {} bytes, other {} bytes: no status word", model.len(), other.len()));
    };
    if m.sw != o.sw {
        return Some(format!("{what}: model {} / other {}", m.sw, o.sw));
    }
    if m.data == o.data {
        return None;
    }
    // The same value is promised where nothing random or card-specific is in it.
    let exact = matches!(apdu.get(1), Some(0xA4 | 0x20 | 0x24 | 0x2C | 0xFD | 0xFB | 0xFE | 0xFF));
    // DER signatures and certificates vary in length by a byte or two;
    // keypad layouts and serials are drawn or assigned per card.
    let first_byte_only = matches!(apdu.get(1), Some(0x87 | 0xF9));
    let length_only = matches!(apdu.get(1), Some(0x30 | 0xF8));
    let shape = |d: &[u8]| (d.len(), d.first().copied());
    let differ = if exact {
        true
    } else if first_byte_only {
        m.data.first() != o.data.first()
    } else if length_only {
        m.data.len() != o.data.len()
    } else {
        shape(&m.data) != shape(&o.data)
    };
    differ.then(|| {
        format!(
            "{what}: {}: {} bytes of data from the model, {} from the other{}",
            m.sw,
            m.data.len(),
            o.data.len(),
            if exact { ", not the same" } else { "" }
        )
    })
}

/// A command's header, for the report (its data may hold a PIN).
fn header(apdu: &[u8]) -> String {
    hex::encode_upper(&apdu[..apdu.len().min(4)])
}

struct Differences {
    classes: BTreeMap<String, (u32, String)>,
    total: u32,
}

impl Differences {
    fn add(&mut self, class: String, example: String) {
        self.total += 1;
        self.classes.entry(class).or_insert((0, example)).0 += 1;
    }
}

/// How two answers differ.
struct Difference {
    class: String,
    /// The status words differ: the two cards may now be in different states.
    apart: bool,
}

/// Sends one APDU to both; `Some` when the answers differ.
fn both(model: &mut Card, other: &mut Card, apdu: &[u8]) -> Result<Option<Difference>, String> {
    let m = model.transport_mut().transmit(apdu).map_err(|e| format!("the model: {e}"))?;
    let o = other.transport_mut().transmit(apdu).map_err(|e| format!("the other card's reader: {e}"))?;
    let sw = |r: &[u8]| Response::parse(r).map(|r| r.sw);
    Ok(compare(apdu, &m, &o).map(|class| Difference { class, apart: sw(&m) != sw(&o) }))
}

/// A factory-fresh model on a chip with the other card's key algorithms.
fn fresh_model(seed: &mut u64, platform: KeyAlgorithms) -> Card {
    *seed += 1;
    let mut card = SimCard::seeded(*seed);
    card.set_key_algorithms(platform);
    Client::new(Box::new(SimTransport::new(card)))
}

/// Both cards back to factory state, the transient state gone, PIV selected.
fn resync(model: &mut Card, other: &mut Card, seed: &mut u64, platform: KeyAlgorithms) -> Result<(), String> {
    *model = fresh_model(seed, platform);
    other.transport_mut().reset().map_err(|e| e.to_string())?;
    other.select().map_err(|e| format!("SELECT on the other card: {e}"))?;
    reset::factory_reset(other, ResetMode::Terminate)
        .map_err(|reset::Unavailable(why)| format!("the other card cannot be brought to factory state: {why}"))?;
    other.transport_mut().reset().map_err(|e| e.to_string())?;
    Ok(())
}

fn login(card: &mut Card, how: &str) -> Result<(), String> {
    card.select().map_err(|e| format!("SELECT: {e}"))?;
    match how {
        "pin" => card.verify_pin(b"123456").map_err(|e| format!("VERIFY: {e}")),
        "admin" => reset::authenticate_factory(card).map_err(|e| format!("the factory management key: {e}")),
        _ => Ok(()),
    }
}

fn run(cli: &Cli) -> Result<Differences, String> {
    let t = PcscTransport::connect(&ReaderChoice::Substring(cli.reader.clone()))
        .map_err(|e| format!("--reader {}: {e}", cli.reader))?;
    let mut other: Card = Client::new(Box::new(t));
    let mut seed = cli.seed << 32;
    // The model plays a chip with the other card's key algorithms (the Java
    // Card applet has no Ed25519 or X25519), read from its SELECT answer.
    let listed = other.select().map_err(|e| format!("SELECT on the other card: {e}"))?.algorithms;
    let platform = KeyAlgorithms::from_ids(listed);
    eprintln!(
        "differential: the other card's key algorithms: {}",
        platform.iter().map(KeyAlgorithm::name).collect::<Vec<_>>().join(", ")
    );
    let mut model = fresh_model(&mut seed, platform);
    let mut diffs = Differences { classes: BTreeMap::new(), total: 0 };
    resync(&mut model, &mut other, &mut seed, platform)?;

    // The declarative vectors: each on factory-fresh cards where it may change them.
    let mut ran = 0;
    for file in vectors::vector_files() {
        for v in vectors::parse(&file)? {
            let apdu = hex::decode(v.send.replace(' ', "")).map_err(|e| format!("[{}]: {e}", v.name))?;
            if v.fresh {
                resync(&mut model, &mut other, &mut seed, platform)?;
            }
            let (lm, lo) = (login(&mut model, &v.login), login(&mut other, &v.login));
            if lm != lo {
                diffs.add(format!("vector login {}: model {lm:?} / other {lo:?}", v.login), format!("[{}]", v.name));
                resync(&mut model, &mut other, &mut seed, platform)?;
                continue;
            }
            if let Some(d) = both(&mut model, &mut other, &apdu)? {
                diffs.add(d.class, format!("vector [{}] in {}: {}", v.name, v.file, header(&apdu)));
                if d.apart {
                    resync(&mut model, &mut other, &mut seed, platform)?;
                }
            }
            ran += 1;
        }
    }
    eprintln!("differential: {ran} vectors run, {} differences", diffs.total);

    // Random sessions, as the property tests draw them, on cards that carry on
    // from one session to the next (power-cycled between) until they differ.
    resync(&mut model, &mut other, &mut seed, platform)?;
    let mut rng_seed = [0u8; 32];
    rng_seed[..8].copy_from_slice(&cli.seed.to_le_bytes());
    let mut runner = TestRunner::new_with_rng(Config::default(), TestRng::from_seed(RngAlgorithm::ChaCha, &rng_seed));
    let strategy = proptest::collection::vec(sessions::step(), 1..60);
    let (start, budget) = (Instant::now(), Duration::from_secs(cli.seconds));
    let (mut done, mut apdus, mut unsendable) = (0u32, 0u64, 0u32);
    while done < cli.sessions && start.elapsed() < budget {
        let steps = strategy.new_tree(&mut runner).map_err(|e| e.to_string())?.current();
        model.transport_mut().reset().map_err(|e| e.to_string())?;
        other.transport_mut().reset().map_err(|e| e.to_string())?;
        for (n, step) in steps.iter().enumerate() {
            let (m, o) = (sessions::run(step, &mut model), sessions::run(step, &mut other));
            let class = match (m, o) {
                // vpcd frames a one-byte payload as a control message (power,
                // ATR): such an APDU cannot reach a card behind vpcd at all.
                (Ok(apdu), Ok(_)) if apdu.len() < 2 => {
                    unsendable += 1;
                    None
                }
                (Ok(apdu), Ok(_)) => {
                    apdus += 1;
                    both(&mut model, &mut other, &apdu)?.map(|d| (d, header(&apdu)))
                }
                (Err(hm), Err(ho)) if hm == ho => None,
                (Err(Helper::Authenticated(m)), Err(Helper::Authenticated(o))) => Some((
                    Difference {
                        class: format!("mutual authentication with the factory key: model {m:?} / other {o:?}"),
                        apart: true,
                    },
                    "GENERAL AUTHENTICATE 9B".into(),
                )),
                (m, o) => return Err(format!("session {done} step {n}: the steps ran apart: {m:?} / {o:?}")),
            };
            if let Some((d, example)) = class {
                diffs.add(d.class, format!("session {done} step {n}: {example}"));
                // Different data under the same status word leave both cards in
                // the same state: the session goes on. Different status words may not.
                if d.apart {
                    resync(&mut model, &mut other, &mut seed, platform)?;
                    break;
                }
            }
        }
        done += 1;
    }
    eprintln!(
        "differential: {done} random sessions ({apdus} APDUs; {unsendable} of under 2 bytes not sent: vpcd cannot \
         carry them) in {:.0} s (budget {} sessions, {} s)",
        start.elapsed().as_secs_f64(),
        cli.sessions,
        cli.seconds
    );
    Ok(diffs)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let diffs = match run(&cli) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("differential: stopped: {e}");
            return ExitCode::from(2);
        }
    };
    let mut classes: Vec<_> = diffs.classes.iter().collect();
    classes.sort_by(|a, b| b.1 .0.cmp(&a.1 .0).then(a.0.cmp(b.0)));
    for (class, (count, example)) in &classes {
        println!("DIFF: {count:5} x {class} (first: {example})");
    }
    println!("differential: {} differences in {} classes", diffs.total, classes.len());
    if diffs.total == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_compared_by_status_word_then_by_data() {
        let select = [0x00, 0xA4, 0x04, 0x00];
        assert_eq!(compare(&select, &[0x90, 0x00], &[0x90, 0x00]), None);
        let c = compare(&select, &[0x90, 0x00], &[0x6A, 0x82]).unwrap();
        assert!(c.contains("model 9000") && c.contains("other 6A82"), "{c}");
        assert!(compare(&select, &[1, 0x90, 0x00], &[2, 0x90, 0x00]).unwrap().contains("not the same"));
        // A serial differs by design, in value, not in shape.
        let serial = [0x00, 0xF8, 0x00, 0x00];
        assert_eq!(compare(&serial, &[1, 2, 3, 4, 0x90, 0x00], &[5, 6, 7, 8, 0x90, 0x00]), None);
        assert!(compare(&serial, &[1, 2, 3, 4, 0x90, 0x00], &[5, 6, 7, 0x90, 0x00]).is_some());
        // A DER signature's length varies.
        let sign = [0x00, 0x87, 0x11, 0x9A];
        assert_eq!(compare(&sign, &[0x7C, 1, 2, 0x90, 0x00], &[0x7C, 1, 0x90, 0x00]), None);
        assert!(compare(&[0x00, 0xA4], &[0x90, 0x00], &[]).unwrap().contains("no status word"));
        assert!(compare(&[1], &[0x67, 0x00], &[0x6F, 0x00]).unwrap().starts_with("a 1-byte APDU"));
    }
}
