//! Real chips' timing: key generation and signing take as long as on a
//! published Java Card chip, and bytes cross the reader at its speed. For app
//! teams to feel a real card's latency without one. Default: no delay.
//!
//! Figures from JCAlgTest results (`shared/notes/real-card-timing.md`):
//! RSA-2048 CRT key generation mean (min-max) and SHA-256 PKCS#1 signing.
//! Key generation time is dominated by the search for primes, which is
//! memoryless: a delay is drawn as min + Exp(mean - min), cut at max.

use std::time::Duration;

use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// A chip's published RSA-2048 timing.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Profile {
    /// The name `apdu-sim --timing` takes.
    pub name: &'static str,
    /// Key generation, mean, in seconds.
    pub keygen_mean_s: f64,
    /// Key generation, fastest measured, in seconds.
    pub keygen_min_s: f64,
    /// Key generation, slowest measured, in seconds.
    pub keygen_max_s: f64,
    /// One SHA-256 PKCS#1 v1.5 signature, in seconds.
    pub sign_s: f64,
}

/// The chips with published figures: jcop4, j3h145, secora.
pub const PROFILES: &[Profile] = &[
    Profile { name: "jcop4", keygen_mean_s: 5.2, keygen_min_s: 0.6, keygen_max_s: 17.3, sign_s: 0.061 },
    Profile { name: "j3h145", keygen_mean_s: 5.8, keygen_min_s: 1.9, keygen_max_s: 11.7, sign_s: 0.201 },
    Profile { name: "secora", keygen_mean_s: 2.1, keygen_min_s: 0.17, keygen_max_s: 5.4, sign_s: 0.060 },
];

/// The profile named `name`, `None` if unknown.
pub fn profile(name: &str) -> Option<Profile> {
    PROFILES.iter().copied().find(|p| p.name == name)
}

/// Delays for one simulated card.
pub struct Timing {
    /// The chip whose delays are copied.
    pub profile: Profile,
    /// Reader speed in bits per second; 0: transfers take no time.
    pub reader_bps: u32,
    rng: ChaCha8Rng,
}

impl Timing {
    /// Delays of `profile`, with a reader of `reader_bps` bits/s, key generation times drawn from `seed`.
    pub fn new(profile: Profile, reader_bps: u32, seed: u64) -> Timing {
        use rand::SeedableRng;
        Timing { profile, reader_bps, rng: ChaCha8Rng::seed_from_u64(seed) }
    }

    /// How long this key generation takes.
    pub fn keygen(&mut self) -> Duration {
        let p = self.profile;
        let u: f64 = self.rng.gen_range(f64::EPSILON..1.0);
        let s = p.keygen_min_s - (p.keygen_mean_s - p.keygen_min_s) * u.ln();
        Duration::from_secs_f64(s.min(p.keygen_max_s))
    }

    /// How long one signature takes.
    pub fn sign(&self) -> Duration {
        Duration::from_secs_f64(self.profile.sign_s)
    }

    /// Key generation of another algorithm than RSA-2048. The published
    /// figures are RSA-2048's; the rest are ESTIMATES: RSA scaled from
    /// them (prime search grows about with the cube of the size: 1024 x0.15,
    /// 3072 x3.4, 4096 x8), EC from ECTester's tables for older Java Cards
    /// (`shared/notes/real-card-timing.md`: well under a second; P-384 about
    /// 1.5x P-256): 0.2 s and 0.3 s; Ed25519 and X25519 as P-256 (no Java
    /// Card 3.0.5 figure exists: its API has neither curve).
    pub fn keygen_of(&mut self, alg: applet_spec::piv::KeyAlgorithm) -> Duration {
        use applet_spec::piv::KeyAlgorithm::*;
        match alg {
            EccP256 | Ed25519 | X25519 => Duration::from_secs_f64(0.2),
            EccP384 => Duration::from_secs_f64(0.3),
            Rsa1024 => self.keygen().mul_f64(0.15),
            Rsa2048 => self.keygen(),
            Rsa3072 => self.keygen().mul_f64(3.4),
            Rsa4096 => self.keygen().mul_f64(8.0),
        }
    }

    /// A private-key operation of another algorithm. RSA-2048: the profile's
    /// published figure; the rest ESTIMATES: RSA scaled with the cube of
    /// the size (1024 x0.2, 3072 x3, 4096 x7), ECDSA/ECDH P-256 0.2 s (the
    /// notes: 123-267 ms for ECDH, a few hundred ms for ECDSA), P-384 1.5x; Ed25519 and X25519 as P-256.
    pub fn sign_of(&self, alg: applet_spec::piv::KeyAlgorithm) -> Duration {
        use applet_spec::piv::KeyAlgorithm::*;
        match alg {
            EccP256 | Ed25519 | X25519 => Duration::from_secs_f64(0.2),
            EccP384 => Duration::from_secs_f64(0.3),
            Rsa1024 => self.sign().mul_f64(0.2),
            Rsa2048 => self.sign(),
            Rsa3072 => self.sign().mul_f64(3.0),
            Rsa4096 => self.sign().mul_f64(7.0),
        }
    }

    /// Moving `bytes` across the reader: 10 bits a byte (start, 8 data, stop).
    pub fn transfer(&self, bytes: usize) -> Duration {
        if self.reader_bps == 0 {
            return Duration::ZERO;
        }
        Duration::from_secs_f64(bytes as f64 * 10.0 / self.reader_bps as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The mean of min + Exp(mean - min) cut at max, worked out exactly.
    fn expected_mean(p: &Profile) -> f64 {
        let theta = p.keygen_mean_s - p.keygen_min_s;
        let span = p.keygen_max_s - p.keygen_min_s;
        p.keygen_min_s + theta * (1.0 - (-span / theta).exp())
    }

    #[test]
    fn key_generation_delays_follow_each_profile() {
        for p in PROFILES {
            let mut t = Timing::new(*p, 0, 7);
            let draws: Vec<f64> = (0..20_000).map(|_| t.keygen().as_secs_f64()).collect();
            let mean = draws.iter().sum::<f64>() / draws.len() as f64;
            let (lo, hi) = draws.iter().fold((f64::MAX, 0.0f64), |(l, h), &d| (l.min(d), h.max(d)));
            assert!(lo >= p.keygen_min_s && hi <= p.keygen_max_s, "{}: {lo}..{hi}", p.name);
            // The published mean, within the few percent the cut at max costs.
            assert!((mean - expected_mean(p)).abs() < 0.03 * expected_mean(p), "{}: mean {mean}", p.name);
            assert!(
                (mean - p.keygen_mean_s).abs() < 0.1 * p.keygen_mean_s,
                "{}: mean {mean} vs {}",
                p.name,
                p.keygen_mean_s
            );
            // The spread reaches toward both ends.
            assert!(lo < p.keygen_min_s + 0.1 * (p.keygen_mean_s - p.keygen_min_s), "{}: {lo}", p.name);
        }
    }

    #[test]
    fn signing_and_transfer_times() {
        let t = Timing::new(profile("j3h145").unwrap(), 115_200, 1);
        assert_eq!(t.sign(), Duration::from_millis(201));
        // A signing exchange: 266 + 4 command bytes and 264 + 2 answer bytes.
        let ms = t.transfer(536).as_secs_f64() * 1e3;
        assert!((ms - 46.5).abs() < 0.1, "{ms}");
        assert_eq!(Timing::new(PROFILES[0], 0, 1).transfer(1000), Duration::ZERO);
        assert!(profile("nonesuch").is_none());
        use applet_spec::piv::KeyAlgorithm;
        assert_eq!(t.sign_of(KeyAlgorithm::Rsa2048), t.sign());
        assert!(t.sign_of(KeyAlgorithm::Rsa4096) > t.sign_of(KeyAlgorithm::Rsa3072));
        let mut t = Timing::new(profile("jcop4").unwrap(), 0, 3);
        assert!(t.keygen_of(KeyAlgorithm::EccP256) < Duration::from_secs(1), "EC: well under a second");
    }
}
