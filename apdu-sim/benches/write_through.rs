//! What write-through costs: the same commands on a card in memory and on
//! a card kept in a file (each persistent write saved: temporary file,
//! fsync, rename, folder fsync), side by side in one run. VERIFY makes two
//! writes, right PIN or wrong; GET STATUS makes none (no file I/O).
//!
//! `cargo bench -p apdu-sim --bench write_through` (files under
//! target/bench-write-through, i.e. on the project's file system, and under
//! /dev/shm when there is one).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use apdu_sim::cardfile::CardFile;
use apdu_sim::state::Persistent;
use apdu_sim::{rng, SimCard};
use applet_spec::piv::{ObjectTag, Slot};

const SELECT: [u8; 10] = [0x00, 0xA4, 0x04, 0x00, 0x05, 0xA0, 0x00, 0x00, 0x03, 0x08];
const RIGHT: [u8; 13] = [0x00, 0x20, 0x00, 0x80, 0x08, b'1', b'2', b'3', b'4', b'5', b'6', 0xFF, 0xFF];
const WRONG: [u8; 13] = [0x00, 0x20, 0x00, 0x80, 0x08, b'9', b'9', b'9', b'9', b'9', b'9', 0xFF, 0xFF];
const GET_STATUS: [u8; 4] = [applet_spec::ins::CLA_PROPRIETARY, applet_spec::ins::GET_STATUS, 0x00, 0x00];
const COMMANDS: usize = 200;

/// A card with nothing but factory settings, or with every slot's key and a
/// 2,000-byte certificate for each (a full card's file).
fn card(full: bool) -> Persistent {
    let mut r = rng::seeded(1);
    let mut p = Persistent::manufacture(&mut r);
    if full {
        for slot in Slot::ALL {
            p.keys.insert(slot, Arc::new(apdu_sim::crypto::generate_rsa2048(&mut r).unwrap()));
            p.objects.insert(slot.cert_object(), Arc::new(vec![0x70; 2000]));
        }
        p.objects.insert(ObjectTag::CCC, Arc::new(vec![0; 20]));
    }
    p
}

/// Mean and worst time per command, alternating `a` and `b`.
fn time(card: &mut SimCard, a: &[u8], b: &[u8]) -> (Duration, Duration) {
    card.transmit(&SELECT);
    let mut worst = Duration::ZERO;
    let start = Instant::now();
    for i in 0..COMMANDS {
        let t = Instant::now();
        let answer = card.transmit(if i % 2 == 0 { a } else { b });
        assert!(matches!(answer[answer.len() - 2..], [0x90, 0x00] | [0x63, _]), "{answer:02X?}");
        worst = worst.max(t.elapsed());
    }
    (start.elapsed() / COMMANDS as u32, worst)
}

fn on_file(dir: &Path, full: bool) -> (SimCard, PathBuf) {
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join(if full { "full.json" } else { "factory.json" });
    let _ = std::fs::remove_file(&path);
    let state = card(full);
    drop(CardFile::open(&path, Duration::ZERO, || state).unwrap());
    (SimCard::open(&path, Duration::ZERO, rng::seeded(2)).unwrap(), path)
}

fn us(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1e6)
}

fn main() {
    let project = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/bench-write-through");
    let mut places: Vec<(&str, Option<PathBuf>)> = vec![("memory", None), ("file, project fs", Some(project.clone()))];
    if Path::new("/dev/shm").is_dir() {
        places.push((
            "file, /dev/shm (tmpfs)",
            Some(PathBuf::from(format!("/dev/shm/subsim-bench-{}", std::process::id()))),
        ));
    }
    println!("{COMMANDS} commands each, alternating; us per command: mean (worst)");
    println!("| card | where | file bytes | VERIFY right/wrong (2 writes) | GET STATUS (no write) |");
    println!("|---|---|---|---|---|");
    for full in [false, true] {
        for (name, dir) in &places {
            let (mut card, bytes) = match dir {
                None => (SimCard::new(card(full), rng::seeded(2)), 0),
                Some(d) => {
                    let (c, path) = on_file(d, full);
                    let len = std::fs::metadata(&path).unwrap().len();
                    (c, len)
                }
            };
            let (verify, verify_worst) = time(&mut card, &WRONG, &RIGHT);
            let (status, status_worst) = time(&mut card, &GET_STATUS, &GET_STATUS);
            println!(
                "| {} | {name} | {} | {} ({}) | {} ({}) |",
                if full { "4 keys, 4 certificates" } else { "factory" },
                if bytes == 0 { "-".to_string() } else { bytes.to_string() },
                us(verify),
                us(verify_worst),
                us(status),
                us(status_worst)
            );
        }
    }
    let _ = std::fs::remove_dir_all(&project);
    if let Some((_, Some(shm))) = places.get(2) {
        let _ = std::fs::remove_dir_all(shm);
    }
}
