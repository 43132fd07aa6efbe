//! The ISO 7816-4 transport layer and the card's runtime: bytes in, bytes
//! out, around the card's [`Applications`].
//!
//! It owns everything that is not an application's business: APDU framing
//! (6700 for malformed lengths), the class byte (channels, secure
//! messaging), logical channels (MANAGE CHANNEL; which application is
//! selected on each; SELECT by AID), command chaining, and response chaining
//! with `61xx` + GET RESPONSE. Every transport (in-process, script, vpcd)
//! goes through one of these.
//!
//! Each open channel (0 to 19) has its own selected application, its own
//! chain and its own pending answer: a chain or a `61xx` on one channel is
//! neither seen nor broken by commands on another (docs/phone.md).
//! MANAGE CHANNEL is answered here, as the Java Card runtime does (JCRE
//! 3.0.5, 4.5.1 and 4.6.1; the words in [`ManageChannel::from_p1p2`]).
//!
//! Command data is limited to [`MAX_COMMAND_DATA`] bytes, chained or not.
//!
//! Response chaining rule: a response longer than Ne is cut at Ne and the rest
//! announced with `61xx`, where `xx` is the number of bytes left, or `00` when
//! 256 or more are left (ISO 7816-4 5.3.4). GET RESPONSE `00 C0 00 00 Le`
//! fetches the next min(Le, left) bytes. A command without Le is answered as if
//! Le were `00` (256 bytes; 65536 for an extended APDU): PC/SC hosts often omit
//! Le and still expect the data. Any command other than GET RESPONSE on the
//! same channel discards what was left.

use applet_spec::apdu::{Class, Command, ManageChannel, Response, CHANNELS, EXTENDED_MAX_NE, SHORT_MAX_NE};
use applet_spec::ins::{CLA_CHAIN, GET_RESPONSE, MANAGE_CHANNEL, SELECT};
use applet_spec::Sw;
use zeroize::{Zeroize, Zeroizing};

/// Which application: an index into the card's list.
pub type AppId = usize;

/// The applications on a card, as its runtime sees them (Java Card: applet
/// instances, all multiselectable). They never see chaining, GET RESPONSE,
/// Le or MANAGE CHANNEL; each call names the logical channel, so an
/// application keeps per-channel state where it wants it.
pub trait Applications {
    /// The application SELECT by DF name (P1 `04`) picks for this AID.
    fn find(&self, aid: &[u8]) -> Option<AppId>;
    /// SELECT of `app` on `channel` (also when it is selected there
    /// already): its answer, or a refusal that leaves the channel as it was.
    fn select(&mut self, app: AppId, channel: u8, cmd: &Command) -> Result<Vec<u8>, Sw>;
    /// `app` becomes selected on a channel MANAGE CHANNEL opened from a
    /// channel where it is selected (JCRE 4.5.1): fresh per-channel state.
    fn select_on_new_channel(&mut self, app: AppId, channel: u8);
    /// `app` is no longer selected on `channel` (another was selected there,
    /// or the channel closed): its state for that channel goes.
    fn deselect(&mut self, app: AppId, channel: u8);
    /// One complete command for `app`, selected on `channel`.
    fn process(&mut self, app: AppId, channel: u8, cmd: &Command) -> Result<Vec<u8>, Sw>;
    /// Whether `app` unwraps secure messaging itself (a GlobalPlatform
    /// security domain); for the others the runtime refuses it with `6882`.
    fn takes_secure_messaging(&self, _app: AppId) -> bool {
        false
    }
    /// Power-off, power-on or warm reset: transient state is lost.
    fn power_reset(&mut self);
}

pub use applet_spec::apdu::MAX_COMMAND_DATA;

/// Command data and pending answers may hold secrets (a chained PIN change,
/// a keypad layout): both are wiped when dropped.
#[derive(Default)]
struct Chain {
    /// CLA (without the chain bit), INS, P1, P2 of the first part.
    header: [u8; 4],
    data: Zeroizing<Vec<u8>>,
}

/// One open logical channel.
#[derive(Default)]
struct Channel {
    /// The application selected on it.
    app: Option<AppId>,
    chain: Option<Chain>,
    /// Response bytes still to be fetched with GET RESPONSE.
    pending: Zeroizing<Vec<u8>>,
}

/// Transient state of the transport layer: the open channels (channel 0
/// always is).
pub struct IsoLayer {
    channels: Vec<Option<Channel>>,
}

impl Default for IsoLayer {
    fn default() -> Self {
        let mut channels: Vec<Option<Channel>> = (0..CHANNELS).map(|_| None).collect();
        channels[0] = Some(Channel::default());
        IsoLayer { channels }
    }
}

impl IsoLayer {
    /// Runs one C-APDU and returns the R-APDU bytes.
    pub fn transmit(&mut self, apps: &mut dyn Applications, raw: &[u8]) -> Vec<u8> {
        self.handle(apps, raw).to_bytes()
    }

    /// Closes every channel but 0 and forgets chains, selections and
    /// pending response data (power-off or reset).
    pub fn reset(&mut self) {
        *self = IsoLayer::default();
    }

    /// The logical channels open now, 0 first.
    pub fn open_channels(&self) -> Vec<u8> {
        (0..CHANNELS).filter(|&c| self.channels[c as usize].is_some()).collect()
    }

    /// The application selected on `channel`, if it is open and has one.
    pub fn selected(&self, channel: u8) -> Option<AppId> {
        self.channels.get(channel as usize)?.as_ref()?.app
    }

    fn handle(&mut self, apps: &mut dyn Applications, raw: &[u8]) -> Response {
        // Only the class byte says which channel a command is for: an
        // unreadable one, or one for a channel not open, changes nothing.
        let Some(class) = raw.first().and_then(|&cla| Class::decode(cla)) else {
            return Response::status(if raw.is_empty() { Sw::WRONG_LENGTH } else { Sw::CLA_NOT_SUPPORTED });
        };
        let channel = class.channel;
        let Some(ch) = self.channels[channel as usize].as_mut() else {
            return Response::status(Sw::LOGICAL_CHANNEL_NOT_SUPPORTED);
        };
        // Bytes that are no command APDU are refused before any application
        // sees them, so they leave a chain and an answer waiting as they were
        // (on a Java Card both are the applet's, and its runtime answers 6700
        // without calling it).
        let Ok(mut cmd) = Command::parse(raw) else {
            return Response::status(Sw::WRONG_LENGTH);
        };
        // Secure messaging goes to an application that unwraps it, one
        // APDU at a time (its MAC covers each APDU as sent, not a chain).
        let unwrapped_by_app = ch.app.is_some_and(|a| apps.takes_secure_messaging(a)) && !class.chained;
        if class.secure_messaging && !unwrapped_by_app {
            (ch.chain, ch.pending) = (None, Zeroizing::default());
            return Response::status(Sw::SECURE_MESSAGING_NOT_SUPPORTED);
        }
        let pending = std::mem::take(&mut ch.pending);
        let header = [cmd.cla & !CLA_CHAIN, cmd.ins, cmd.p1, cmd.p2];
        // Chaining is the selected application's (on a Java Card the runtime
        // hands each part to the applet): with none selected there is nothing
        // to chain to, and each part is answered as a whole command.
        let chained = class.chained && ch.app.is_some();

        if let Some(mut chain) = ch.chain.take() {
            // SELECT by AID is the runtime's (JCRE 3.0.5, 4.5: selection
            // comes before any applet sees the command), so it runs and the
            // interrupted chain is gone; ISO 7816-4, 5.3.3 leaves an
            // interrupted chain to the card. Any other command: 6883.
            let select = !class.proprietary && cmd.ins == SELECT && cmd.p1 == 0x04 && !class.chained;
            if chain.header != header && !select {
                return Response::status(Sw::LAST_COMMAND_OF_CHAIN_EXPECTED);
            }
            if chain.header == header {
                chain.data.extend_from_slice(&cmd.data);
                cmd.data.zeroize();
                cmd.data = std::mem::take(&mut *chain.data);
            }
        }
        if cmd.data.len() > MAX_COMMAND_DATA {
            return Response::status(Sw::WRONG_LENGTH);
        }
        if chained {
            ch.chain = Some(Chain { header, data: Zeroizing::new(std::mem::take(&mut cmd.data)) });
            return Response::status(Sw::OK);
        }
        cmd.cla &= !CLA_CHAIN;

        if !class.proprietary {
            match cmd.ins {
                GET_RESPONSE => return self.get_response(channel, &cmd, pending),
                MANAGE_CHANNEL => return self.manage_channel(apps, channel, &cmd),
                SELECT if cmd.p1 == 0x04 => return self.select(apps, channel, &cmd),
                _ => {}
            }
        }
        let ch = self.channels[channel as usize].as_mut().expect("open");
        let Some(app) = ch.app else {
            // Nothing selected: the runtime knows none of these (SELECT
            // other than by DF name has no file system to act on).
            let sw = if cmd.ins == SELECT && !class.proprietary { Sw::INCORRECT_P1_P2 } else { Sw::INS_NOT_SUPPORTED };
            return Response::status(sw);
        };
        match apps.process(app, channel, &cmd) {
            Ok(data) => self.respond(channel, data, &cmd),
            Err(sw) => Response::status(sw),
        }
    }

    /// SELECT by DF name: the application with that AID, else `6A82` and the
    /// channel keeps the one it had (and its state).
    fn select(&mut self, apps: &mut dyn Applications, channel: u8, cmd: &Command) -> Response {
        let Some(app) = apps.find(&cmd.data) else {
            return Response::status(Sw::FILE_NOT_FOUND);
        };
        match apps.select(app, channel, cmd) {
            Ok(data) => {
                let ch = self.channels[channel as usize].as_mut().expect("open");
                if let Some(old) = ch.app.replace(app).filter(|&old| old != app) {
                    apps.deselect(old, channel);
                }
                self.respond(channel, data, cmd)
            }
            Err(sw) => Response::status(sw),
        }
    }

    fn manage_channel(&mut self, apps: &mut dyn Applications, origin: u8, cmd: &Command) -> Response {
        let op = match ManageChannel::from_p1p2(cmd.p1, cmd.p2) {
            Ok(op) => op,
            Err(sw) => return Response::status(sw),
        };
        let free = |layer: &IsoLayer, n: u8| layer.channels[n as usize].is_none();
        let new = match op {
            ManageChannel::Close(n) => {
                return match self.channels[n as usize].take() {
                    Some(closed) => {
                        if let Some(app) = closed.app {
                            apps.deselect(app, n);
                        }
                        Response::status(Sw::OK)
                    }
                    None => Response::status(Sw::WARNING_UNCHANGED),
                };
            }
            ManageChannel::Open(n) if free(self, n) => n,
            ManageChannel::Open(_) => return Response::status(Sw::INCORRECT_P1_P2),
            ManageChannel::OpenAny => match (1..CHANNELS).find(|&n| free(self, n)) {
                Some(n) => n,
                None => return Response::status(Sw::FUNCTION_NOT_SUPPORTED),
            },
        };
        if !cmd.data.is_empty() {
            return Response::status(Sw::WRONG_LENGTH);
        }
        // Opened from channel 0 nothing is selected (this card has no
        // default application); from another channel, its application.
        let app = if origin == 0 { None } else { self.selected(origin) };
        if let Some(app) = app {
            apps.select_on_new_channel(app, new);
        }
        self.channels[new as usize] = Some(Channel { app, ..Channel::default() });
        let data = if op == ManageChannel::OpenAny { vec![new] } else { Vec::new() };
        self.respond(origin, data, cmd)
    }

    fn get_response(&mut self, channel: u8, cmd: &Command, mut pending: Zeroizing<Vec<u8>>) -> Response {
        if (cmd.p1, cmd.p2) != (0, 0) {
            return Response::status(Sw::INCORRECT_P1_P2);
        }
        if !cmd.data.is_empty() {
            return Response::status(Sw::WRONG_LENGTH);
        }
        if pending.is_empty() {
            return Response::status(Sw::CONDITIONS_NOT_SATISFIED);
        }
        self.respond(channel, std::mem::take(&mut *pending), cmd)
    }

    /// Sends at most Ne bytes; keeps the rest for GET RESPONSE on the channel.
    fn respond(&mut self, channel: u8, mut data: Vec<u8>, cmd: &Command) -> Response {
        let ne = cmd.ne.unwrap_or(if cmd.extended { EXTENDED_MAX_NE } else { SHORT_MAX_NE });
        if data.len() <= ne {
            return Response::new(data, Sw::OK);
        }
        let ch = self.channels[channel as usize].as_mut().expect("open");
        ch.pending = Zeroizing::new(data.split_off(ne));
        let left = ch.pending.len();
        Response::new(data, Sw::bytes_remaining(if left >= 256 { 0 } else { left as u8 }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two applications, AIDs `E1 E1 E1 E1 E1` and `E2 ...`. INS 01 answers
    /// P1*100 + P2 bytes counting up; INS 02 echoes data; INS 03 tells the
    /// application and the channel.
    struct Echo;
    impl Applications for Echo {
        fn find(&self, aid: &[u8]) -> Option<AppId> {
            match aid {
                [0xE1, 0xE1, 0xE1, 0xE1, 0xE1] => Some(1),
                [0xE2, 0xE2, 0xE2, 0xE2, 0xE2] => Some(2),
                _ => None,
            }
        }
        fn select(&mut self, _: AppId, _: u8, cmd: &Command) -> Result<Vec<u8>, Sw> {
            if cmd.p2 == 0x00 {
                Ok(Vec::new())
            } else {
                Err(Sw::INCORRECT_P1_P2)
            }
        }
        fn select_on_new_channel(&mut self, _: AppId, _: u8) {}
        fn deselect(&mut self, _: AppId, _: u8) {}
        fn process(&mut self, app: AppId, channel: u8, cmd: &Command) -> Result<Vec<u8>, Sw> {
            match cmd.ins {
                0x01 => Ok((0..cmd.p1 as usize * 100 + cmd.p2 as usize).map(|i| i as u8).collect()),
                0x02 => Ok(cmd.data.clone()),
                0x03 => Ok(vec![app as u8, channel]),
                _ => Err(Sw::INS_NOT_SUPPORTED),
            }
        }
        fn power_reset(&mut self) {}
    }

    fn run(iso: &mut IsoLayer, raw: &[u8]) -> Response {
        Response::parse(&iso.transmit(&mut Echo, raw)).unwrap()
    }

    /// A layer with application 1 selected on channel 0.
    fn layer() -> IsoLayer {
        let mut iso = IsoLayer::default();
        assert_eq!(run(&mut iso, &[0, 0xA4, 4, 0, 5, 0xE1, 0xE1, 0xE1, 0xE1, 0xE1]).sw, Sw::OK);
        iso
    }

    #[test]
    fn channels_open_close_and_keep_their_own_selection() {
        let mut iso = layer();
        let r = run(&mut iso, &[0x00, 0x70, 0x00, 0x00, 0x01]);
        assert_eq!((r.data, r.sw), (vec![1], Sw::OK), "the card picks channel 1");
        assert_eq!(run(&mut iso, &[0x01, 0x03, 0, 0]).sw, Sw::INS_NOT_SUPPORTED, "opened from 0: nothing selected");
        assert_eq!(run(&mut iso, &[0x01, 0xA4, 4, 0, 5, 0xE2, 0xE2, 0xE2, 0xE2, 0xE2]).sw, Sw::OK);
        assert_eq!(run(&mut iso, &[0x01, 0x03, 0, 0]).data, vec![2, 1]);
        assert_eq!(run(&mut iso, &[0x00, 0x03, 0, 0]).data, vec![1, 0], "channel 0 keeps its application");
        // Host-assigned channel 7 (CLA 43) from channel 1: application 2 is selected there too.
        assert_eq!(run(&mut iso, &[0x01, 0x70, 0x00, 0x07]).sw, Sw::OK);
        assert_eq!(run(&mut iso, &[0x43, 0x03, 0, 0]).data, vec![2, 7]);
        assert_eq!(run(&mut iso, &[0x00, 0x70, 0x00, 0x07]).sw, Sw::INCORRECT_P1_P2, "open already");
        assert_eq!(iso.open_channels(), vec![0, 1, 7]);
        assert_eq!(run(&mut iso, &[0x00, 0x70, 0x80, 0x07]).sw, Sw::OK);
        assert_eq!(run(&mut iso, &[0x43, 0x03, 0, 0]).sw, Sw::LOGICAL_CHANNEL_NOT_SUPPORTED, "closed");
        assert_eq!(run(&mut iso, &[0x00, 0x70, 0x80, 0x07]).sw, Sw::WARNING_UNCHANGED, "closed already");
        assert_eq!(run(&mut iso, &[0x00, 0x70, 0x80, 0x00]).sw, Sw::FUNCTION_NOT_SUPPORTED, "channel 0");
        assert_eq!(run(&mut iso, &[0x00, 0x70, 0x40, 0x00]).sw, Sw::FUNCTION_NOT_SUPPORTED, "P1");
        assert_eq!(run(&mut iso, &[0x00, 0x70, 0x00, 0x14]).sw, Sw::INCORRECT_P1_P2, "channel 20");
        assert_eq!(run(&mut iso, &[0x02, 0x70, 0x00, 0x00, 0x01]).sw, Sw::LOGICAL_CHANNEL_NOT_SUPPORTED);
        // Every channel taken: 6A81, and nothing else changed.
        for n in 2..CHANNELS {
            assert_eq!(run(&mut iso, &[0x00, 0x70, 0x00, n]).sw, Sw::OK, "channel {n}");
        }
        assert_eq!(run(&mut iso, &[0x00, 0x70, 0x00, 0x00, 0x01]).sw, Sw::FUNCTION_NOT_SUPPORTED);
        assert_eq!(run(&mut iso, &[0x4F, 0x03, 0, 0]).sw, Sw::INS_NOT_SUPPORTED, "channel 19 open, empty");
        assert_eq!(run(&mut iso, &[0x01, 0x03, 0, 0]).data, vec![2, 1]);
        iso.reset();
        assert_eq!(iso.open_channels(), vec![0]);
    }

    #[test]
    fn chains_and_pending_answers_belong_to_their_channel() {
        let mut iso = layer();
        run(&mut iso, &[0x00, 0x70, 0x00, 0x01]);
        run(&mut iso, &[0x01, 0xA4, 4, 0, 5, 0xE1, 0xE1, 0xE1, 0xE1, 0xE1]);
        // A 300-byte answer on 0, a chain on 1: neither disturbs the other.
        assert_eq!(run(&mut iso, &[0x00, 1, 3, 0, 8]).sw, Sw(0x6100));
        assert_eq!(run(&mut iso, &[0x11, 2, 0, 0, 2, 1, 2]).sw, Sw::OK);
        assert_eq!(run(&mut iso, &[0x01, 0xC0, 0, 0, 0]).sw, Sw::LAST_COMMAND_OF_CHAIN_EXPECTED, "GET RESPONSE on 1");
        assert_eq!(run(&mut iso, &[0x11, 2, 0, 0, 2, 1, 2]).sw, Sw::OK);
        // The last part on channel 0 is a command of its own there.
        let r = run(&mut iso, &[0x00, 2, 0, 0, 1, 3]);
        assert_eq!((r.data, r.sw), (vec![3], Sw::OK));
        assert_eq!(run(&mut iso, &[0x00, 0xC0, 0, 0, 0]).sw, Sw::CONDITIONS_NOT_SATISFIED, "0's answer went");
        let r = run(&mut iso, &[0x01, 2, 0, 0, 1, 3]);
        assert_eq!((r.data, r.sw), (vec![1, 2, 3], Sw::OK), "channel 1's chain was whole");
        // GET RESPONSE on the wrong channel.
        assert_eq!(run(&mut iso, &[0x01, 1, 3, 0, 8]).sw, Sw(0x6100));
        assert_eq!(run(&mut iso, &[0x00, 0xC0, 0, 0, 0]).sw, Sw::CONDITIONS_NOT_SATISFIED);
        let r = run(&mut iso, &[0x01, 0xC0, 0, 0, 0]);
        assert_eq!((r.data.len(), r.data[0], r.sw), (256, 8, Sw(0x6124)));
        // A bad class or a channel not open changes nothing.
        assert_eq!(run(&mut iso, &[0x02, 0xC0, 0, 0, 0]).sw, Sw::LOGICAL_CHANNEL_NOT_SUPPORTED);
        assert_eq!(run(&mut iso, &[0xA1, 0xC0, 0, 0, 0]).sw, Sw::CLA_NOT_SUPPORTED);
        assert_eq!(run(&mut iso, &[0x01, 0xC0, 0, 0, 0x24]).data.len(), 36);
    }

    #[test]
    fn response_chaining_with_small_and_zero_le() {
        let mut iso = layer();
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
        let mut iso = layer();
        let r = run(&mut iso, &[0, 1, 3, 0]);
        assert_eq!((r.data.len(), r.sw), (256, Sw(0x612C)));
        let r = run(&mut iso, &[0, 1, 3, 0, 0, 0, 0]);
        assert_eq!((r.data.len(), r.sw), (300, Sw::OK));
    }

    #[test]
    fn another_command_discards_pending_data() {
        let mut iso = layer();
        run(&mut iso, &[0, 1, 3, 0, 0]);
        assert_eq!(run(&mut iso, &[0, 1, 0, 1]).sw, Sw::OK);
        assert_eq!(run(&mut iso, &[0, 0xC0, 0, 0, 0]).sw, Sw::CONDITIONS_NOT_SATISFIED);
    }

    #[test]
    fn command_chaining_assembles_and_rejects_changed_headers() {
        let mut iso = layer();
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
    fn a_select_in_the_middle_of_a_chain_runs_and_drops_it() {
        let mut iso = layer();
        assert_eq!(run(&mut iso, &[0x10, 2, 0, 0, 2, 1, 2]).sw, Sw::OK);
        let select = [0x00, SELECT, 0x04, 0x00, 5, 0xE2, 0xE2, 0xE2, 0xE2, 0xE2];
        assert_eq!(run(&mut iso, &select).sw, Sw::OK);
        assert_eq!(run(&mut iso, &[0x00, 0x03, 0, 0]).data, vec![2, 0], "the SELECT ran");
        // Another command than SELECT by AID still breaks a chain with 6883.
        assert_eq!(run(&mut iso, &[0x10, 2, 0, 0, 2, 1, 2]).sw, Sw::OK);
        assert_eq!(run(&mut iso, &[0x00, SELECT, 0x00, 0x00, 2, 0x3F, 0x00]).sw, Sw::LAST_COMMAND_OF_CHAIN_EXPECTED);
        assert_eq!(run(&mut iso, &[0x10, 2, 0, 0, 2, 1, 2]).sw, Sw::OK);
        assert_eq!(run(&mut iso, &select).sw, Sw::OK);
        // The chain is gone: the next part stands alone.
        assert_eq!(run(&mut iso, &[0x00, 2, 0, 0, 1, 3]).data, vec![3]);
    }

    #[test]
    fn bytes_that_are_no_command_leave_a_chain_and_an_answer_waiting() {
        let mut iso = layer();
        assert_eq!(run(&mut iso, &[0x10, 2, 0, 0, 2, 1, 2]).sw, Sw::OK);
        assert_eq!(run(&mut iso, &[0x00, 2, 0, 0, 5, 1]).sw, Sw::WRONG_LENGTH);
        assert_eq!(run(&mut iso, &[0x00, 2, 0, 0, 1, 3]).data, vec![1, 2, 3], "the chain went on");
        assert_eq!(run(&mut iso, &[0, 1, 3, 0, 0]).sw, Sw::bytes_remaining(44));
        assert_eq!(run(&mut iso, &[0, 1, 0]).sw, Sw::WRONG_LENGTH);
        assert_eq!(run(&mut iso, &[0, 0xC0, 0, 0, 0]).data.len(), 44, "the answer still waited");
    }

    #[test]
    fn with_nothing_selected_a_chained_part_is_answered_as_a_whole_command() {
        let mut iso = IsoLayer::default();
        assert_eq!(run(&mut iso, &[0x10, 2, 0, 0, 2, 1, 2]).sw, Sw::INS_NOT_SUPPORTED);
        assert_eq!(run(&mut iso, &[0x10, SELECT, 0x00, 0x00, 2, 0x3F, 0x00]).sw, Sw::INCORRECT_P1_P2);
        // Nothing was kept: once selected, a part stands alone.
        assert_eq!(run(&mut iso, &[0, 0xA4, 4, 0, 5, 0xE1, 0xE1, 0xE1, 0xE1, 0xE1]).sw, Sw::OK);
        assert_eq!(run(&mut iso, &[0x00, 2, 0, 0, 1, 3]).data, vec![3]);
    }

    #[test]
    fn chain_has_a_size_limit() {
        let mut iso = layer();
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
        let mut iso = layer();
        assert_eq!(run(&mut iso, &[0, 1, 0]).sw, Sw::WRONG_LENGTH);
        assert_eq!(run(&mut iso, &[0, 1, 0, 0, 5, 1]).sw, Sw::WRONG_LENGTH);
        assert_eq!(run(&mut iso, &[0x01, 1, 0, 0]).sw, Sw::LOGICAL_CHANNEL_NOT_SUPPORTED, "channel 1 not open");
        assert_eq!(run(&mut iso, &[0x41, 1, 0, 0]).sw, Sw::LOGICAL_CHANNEL_NOT_SUPPORTED);
        assert_eq!(run(&mut iso, &[0x0C, 1, 0, 0]).sw, Sw::SECURE_MESSAGING_NOT_SUPPORTED);
        assert_eq!(run(&mut iso, &[0xFF, 1, 0, 0]).sw, Sw::CLA_NOT_SUPPORTED);
        assert_eq!(run(&mut iso, &[0xA0, 1, 0, 0]).sw, Sw::CLA_NOT_SUPPORTED);
        assert_eq!(run(&mut iso, &[0x00, 0xC0, 1, 0]).sw, Sw::INCORRECT_P1_P2);
        assert_eq!(run(&mut iso, &[0x00, 0xA4, 4, 0, 5, 9, 9, 9, 9, 9]).sw, Sw::FILE_NOT_FOUND);
        assert_eq!(run(&mut IsoLayer::default(), &[0x00, 0xA4, 0, 0]).sw, Sw::INCORRECT_P1_P2, "nothing selected");
    }
}
