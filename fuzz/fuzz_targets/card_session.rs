//! A whole card (transport layer and applet) fed a session of APDUs: every
//! answer carries a status word, the try counters never exceed their limits.
//! The input is a sequence of APDUs, each preceded by its length byte.
#![no_main]

use apdu_sim::SimCard;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut card = SimCard::seeded(1);
    // Start selected, so the fuzzer reaches the applet at once.
    card.transmit(&[0x00, 0xA4, 0x04, 0x00, 0x05, 0xA0, 0x00, 0x00, 0x03, 0x08]);
    let mut rest = data;
    while let [len, tail @ ..] = rest {
        let n = (*len as usize).min(tail.len());
        let (apdu, next) = tail.split_at(n);
        let answer = card.transmit(apdu);
        assert!(answer.len() >= 2, "an answer without a status word");
        let p = card.persistent();
        assert!(p.pin.tries_left <= p.pin.max_tries && p.puk.tries_left <= p.puk.max_tries);
        rest = next;
    }
});
