//! One power-on of the card: trussed's service runs on its own thread with
//! the card's file systems; piv-authenticator sits behind apdu-dispatch, the
//! same APDU layer (chaining, extended length, `61xx` and GET RESPONSE,
//! SELECT routing) as on a Nitrokey 3. Power-off or reset ends the session
//! and everything volatile with it: the security status, a half-sent
//! answer, trussed's volatile file system.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};

use apdu_dispatch::dispatch::ApduDispatch;
use apdu_dispatch::interchanges::{Channel, Data, Requester};
use piv_authenticator::{Authenticator, Options};
use trussed::pipe::TrussedChannel;
use trussed::virt::{Client, Runner, StoreConfig};

use crate::dispatch::{Dispatch, BACKENDS};
use crate::platform::VirtPlatform;
use crate::vpcd::{Link, Message};

/// vpicc's default ATR, the one Nitrokey's own tests of piv-authenticator
/// behind vpcd use. It is in none of OpenSC's ATR tables.
pub const ATR: &[u8] = &[0x3B, 0x95, 0x13, 0x81, 0x01, 0x80, 0x73, 0xFF, 0x01, 0x00, 0x0B];

/// trussed's name for the PIV application's files.
const CLIENT_ID: &str = "piv";

/// Why a power session ended.
pub enum End {
    /// vpcd powered the card off or reset it.
    PowerCycle,
    /// vpcd closed the connection (pcscd stopped): the card was removed.
    Removed,
    /// We were asked to stop.
    Stop,
}

/// Powers the card on with `config`'s file systems and serves `link` until
/// the session ends.
pub fn power_on(config: &mut StoreConfig<'_>, link: &mut Link, stop: &AtomicBool) -> io::Result<End> {
    config.with_store(|store| {
        let channel = TrussedChannel::new();
        let (requester, responder) = channel.split().expect("a new channel splits");
        let mut runner = Runner::new();
        runner.add_endpoint(responder, CLIENT_ID, BACKENDS);
        let client: Client<'_, Dispatch> = Client::new(requester, runner.syscall(), None);
        runner.run(VirtPlatform::new(store), Dispatch::default(), || serve(client, link, stop))
    })
}

fn serve(client: Client<'_, Dispatch>, link: &mut Link, stop: &AtomicBool) -> io::Result<End> {
    let mut app = Authenticator::new(client, Options::default());
    let (contact, contactless) = (Channel::new(), Channel::new());
    let (mut reader, contact_card) = contact.split().expect("a new channel splits");
    let (_no_field, contactless_card) = contactless.split().expect("a new channel splits");
    let mut dispatch = ApduDispatch::new(contact_card, contactless_card);
    loop {
        let Some(message) = link.receive(stop)? else {
            return Ok(if stop.load(Ordering::Relaxed) { End::Stop } else { End::Removed });
        };
        match message {
            Message::PowerOff | Message::Reset => return Ok(End::PowerCycle),
            Message::PowerOn => {}
            Message::GetAtr => link.send(ATR)?,
            Message::Apdu(command) => link.send(&transmit(&mut dispatch, &mut reader, &mut app, &command))?,
        }
    }
}

/// One command APDU through apdu-dispatch, as the CCID layer of the
/// firmware hands it over.
fn transmit(
    dispatch: &mut ApduDispatch<'_>,
    reader: &mut Requester<'_>,
    app: &mut dyn apdu_dispatch::App,
    command: &[u8],
) -> Vec<u8> {
    // The firmware's CCID buffer has the interchange's size; a longer APDU
    // never reaches the application.
    let Ok(data) = Data::from_slice(command) else {
        return vec![0x67, 0x00];
    };
    reader.request(data).expect("the interchange is idle between commands");
    dispatch.poll(&mut [app]);
    match reader.take_response() {
        Some(response) => response.to_vec(),
        None => {
            // Every request gets an answer in the same poll; if one ever does
            // not, free the interchange for the next command.
            let _ = reader.cancel();
            vec![0x6F, 0x00]
        }
    }
}
