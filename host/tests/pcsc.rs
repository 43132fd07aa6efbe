//! The PC/SC transport against a real pcscd, on the second vpcd reader
//! ("Virtual PCD 00 01", port 35964) with a simulated card each test serves
//! itself: reader choice, the distinct errors, reset by another process,
//! removal, and transactions keeping two clients apart. Skipped, with a
//! message, where pcscd with vsmartcard-vpcd is not running (scripts/test
//! starts it).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use applet_spec::apdu::Command as Apdu;
use subsim_host::{list_readers, Client, PcscTransport, PinState, ReaderChoice, Transport, TransportKind};

const READER: &str = "Virtual PCD 00 01";
const PORT: &str = "127.0.0.1:35964";
static SERIAL: Mutex<()> = Mutex::new(());

fn apdu_sim() -> PathBuf {
    std::env::var_os("SUBSIM_APDU_SIM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../target/debug/apdu-sim")))
}

/// The shared reader, if this machine has it; otherwise says what is missing.
fn reader_lock() -> Option<MutexGuard<'static, ()>> {
    let guard = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    match list_readers() {
        Ok(r) if r.iter().any(|r| r.name == READER) && apdu_sim().exists() => Some(guard),
        Ok(_) | Err(_) => {
            // Straight to stderr: libtest would swallow eprintln! in a passing test.
            use std::io::Write;
            let name = std::thread::current().name().unwrap_or("?").to_string();
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED: {name}: needs pcscd with vsmartcard-vpcd (reader {READER:?}) and a built apdu-sim; scripts/test provides both"
            );
            None
        }
    }
}

fn card_present() -> bool {
    list_readers().unwrap().iter().any(|r| r.name == READER && r.card_present)
}

/// Polls `f` for up to 10 s; whether it came true.
fn poll(f: impl Fn() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !f() {
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    true
}

fn wait_until(what: &str, f: impl Fn() -> bool) {
    assert!(poll(f), "timed out waiting: {what}");
}

/// A simulated card inserted in the reader for the test's duration.
struct VirtualCard(Child);

impl VirtualCard {
    fn insert(seed: u64) -> VirtualCard {
        VirtualCard::start(seed, None)
    }

    fn insert_with_state(seed: u64, state: &std::path::Path) -> VirtualCard {
        VirtualCard::start(seed, Some(state))
    }

    /// Pulls the card at once (SIGKILL: no goodbye), and waits until pcscd sees it gone.
    fn pull(&mut self) {
        self.remove();
    }

    fn start(seed: u64, state: Option<&std::path::Path>) -> VirtualCard {
        let mut args = vec!["vpcd".to_string(), "--addr".into(), PORT.into(), "--seed".into(), seed.to_string()];
        if let Some(state) = state {
            args.extend(["--state".to_string(), state.display().to_string()]);
        }
        // Detached from our output: a card process must never hold the test
        // runner's pipes open. Owned before waiting, so Drop kills it even
        // if the card never shows up.
        let child = Command::new(apdu_sim())
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let card = VirtualCard(child);
        wait_until("card inserted", card_present);
        card
    }
    fn remove(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
        wait_until("card removed", || !card_present());
    }
}

impl Drop for VirtualCard {
    // Never panics (it may run while a failed test unwinds), but waits until
    // pcscd has seen the card go, so the next test meets an empty reader.
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
        poll(|| !list_readers().is_ok_and(|r| r.iter().any(|r| r.name == READER && r.card_present)));
    }
}

fn connect() -> Client<PcscTransport> {
    let mut c = Client::new(PcscTransport::connect(&ReaderChoice::Exact(READER.into())).unwrap());
    c.select().unwrap();
    c
}

fn kind<T>(r: subsim_host::Result<T>) -> TransportKind {
    match r {
        Err(e) => e.transport_kind().unwrap_or_else(|| panic!("not a transport error: {e}")),
        Ok(_) => panic!("expected a transport error"),
    }
}

#[test]
fn no_card_and_unknown_reader_are_told_apart() {
    let Some(_lock) = reader_lock() else { return };
    assert_eq!(kind(PcscTransport::connect(&ReaderChoice::Exact(READER.into()))), TransportKind::NoCard);
    assert_eq!(kind(PcscTransport::connect(&ReaderChoice::Exact("No Such Reader".into()))), TransportKind::NoReader);
    assert_eq!(kind(PcscTransport::connect(&ReaderChoice::Substring("nonesuch".into()))), TransportKind::NoReader);
    let e = PcscTransport::connect(&ReaderChoice::Exact(READER.into())).unwrap_err();
    assert!(e.to_string().contains(READER) && e.hint().is_some(), "{e}");
}

#[test]
fn readers_are_chosen_by_name_substring_or_serial() {
    let Some(_lock) = reader_lock() else { return };
    let _card = VirtualCard::insert(11);
    let serial = connect().serial().unwrap();
    let r = list_readers().unwrap().into_iter().find(|r| r.name == READER).unwrap();
    assert!(r.card_present && applet_spec::atr::parse(&r.atr).simulator);
    let by_serial = PcscTransport::connect(&ReaderChoice::Serial(serial)).unwrap();
    assert_eq!(by_serial.reader(), READER);
    let by_part = PcscTransport::connect(&ReaderChoice::Substring("PCD 00 01".into())).unwrap();
    assert_eq!(by_part.reader(), READER);
    assert_eq!(kind(PcscTransport::connect(&ReaderChoice::Serial(serial.wrapping_add(1)))), TransportKind::NoCard);
}

#[test]
fn an_exclusive_holder_gives_a_sharing_violation() {
    let Some(_lock) = reader_lock() else { return };
    let _card = VirtualCard::insert(12);
    let ctx = pcsc::Context::establish(pcsc::Scope::User).unwrap();
    let name = std::ffi::CString::new(READER).unwrap();
    let holder = ctx.connect(&name, pcsc::ShareMode::Exclusive, pcsc::Protocols::ANY).unwrap();
    let e = PcscTransport::connect(&ReaderChoice::Exact(READER.into())).unwrap_err();
    assert_eq!(e.transport_kind(), Some(TransportKind::SharingViolation), "{e}");
    drop(holder);
    connect().version().unwrap();
}

#[test]
fn closing_a_connection_leaves_the_card_as_it_is() {
    let Some(_lock) = reader_lock() else { return };
    let _card = VirtualCard::insert(17);
    let mut mine = connect();
    mine.verify_pin(b"123456").unwrap();
    drop(connect()); // another client comes and goes
    assert_eq!(mine.pin_state().unwrap(), PinState::Verified);
}

#[test]
fn a_reset_by_another_process_is_reported_once_and_never_replays_the_pin() {
    let Some(_lock) = reader_lock() else { return };
    let _card = VirtualCard::insert(13);
    let mut mine = connect();
    mine.verify_pin(b"123456").unwrap();
    let mut other = connect();
    other.transport_mut().reset().unwrap();
    let e = mine.pin_state().unwrap_err();
    assert_eq!(e.transport_kind(), Some(TransportKind::CardReset), "{e}");
    assert!(e.to_string().contains("PIN"), "{e}");
    // Reconnected and re-selected, but the PIN is not verified again.
    assert_eq!(mine.pin_state().unwrap(), PinState::NotVerified { tries_left: 3 });
}

#[test]
fn removal_is_reported_as_such() {
    let Some(_lock) = reader_lock() else { return };
    let mut card = VirtualCard::insert(14);
    let mut c = connect();
    c.version().unwrap();
    card.remove();
    let k = kind(c.version());
    assert!(matches!(k, TransportKind::CardRemoved | TransportKind::NoCard), "{k:?}");
}

#[test]
fn a_transaction_keeps_another_client_out() {
    let Some(_lock) = reader_lock() else { return };
    let _card = VirtualCard::insert(15);
    let mut mine = connect();
    let other_done = Arc::new(AtomicBool::new(false));
    let mut other = None;
    let mut rest = Vec::new();
    mine.transport_mut()
        .exclusive(&mut |t| {
            // SELECT with Le=8 leaves the rest of the answer pending (61xx);
            // any command of another client would throw it away.
            let first = t.transmit(&[0x00, 0xA4, 0x04, 0x00, 0x05, 0xA0, 0x00, 0x00, 0x03, 0x08, 0x08])?;
            assert_eq!(first[first.len() - 2], 0x61);
            let done = Arc::clone(&other_done);
            other = Some(std::thread::spawn(move || {
                connect().version().unwrap();
                done.store(true, Ordering::SeqCst);
            }));
            std::thread::sleep(Duration::from_millis(300));
            assert!(!other_done.load(Ordering::SeqCst), "the other client got in during our transaction");
            rest = t.transmit(&[0x00, 0xC0, 0x00, 0x00, 0x00])?;
            Ok(())
        })
        .unwrap();
    assert!(rest.ends_with(&[0x90, 0x00]), "the pending answer survived: {rest:02X?}");
    other.unwrap().join().unwrap();
    assert!(other_done.load(Ordering::SeqCst), "the other client ran once the transaction ended");
}

/// The two halves of mutual 9B authentication, with `between` run between
/// them, sent as raw commands: the card's pending witness lives in its
/// transient state, which another host's SELECT clears.
fn slow_mutual_auth(
    c: &mut Client<&mut dyn Transport>,
    between: impl FnOnce(),
) -> subsim_host::Result<applet_spec::Sw> {
    use applet_spec::messages::DynamicAuth;
    use applet_spec::piv::{MgmAlgorithm, DEFAULT_MGM_KEY};
    let alg = MgmAlgorithm::TripleDes;
    let step1 = DynamicAuth { witness: Some(vec![]), ..Default::default() }.encode();
    let r = c.transmit(&Apdu::new(0, 0x87, 3, 0x9B).with_data(step1).with_ne(256))?;
    let w = DynamicAuth::decode(&r.data).unwrap().witness.unwrap();
    let w = applet_spec::mgm::decrypt_block(alg, &DEFAULT_MGM_KEY, &w).unwrap();
    between();
    let step2 = DynamicAuth { witness: Some(w), challenge: Some(vec![7; 8]), response: None }.encode();
    Ok(c.transmit(&Apdu::new(0, 0x87, 3, 0x9B).with_data(step2).with_ne(256))?.sw)
}

#[test]
fn an_atomic_operation_is_not_disturbed_by_another_client() {
    let Some(_lock) = reader_lock() else { return };
    let _card = VirtualCard::insert(16);
    let mut mine = connect();
    // Without a transaction: another client's SELECT between the two steps
    // throws the pending witness away.
    let mut plain = Client::new(mine.transport_mut() as &mut dyn Transport);
    let sw = slow_mutual_auth(&mut plain, || drop(connect())).unwrap();
    assert_eq!(sw, applet_spec::Sw::CONDITIONS_NOT_SATISFIED);
    // As one atomic operation, the other client's SELECT waits until it ends.
    let other_done = Arc::new(AtomicBool::new(false));
    let mut other = None;
    let sw = mine
        .atomic(|c| {
            slow_mutual_auth(c, || {
                let done = Arc::clone(&other_done);
                other = Some(std::thread::spawn(move || {
                    drop(connect());
                    done.store(true, Ordering::SeqCst);
                }));
                std::thread::sleep(Duration::from_millis(300));
            })
        })
        .unwrap();
    let got_in_early = other_done.load(Ordering::SeqCst);
    other.unwrap().join().unwrap();
    assert!(!got_in_early, "the other client got in during the transaction");
    assert_eq!(sw, applet_spec::Sw::OK);
    assert!(other_done.load(Ordering::SeqCst));
}

/// Other processes talking to the card while this lives: `opensc-tool`
/// runs again and again (each run a new PC/SC client process whose drivers
/// probe and SELECT), at most 400 times, until dropped.
struct OtherProcesses {
    stop: Arc<AtomicBool>,
    runs: Option<std::thread::JoinHandle<usize>>,
}

impl OtherProcesses {
    fn start() -> OtherProcesses {
        let index = list_readers().unwrap().iter().position(|r| r.name == READER).unwrap().to_string();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let runs = std::thread::spawn(move || {
            let mut n = 0;
            while !flag.load(Ordering::SeqCst) && n < 400 {
                let _ = Command::new("opensc-tool")
                    .args(["-r", &index, "-s", "00A4040005A000000308"])
                    .stdin(Stdio::null())
                    .output();
                n += 1;
                std::thread::sleep(Duration::from_millis(5));
            }
            n
        });
        std::thread::sleep(Duration::from_millis(300));
        OtherProcesses { stop, runs: Some(runs) }
    }
}

impl Drop for OtherProcesses {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(runs) = self.runs.take() {
            let _ = runs.join();
        }
    }
}

#[test]
fn another_process_never_gets_between_the_steps_of_an_atomic_operation() {
    let Some(_lock) = reader_lock() else { return };
    if Command::new("opensc-tool").arg("--version").output().is_err() {
        let _ = std::io::Write::write_all(&mut std::io::stderr(), b"SKIPPED: needs opensc-tool (Debian: opensc)\n");
        return;
    }
    let _card = VirtualCard::insert(18);
    let _others = OtherProcesses::start();
    let mut mine = connect();
    let pause = || std::thread::sleep(Duration::from_millis(400));
    // Without a transaction the other process gets in during the pause.
    let mut plain = Client::new(mine.transport_mut() as &mut dyn Transport);
    assert_eq!(slow_mutual_auth(&mut plain, pause).unwrap(), applet_spec::Sw::CONDITIONS_NOT_SATISFIED);
    for _ in 0..3 {
        assert_eq!(mine.atomic(|c| slow_mutual_auth(c, pause)).unwrap(), applet_spec::Sw::OK);
        mine.authenticate_default().unwrap();
    }
}

#[test]
fn a_card_pulled_during_a_command_is_reported_and_its_state_stays_whole() {
    let Some(_lock) = reader_lock() else { return };
    let dir = std::env::temp_dir().join(format!("subsim-pull-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let state = dir.join("card.json");
    let mut pulled = None;
    for attempt in 0..10 {
        let mut card = VirtualCard::insert_with_state(20 + attempt, &state);
        let mut c = connect();
        c.authenticate_default().unwrap();
        let before = apdu_sim::persist::load(&state).unwrap().unwrap().changes;
        // Key generation takes tens of milliseconds: pull the card meanwhile.
        let generating = std::thread::spawn(move || c.generate(applet_spec::piv::Slot::Authentication).map(drop));
        std::thread::sleep(Duration::from_millis(5));
        card.pull();
        if let Err(e) = generating.join().unwrap() {
            pulled = Some((e, before));
            break;
        }
    }
    let (e, before) = pulled.expect("the card was never pulled during a command in 10 tries");
    assert_eq!(e.transport_kind(), Some(TransportKind::CardRemoved), "{e}");
    // The saved card loads (its digest holds) and has the old state or the new one.
    let p = apdu_sim::persist::load(&state).unwrap().unwrap();
    assert!(p.changes == before || p.changes == before + 1, "changes {} vs {before}", p.changes);
    assert_eq!(p.changes == before + 1, p.keys.contains_key(&applet_spec::piv::Slot::Authentication));
    std::fs::remove_dir_all(&dir).unwrap();
}
