//! The card file under `apdu-sim script`, as a hostile or careless user
//! meets it: parallel programs, read-only files and folders, symlinks,
//! FIFOs, devices, planted temporary names, two cards in one folder, a full
//! disk, a read-only file system. A card file is one physical card: one
//! holder, and nothing it answered is ever undone.

use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_apdu-sim");
const SELECT: &str = "00 A4 04 00 05 A0 00 00 03 08";
const WRONG_PIN: &str = "00 20 00 80 08 39 39 39 39 39 39 FF FF";
const GET_SERIAL: &str = "00 F8 00 00";
/// The exit code for "card file in use".
const IN_USE: i32 = apdu_sim::cardfile::EXIT_IN_USE as i32;

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("apdu-sim-file-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

struct Run {
    code: i32,
    out: Vec<String>,
    err: String,
}

/// `apdu-sim script --state STATE ARGS` on `input`, through `sh -c PREFIX`
/// when a shell prefix (ulimit) is given.
fn run_with(prefix: Option<&str>, state: &Path, args: &[&str], input: &str) -> Run {
    let mut cmd = match prefix {
        Some(p) => {
            let mut c = Command::new("sh");
            c.args(["-c", &format!("{p}; exec \"$0\" \"$@\""), BIN]);
            c
        }
        None => Command::new(BIN),
    };
    let mut child = cmd
        .args(["script", "--state", state.to_str().unwrap()])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let _ = child.stdin.take().unwrap().write_all(input.as_bytes());
    let o = child.wait_with_output().unwrap();
    Run {
        code: o.status.code().unwrap_or(-1),
        out: String::from_utf8(o.stdout).unwrap().lines().map(str::to_owned).collect(),
        err: String::from_utf8(o.stderr).unwrap(),
    }
}

fn run(state: &Path, input: &str) -> Run {
    run_with(None, state, &[], input)
}

fn tries(state: &Path) -> u8 {
    apdu_sim::persist::load(state).unwrap().unwrap().pin.tries_left
}

/// A holder: `apdu-sim script --state F` reading a pipe we keep open.
fn hold(state: &Path) -> std::process::Child {
    let mut child = Command::new(BIN)
        .args(["script", "--state", state.to_str().unwrap()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Held once it answers.
    writeln!(child.stdin.as_mut().unwrap(), "{SELECT}").unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(child.stdout.as_mut().unwrap()), &mut line).unwrap();
    assert!(line.trim_end().ends_with("9000"), "{line}");
    child
}

#[test]
fn a_second_program_is_told_who_holds_the_card_or_waits_for_it() {
    let dir = temp_dir("holder");
    let state = dir.join("card.json");
    let mut holder = hold(&state);
    let r = run(&state, &format!("{SELECT}\n{WRONG_PIN}\n"));
    assert_eq!(r.code, IN_USE, "{}", r.err);
    let want = format!("card file {} is in use by apdu-sim pid {}", state.display(), holder.id());
    assert!(r.err.contains(&want), "{want:?} not in {:?}", r.err);
    assert!(r.out.is_empty());
    // With --wait, it runs once the holder lets go.
    let waiter = std::thread::spawn({
        let state = state.clone();
        move || run_with(None, &state, &["--wait", "20"], &format!("{SELECT}\n{WRONG_PIN}\n"))
    });
    std::thread::sleep(Duration::from_millis(300));
    drop(holder.stdin.take());
    assert!(holder.wait().unwrap().success());
    let r = waiter.join().unwrap();
    assert_eq!((r.code, r.out[1].as_str()), (0, "63C2"), "{}", r.err);
    // --wait gives up in time.
    let mut holder = hold(&state);
    let started = Instant::now();
    let r = run_with(None, &state, &["--wait", "0.3"], &format!("{SELECT}\n"));
    assert_eq!(r.code, IN_USE);
    assert!(started.elapsed() < Duration::from_secs(5));
    drop(holder.stdin.take());
    holder.wait().unwrap();
}

#[test]
fn parallel_wrong_pins_are_each_counted_once() {
    let dir = temp_dir("parallel");
    let state = dir.join("card.json");
    run(&state, &format!("{SELECT}\n"));
    // Half wait for the card, half give up at once.
    let runs: Vec<Run> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..16)
            .map(|i| {
                let state = &state;
                s.spawn(move || {
                    let args: &[&str] = if i % 2 == 0 { &["--wait", "30"] } else { &[] };
                    run_with(None, state, args, &format!("{SELECT}\n{WRONG_PIN}\n"))
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut answers = Vec::new();
    for r in &runs {
        match r.code {
            0 => answers.push(r.out[1].clone()),
            IN_USE => assert!(r.err.contains("is in use by apdu-sim pid"), "{}", r.err),
            _ => panic!("exit {}: {}", r.code, r.err),
        }
    }
    assert!(answers.len() >= 8, "every waiting program ran");
    let wrong: Vec<&String> = answers.iter().filter(|a| a.starts_with("63C")).collect();
    let mut counted: Vec<&str> = wrong.iter().map(|a| a.as_str()).collect();
    counted.sort();
    assert_eq!(counted, ["63C0", "63C1", "63C2"], "each try answered once: {answers:?}");
    assert!(answers.iter().all(|a| a.starts_with("63C") || a == "6983"), "{answers:?}");
    assert_eq!(tries(&state) as usize, 3usize.saturating_sub(wrong.len()));
}

#[test]
fn read_only_files_and_folders_serve_reads_and_refuse_writes_untouched() {
    let dir = temp_dir("readonly");
    let state = dir.join("card.json");
    let r = run(&state, &format!("{SELECT}\n{GET_SERIAL}\n"));
    let serial = r.out[1].clone();
    assert_eq!(std::fs::metadata(&state).unwrap().mode() & 0o777, 0o600, "a new card file is private");

    let check = |what: &str, want: &str| {
        let before = (std::fs::read(&state).unwrap(), std::fs::metadata(&state).unwrap().ino());
        let r = run(&state, &format!("{SELECT}\n{GET_SERIAL}\n"));
        assert_eq!((r.code, &r.out[1]), (0, &serial), "{what}: reads work: {}", r.err);
        let r = run(&state, &format!("{SELECT}\n{WRONG_PIN}\n{GET_SERIAL}\n"));
        assert_eq!(r.code, 2, "{what}: {}", r.err);
        assert_eq!(r.out.len(), 1, "{what}: the writing command got no answer");
        assert!(r.err.contains(&state.display().to_string()) && r.err.contains(want), "{what}: {}", r.err);
        let after = (std::fs::read(&state).unwrap(), std::fs::metadata(&state).unwrap().ino());
        assert!(before == after, "{what}: the file was touched");
    };
    std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o444)).unwrap();
    check("chmod 444 file", "is read-only (the file's mode is 0444)");
    std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o555)).unwrap();
    check("chmod 555 folder", "is read-only (its folder's mode is 0555)");
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    assert_eq!(tries(&state), 3);
}

/// Runs a program that must end by itself within 10 s (the old code hung).
fn run_bounded(state: &Path) -> Run {
    let mut child = Command::new(BIN)
        .args(["script", "--state", state.to_str().unwrap()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{} hung the program", state.display());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let o = child.wait_with_output().unwrap();
    Run { code: o.status.code().unwrap(), out: Vec::new(), err: String::from_utf8(o.stderr).unwrap() }
}

#[test]
fn symlinks_fifos_devices_and_folders_are_refused_at_once() {
    let dir = temp_dir("kinds");
    let victim = dir.join("victim.json");
    run(&victim, &format!("{SELECT}\n"));
    let original = std::fs::read(&victim).unwrap();
    let link = dir.join("link.json");
    std::os::unix::fs::symlink(&victim, &link).unwrap();
    let fifo = dir.join("fifo.json");
    assert!(Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    for (path, want) in [
        (link.as_path(), "a symbolic link to"),
        (fifo.as_path(), "a FIFO, not a regular file"),
        (Path::new("/dev/zero"), "a device, not a regular file"),
        (dir.as_path(), "a directory, not a regular file"),
    ] {
        let r = run_bounded(path);
        assert_eq!(r.code, 2, "{}", r.err);
        assert!(r.err.contains(want), "{want:?} not in {}", r.err);
    }
    assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink(), "the link is left as it was");
    assert_eq!(std::fs::read(&victim).unwrap(), original);
}

#[test]
fn planted_temporary_names_are_never_followed_and_any_card_name_works() {
    let dir = temp_dir("names");
    let victim = dir.join("victim");
    std::fs::write(&victim, "keep me").unwrap();
    // The names the old code used for its temporary file, planted.
    for planted in ["x.tmp", "card.tmp.tmp", ".x.json.tmp", ".card.tmp.tmp"] {
        std::os::unix::fs::symlink(&victim, dir.join(planted)).unwrap();
    }
    // Two cards differing only in extension, and one named *.tmp, used in turn.
    let cards = [dir.join("x.json"), dir.join("x.dat"), dir.join("card.tmp")];
    let serials: Vec<String> =
        cards.iter().map(|c| run(c, &format!("{SELECT}\n{GET_SERIAL}\n")).out[1].clone()).collect();
    for round in 0..2 {
        for card in &cards {
            let r = run(card, &format!("{SELECT}\n{WRONG_PIN}\n"));
            assert_eq!(r.out[1], format!("63C{}", 2 - round), "{}: {}", card.display(), r.err);
        }
    }
    for (card, serial) in cards.iter().zip(&serials) {
        let r = run(card, &format!("{SELECT}\n{GET_SERIAL}\n"));
        assert_eq!(&r.out[1], serial, "{} is still its own card", card.display());
        assert_eq!(tries(card), 1);
        assert_eq!(std::fs::metadata(card).unwrap().mode() & 0o7777, 0o600, "still private after its writes");
    }
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep me");
}

#[test]
fn a_write_the_disk_cannot_take_gets_no_answer_and_changes_nothing() {
    let dir = temp_dir("full");
    let state = dir.join("card.json");
    run(&state, &format!("{SELECT}\n{WRONG_PIN}\n"));
    let before = std::fs::read(&state).unwrap();
    // A file size limit of 512 bytes: the temporary file cannot be written.
    let r = run_with(Some("ulimit -f 1; trap '' XFSZ"), &state, &[], &format!("{SELECT}\n{WRONG_PIN}\n{SELECT}\n"));
    assert_eq!(r.code, 2, "{}", r.err);
    assert_eq!(r.out.len(), 1, "only SELECT was answered: {:?}", r.out);
    assert!(
        r.err.contains("line 2: no answer") && r.err.contains("card.json") && r.err.contains("too large"),
        "{}",
        r.err
    );
    assert_eq!(std::fs::read(&state).unwrap(), before, "the file stays as it was");
    let left: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(left.len(), 1, "no temporary file left: {left:?}");
    assert_eq!(tries(&state), 2);
}

/// A small tmpfs mounted for the test; unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(test: &str, size: &str) -> Option<Tmpfs> {
        let dir = temp_dir(test);
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size},mode=0755"), "tmpfs"])
            .arg(&dir)
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            eprintln!("SKIPPED: {test}: needs root and mount(8) to mount a small tmpfs");
            return None;
        }
        Some(Tmpfs(dir))
    }
    fn remount(&self, opts: &str) {
        assert!(Command::new("mount")
            .args(["-o", &format!("remount,{opts}")])
            .arg(&self.0)
            .status()
            .unwrap()
            .success());
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn a_full_file_system_is_a_power_cut() {
    let Some(fs) = Tmpfs::mount("a_full_file_system_is_a_power_cut", "64k") else { return };
    let state = fs.0.join("card.json");
    run(&state, &format!("{SELECT}\n{WRONG_PIN}\n"));
    let before = std::fs::read(&state).unwrap();
    // Fill what is left.
    let mut filler = std::fs::File::create(fs.0.join("filler")).unwrap();
    while filler.write_all(&[0; 4096]).is_ok() {}
    let _ = filler.write_all(&[0]);
    let r = run(&state, &format!("{SELECT}\n{GET_SERIAL}\n{WRONG_PIN}\n"));
    assert_eq!((r.code, r.out.len()), (2, 2), "reads answered, the write not: {}", r.err);
    assert!(r.err.contains("No space left on device") && r.err.contains("card.json"), "{}", r.err);
    assert_eq!(std::fs::read(&state).unwrap(), before);
    drop(filler);
    std::fs::remove_file(fs.0.join("filler")).unwrap();
    assert_eq!(run(&state, &format!("{SELECT}\n{WRONG_PIN}\n")).out[1], "63C1", "with room again, the card goes on");
}

#[test]
fn a_read_only_file_system_serves_reads_and_refuses_writes() {
    let Some(fs) = Tmpfs::mount("a_read_only_file_system_serves_reads_and_refuses_writes", "1m") else { return };
    let state = fs.0.join("card.json");
    let serial = run(&state, &format!("{SELECT}\n{GET_SERIAL}\n")).out[1].clone();
    fs.remount("ro");
    let r = run(&state, &format!("{SELECT}\n{GET_SERIAL}\n{WRONG_PIN}\n"));
    assert_eq!((r.code, r.out.len()), (2, 2), "{}", r.err);
    assert_eq!(r.out[1], serial);
    assert!(r.err.contains("is read-only (read-only file system)"), "{}", r.err);
    fs.remount("rw");
    assert_eq!(tries(&state), 3);
}

#[test]
fn any_wait_the_option_takes_is_a_wait_never_a_panic() {
    let dir = temp_dir("wait-forever");
    let state = dir.join("card.json");
    for wait in ["0", "0.5", "1e18", "1.8e19"] {
        let r = run_with(None, &state, &["--wait", wait], &format!("{SELECT}\n"));
        assert_eq!((r.code, r.out.len()), (0, 1), "--wait {wait}: {}", r.err);
    }
    for bad in ["-1", "NaN", "inf", "1e20", "soon"] {
        let r = run_with(None, &state, &[&format!("--wait={bad}")], &format!("{SELECT}\n"));
        assert_eq!(r.code, 2, "--wait {bad}: {}", r.err);
        assert!(r.err.contains("not a number of seconds") && !r.err.contains("panicked"), "{}", r.err);
    }
}

#[test]
fn a_card_file_replaced_while_held_stops_the_holder_and_is_left_alone() {
    let dir = temp_dir("replaced");
    let state = dir.join("card.json");
    let other = dir.join("other.json");
    assert_eq!(run(&other, &format!("{SELECT}\n{WRONG_PIN}\n")).out[1], "63C2");
    let mut holder = hold(&state);
    // Another card moved into place (a restored backup): whoever opens the
    // path now gets that card, so the old holder must not write over it.
    let moved_in = std::fs::read(&other).unwrap();
    std::fs::rename(&other, &state).unwrap();
    let mut stdin = holder.stdin.take().unwrap();
    writeln!(stdin, "{WRONG_PIN}").unwrap();
    drop(stdin);
    let o = holder.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(2), "the holder stops: {o:?}");
    assert!(o.stdout.is_empty(), "no answer to the write it could not make: {o:?}");
    assert_eq!(std::fs::read(&state).unwrap(), moved_in, "the card moved in was written over");
    assert_eq!(tries(&state), 2);
}
