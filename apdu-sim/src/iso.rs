//! The ISO 7816-4 transport layer: bytes in, bytes out, around any [`Applet`].
//!
//! It owns everything that is not the applet's business: APDU framing (6700
//! for malformed lengths), the class byte (channels, secure messaging), command
//! chaining, and response chaining with `61xx` + GET RESPONSE. Every transport
//! (in-process, script, vpcd) goes through one of these.
//!
//! Command data is limited to [`MAX_COMMAND_DATA`] bytes, chained or not.
//!
//! Response chaining rule: a response longer than Ne is cut at Ne and the rest
//! announced with `61xx`, where `xx` is the number of bytes left, or `00` when
//! 256 or more are left (ISO 7816-4 5.3.4). GET RESPONSE `00 C0 00 00 Le`
//! fetches the next min(Le, left) bytes. A command without Le is answered as if
//! Le were `00` (256 bytes; 65536 for an extended APDU): PC/SC hosts often omit
//! Le and still expect the data. Any command other than GET RESPONSE discards
//! what was left.

use applet_spec::apdu::{Command, Response, EXTENDED_MAX_NE, SHORT_MAX_NE};
use applet_spec::ins::{CLA_CHAIN, GET_RESPONSE};
use applet_spec::Sw;
use zeroize::{Zeroize, Zeroizing};

/// A card application: one complete command in, data or an error status out.
/// It never sees chaining, GET RESPONSE or Le.
pub trait Applet {
    /// Runs one complete command: the response data, or the status word of a refusal.
    fn process(&mut self, cmd: &Command) -> Result<Vec<u8>, Sw>;
    /// Power-off, power-on or warm reset: transient state is lost.
    fn power_reset(&mut self);
}

/// Largest command data the card takes, chained or extended (a certificate
/// object plus room). It also bounds how deeply a hostile host can nest
/// BER-TLV, which `iso7816-tlv` parses recursively: 64 KiB of nested
/// templates overflow the stack.
pub const MAX_COMMAND_DATA: usize = 4096;

/// Command data and pending answers may hold secrets (a chained PIN change,
/// a keypad layout): both are wiped when dropped.
#[derive(Default)]
struct Chain {
    /// CLA (without the chain bit), INS, P1, P2 of the first part.
    header: [u8; 4],
    data: Zeroizing<Vec<u8>>,
}

/// Transient state of the transport layer.
#[derive(Default)]
pub struct IsoLayer {
    chain: Option<Chain>,
    /// Response bytes still to be fetched with GET RESPONSE.
    pending: Zeroizing<Vec<u8>>,
}

/// Checks the class byte: basic logical channel only, no secure messaging.
fn check_class(cla: u8) -> Result<(), Sw> {
    match cla {
        // First interindustry (0x00-0x1F) and proprietary (0x80-0x9F, coded
        // alike as GlobalPlatform does): b1-b2 channel, b3-b4 secure messaging.
        0x00..=0x1F | 0x80..=0x9F => {
            if cla & 0x03 != 0 {
                Err(Sw::LOGICAL_CHANNEL_NOT_SUPPORTED)
            } else if cla & 0x0C != 0 {
                Err(Sw::SECURE_MESSAGING_NOT_SUPPORTED)
            } else {
                Ok(())
            }
        }
        // Further interindustry: logical channels 4 to 19.
        0x40..=0x7F => Err(Sw::LOGICAL_CHANNEL_NOT_SUPPORTED),
        _ => Err(Sw::CLA_NOT_SUPPORTED),
    }
}

impl IsoLayer {
    /// Runs one C-APDU and returns the R-APDU bytes.
    pub fn transmit(&mut self, applet: &mut dyn Applet, raw: &[u8]) -> Vec<u8> {
        self.handle(applet, raw).to_bytes()
    }

    /// Forgets chains and pending response data (power-off or reset).
    pub fn reset(&mut self) {
        *self = IsoLayer::default();
    }

    fn handle(&mut self, applet: &mut dyn Applet, raw: &[u8]) -> Response {
        let mut cmd = match Command::parse(raw) {
            Ok(c) => c,
            Err(_) => {
                self.reset();
                return Response::status(Sw::WRONG_LENGTH);
            }
        };
        if let Err(sw) = check_class(cmd.cla) {
            self.reset();
            return Response::status(sw);
        }
        let pending = std::mem::take(&mut self.pending);
        let chained = cmd.cla & CLA_CHAIN != 0;
        let header = [cmd.cla & !CLA_CHAIN, cmd.ins, cmd.p1, cmd.p2];

        if let Some(mut chain) = self.chain.take() {
            if chain.header != header {
                return Response::status(Sw::LAST_COMMAND_OF_CHAIN_EXPECTED);
            }
            chain.data.extend_from_slice(&cmd.data);
            cmd.data.zeroize();
            cmd.data = std::mem::take(&mut *chain.data);
        }
        if cmd.data.len() > MAX_COMMAND_DATA {
            return Response::status(Sw::WRONG_LENGTH);
        }
        if chained {
            self.chain = Some(Chain { header, data: Zeroizing::new(std::mem::take(&mut cmd.data)) });
            return Response::status(Sw::OK);
        }
        cmd.cla &= !CLA_CHAIN;

        if header[0] & 0x80 == 0 && cmd.ins == GET_RESPONSE {
            return self.get_response(&cmd, pending);
        }
        match applet.process(&cmd) {
            Ok(data) => self.respond(data, &cmd),
            Err(sw) => Response::status(sw),
        }
    }

    fn get_response(&mut self, cmd: &Command, mut pending: Zeroizing<Vec<u8>>) -> Response {
        if (cmd.p1, cmd.p2) != (0, 0) {
            return Response::status(Sw::INCORRECT_P1_P2);
        }
        if !cmd.data.is_empty() {
            return Response::status(Sw::WRONG_LENGTH);
        }
        if pending.is_empty() {
            return Response::status(Sw::CONDITIONS_NOT_SATISFIED);
        }
        self.respond(std::mem::take(&mut *pending), cmd)
    }

    /// Sends at most Ne bytes; keeps the rest for GET RESPONSE.
    fn respond(&mut self, mut data: Vec<u8>, cmd: &Command) -> Response {
        let ne = cmd.ne.unwrap_or(if cmd.extended { EXTENDED_MAX_NE } else { SHORT_MAX_NE });
        if data.len() <= ne {
            return Response::new(data, Sw::OK);
        }
        self.pending = Zeroizing::new(data.split_off(ne));
        let left = self.pending.len();
        Response::new(data, Sw::bytes_remaining(if left >= 256 { 0 } else { left as u8 }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Answers INS 01 with P1*100 + P2 bytes counting up; echoes data for INS 02.
    struct Echo;
    impl Applet for Echo {
        fn process(&mut self, cmd: &Command) -> Result<Vec<u8>, Sw> {
            match cmd.ins {
                0x01 => Ok((0..cmd.p1 as usize * 100 + cmd.p2 as usize).map(|i| i as u8).collect()),
                0x02 => Ok(cmd.data.clone()),
                _ => Err(Sw::INS_NOT_SUPPORTED),
            }
        }
        fn power_reset(&mut self) {}
    }

    fn run(iso: &mut IsoLayer, raw: &[u8]) -> Response {
        Response::parse(&iso.transmit(&mut Echo, raw)).unwrap()
    }

    #[test]
    fn response_chaining_with_small_and_zero_le() {
        let mut iso = IsoLayer::default();
        let r = run(&mut iso, &[0, 1, 3, 0, 8]); // 300 bytes, Le = 8
        assert_eq!((r.data.len(), r.sw), (8, Sw(0x6100)));
        let r = run(&mut iso, &[0, 0xC0, 0, 0, 0]); // 256 of 292
        assert_eq!((r.data.len(), r.sw), (256, Sw(0x6124)));
        assert_eq!(r.data[0], 8);
        let r = run(&mut iso, &[0, 0xC0, 0, 0, 0x24]);
        assert_eq!((r.data.len(), r.sw), (36, Sw::OK));
        assert_eq!(run(&mut iso, &[0, 0xC0, 0, 0, 0]).sw, Sw::CONDITIONS_NOT_SATISFIED);
    }

    #[test]
    fn no_le_means_256_and_extended_gets_all() {
        let mut iso = IsoLayer::default();
        let r = run(&mut iso, &[0, 1, 3, 0]);
        assert_eq!((r.data.len(), r.sw), (256, Sw(0x612C)));
        let r = run(&mut iso, &[0, 1, 3, 0, 0, 0, 0]);
        assert_eq!((r.data.len(), r.sw), (300, Sw::OK));
    }

    #[test]
    fn another_command_discards_pending_data() {
        let mut iso = IsoLayer::default();
        run(&mut iso, &[0, 1, 3, 0, 0]);
        assert_eq!(run(&mut iso, &[0, 1, 0, 1]).sw, Sw::OK);
        assert_eq!(run(&mut iso, &[0, 0xC0, 0, 0, 0]).sw, Sw::CONDITIONS_NOT_SATISFIED);
    }

    #[test]
    fn command_chaining_assembles_and_rejects_changed_headers() {
        let mut iso = IsoLayer::default();
        assert_eq!(run(&mut iso, &[0x10, 2, 0, 0, 2, 1, 2]).sw, Sw::OK);
        let r = run(&mut iso, &[0x00, 2, 0, 0, 1, 3]);
        assert_eq!((r.data, r.sw), (vec![1, 2, 3], Sw::OK));

        assert_eq!(run(&mut iso, &[0x10, 2, 0, 0, 1, 9]).sw, Sw::OK);
        assert_eq!(run(&mut iso, &[0x00, 2, 0, 1, 1, 3]).sw, Sw::LAST_COMMAND_OF_CHAIN_EXPECTED);
        // The chain was dropped: the next command stands alone.
        let r = run(&mut iso, &[0x00, 2, 0, 0, 1, 4]);
        assert_eq!(r.data, vec![4]);
    }

    #[test]
    fn chain_has_a_size_limit() {
        let mut iso = IsoLayer::default();
        let part = [&[0x10, 2, 0, 0, 0xFF][..], &[0xAA; 255]].concat();
        let mut last = Sw::OK;
        for _ in 0..=MAX_COMMAND_DATA / 255 {
            last = run(&mut iso, &part).sw;
        }
        assert_eq!(last, Sw::WRONG_LENGTH);
        assert_eq!(run(&mut iso, &[0, 2, 0, 0, 1, 5]).data, vec![5]);
    }

    #[test]
    fn class_and_length_errors() {
        let mut iso = IsoLayer::default();
        assert_eq!(run(&mut iso, &[0, 1, 0]).sw, Sw::WRONG_LENGTH);
        assert_eq!(run(&mut iso, &[0, 1, 0, 0, 5, 1]).sw, Sw::WRONG_LENGTH);
        assert_eq!(run(&mut iso, &[0x01, 1, 0, 0]).sw, Sw::LOGICAL_CHANNEL_NOT_SUPPORTED);
        assert_eq!(run(&mut iso, &[0x41, 1, 0, 0]).sw, Sw::LOGICAL_CHANNEL_NOT_SUPPORTED);
        assert_eq!(run(&mut iso, &[0x0C, 1, 0, 0]).sw, Sw::SECURE_MESSAGING_NOT_SUPPORTED);
        assert_eq!(run(&mut iso, &[0xFF, 1, 0, 0]).sw, Sw::CLA_NOT_SUPPORTED);
        assert_eq!(run(&mut iso, &[0xA0, 1, 0, 0]).sw, Sw::CLA_NOT_SUPPORTED);
        assert_eq!(run(&mut iso, &[0x00, 0xC0, 1, 0]).sw, Sw::INCORRECT_P1_P2);
    }
}
