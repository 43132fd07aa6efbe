//! Reference attestation certificates for the Java Card applet's own builder
//! (applet/src/main/java/org/subsim/applet/Attestation.java): the model makes
//! certificates from fixed seeds, and the file the applet's JUnit test reads
//! must be what the model makes today. After a deliberate change to the
//! model's certificates, rewrite it with
//! `UPDATE_REFERENCE=1 cargo test -p apdu-sim --test attestation_reference`.
//!
//! Each case lists the keys (public values, and the F9 key's private values:
//! test keys from a fixed seed, nowhere else in use), the inputs of ATTEST and
//! the model's certificate.

use std::fmt::Write as _;

use apdu_sim::attestation;
use apdu_sim::crypto::PrivateKey;
use apdu_sim::rng::seeded;
use apdu_sim::state::SlotKey;
use applet_spec::messages::{KeyOrigin, PublicKeyData};
use applet_spec::piv::{KeyAlgorithm, Slot};
use rsa::traits::{PrivateKeyParts, PublicKeyParts};

const REFERENCE: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/../applet/src/test/resources/org/subsim/applet/attestation-reference.txt");

fn private_lines(key: &PrivateKey, out: &mut String) {
    match key {
        PrivateKey::Rsa(k) => {
            let p = &k.primes()[0];
            let q = &k.primes()[1];
            writeln!(out, "f9.rsa.p={}", hex::encode(p.to_bytes_be())).unwrap();
            writeln!(out, "f9.rsa.q={}", hex::encode(q.to_bytes_be())).unwrap();
            writeln!(out, "f9.rsa.e={}", hex::encode(k.e().to_bytes_be())).unwrap();
        }
        PrivateKey::P256(k) => writeln!(out, "f9.p256.s={}", hex::encode(k.to_bytes())).unwrap(),
        PrivateKey::P384(k) => writeln!(out, "f9.p384.s={}", hex::encode(k.to_bytes())).unwrap(),
        // Other kinds (Ed25519, X25519 once the model has them): Java Card 3.0.5 has none.
        #[allow(unreachable_patterns)]
        _ => unreachable!("the reference's F9 keys are RSA or NIST EC"),
    }
    if let PublicKeyData::Ec { point } = key.public() {
        writeln!(out, "f9.ec.w={}", hex::encode(point)).unwrap();
    }
}

fn public_lines(key: &PrivateKey, out: &mut String) {
    match key.public() {
        PublicKeyData::Rsa { modulus, exponent } => {
            writeln!(out, "key.rsa.n={}", hex::encode(modulus)).unwrap();
            writeln!(out, "key.rsa.e={}", hex::encode(exponent)).unwrap();
        }
        PublicKeyData::Ec { point } => {
            let bits = if point.len() == 65 { 256 } else { 384 };
            writeln!(out, "key.ec{bits}.w={}", hex::encode(point)).unwrap();
        }
        #[allow(unreachable_patterns)]
        _ => unreachable!("the model's keys are RSA or EC"),
    }
}

/// One case: the F9 key of `f9_alg` (its certificate from the test
/// manufacturer), a key of `alg` in `slot`, the card serial, and the model's
/// certificate drawn with a fixed seed.
fn case(name: &str, seed: u64, f9_alg: KeyAlgorithm, alg: KeyAlgorithm, slot: Slot, serial: u32) -> String {
    let mut rng = seeded(seed);
    let (manufactured, f9_cert) = attestation::manufacture(serial, &mut rng);
    let f9_key = match f9_alg {
        KeyAlgorithm::EccP256 => manufactured,
        other => PrivateKey::generate(other, &mut rng).expect("generates"),
    };
    let f9 = SlotKey::new(Slot::Attestation, f9_key, KeyOrigin::Generated);
    let key = SlotKey::new(slot, PrivateKey::generate(alg, &mut rng).expect("generates"), KeyOrigin::Generated);
    let cert = attestation::attest(&f9, &f9_cert, slot, &key, serial, &mut rng).expect("attests");
    let mut out = String::new();
    writeln!(out, "[{name}]").unwrap();
    private_lines(&f9.key, &mut out);
    writeln!(out, "f9.cert={}", hex::encode(&f9_cert)).unwrap();
    public_lines(&key.key, &mut out);
    writeln!(out, "slot={:02x}", slot.key_ref()).unwrap();
    writeln!(out, "pin_policy={:02x}", key.pin_policy.code()).unwrap();
    writeln!(out, "serial={serial:08x}").unwrap();
    writeln!(out, "cert={}", hex::encode(&cert)).unwrap();
    out
}

fn reference() -> String {
    let mut s = String::from(
        "# Written by apdu-sim/tests/attestation_reference.rs from the model's attestation code (fixed seeds,\n\
         # test keys only). Read by AttestationTest.java. Do not edit by hand.\n",
    );
    s +=
        &case("rsa2048-by-rsa2048", 1, KeyAlgorithm::Rsa2048, KeyAlgorithm::Rsa2048, Slot::Authentication, 0x8012_3456);
    s += &case("p384-by-rsa2048", 2, KeyAlgorithm::Rsa2048, KeyAlgorithm::EccP384, Slot::CardAuthentication, 7);
    s += &case("p256-by-p256", 3, KeyAlgorithm::EccP256, KeyAlgorithm::EccP256, Slot::Signature, 12_345_678);
    s += &case("rsa2048-by-p256", 4, KeyAlgorithm::EccP256, KeyAlgorithm::Rsa2048, Slot::KeyManagement, 0xFFFF_FFFF);
    s += &case("p256-by-p384", 5, KeyAlgorithm::EccP384, KeyAlgorithm::EccP256, Slot::Authentication, 0);
    s
}

#[test]
fn the_applets_reference_certificates_are_the_models() {
    let now = reference();
    if std::env::var_os("UPDATE_REFERENCE").is_some() {
        std::fs::write(REFERENCE, &now).expect("writes the reference");
        return;
    }
    let stored = std::fs::read_to_string(REFERENCE).unwrap_or_default();
    assert!(
        stored == now,
        "{REFERENCE} is not what the model makes now: run UPDATE_REFERENCE=1 cargo test -p apdu-sim --test attestation_reference, then the applet's AttestationTest"
    );
}
