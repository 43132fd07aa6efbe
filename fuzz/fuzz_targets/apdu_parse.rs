//! The APDU parser: never panics; what it accepts re-encodes to the same
//! header, data and Ne.
#![no_main]

use applet_spec::apdu::Command;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(cmd) = Command::parse(data) {
        let again = Command::parse(&cmd.to_bytes()).expect("re-encoded command parses");
        assert_eq!((again.header(), &again.data, again.ne), (cmd.header(), &cmd.data, cmd.ne));
    }
});
