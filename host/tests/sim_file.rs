//! The `subsim` command line on its embedded card's file: one holder (exit
//! code 7 or `--wait`), opening writes nothing, read-only files serve reads,
//! a write the disk refuses gets no answer, parallel commands lose nothing,
//! and SIGKILL at random moments never undoes an answered write.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use apdu_sim::cardfile::EXIT_IN_USE;

const SUBSIM: &str = env!("CARGO_BIN_EXE_subsim");

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("subsim-file-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `subsim --sim CARD --create ...`: each test's card is made by its first
/// command (--create does nothing to a card that exists).
fn subsim(card: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(SUBSIM);
    c.arg("--sim").arg(card).arg("--create").args(args).env("SUBSIM_NEW_PIN", "654321").stdin(Stdio::null());
    c
}

fn pin(card: &Path, pin: &str, extra: &[&str]) -> Output {
    subsim(card, extra).args(["pin", "verify"]).env("SUBSIM_PIN", pin).output().unwrap()
}

/// Back to 3 PIN tries and the factory PIN, with the factory PUK.
fn unblock(card: &Path) {
    let o = subsim(card, &["pin", "unblock"])
        .env("SUBSIM_PUK", "12345678")
        .env("SUBSIM_NEW_PIN", "123456")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", err(&o));
}

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn load(card: &Path) -> apdu_sim::state::Persistent {
    apdu_sim::persist::load(card).unwrap().unwrap()
}

#[test]
fn parallel_wrong_pins_are_each_counted_once_or_told_the_card_is_in_use() {
    let dir = temp_dir("parallel");
    let card = dir.join("card.json");
    assert!(pin(&card, "123456", &[]).status.success());
    for wait in [false, true] {
        let outs: Vec<Output> = std::thread::scope(|s| {
            let hs: Vec<_> =
                (0..8).map(|_| s.spawn(|| pin(&card, "999999", if wait { &["--wait", "30"] } else { &[] }))).collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let mut wrong = 0;
        for o in &outs {
            let e = err(o);
            match o.status.code() {
                Some(1) if e.contains("63C") => wrong += 1,
                Some(1) => assert!(e.contains("6983"), "{e}"),
                Some(c) if c == EXIT_IN_USE as i32 && !wait => {
                    assert!(e.contains("is in use by subsim pid"), "{e}")
                }
                other => panic!("exit {other:?}: {e}"),
            }
        }
        assert_eq!(load(&card).pin.tries_left as usize, 3usize.saturating_sub(wrong), "wait {wait}");
        if wait {
            assert_eq!(wrong, 3, "all eight ran, one after another");
        }
        // Back to 3 tries for the next round.
        unblock(&card);
    }
}

#[test]
fn key_generation_beside_a_pin_change_loses_neither() {
    let dir = temp_dir("keygen");
    let card = dir.join("card.json");
    assert!(pin(&card, "123456", &[]).status.success());
    let (gen, change) = std::thread::scope(|s| {
        let g = s.spawn(|| subsim(&card, &["--wait", "60", "key", "generate", "9a"]).output().unwrap());
        let c =
            s.spawn(|| subsim(&card, &["--wait", "60", "pin", "change"]).env("SUBSIM_PIN", "123456").output().unwrap());
        (g.join().unwrap(), c.join().unwrap())
    });
    assert!(gen.status.success(), "{}", err(&gen));
    assert!(change.status.success(), "{}", err(&change));
    let p = load(&card);
    assert!(p.keys.contains_key(&applet_spec::piv::Slot::Authentication), "the key is there");
    assert_eq!(&p.pin.block[..6], b"654321", "the PIN change is there");
}

#[test]
fn opening_writes_nothing_and_read_only_cards_serve_reads() {
    let dir = temp_dir("readonly");
    let card = dir.join("card.json");
    assert!(subsim(&card, &["info"]).output().unwrap().status.success());
    assert_eq!(std::fs::metadata(&card).unwrap().mode() & 0o777, 0o600, "a new card file is private");
    let stamp = |p: &Path| {
        let m = std::fs::metadata(p).unwrap();
        (std::fs::read(p).unwrap(), m.ino(), m.mtime(), m.mtime_nsec())
    };
    let before = stamp(&card);
    std::thread::sleep(Duration::from_millis(20));
    assert!(subsim(&card, &["info"]).output().unwrap().status.success());
    assert!(stamp(&card) == before, "info rewrote the file");

    std::fs::set_permissions(&card, std::fs::Permissions::from_mode(0o444)).unwrap();
    let info = subsim(&card, &["info"]).output().unwrap();
    assert!(info.status.success(), "{}", err(&info));
    let o = pin(&card, "999999", &[]);
    assert_eq!(o.status.code(), Some(3), "{}", err(&o));
    assert!(err(&o).contains("card file") && err(&o).contains("is read-only"), "{}", err(&o));
    assert!(stamp(&card) == before, "a read-only file is never replaced");
    std::fs::set_permissions(&card, std::fs::Permissions::from_mode(0o600)).unwrap();
}

#[test]
fn a_write_the_disk_refuses_is_an_error_naming_the_file() {
    let dir = temp_dir("full");
    let card = dir.join("card.json");
    assert!(subsim(&card, &["info"]).output().unwrap().status.success());
    let before = std::fs::read(&card).unwrap();
    let o = Command::new("sh")
        .args(["-c", "ulimit -f 1; trap '' XFSZ; exec \"$@\"", "sh", SUBSIM, "--sim"])
        .arg(&card)
        .args(["pin", "verify"])
        .env("SUBSIM_PIN", "999999")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(3), "{}", err(&o));
    assert!(err(&o).contains("stopped without answering") && err(&o).contains("card.json"), "{}", err(&o));
    assert_eq!(std::fs::read(&card).unwrap(), before);
}

#[test]
fn a_card_file_served_by_apdu_sim_vpcd_is_refused_to_subsim() {
    let apdu_sim = std::env::var_os("SUBSIM_APDU_SIM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../target/debug/apdu-sim")));
    if !apdu_sim.exists() {
        eprintln!("SKIPPED: a_card_file_served_by_apdu_sim_vpcd_is_refused_to_subsim: needs target/debug/apdu-sim (cargo build)");
        return;
    }
    let dir = temp_dir("vpcd");
    let card = dir.join("card.json");
    // No vpcd listens on this port: the card waits for it, holding its file.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut vpcd = Command::new(apdu_sim)
        .args(["vpcd", "--addr", &format!("127.0.0.1:{port}"), "--state"])
        .arg(&card)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    for _ in 0..250 {
        if card.exists() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let o = pin(&card, "999999", &[]);
    let _ = vpcd.kill();
    let _ = vpcd.wait();
    assert_eq!(o.status.code(), Some(EXIT_IN_USE as i32), "{}", err(&o));
    assert!(err(&o).contains(&format!("is in use by apdu-sim pid {}", vpcd.id())), "{}", err(&o));
    assert_eq!(load(&card).pin.tries_left, 3);
}

/// `subsim pin verify` processes killed at random moments: each one either
/// answered (its exit code says how) or died with at most its own command's
/// writes, never undoing an earlier answer.
#[test]
fn kill_9_at_random_moments_never_undoes_an_answered_write() {
    use rand::Rng;
    let dir = temp_dir("kill");
    let card = dir.join("card.json");
    assert!(pin(&card, "123456", &[]).status.success());
    let mut tries = 3u8;
    let mut rng = rand::thread_rng();
    // Kills spread over 1.5 times a whole run, however fast this machine is.
    let mut runs: Vec<Duration> = (0..5)
        .map(|_| {
            let t = std::time::Instant::now();
            assert!(pin(&card, "123456", &[]).status.success());
            t.elapsed()
        })
        .collect();
    runs.sort();
    let whole = runs[2];
    let spread = whole.as_micros() as u64 * 3 / 2;
    let (mut killed, mut answered, mut changed) = (0, 0, 0);
    for round in 0..120 {
        if tries == 0 {
            // A right PIN killed after its first write, with one try left.
            unblock(&card);
            tries = 3;
        }
        let right = tries <= 1 || rng.gen_bool(0.4);
        let mut child = subsim(&card, &["pin", "verify"])
            .env("SUBSIM_PIN", if right { "123456" } else { "999999" })
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_micros(rng.gen_range(0..spread)));
        let _ = child.kill(); // SIGKILL
        let status = child.wait().unwrap();
        let now = load(&card).pin.tries_left;
        match (status.signal(), status.code()) {
            (Some(9), _) => {
                killed += 1;
                let allowed = if right { vec![tries, tries - 1, 3] } else { vec![tries, tries - 1] };
                assert!(allowed.contains(&now), "round {round}: killed {right} on {tries} left {now}");
                changed += usize::from(now != tries);
            }
            (None, Some(0)) if right => {
                answered += 1;
                assert_eq!(now, 3, "round {round}")
            }
            (None, Some(1)) if !right => {
                answered += 1;
                assert_eq!(now, tries - 1, "round {round}")
            }
            other => panic!("round {round}: {other:?}"),
        }
        tries = now;
    }
    eprintln!("120 subsim runs of {whole:?}: {killed} killed ({changed} after a write), {answered} answered");
    assert!(killed >= 20 && answered >= 10 && changed > 0, "kills land during the command, and not always");
}

#[test]
fn subsim_info_works_on_a_read_only_file_system() {
    let test = "subsim_info_works_on_a_read_only_file_system";
    let dir = temp_dir("rofs");
    let mount = |args: &[&str]| Command::new("mount").args(args).arg(&dir).stderr(Stdio::null()).status();
    if !mount(&["-t", "tmpfs", "-o", "size=1m", "tmpfs"]).is_ok_and(|s| s.success()) {
        eprintln!("SKIPPED: {test}: needs root and mount(8) to mount a tmpfs");
        return;
    }
    let card = dir.join("card.json");
    let checked = std::panic::catch_unwind(|| {
        assert!(subsim(&card, &["info"]).output().unwrap().status.success());
        assert!(mount(&["-o", "remount,ro"]).unwrap().success());
        let info = subsim(&card, &["info"]).output().unwrap();
        assert!(info.status.success(), "{}", err(&info));
        let o = pin(&card, "999999", &[]);
        assert_eq!(o.status.code(), Some(3), "{}", err(&o));
        assert!(err(&o).contains("is read-only (read-only file system)"), "{}", err(&o));
        assert_eq!(load(&card).pin.tries_left, 3);
    });
    let _ = Command::new("umount").arg(&dir).status();
    let _ = std::fs::remove_dir_all(&dir);
    checked.unwrap();
}

#[test]
fn past_the_file_size_limit_subsim_reports_like_a_full_disk() {
    let dir = temp_dir("xfsz");
    let card = dir.join("card.json");
    assert!(subsim(&card, &["info"]).output().unwrap().status.success());
    let before = std::fs::read(&card).unwrap();
    // No `trap '' XFSZ` here: subsim itself must not die of the signal.
    let o = Command::new("sh")
        .args(["-c", "ulimit -f 1; exec \"$@\"", "sh", SUBSIM, "--json", "--sim"])
        .arg(&card)
        .args(["pin", "verify"])
        .env("SUBSIM_PIN", "999999")
        .output()
        .unwrap();
    assert_eq!(o.status.signal(), None, "killed by a signal: {}", err(&o));
    assert_eq!(o.status.code(), Some(3), "{}", err(&o));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["ok"], false);
    assert_eq!(j["exit_code"], 3);
    assert!(j["error"].as_str().unwrap().contains("card.json"), "{j}");
    assert_eq!(std::fs::read(&card).unwrap(), before);
}

#[test]
fn a_users_file_named_like_our_temporary_files_is_left_alone() {
    let dir = temp_dir("lookalike");
    let card = dir.join("x.json");
    assert!(subsim(&card, &["info"]).output().unwrap().status.success());
    let other = dir.join(".x.json.0123456789abcdef.tmp");
    let longer = dir.join(".x.json.0123456789abcdef0123456789abcdef.tmp");
    for f in [&other, &longer] {
        std::fs::write(f, "another card").unwrap();
    }
    // A write (a PIN try) and a read: neither removes them.
    let o = pin(&card, "999999", &[]);
    assert_eq!(o.status.code(), Some(1), "{}", err(&o));
    assert!(subsim(&card, &["info"]).output().unwrap().status.success());
    for f in [&other, &longer] {
        assert_eq!(std::fs::read_to_string(f).unwrap(), "another card", "{}", f.display());
    }
    unblock(&card);
}
