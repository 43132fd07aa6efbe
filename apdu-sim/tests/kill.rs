//! Real process deaths: `apdu-sim script` processes on one card file are
//! killed (SIGKILL) at random moments while they run writing commands,
//! hundreds of times. After every kill the file loads, its key and
//! certificate are whole, every answered write is there, and the file is
//! either as the answers say or as the one unanswered command may have left
//! it, never with more PIN tries than that (see `SimCard::tear_at_write`).

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use apdu_sim::cardfile::CardFile;
use apdu_sim::state::Persistent;
use applet_spec::piv::{pin_block, ObjectTag, Slot};
use rand::{Rng, SeedableRng};

const BIN: &str = env!("CARGO_BIN_EXE_apdu-sim");
const ROUNDS: usize = 200;
const TRIES: u8 = 3;

/// What the answers say the card holds.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct Model {
    tries: u8,
    pin: [u8; 8],
    puk_tries: u8,
}

#[derive(Clone, Copy, Debug)]
enum Op {
    Right,
    Wrong,
    Change([u8; 8]),
    /// RESET RETRY COUNTER with the PUK, to the factory PIN.
    Unblock,
}

fn block(pin: &[u8]) -> [u8; 8] {
    pin_block(pin, true).unwrap()
}

fn block_puk() -> [u8; 8] {
    pin_block(applet_spec::piv::DEFAULT_PUK, false).unwrap()
}

impl Op {
    fn apdu(self, m: &Model) -> String {
        match self {
            Op::Right => format!("0020008008{}", hex::encode(m.pin)),
            Op::Wrong => format!("0020008008{}", hex::encode(block(b"999999"))),
            Op::Change(new) => format!("0024008010{}{}", hex::encode(m.pin), hex::encode(new)),
            Op::Unblock => format!("002C008010{}{}", hex::encode(block_puk()), hex::encode(block(b"123456"))),
        }
    }
    /// The answer and the state after, on a card in state `m` (tries > 0).
    fn effect(self, m: &Model) -> (String, Model) {
        match self {
            Op::Right => ("9000".into(), Model { tries: TRIES, ..*m }),
            Op::Wrong => (format!("63C{:X}", m.tries - 1), Model { tries: m.tries - 1, ..*m }),
            Op::Change(pin) => ("9000".into(), Model { tries: TRIES, pin, ..*m }),
            Op::Unblock => ("9000".into(), Model { tries: TRIES, pin: block(b"123456"), puk_tries: TRIES }),
        }
    }
    /// What a death during the command may leave: before, the counter
    /// decremented (the first write), or after.
    fn allowed(self, m: &Model) -> Vec<Model> {
        let first = match self {
            Op::Unblock => Model { puk_tries: m.puk_tries - 1, ..*m },
            _ => Model { tries: m.tries - 1, ..*m },
        };
        vec![*m, first, self.effect(m).1]
    }
}

fn model(p: &Persistent) -> Model {
    Model { tries: p.pin.tries_left, pin: *p.pin.block, puk_tries: p.puk.tries_left }
}

#[test]
fn kill_9_at_random_moments_never_undoes_an_answered_write() {
    let dir = std::env::temp_dir().join(format!("apdu-sim-kill-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("card.json");
    let seed: u64 = rand::random();
    eprintln!("kill test seed {seed}");
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);

    // A card with a key and a certificate, made by the library.
    let mut card_rng = apdu_sim::rng::seeded(seed);
    let key = Arc::new(apdu_sim::crypto::generate_rsa2048(&mut card_rng).unwrap());
    let make = |card_rng: &mut apdu_sim::rng::CardRng| {
        let made = CardFile::open(&path, Duration::ZERO, || {
            let mut p = Persistent::manufacture(card_rng);
            p.keys.insert(Slot::Authentication, key.clone());
            p.objects.insert(ObjectTag::CERT_9A, Arc::new(vec![0x70, 3, 1, 2, 3]));
            p
        })
        .unwrap();
        assert!(made.created);
        model(&made.state)
    };
    let mut s = make(&mut card_rng);

    let started = Instant::now();
    let (mut answered, mut in_flight_kills, mut changed_by_in_flight) = (0, 0, 0);
    for round in 0..ROUNDS {
        if s.tries == 0 && s.puk_tries == 0 {
            // Three kills in a row during RESET RETRY COUNTER: a dead card, a new one.
            std::fs::remove_file(&path).unwrap();
            s = make(&mut card_rng);
        }
        let mut child = Command::new(BIN)
            .args(["script", "--state", path.to_str().unwrap()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let pid = child.id() as libc::pid_t;
        let delay = Duration::from_micros(rng.gen_range(2_000..60_000));
        let killer = std::thread::spawn(move || {
            std::thread::sleep(delay);
            // SAFETY: the child is not reaped before this thread is joined.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        });
        let mut stdin = child.stdin.take().unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        let mut pending = None;
        let _ = writeln!(stdin, "00A4040005A000000308");
        if stdout.read_line(&mut line).is_ok_and(|n| n > 0) {
            loop {
                let op = match rng.gen_range(0..10) {
                    _ if s.tries == 0 => Op::Unblock,
                    _ if s.tries == 1 => Op::Right,
                    0..=3 => Op::Wrong,
                    4..=6 => Op::Right,
                    _ => Op::Change(if s.pin == block(b"123456") { block(b"654321") } else { block(b"123456") }),
                };
                pending = Some(op);
                line.clear();
                if writeln!(stdin, "{}", op.apdu(&s)).is_err() || !stdout.read_line(&mut line).is_ok_and(|n| n > 0) {
                    break;
                }
                let (want, next) = op.effect(&s);
                assert_eq!(line.trim_end(), want, "round {round}: {op:?} on {s:?}");
                s = next;
                answered += 1;
            }
        }
        killer.join().unwrap();
        drop(stdin);
        let _ = child.wait();

        let file = apdu_sim::persist::load(&path)
            .unwrap_or_else(|e| panic!("round {round}: the file does not load: {e}"))
            .expect("the card file is there");
        assert_eq!(file.keys[&Slot::Authentication], key, "round {round}: the key is whole");
        assert_eq!(file.objects[&ObjectTag::CERT_9A].as_slice(), [0x70, 3, 1, 2, 3], "round {round}");
        let now = model(&file);
        match pending {
            None => assert_eq!(now, s, "round {round}: killed between commands, all answered writes there"),
            Some(op) => {
                in_flight_kills += 1;
                let allowed = op.allowed(&s);
                assert!(allowed.contains(&now), "round {round}: {op:?} in flight on {s:?} left {now:?}");
                changed_by_in_flight += usize::from(now != s);
            }
        }
        s = now;
    }
    eprintln!(
        "{ROUNDS} kills in {:?}: {answered} answered writing commands, {in_flight_kills} kills during one \
         ({changed_by_in_flight} of them after some of its writes)",
        started.elapsed()
    );
    assert!(in_flight_kills >= ROUNDS / 4, "most kills land during a writing command");
    assert!(changed_by_in_flight > 0, "some kills land between a command's writes and its answer");
    std::fs::remove_dir_all(&dir).unwrap();
}
