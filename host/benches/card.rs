//! The simulator's speed beside OpenSSL's on the same machine, in one run.
//!
//! `cargo bench -p subsim-host --bench card` (or `scripts/bench`) prints:
//! RSA-2048 signatures per second (simulator vs `openssl speed rsa2048`),
//! RSA-2048 key generation time (simulator vs `openssl genpkey`), and the
//! in-process rate of non-crypto APDUs. Only what this run measured is
//! printed, and compared only with what it measured beside it. A JSON
//! summary goes to `target/bench/card.json` for comparison over time.

use std::process::Command as Process;
use std::time::{Duration, Instant};

use apdu_sim::crypto::RsaBackend;
use apdu_sim::SimCard;
use applet_spec::piv::Slot;
use subsim_host::{Client, SimTransport, Transport};

const KEYGENS: usize = 12;
const SIGN_TIME: Duration = Duration::from_secs(3);
const APDU_TIME: Duration = Duration::from_secs(1);

fn rate(duration: Duration, mut op: impl FnMut()) -> f64 {
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < duration {
        for _ in 0..64 {
            op();
        }
        n += 64;
    }
    n as f64 / start.elapsed().as_secs_f64()
}

fn stats(ms: &[f64]) -> (f64, f64, f64) {
    let mean = ms.iter().sum::<f64>() / ms.len() as f64;
    let min = ms.iter().cloned().fold(f64::INFINITY, f64::min);
    let max = ms.iter().cloned().fold(0.0, f64::max);
    (mean, min, max)
}

/// `openssl speed rsa2048`: signatures per second, if OpenSSL is there.
fn openssl_sign_rate() -> Option<f64> {
    let out = Process::new("openssl").args(["speed", "-seconds", "3", "rsa2048"]).output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().find(|l| l.starts_with("rsa 2048 bits"))?;
    line.split_whitespace().nth(5)?.parse().ok()
}

/// `openssl genpkey` RSA-2048, milliseconds per key.
fn openssl_keygen_ms() -> Option<Vec<f64>> {
    (0..KEYGENS)
        .map(|_| {
            let start = Instant::now();
            let out = Process::new("openssl")
                .args(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", "/dev/null"])
                .output()
                .ok()?;
            out.status.success().then(|| start.elapsed().as_secs_f64() * 1e3)
        })
        .collect()
}

fn main() {
    let mut card = Client::new(SimTransport::new(SimCard::seeded(1)));
    card.select().unwrap();
    card.authenticate_default().unwrap();

    let sim_keygen: Vec<f64> = (0..KEYGENS)
        .map(|_| {
            let start = Instant::now();
            card.generate(Slot::CardAuthentication).unwrap();
            start.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    let ossl_keygen = openssl_keygen_ms();

    let block = [&[0x00, 0x01][..], &[0x5A; 254]].concat();
    let mut sign_rate = |backend| {
        card.transport_mut().card_mut().set_rsa_backend(backend);
        rate(SIGN_TIME, || {
            card.private_op(Slot::CardAuthentication, &block).unwrap();
        })
    };
    let sim_sign_rust = sign_rate(RsaBackend::RustCrypto);
    let sim_sign = sign_rate(RsaBackend::OpenSsl);
    let ossl_sign = openssl_sign_rate();

    // Raw APDUs straight into the card: the transport adds nothing in-process.
    let card = card.transport_mut();
    let get_discovery = [0x00, 0xCB, 0x3F, 0xFF, 0x03, 0x5C, 0x01, 0x7E, 0x00];
    let verify_status = [0x00, 0x20, 0x00, 0x80];
    let get_status = [0x80, 0x3A, 0x00, 0x00, 0x00];
    let apdus: Vec<(&str, f64)> = [
        ("GET DATA 7E", &get_discovery[..]),
        ("VERIFY status query", &verify_status[..]),
        ("GET STATUS", &get_status[..]),
    ]
    .into_iter()
    .map(|(name, apdu)| {
        (
            name,
            rate(APDU_TIME, || {
                std::hint::black_box(card.transmit(std::hint::black_box(apdu)).unwrap());
            }),
        )
    })
    .collect();

    let (sk_mean, sk_min, sk_max) = stats(&sim_keygen);
    println!("subsim card benchmark ({} cores)", std::thread::available_parallelism().map_or(1, |n| n.get()));
    println!();
    println!("RSA-2048 signatures per second (raw RSA through GENERAL AUTHENTICATE APDUs)");
    let vs = |r: f64| ossl_sign.map_or(String::new(), |o| format!("   {:.2}x openssl", r / o));
    println!("  simulator, OpenSSL backend (default) {sim_sign:>8.0}{}", vs(sim_sign));
    println!("  simulator, rsa crate backend         {sim_sign_rust:>8.0}{}", vs(sim_sign_rust));
    match ossl_sign {
        Some(o) => println!("  openssl speed rsa2048                {o:>8.0}"),
        None => println!("  openssl speed rsa2048                (openssl not found)"),
    }
    println!();
    println!("RSA-2048 key generation, ms ({KEYGENS} keys: mean, min-max)");
    println!("  simulator (GENERATE through APDUs) {sk_mean:>10.1}   ({sk_min:.1}-{sk_max:.1})");
    let ossl_keygen_stats = ossl_keygen.as_deref().map(stats);
    match ossl_keygen_stats {
        Some((m, lo, hi)) => println!(
            "  openssl genpkey (whole process)    {m:>10.1}   ({lo:.1}-{hi:.1})   simulator/openssl time = {:.2}x",
            sk_mean / m
        ),
        None => println!("  openssl genpkey                    (openssl not found)"),
    }
    println!();
    println!("Non-crypto APDUs in-process, per second");
    for (name, r) in &apdus {
        println!("  {name:<34} {r:>10.0}");
    }

    let summary = format!(
        "{{\n  \"sign_per_s\": {sim_sign:.1},\n  \"sign_per_s_rsa_crate\": {sim_sign_rust:.1},\n  \"openssl_sign_per_s\": {},\n  \"keygen_ms_mean\": {sk_mean:.1},\n  \"openssl_keygen_ms_mean\": {},\n  \"apdus_per_s\": {{{}}}\n}}\n",
        ossl_sign.map_or("null".into(), |o| format!("{o:.1}")),
        ossl_keygen_stats.map_or("null".into(), |(m, _, _)| format!("{m:.1}")),
        apdus.iter().map(|(n, r)| format!("\"{n}\": {r:.0}")).collect::<Vec<_>>().join(", ")
    );
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/bench");
    if std::fs::create_dir_all(&dir).and_then(|()| std::fs::write(dir.join("card.json"), &summary)).is_ok() {
        println!("\nsummary: target/bench/card.json");
    }
}
