//! The simulator's speed beside OpenSSL's on the same machine, in one run.
//!
//! `cargo bench -p subsim-host --bench card` (or `scripts/bench`) prints:
//! each private-key operation the card offers (raw RSA-2048/3072/4096,
//! ECDSA and ECDH on P-256 and P-384, Ed25519, X25519) through GENERAL AUTHENTICATE APDUs,
//! beside `openssl speed` for the same operations, run once and parsed;
//! key generation through GENERATE beside OpenSSL's in-process generation
//! (the same libcrypto); and the in-process rate of non-crypto APDUs. Only
//! what this run measured is printed, and compared only with what it
//! measured beside it. A JSON summary goes to `target/bench/card.json` for
//! comparison over time.
//!
//! Rates are given per second of user CPU time, `openssl speed`'s own
//! divisor (so a machine shared with other work still compares like with
//! like), and per second of wall-clock time.

use std::process::Command as Process;
use std::time::{Duration, Instant};

use apdu_sim::crypto::RsaBackend;
use apdu_sim::SimCard;
use applet_spec::messages::PublicKeyData;
use applet_spec::piv::{KeyAlgorithm, Slot};
use serde_json::json;
use subsim_host::{Client, Hash, Padding, SimTransport, Transport};

/// `openssl speed -seconds` and the simulator's time per operation.
const OP_SECONDS: u64 = 3;
const APDU_TIME: Duration = Duration::from_secs(1);
/// EC key generation is cheap: timed as a rate, like the operations.
const EC_KEYGEN_TIME: Duration = Duration::from_secs(1);
/// RSA key generation: keys per size, each timed (the primes drawn make
/// the time vary widely, so the spread is printed).
const RSA_KEYGENS: [(KeyAlgorithm, usize); 3] =
    [(KeyAlgorithm::Rsa2048, 12), (KeyAlgorithm::Rsa3072, 6), (KeyAlgorithm::Rsa4096, 3)];

/// `openssl speed` names, and the key (in its "Doing ..." line) of the
/// private-key operation measured for each.
const OPENSSL_SPEED: [(&str, &str); 9] = [
    ("rsa2048", "2048 bits private rsa's"),
    ("rsa3072", "3072 bits private rsa's"),
    ("rsa4096", "4096 bits private rsa's"),
    ("ecdsap256", "256 bits sign ecdsa's"),
    ("ecdsap384", "384 bits sign ecdsa's"),
    ("ecdhp256", "256 bits ecdh's"),
    ("ecdhp384", "384 bits ecdh's"),
    ("ed25519", "253 bits sign Ed25519's"),
    ("ecdhx25519", "253 bits ecdh's"),
];

/// This thread's user CPU time, seconds: what `openssl speed` divides by.
fn user_cpu() -> f64 {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage only writes the struct it is given; zeroed is a valid rusage.
    let usage = unsafe {
        libc::getrusage(libc::RUSAGE_THREAD, usage.as_mut_ptr());
        usage.assume_init()
    };
    usage.ru_utime.tv_sec as f64 + usage.ru_utime.tv_usec as f64 * 1e-6
}

/// Operations done, and the wall-clock and user CPU seconds they took.
#[derive(Clone, Copy)]
struct Run {
    n: f64,
    wall: f64,
    cpu: f64,
}

impl Run {
    fn cpu_rate(self) -> f64 {
        self.n / self.cpu
    }
    fn wall_rate(self) -> f64 {
        self.n / self.wall
    }
    fn json(self) -> serde_json::Value {
        json!({ "per_cpu_s": round(self.cpu_rate()), "per_wall_s": round(self.wall_rate()) })
    }
}

fn round(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// Runs `op` in batches of `batch` until `duration` has passed (one batch at least).
fn run(duration: Duration, batch: u64, mut op: impl FnMut()) -> Run {
    let (start, cpu) = (Instant::now(), user_cpu());
    let mut n = 0u64;
    loop {
        for _ in 0..batch {
            op();
        }
        n += batch;
        if start.elapsed() >= duration {
            break;
        }
    }
    Run { n: n as f64, wall: start.elapsed().as_secs_f64(), cpu: user_cpu() - cpu }
}

/// Milliseconds per operation over several timed samples: mean, min, max.
struct Samples(Vec<Run>);

impl Samples {
    fn take(count: usize, mut op: impl FnMut()) -> Samples {
        Samples((0..count).map(|_| run(Duration::ZERO, 1, &mut op)).collect())
    }
    fn wall_ms(&self) -> (f64, f64, f64) {
        let ms: Vec<f64> = self.0.iter().map(|r| r.wall * 1e3).collect();
        let mean = ms.iter().sum::<f64>() / ms.len() as f64;
        (mean, ms.iter().cloned().fold(f64::INFINITY, f64::min), ms.iter().cloned().fold(0.0, f64::max))
    }
    fn cpu_ms(&self) -> f64 {
        self.0.iter().map(|r| r.cpu * 1e3).sum::<f64>() / self.0.len() as f64
    }
    fn line(&self) -> String {
        let (mean, lo, hi) = self.wall_ms();
        format!("{mean:>9.1} ({lo:.1}-{hi:.1}) wall, {:.1} CPU", self.cpu_ms())
    }
    fn json(&self) -> serde_json::Value {
        let (mean, lo, hi) = self.wall_ms();
        json!({ "keys": self.0.len(), "wall_ms_mean": round(mean), "wall_ms_min": round(lo),
                "wall_ms_max": round(hi), "cpu_ms_mean": round(self.cpu_ms()) })
    }
}

/// One `openssl speed -seconds OP_SECONDS` run over every algorithm, parsed
/// from its "Doing ...: COUNT ... in CPUs" lines (wall time is the seconds
/// asked for: speed stops each test with an alarm). `None` without OpenSSL.
fn openssl_speed() -> Option<(String, Vec<Option<Run>>)> {
    let seconds = OP_SECONDS.to_string();
    let mut args = vec!["speed", "-seconds", &seconds];
    args.extend(OPENSSL_SPEED.iter().map(|(name, _)| *name));
    let command = format!("openssl {}", args.join(" "));
    let out = Process::new("openssl").args(&args).output().ok().filter(|o| o.status.success())?;
    let text = [out.stdout, out.stderr].concat();
    let text = String::from_utf8_lossy(&text);
    let parse = |key: &str| {
        text.lines().find_map(|line| {
            let line = line.split_whitespace().collect::<Vec<_>>().join(" ");
            let rest = line.strip_prefix(&format!("Doing {key} for {OP_SECONDS}s: "))?;
            let n: f64 = rest.split(' ').next()?.parse().ok()?;
            let cpu: f64 = rest.rsplit(' ').next()?.strip_suffix('s')?.parse().ok()?;
            Some(Run { n, wall: OP_SECONDS as f64, cpu })
        })
    };
    Some((command, OPENSSL_SPEED.iter().map(|(_, key)| parse(key)).collect()))
}

/// OpenSSL's own key generation, in-process (the `openssl` crate, the same
/// libcrypto `openssl speed` runs).
fn openssl_generate(alg: KeyAlgorithm) {
    use openssl::{ec, nid::Nid, rsa::Rsa};
    let curve = |nid| ec::EcKey::generate(&ec::EcGroup::from_curve_name(nid).unwrap()).map(drop);
    match alg {
        KeyAlgorithm::EccP256 => curve(Nid::X9_62_PRIME256V1),
        KeyAlgorithm::EccP384 => curve(Nid::SECP384R1),
        KeyAlgorithm::Ed25519 => openssl::pkey::PKey::generate_ed25519().map(drop),
        KeyAlgorithm::X25519 => openssl::pkey::PKey::generate_x25519().map(drop),
        rsa => Rsa::generate(rsa.rsa_bytes().expect("RSA has a size") as u32 * 8).map(drop),
    }
    .expect("OpenSSL generates a key")
}

fn main() {
    let load = || std::fs::read_to_string("/proc/loadavg").map_or("?".into(), |l| l.trim().to_string());
    let load_before = load();
    let mut card = Client::new(SimTransport::new(SimCard::seeded(1)));
    card.select().unwrap();
    card.authenticate_default().unwrap();
    card.verify_pin(b"123456").unwrap(); // 9D (ECDH) wants it once
    let op_time = Duration::from_secs(OP_SECONDS);

    // ---- key generation ----------------------------------------------------------
    let mut keygen: Vec<(KeyAlgorithm, Run, Run)> = Vec::new();
    for alg in [KeyAlgorithm::EccP256, KeyAlgorithm::EccP384, KeyAlgorithm::Ed25519, KeyAlgorithm::X25519] {
        let sim = run(EC_KEYGEN_TIME, 1, || {
            card.generate_key(Slot::CardAuthentication, alg).unwrap();
        });
        keygen.push((alg, sim, run(EC_KEYGEN_TIME, 1, || openssl_generate(alg))));
    }
    let mut rsa_keygen: Vec<(KeyAlgorithm, Samples, Samples)> = Vec::new();
    for (alg, count) in RSA_KEYGENS {
        let sim = Samples::take(count, || {
            card.generate_key(Slot::CardAuthentication, alg).unwrap();
        });
        rsa_keygen.push((alg, sim, Samples::take(count, || openssl_generate(alg))));
    }

    // ---- private-key operations through GENERAL AUTHENTICATE ---------------------
    // Raw RSA-2048 on both backends (the card's own padding-free operation).
    let block = [&[0x00, 0x01][..], &[0x5A; 254]].concat();
    card.generate_key(Slot::CardAuthentication, KeyAlgorithm::Rsa2048).unwrap();
    let mut raw_rsa2048 = |backend| {
        card.transport_mut().card_mut().set_rsa_backend(backend);
        run(op_time, 1, || {
            card.private_op(Slot::CardAuthentication, &block).unwrap();
        })
    };
    let sim_sign_rust = raw_rsa2048(RsaBackend::RustCrypto);
    let sim_sign = raw_rsa2048(RsaBackend::OpenSsl);
    // The others as a host calls them: PKCS#1 v1.5 padding or the hash
    // made on the host (well under a microsecond), the key's work on the card.
    let mut ops: Vec<(&str, Run)> = vec![("RSA-2048 raw (OpenSSL backend, default)", sim_sign)];
    for (alg, name) in [
        (KeyAlgorithm::Rsa3072, "RSA-3072 sign (OpenSSL backend, default)"),
        (KeyAlgorithm::Rsa4096, "RSA-4096 sign (OpenSSL backend, default)"),
    ] {
        card.generate_key(Slot::CardAuthentication, alg).unwrap();
        let r = run(op_time, 1, || {
            card.sign_with(Slot::CardAuthentication, alg, b"bench", Hash::Sha256, Padding::Pkcs1v15).unwrap();
        });
        ops.push((name, r));
    }
    let mut peers = Vec::new();
    for (alg, hash, name) in [
        (KeyAlgorithm::EccP256, Hash::Sha256, "ECDSA P-256 sign (SHA-256 hash)"),
        (KeyAlgorithm::EccP384, Hash::Sha384, "ECDSA P-384 sign (SHA-384 hash)"),
    ] {
        let PublicKeyData::Ec { point } = card.generate_key(Slot::CardAuthentication, alg).unwrap() else {
            panic!("an EC key has a point");
        };
        peers.push((alg, point));
        let r = run(op_time, 1, || {
            card.sign_with(Slot::CardAuthentication, alg, b"bench", hash, Padding::Pkcs1v15).unwrap();
        });
        ops.push((name, r));
    }
    for ((alg, peer), name) in peers.iter().zip(["ECDH P-256 (slot 9D)", "ECDH P-384 (slot 9D)"]) {
        card.generate_key(Slot::KeyManagement, *alg).unwrap();
        let r = run(op_time, 1, || {
            card.ecdh(Slot::KeyManagement, *alg, peer).unwrap();
        });
        ops.push((name, r));
    }
    // Ed25519 signs the message itself; X25519 agrees with a 32-byte key.
    card.generate_key(Slot::CardAuthentication, KeyAlgorithm::Ed25519).unwrap();
    let r = run(op_time, 1, || {
        card.sign_with(Slot::CardAuthentication, KeyAlgorithm::Ed25519, b"bench", Hash::Sha256, Padding::Pkcs1v15)
            .unwrap();
    });
    ops.push(("Ed25519 sign (a 5-byte message)", r));
    let PublicKeyData::Ec { point: x_peer } =
        card.generate_key(Slot::CardAuthentication, KeyAlgorithm::X25519).unwrap()
    else {
        panic!("an X25519 key has a point");
    };
    card.generate_key(Slot::KeyManagement, KeyAlgorithm::X25519).unwrap();
    let r = run(op_time, 1, || {
        card.ecdh(Slot::KeyManagement, KeyAlgorithm::X25519, &x_peer).unwrap();
    });
    ops.push(("X25519 (slot 9D)", r));
    let speed = openssl_speed();

    // ---- non-crypto APDUs --------------------------------------------------------
    // Raw APDUs straight into the card: the transport adds nothing in-process.
    let transport = card.transport_mut();
    let get_discovery = [0x00, 0xCB, 0x3F, 0xFF, 0x03, 0x5C, 0x01, 0x7E, 0x00];
    let verify_status = [0x00, 0x20, 0x00, 0x80];
    let get_status = [0x80, 0x3A, 0x00, 0x00, 0x00];
    let apdus: Vec<(&str, Run)> = [
        ("GET DATA 7E", &get_discovery[..]),
        ("VERIFY status query", &verify_status[..]),
        ("GET STATUS", &get_status[..]),
    ]
    .into_iter()
    .map(|(name, apdu)| {
        (
            name,
            run(APDU_TIME, 64, || {
                std::hint::black_box(transport.transmit(std::hint::black_box(apdu)).unwrap());
            }),
        )
    })
    .collect();
    let load_after = load();

    // ---- report ------------------------------------------------------------------
    println!("subsim card benchmark ({} cores)", std::thread::available_parallelism().map_or(1, |n| n.get()));
    println!("load average before: {load_before}; after: {load_after}");
    println!();
    match &speed {
        Some((command, _)) => println!("Beside: {command}"),
        None => println!("Beside: openssl speed (openssl not found)"),
    }
    println!("Private-key operations per second, through GENERAL AUTHENTICATE APDUs ({OP_SECONDS} s each)");
    println!("{:<42} {:>24}   {:>24}   {:>10}", "", "simulator", "openssl speed", "sim/openssl");
    println!(
        "{:<42} {:>11} {:>12}   {:>11} {:>12}   {:>10}",
        "", "per CPU s", "per wall s", "per CPU s", "per wall s", "(CPU)"
    );
    let ossl: Vec<Option<Run>> = speed.as_ref().map_or(vec![None; OPENSSL_SPEED.len()], |(_, runs)| runs.clone());
    for ((name, sim), o) in ops.iter().zip(&ossl) {
        let theirs = o.map_or(format!("{:>24}", "-"), |o| format!("{:>11.0} {:>12.0}", o.cpu_rate(), o.wall_rate()));
        let ratio = o.map_or(String::new(), |o| format!("{:.2}x", sim.cpu_rate() / o.cpu_rate()));
        println!("  {name:<40} {:>11.0} {:>12.0}   {theirs}   {ratio:>10}", sim.cpu_rate(), sim.wall_rate());
    }
    println!(
        "  {:<40} {:>11.0} {:>12.0}   {:>24}   {:>10}",
        "RSA-2048 raw (rsa crate backend)",
        sim_sign_rust.cpu_rate(),
        sim_sign_rust.wall_rate(),
        "",
        ossl[0].map_or(String::new(), |o| format!("{:.2}x", sim_sign_rust.cpu_rate() / o.cpu_rate()))
    );
    println!();
    println!("Key generation: simulator (GENERATE through APDUs) beside OpenSSL in-process (same libcrypto)");
    println!(
        "  EC, keys per second ({} s each):  simulator per CPU s, per wall s | OpenSSL per CPU s, per wall s",
        EC_KEYGEN_TIME.as_secs()
    );
    for (alg, sim, o) in &keygen {
        println!(
            "    {:<8} {:>10.0} {:>10.0}   | {:>10.0} {:>10.0}   sim/openssl (CPU) {:.2}x",
            alg.name(),
            sim.cpu_rate(),
            sim.wall_rate(),
            o.cpu_rate(),
            o.wall_rate(),
            sim.cpu_rate() / o.cpu_rate()
        );
    }
    println!("  RSA, ms per key: mean (min-max) wall, mean CPU");
    for (alg, sim, o) in &rsa_keygen {
        println!("    {:<8} {:>2} keys  simulator {}", alg.name(), sim.0.len(), sim.line());
        println!("    {:<8} {:>2} keys  OpenSSL   {}", "", o.0.len(), o.line());
    }
    println!();
    println!("Non-crypto APDUs in-process, per second (wall)");
    for (name, r) in &apdus {
        println!("  {name:<34} {:>10.0}", r.wall_rate());
    }

    let summary = json!({
        "load_average": { "before": load_before, "after": load_after },
        "openssl_speed": speed.as_ref().map(|(command, _)| command.clone()),
        "sign_per_s": round(sim_sign.wall_rate()),
        "sign_per_s_rsa_crate": round(sim_sign_rust.wall_rate()),
        "openssl_sign_per_s": ossl[0].map(|o| round(o.cpu_rate())),
        "operations": ops.iter().zip(&ossl).zip(OPENSSL_SPEED).map(|(((name, sim), o), (id, _))| {
            (id.to_string(), json!({ "what": name, "simulator": sim.json(), "openssl_speed": o.map(Run::json) }))
        }).collect::<serde_json::Map<_, _>>(),
        "keygen": keygen.iter().map(|(alg, sim, o)| (alg.name().to_string(), json!({ "simulator_keys_per": sim.json(), "openssl_keys_per": o.json() })))
            .chain(rsa_keygen.iter().map(|(alg, sim, o)| (alg.name().to_string(), json!({ "simulator": sim.json(), "openssl": o.json() }))))
            .collect::<serde_json::Map<_, _>>(),
        "apdus_per_s": apdus.iter().map(|(n, r)| (n.to_string(), json!(r.wall_rate().round()))).collect::<serde_json::Map<_, _>>(),
    });
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/bench");
    let text = serde_json::to_string_pretty(&summary).expect("JSON") + "\n";
    if std::fs::create_dir_all(&dir).and_then(|()| std::fs::write(dir.join("card.json"), text)).is_ok() {
        println!("\nsummary: target/bench/card.json");
    }
}
