//! The issuer's path to a card through an untrusted phone: a relay process
//! that forwards APDUs between a TCP socket and a card, and the issuer's
//! [`SocketTransport`] to it. The relay stands for the phone: it sees every
//! byte and can be made hostile ([`Hostile`]); the issuer's SCP03 session
//! (C-MAC, C-DECRYPTION, R-MAC, R-ENCRYPTION) is what makes that harmless
//! (docs/gp.md, "Remote operations").
//!
//! The wire: each APDU, both ways, is a 2-byte big-endian length and the
//! bytes; a zero-length command asks the relay to reset the card.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream, ToSocketAddrs};
use std::time::Duration;

use crate::error::{Error, Result, TransportKind};
use crate::transport::{Capabilities, Transport};

/// How long the issuer waits for the relay's answer.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);

fn lost(message: String) -> Error {
    Error::transport(TransportKind::CardRemoved, message, Some("the relay (the phone) closed or lost the connection"))
}

fn write_frame(s: &mut TcpStream, bytes: &[u8]) -> std::io::Result<()> {
    let len = u16::try_from(bytes.len()).map_err(|_| std::io::Error::other("an APDU over 65535 bytes"))?;
    s.write_all(&len.to_be_bytes())?;
    s.write_all(bytes)?;
    s.flush()
}

fn read_frame(s: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    let mut len = [0u8; 2];
    s.read_exact(&mut len).map_err(|e| match e.kind() {
        std::io::ErrorKind::UnexpectedEof => std::io::Error::new(e.kind(), "the connection closed"),
        _ => e,
    })?;
    let mut bytes = vec![0u8; u16::from_be_bytes(len) as usize];
    s.read_exact(&mut bytes)?;
    Ok(bytes)
}

/// The issuer's transport: a connection to a relay.
pub struct SocketTransport {
    stream: TcpStream,
    peer: String,
}

impl SocketTransport {
    /// Connects to the relay at `addr` (like `127.0.0.1:4177`).
    pub fn connect(addr: &str) -> Result<SocketTransport> {
        let target = addr
            .to_socket_addrs()
            .map_err(|e| Error::Invalid(format!("{addr}: not a host:port ({e})")))?
            .next()
            .ok_or_else(|| Error::Invalid(format!("{addr}: no address")))?;
        let stream = TcpStream::connect_timeout(&target, Duration::from_secs(10)).map_err(|e| {
            Error::transport(
                TransportKind::NoReader,
                format!("no relay at {addr}: {e}"),
                Some("start one: subsim relay"),
            )
        })?;
        stream.set_read_timeout(Some(ANSWER_TIMEOUT)).map_err(|e| lost(e.to_string()))?;
        let _ = stream.set_nodelay(true);
        Ok(SocketTransport { stream, peer: addr.to_string() })
    }
}

impl Transport for SocketTransport {
    fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>> {
        if apdu.is_empty() {
            return Err(Error::Invalid("an empty APDU".into()));
        }
        write_frame(&mut self.stream, apdu).map_err(|e| lost(format!("the relay at {}: {e}", self.peer)))?;
        let answer = read_frame(&mut self.stream)
            .map_err(|e| lost(format!("no answer from the relay at {}: {e}", self.peer)))?;
        if answer.len() < 2 {
            return Err(Error::transport(TransportKind::Protocol, "the relay answered no status word", None));
        }
        Ok(answer)
    }
    /// Short APDUs only: what a phone's OMAPI channel surely carries.
    fn capabilities(&self) -> Capabilities {
        Capabilities { extended_length: false }
    }
    fn describe(&self) -> String {
        format!("card behind the relay at {}", self.peer)
    }
    fn reset(&mut self) -> Result<()> {
        write_frame(&mut self.stream, &[]).map_err(|e| lost(e.to_string()))?;
        read_frame(&mut self.stream).map_err(|e| lost(e.to_string()))?;
        Ok(())
    }
    /// The relay holds the card for this connection alone.
    fn exclusive(&mut self, f: &mut dyn FnMut(&mut dyn Transport) -> Result<()>) -> Result<()> {
        f(self)
    }
}

/// What a hostile relay does to the first command of the issuer's session
/// after EXTERNAL AUTHENTICATE (the first secured command that is not
/// INITIALIZE UPDATE or EXTERNAL AUTHENTICATE).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hostile {
    /// Forwards everything as it came.
    Honest,
    /// Flips a bit of the command's last byte (its C-MAC).
    AlterCommand,
    /// Flips a bit of the card's answer's first byte.
    AlterAnswer,
    /// Forwards the command, then sends it again; the issuer gets the copy's answer.
    Replay,
    /// Sends its own plain SET STATUS (lock the PIV application) first.
    Inject,
    /// Forwards the command, keeps the answer and closes the connection.
    DropAnswer,
}

impl std::str::FromStr for Hostile {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Hostile, String> {
        Ok(match s {
            "honest" => Hostile::Honest,
            "alter-command" => Hostile::AlterCommand,
            "alter-answer" => Hostile::AlterAnswer,
            "replay" => Hostile::Replay,
            "inject" => Hostile::Inject,
            "drop-answer" => Hostile::DropAnswer,
            _ => return Err(format!("{s}: one of honest, alter-command, alter-answer, replay, inject, drop-answer")),
        })
    }
}

/// The relay: forwards each connection's APDUs to `card`, one connection
/// at a time, doing `hostile` once per connection; with `once`, returns
/// after the first connection ends. `log` gets one line per APDU (its
/// header only: nothing of the data).
pub fn serve(
    listener: &TcpListener,
    card: &mut dyn Transport,
    hostile: Hostile,
    once: bool,
    log: &mut dyn FnMut(String),
) -> Result<()> {
    loop {
        let (mut stream, peer) = listener.accept().map_err(|e| Error::Invalid(format!("accept: {e}")))?;
        log(format!("issuer connected from {peer}"));
        let _ = stream.set_nodelay(true);
        let mut armed = hostile != Hostile::Honest;
        let mut authenticated = false;
        while let Ok(apdu) = read_frame(&mut stream) {
            if apdu.is_empty() {
                card.reset()?;
                if write_frame(&mut stream, &[]).is_err() {
                    break;
                }
                continue;
            }
            if apdu.len() < 4 {
                let _ = write_frame(&mut stream, &[0x67, 0x00]);
                continue;
            }
            let secured = apdu[0] & 0x04 != 0;
            let targeted = armed && authenticated && secured;
            if apdu[1] == 0x82 && secured {
                authenticated = true;
            }
            log(format!(
                "{:02X} {:02X} {:02X} {:02X}{}",
                apdu[0],
                apdu[1],
                apdu[2],
                apdu[3],
                if targeted { format!(" <- {hostile:?}") } else { String::new() }
            ));
            let answer = if targeted {
                armed = false;
                match hostile {
                    Hostile::Honest => card.transmit(&apdu)?,
                    Hostile::AlterCommand => {
                        let mut a = apdu.clone();
                        let last = a.len() - 1 - usize::from(a.len() > 5 + a[4] as usize);
                        a[last] ^= 0x01;
                        card.transmit(&a)?
                    }
                    Hostile::AlterAnswer => {
                        let mut r = card.transmit(&apdu)?;
                        r[0] ^= 0x01;
                        r
                    }
                    Hostile::Replay => {
                        card.transmit(&apdu)?;
                        card.transmit(&apdu)?
                    }
                    Hostile::Inject => {
                        let piv = applet_spec::piv::PIV_AID;
                        let own = [&[0x80, 0xF0, 0x40, 0x80, piv.len() as u8][..], &piv].concat();
                        card.transmit(&own)?;
                        card.transmit(&apdu)?
                    }
                    Hostile::DropAnswer => {
                        card.transmit(&apdu)?;
                        log("answer dropped, connection closed".into());
                        break;
                    }
                }
            } else {
                card.transmit(&apdu)?
            };
            if write_frame(&mut stream, &answer).is_err() {
                break;
            }
        }
        log("issuer gone".into());
        if once {
            return Ok(());
        }
    }
}
