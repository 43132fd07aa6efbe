//! The card's random number generator: injectable, so tests can be
//! reproducible (`seeded`) while real use draws from the OS (`from_os`).

use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;

/// The RNG behind every random value the card makes: keys, serial, GUID,
/// challenges, keypad layouts, RSA blinding.
pub type CardRng = ChaCha20Rng;

/// A reproducible RNG for tests and scripted sessions.
pub fn seeded(seed: u64) -> CardRng {
    ChaCha20Rng::seed_from_u64(seed)
}

/// An RNG seeded from operating-system entropy.
pub fn from_os() -> CardRng {
    ChaCha20Rng::from_entropy()
}
