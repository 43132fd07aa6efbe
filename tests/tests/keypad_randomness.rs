//! The keypad's randomness: over many layouts, every digit appears at every
//! position equally often (chi-square), and layouts repeat only under an
//! explicit seed. In-process: thousands of layouts over PC/SC would take
//! minutes and test the same card code.

use apdu_sim::SimCard;
use applet_spec::messages::KEYPAD_KEYS;
use subsim_conformance::sim_only;
use subsim_host::{Client, SimTransport};

/// Chi-square statistic of digit-per-position counts against uniform.
fn chi_square(layouts: &[[u8; KEYPAD_KEYS]]) -> f64 {
    let mut counts = [[0u32; KEYPAD_KEYS]; KEYPAD_KEYS];
    for l in layouts {
        for (pos, &digit) in l.iter().enumerate() {
            counts[pos][digit as usize] += 1;
        }
    }
    let expected = layouts.len() as f64 / KEYPAD_KEYS as f64;
    counts.iter().flatten().map(|&c| (c as f64 - expected).powi(2) / expected).sum()
}

/// 81 degrees of freedom ((10-1) x (10-1)); the 99.9 % quantile is 129.
const CRITICAL: f64 = 129.0;

fn layouts(seed: u64, n: usize) -> Vec<[u8; KEYPAD_KEYS]> {
    let mut c = Client::new(SimTransport::new(SimCard::seeded(seed)));
    c.select().unwrap();
    (0..n).map(|_| c.keypad().unwrap().digit_at).collect()
}

#[test]
fn every_digit_is_equally_likely_at_every_position() {
    if !sim_only("20,000 layouts are drawn in-process") {
        return;
    }
    let chi = chi_square(&layouts(31, 20_000));
    assert!(chi < CRITICAL, "chi-square {chi:.1} >= {CRITICAL}: layouts are not uniform");
}

#[test]
fn the_test_catches_a_biased_shuffle() {
    // The classic mistake: swap each position with any position (not only
    // the ones not yet fixed). Its bias must push the statistic over.
    let mut x = 12345u64;
    let mut next = |n: u64| {
        x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((x >> 33) % n) as usize
    };
    let biased: Vec<[u8; KEYPAD_KEYS]> = (0..20_000)
        .map(|_| {
            let mut l: [u8; KEYPAD_KEYS] = std::array::from_fn(|i| i as u8);
            for i in 0..KEYPAD_KEYS {
                l.swap(i, next(KEYPAD_KEYS as u64));
            }
            l
        })
        .collect();
    assert!(chi_square(&biased) > CRITICAL, "the test cannot see a known bias");
}

#[test]
fn layouts_repeat_only_under_the_same_seed() {
    if !sim_only("seeds are a simulator feature") {
        return;
    }
    assert_eq!(layouts(5, 50), layouts(5, 50));
    assert_ne!(layouts(5, 50), layouts(6, 50));
    // Cards made without a seed draw from the OS.
    let os = || {
        let mut rng = apdu_sim::rng::from_os();
        let p = apdu_sim::state::Persistent::manufacture(&mut rng);
        let mut c = Client::new(SimTransport::new(SimCard::new(p, rng)));
        c.select().unwrap();
        (0..50).map(|_| c.keypad().unwrap().digit_at).collect::<Vec<_>>()
    };
    assert_ne!(os(), os());
}
