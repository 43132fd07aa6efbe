//! Through a real pcscd and vsmartcard's vpcd, measured in one run:
//! - the round trip of one APDU to the simulated card beside a trivial echo
//!   card on the same path (the floor set by pcscd and vpcd themselves);
//! - each host flow (personalisation: key generation, a CSR signed on the
//!   card, certificate load; cold and warm login; transaction signing):
//!   APDUs, bytes each way, wall time;
//! - OpenSC's pkcs11-tool signing with the same key: its APDU count.
//!
//! Needs pcscd running with vsmartcard-vpcd; it starts both virtual cards
//! itself (`scripts/bench` does the rest). Summary: target/bench/pcsc.json.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use applet_spec::piv::Slot;
use subsim_host::metered::{Meter, Metered};
use subsim_host::x509::{self, CardSigner, TestCa};
use subsim_host::{list_readers, CertCache, Client, Hash, Padding, PcscTransport, ReaderChoice, Transport};

const SIM_READER: &str = "Virtual PCD 00 00";
const ECHO_READER: &str = "Virtual PCD 00 01";
const ROUND_TRIPS: u32 = 2000;
const RUNS: u32 = 20;

fn apdu_sim() -> PathBuf {
    std::env::var_os("SUBSIM_APDU_SIM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../target/release/apdu-sim")))
}

/// A virtual card process, stopped when dropped.
struct Card(Child, &'static str);

impl Card {
    fn start(args: &[&str], reader: &'static str) -> Card {
        let child = Command::new(apdu_sim()).args(args).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
        let card = Card(child, reader);
        wait(|| present(reader), "card inserted");
        card
    }
}

impl Drop for Card {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
        wait(|| !present(self.1), "card removed");
    }
}

fn present(reader: &str) -> bool {
    list_readers().is_ok_and(|r| r.iter().any(|r| r.name == reader && r.card_present))
}

fn wait(f: impl Fn() -> bool, what: &str) {
    let t = Instant::now();
    while !f() {
        assert!(t.elapsed() < Duration::from_secs(10), "timed out: {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn connect(reader: &str) -> PcscTransport {
    PcscTransport::connect(&ReaderChoice::Exact(reader.into())).unwrap()
}

/// Microseconds per round trip of `apdu` over `n` round trips.
fn round_trip(t: &mut PcscTransport, apdu: &[u8], n: u32) -> f64 {
    let start = Instant::now();
    for _ in 0..n {
        t.transmit(apdu).unwrap();
    }
    start.elapsed().as_secs_f64() * 1e6 / n as f64
}

/// Median round trips of two cards measured in alternating blocks, so drift
/// in the machine's load falls on both alike.
fn round_trips(a: &mut PcscTransport, b: &mut PcscTransport, apdu: &[u8]) -> (f64, f64) {
    const BLOCKS: u32 = 10;
    let (mut xs, mut ys) = (Vec::new(), Vec::new());
    round_trip(a, apdu, 50);
    round_trip(b, apdu, 50);
    for _ in 0..BLOCKS {
        xs.push(round_trip(a, apdu, ROUND_TRIPS / BLOCKS));
        ys.push(round_trip(b, apdu, ROUND_TRIPS / BLOCKS));
    }
    let median = |mut v: Vec<f64>| {
        v.sort_by(|x, y| x.total_cmp(y));
        (v[v.len() / 2 - 1] + v[v.len() / 2]) / 2.0
    };
    (median(xs), median(ys))
}

/// The simulated card's and the echo card's round trip, each measured on
/// both readers (the two vpcd slots do not cost quite the same), averaged.
fn simulator_vs_floor() -> (f64, f64) {
    let version = [0x00, 0xFD, 0x00, 0x00, 0x00];
    let select = [0x00, 0xA4, 0x04, 0x00, 0x05, 0xA0, 0x00, 0x00, 0x03, 0x08];
    let mut totals = (0.0, 0.0);
    for (sim_at, sim_reader, echo_at, echo_reader) in [
        ("127.0.0.1:35963", SIM_READER, "127.0.0.1:35964", ECHO_READER),
        ("127.0.0.1:35964", ECHO_READER, "127.0.0.1:35963", SIM_READER),
    ] {
        let _sim = Card::start(&["vpcd", "--addr", sim_at, "--seed", "1"], sim_reader);
        let _echo = Card::start(&["vpcd", "--echo", "--addr", echo_at], echo_reader);
        let mut sim = connect(sim_reader);
        sim.transmit(&select).unwrap();
        let (s, e) = round_trips(&mut sim, &mut connect(echo_reader), &version);
        totals = (totals.0 + s / 2.0, totals.1 + e / 2.0);
    }
    totals
}

struct Flow {
    name: &'static str,
    meter: Meter,
    ms: f64,
}

fn flow(
    name: &'static str,
    c: &mut Client<Metered<PcscTransport>>,
    runs: u32,
    mut f: impl FnMut(&mut Client<Metered<PcscTransport>>),
) -> Flow {
    let start = Instant::now();
    let mut meter = Meter::default();
    for i in 0..runs {
        c.transport_mut().take();
        f(c);
        if i == 0 {
            meter = c.transport_mut().take();
        }
    }
    Flow { name, meter, ms: start.elapsed().as_secs_f64() * 1e3 / runs as f64 }
}

fn pkcs11_tool_apdus(dir: &std::path::Path) -> Option<usize> {
    let module = ["/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so", "/usr/lib/aarch64-linux-gnu/opensc-pkcs11.so"]
        .into_iter()
        .find(|m| std::path::Path::new(m).exists())?;
    let msg = dir.join("msg");
    std::fs::write(&msg, b"challenge").ok()?;
    let o = Command::new("pkcs11-tool")
        .args(["--module", module, "--login", "--pin", "123456", "--sign", "-m", "SHA256-RSA-PKCS", "--id", "01"])
        .arg("-i")
        .arg(&msg)
        .arg("-o")
        .arg(dir.join("sig"))
        .env("OPENSC_DEBUG", "9")
        .output()
        .ok()?;
    o.status.success().then(|| String::from_utf8_lossy(&o.stderr).matches("Outgoing APDU").count())
}

fn main() {
    let ready = list_readers().is_ok_and(|r| r.iter().any(|r| r.name == SIM_READER)) && apdu_sim().exists();
    if !ready {
        println!("PC/SC benchmark skipped: needs pcscd with vsmartcard-vpcd and a release apdu-sim (scripts/bench provides both)");
        return;
    }
    // 1. One APDU's round trip: the card vs an echo card on the same path.
    let (sim_us, echo_us) = simulator_vs_floor();

    let dir = std::env::temp_dir().join(format!("subsim-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let state = dir.join("card.json");
    let _sim = Card::start(&["vpcd", "--state", state.to_str().unwrap()], SIM_READER);

    // 2. The host's flows on the simulated card.
    let mut c = Client::new(Metered::new(connect(SIM_READER)));
    c.select().unwrap();
    let ca = TestCa::new("CN=bench CA").unwrap();
    let mut flows = vec![flow("key generation + CSR + certificate load (9A)", &mut c, 1, |c| {
        c.authenticate_default().unwrap();
        let public = c.generate(Slot::Authentication).unwrap();
        c.verify_pin(b"123456").unwrap();
        let csr = x509::csr(&CardSigner::new(c, Slot::Authentication, public), "CN=bench").unwrap();
        c.write_certificate(Slot::Authentication, &ca.issue(&csr, 30).unwrap()).unwrap();
    })];
    c.authenticate_default().unwrap();
    c.generate(Slot::Signature).unwrap();
    let mut cache = CertCache::default();
    flows.push(flow("login, cold (certificate not cached)", &mut c, 1, |c| {
        c.login(&mut cache, b"123456", b"challenge").unwrap();
    }));
    flows.push(flow("login, warm (certificate cached)", &mut c, RUNS, |c| {
        c.login(&mut cache, b"123456", b"challenge").unwrap();
    }));
    flows.push(flow("transaction signing (VERIFY + 9C)", &mut c, RUNS, |c| {
        c.verify_pin(b"123456").unwrap();
        c.sign(Slot::Signature, b"transfer 250.00 EUR", Hash::Sha256, Padding::Pkcs1v15).unwrap();
    }));
    drop(c);

    // 3. The same signature by OpenSC's pkcs11-tool (login included).
    let pkcs11 = pkcs11_tool_apdus(&dir);

    println!("PC/SC benchmark: pcscd + vpcd on loopback, {ROUND_TRIPS} round trips a card and reader");
    println!();
    println!("One APDU's round trip (GET VERSION), microseconds: median of alternating blocks, both readers");
    println!("  simulated card            {sim_us:>8.1}   {:.2}x the floor", sim_us / echo_us);
    println!("  echo card (pcscd's floor) {echo_us:>8.1}");
    println!();
    println!("{:<46} {:>5} {:>8} {:>9} {:>9}", "host flow", "APDUs", "sent B", "received", "ms");
    for f in &flows {
        println!(
            "{:<46} {:>5} {:>8} {:>9} {:>9.2}",
            f.name,
            f.meter.apdus(),
            f.meter.bytes_sent,
            f.meter.bytes_received,
            f.ms
        );
    }
    let warm = flows[2].meter.apdus();
    match pkcs11 {
        Some(n) => println!("\npkcs11-tool, login + one 9A signature: {n} APDUs (our warm login: {warm})"),
        None => println!("\npkcs11-tool: not run (needs opensc)"),
    }
    let summary = format!(
        "{{\n  \"round_trip_us\": {sim_us:.1},\n  \"echo_round_trip_us\": {echo_us:.1},\n  \"flows\": [{}],\n  \"pkcs11_tool_apdus\": {}\n}}\n",
        flows
            .iter()
            .map(|f| format!(
                "{{\"flow\": \"{}\", \"apdus\": {}, \"sent\": {}, \"received\": {}, \"ms\": {:.2}}}",
                f.name,
                f.meter.apdus(),
                f.meter.bytes_sent,
                f.meter.bytes_received,
                f.ms
            ))
            .collect::<Vec<_>>()
            .join(", "),
        pkcs11.map_or("null".into(), |n| n.to_string())
    );
    let out = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/bench");
    if std::fs::create_dir_all(&out).and_then(|()| std::fs::write(out.join("pcsc.json"), summary)).is_ok() {
        println!("summary: target/bench/pcsc.json");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
