//! Power cut at every persistent write of every command that writes: after
//! power-up the card holds the state from before or after the command, never
//! a mix. Counted checks (VERIFY and friends) may also hold the one
//! documented intermediate: the try counter decremented, nothing else. In
//! process only: the cut is injected inside the simulated card.
//!
//! The cut runs use a card kept in a file, and check that at the cut the
//! file holds exactly what the card holds: each write is on disk before the
//! next begins, so the fault model is what killing the process at that
//! moment leaves (`apdu-sim/tests/kill.rs` kills real processes).

use apdu_sim::persist::snapshot;
use apdu_sim::state::{Persistent, RefKind};
use apdu_sim::SimCard;
use applet_spec::aram::{AidRef, ApduRule, AppRef, Rule, StoreCommand};
use applet_spec::messages::PinEntry;
use applet_spec::piv::{MgmAlgorithm, ObjectTag, Slot};
use subsim_conformance::sim_only;
use subsim_host::{Client, Hash, Padding, Phone, SimTransport, TransportKind};

type Sim = Client<SimTransport>;
type Op = fn(&mut Sim) -> subsim_host::Result<()>;

/// What a cut may leave besides "before" and "after".
#[derive(Clone, Copy)]
enum Intermediate {
    None,
    /// This counter decremented, all else as before.
    Decremented(Counter),
}

#[derive(Clone, Copy)]
enum Counter {
    Pin,
    Puk,
    Binding,
}

struct Scenario {
    name: &'static str,
    setup: Op,
    command: Op,
    intermediate: Intermediate,
}

const SEED: u64 = 77;

/// A card after `setup`, built the same way every time (seeded RNG).
fn card_after(setup: Op) -> Sim {
    let mut c = Client::new(SimTransport::new(SimCard::seeded(SEED)));
    c.select().unwrap();
    setup(&mut c).unwrap();
    c
}

/// The same card as [`card_after`], kept in the file at `path`.
fn file_card_after(path: &std::path::Path, setup: Op) -> Sim {
    let _ = std::fs::remove_file(path);
    let card = SimCard::open(path, std::time::Duration::ZERO, apdu_sim::rng::seeded(SEED)).unwrap();
    let mut c = Client::new(SimTransport::new(card));
    c.select().unwrap();
    setup(&mut c).unwrap();
    c
}

/// What the card file holds.
fn file_state(path: &std::path::Path) -> String {
    snapshot(&apdu_sim::persist::load(path).unwrap().unwrap()).to_string()
}

fn state(c: &Sim) -> String {
    snapshot(c.transport().card().persistent()).to_string()
}

fn decremented(p: &Persistent, counter: Counter) -> String {
    let mut p = p.clone();
    match counter {
        Counter::Pin => p.reference_mut(RefKind::Pin).tries_left -= 1,
        Counter::Puk => p.reference_mut(RefKind::Puk).tries_left -= 1,
        Counter::Binding => p.binding.as_mut().unwrap().tries_left -= 1,
    }
    snapshot(&p).to_string()
}

fn admin(c: &mut Sim) -> subsim_host::Result<()> {
    c.authenticate_default()
}
fn admin_with_keys(c: &mut Sim) -> subsim_host::Result<()> {
    c.authenticate_default()?;
    c.generate(Slot::Signature)?;
    c.write_certificate(Slot::Signature, &[0x30, 0x03, 1, 2, 3])?;
    c.set_binding(&[0xB1; 32])
}
fn nothing(_: &mut Sim) -> subsim_host::Result<()> {
    Ok(())
}
/// The issuer writes to the ARA-M (on a channel of its own, 9B proven to it).
fn store_rules(c: &mut Sim, command: StoreCommand) -> subsim_host::Result<()> {
    Phone::new(c.transport_mut()).store_rules(&command, &mut |t| Client::new(t).authenticate_default())
}
fn a_rule() -> StoreCommand {
    let app = AppRef::Hash(vec![0xA5; 32]);
    StoreCommand::Store(vec![Rule {
        aid: AidRef::Aid(applet_spec::piv::PIV_AID.to_vec()),
        app,
        apdu: ApduRule::Always,
    }])
}
fn expect_refused(r: subsim_host::Result<()>) -> subsim_host::Result<()> {
    match r {
        Err(e) if e.sw().is_some() => Ok(()),
        other => other,
    }
}

fn scenarios() -> Vec<Scenario> {
    use Intermediate::*;
    vec![
        Scenario {
            name: "VERIFY right",
            setup: nothing,
            command: |c| c.verify_pin(b"123456"),
            intermediate: Decremented(Counter::Pin),
        },
        Scenario {
            name: "VERIFY wrong",
            setup: nothing,
            command: |c| expect_refused(c.verify_pin(b"000000")),
            intermediate: Decremented(Counter::Pin),
        },
        Scenario {
            name: "VERIFY KEYPAD",
            setup: nothing,
            command: |c| {
                let l = c.keypad()?;
                c.verify_keypad(&b"123456".iter().map(|d| l.position_of(d - b'0').unwrap()).collect::<Vec<_>>())
            },
            intermediate: Decremented(Counter::Pin),
        },
        Scenario {
            name: "CHANGE REFERENCE DATA (PIN)",
            setup: nothing,
            command: |c| c.change_pin(b"123456", b"654321"),
            intermediate: Decremented(Counter::Pin),
        },
        Scenario {
            name: "CHANGE REFERENCE DATA (PUK)",
            setup: nothing,
            command: |c| c.change_puk(b"12345678", b"87654321"),
            intermediate: Decremented(Counter::Puk),
        },
        Scenario {
            name: "RESET RETRY COUNTER",
            setup: |c| {
                for _ in 0..3 {
                    let _ = c.verify_pin(b"000000");
                }
                Ok(())
            },
            command: |c| c.unblock_pin(b"12345678", b"111111"),
            intermediate: Decremented(Counter::Puk),
        },
        Scenario {
            name: "PUT DATA (replace a certificate)",
            setup: admin_with_keys,
            command: |c| c.write_certificate(Slot::Signature, &[0x30, 0x05, 9, 9, 9, 9, 9]),
            intermediate: None,
        },
        Scenario {
            name: "PUT DATA (delete)",
            setup: admin_with_keys,
            command: |c| c.write_object(ObjectTag::CERT_9C, &[]),
            intermediate: None,
        },
        Scenario {
            name: "GENERATE (replace a key)",
            setup: admin_with_keys,
            command: |c| c.generate(Slot::Signature).map(drop),
            intermediate: None,
        },
        Scenario {
            name: "SET MANAGEMENT KEY",
            setup: admin,
            command: |c| c.set_management_key(MgmAlgorithm::Aes256, &[7; 32]),
            intermediate: None,
        },
        Scenario {
            name: "SET PIN POLICY",
            setup: admin,
            command: |c| c.set_pin_entry(PinEntry::KeypadOnly),
            intermediate: None,
        },
        Scenario { name: "SET BINDING", setup: admin, command: |c| c.set_binding(&[0xB2; 32]), intermediate: None },
        Scenario {
            name: "SET BINDING (clear)",
            setup: admin_with_keys,
            command: |c| c.clear_binding(),
            intermediate: None,
        },
        Scenario {
            name: "PRESENT BINDING right",
            setup: admin_with_keys,
            command: |c| c.present_binding(&[0xB1; 32]),
            intermediate: Decremented(Counter::Binding),
        },
        Scenario {
            name: "PRESENT BINDING wrong",
            setup: admin_with_keys,
            command: |c| expect_refused(c.present_binding(&[0xB3; 32])),
            intermediate: Decremented(Counter::Binding),
        },
        Scenario { name: "TERMINATE", setup: admin_with_keys, command: |c| c.terminate(), intermediate: None },
        Scenario {
            name: "RESET RETRY COUNTER (right PUK, malformed new PIN)",
            setup: nothing,
            command: |c| {
                let r = c.transmit(
                    &applet_spec::apdu::Command::new(0, 0x2C, 0, 0x80)
                        .with_data([b"12345678".as_slice(), &[0xFF; 8]].concat()),
                )?;
                assert_eq!(r.sw, applet_spec::Sw::INCORRECT_DATA);
                Ok(())
            },
            intermediate: Decremented(Counter::Puk),
        },
        Scenario {
            name: "SET PIN RETRIES",
            setup: |c| {
                c.authenticate_default()?;
                c.verify_pin(b"123456")
            },
            command: |c| c.set_pin_retries(5, 4),
            intermediate: None,
        },
        Scenario {
            name: "RESET",
            setup: |c| {
                admin_with_keys(c)?;
                while c.verify_pin(b"000000").map_err(|e| e.sw()) != Err(Some(applet_spec::Sw::AUTH_METHOD_BLOCKED)) {}
                while c.unblock_pin(b"00000000", b"000000").map_err(|e| e.sw())
                    != Err(Some(applet_spec::Sw::AUTH_METHOD_BLOCKED))
                {}
                Ok(())
            },
            command: |c| c.reset(),
            intermediate: None,
        },
        Scenario {
            name: "IMPORT KEY",
            setup: admin_with_keys,
            command: |c| {
                let key = applet_spec::messages::ImportedKey::Ec { scalar: vec![0x42; 32] };
                c.import_key(Slot::Signature, applet_spec::piv::KeyAlgorithm::EccP256, &key)
            },
            intermediate: None,
        },
        Scenario {
            name: "GENERATE (P-256 replaces an RSA key)",
            setup: admin_with_keys,
            command: |c| c.generate_key(Slot::Signature, applet_spec::piv::KeyAlgorithm::EccP256).map(drop),
            intermediate: None,
        },
        Scenario {
            name: "GENERATE into a retired slot (the key history in the same write)",
            setup: admin_with_keys,
            command: |c| {
                let slot = Slot::from_key_ref(0x82).unwrap();
                c.generate_key(slot, applet_spec::piv::KeyAlgorithm::EccP256).map(drop)
            },
            intermediate: None,
        },
        Scenario {
            name: "GENERATE with PIN policy ALWAYS (the policy in the same write)",
            setup: admin_with_keys,
            command: |c| {
                let policies = applet_spec::messages::Policies { pin: Some(3), touch: Some(1) };
                c.generate_key_with(Slot::Authentication, applet_spec::piv::KeyAlgorithm::Ed25519, policies).map(drop)
            },
            intermediate: None,
        },
        Scenario {
            name: "MOVE KEY into a retired slot (key, policy and key history in one write)",
            setup: admin_with_keys,
            command: |c| c.move_key(Slot::Signature, Slot::from_key_ref(0x83).unwrap()),
            intermediate: None,
        },
        Scenario {
            name: "DELETE KEY (MOVE KEY FF)",
            setup: admin_with_keys,
            command: |c| c.delete_key(Slot::Signature),
            intermediate: None,
        },
        Scenario {
            name: "SET IMPORT POLICY",
            setup: admin,
            command: |c| c.set_import_policy(Slot::Authentication, true),
            intermediate: None,
        },
        Scenario {
            name: "ARA-M STORE DATA (a rule)",
            setup: nothing,
            command: |c| store_rules(c, a_rule()),
            intermediate: None,
        },
        Scenario {
            name: "ARA-M STORE DATA (delete all)",
            setup: |c| store_rules(c, a_rule()),
            command: |c| store_rules(c, StoreCommand::DeleteAll),
            intermediate: None,
        },
    ]
}

#[test]
fn every_cut_leaves_before_after_or_the_documented_intermediate() {
    if !sim_only("the power cut is injected inside the simulated card") {
        return;
    }
    let dir = std::env::temp_dir().join(format!("subsim-tearing-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("card.json");
    let mut cuts = 0;
    for s in scenarios() {
        // Uncut run: the state after, and how many writes the command makes.
        let mut whole = card_after(s.setup);
        let before = state(&whole);
        let before_p = whole.transport().card().persistent().clone();
        let first = whole.transport().card().writes();
        (s.command)(&mut whole).unwrap_or_else(|e| panic!("{}: {e}", s.name));
        let after = state(&whole);
        let writes = whole.transport().card().writes() - first;
        assert!(writes > 0, "{}: writes nothing", s.name);
        let mut allowed = vec![before.clone(), after.clone()];
        if let Intermediate::Decremented(counter) = s.intermediate {
            allowed.push(decremented(&before_p, counter));
        }

        for k in 1..=writes {
            let mut c = file_card_after(&path, s.setup);
            assert_eq!(state(&c), before, "{}: setup is not reproducible", s.name);
            assert_eq!(file_state(&path), before, "{}: the file holds the card", s.name);
            c.transport_mut().card_mut().tear_at_write(first + k);
            let r = (s.command)(&mut c);
            // No answer at all: the host sees the card go.
            let e = r.expect_err(&format!("{} cut at write {k}: the card answered", s.name));
            assert_eq!(e.transport_kind(), Some(TransportKind::CardRemoved), "{}: {e}", s.name);
            // What a process killed at this moment leaves on disk.
            assert_eq!(file_state(&path), state(&c), "{} cut at write {k}: the file is not the card", s.name);
            c.transport_mut().card_mut().power_cycle();
            let now = state(&c);
            assert!(allowed.contains(&now), "{} cut at write {k} of {writes}: a mixed state", s.name);
            assert_eq!(file_state(&path), now);
            cuts += 1;
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
    // Nine counted checks of two writes each, nineteen single-write commands
    // (two of them the ARA-M's; MOVE and DELETE KEY one write each).
    assert_eq!(cuts, 9 * 2 + 19, "cut points exercised");
}

#[test]
fn a_cut_during_verify_never_gives_a_free_try_or_a_hint() {
    if !sim_only("the power cut is injected inside the simulated card") {
        return;
    }
    // The same cut for a right and a wrong PIN leaves the same card.
    for k in 1..=2 {
        let leave = |pin: &'static [u8]| {
            let mut c = card_after(nothing);
            let first = c.transport().card().writes();
            c.transport_mut().card_mut().tear_at_write(first + k);
            assert!(c.verify_pin(pin).is_err());
            c.transport_mut().card_mut().power_cycle();
            (state(&c), c.transport().card().persistent().pin.tries_left)
        };
        let right = leave(b"123456");
        let wrong = leave(b"000000");
        assert_eq!(right, wrong, "a cut at write {k} tells a right PIN from a wrong one");
        // Cut at the first write: nothing compared, nothing counted. At the
        // second: the try is spent, right or wrong.
        assert_eq!(right.1, if k == 1 { 3 } else { 2 });
    }
}

#[test]
fn a_torn_key_generation_leaves_the_old_key_usable() {
    if !sim_only("the power cut is injected inside the simulated card") {
        return;
    }
    let mut c = card_after(admin_with_keys);
    c.present_binding(&[0xB1; 32]).unwrap();
    c.verify_pin(b"123456").unwrap();
    let old = c.sign(Slot::Signature, b"m", Hash::Sha256, Padding::Pkcs1v15).unwrap();
    let first = c.transport().card().writes();
    c.transport_mut().card_mut().tear_at_write(first + 1);
    assert!(c.generate(Slot::Signature).is_err());
    c.transport_mut().card_mut().power_cycle();
    c.select().unwrap();
    c.present_binding(&[0xB1; 32]).unwrap();
    c.verify_pin(b"123456").unwrap();
    let again = c.sign(Slot::Signature, b"m", Hash::Sha256, Padding::Pkcs1v15).unwrap();
    assert_eq!(old, again, "the same key signs (PKCS#1 v1.5 is deterministic)");
    assert_eq!(c.read_certificate(Slot::Signature).unwrap().unwrap(), [0x30, 0x03, 1, 2, 3]);
}
