//! The simulated card behind `pcscd`, through the vsmartcard `vpcd` reader
//! driver. We are the card side: we connect to vpcd (it listens, by default
//! on 127.0.0.1:35963, reader "Virtual PCD 00 00"). Every message is a 2-byte
//! big-endian length and a payload. One-byte payloads are control: 00 power
//! off, 01 power on, 02 reset (no reply), 04 get ATR (reply: the ATR);
//! anything longer is a C-APDU answered with its R-APDU.

use std::io::{self, ErrorKind, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use applet_spec::atr::SIMULATOR_ATR;

use crate::SimCard;

/// What vpcd can talk to: a card that answers APDUs and can be reset.
pub trait VirtualCard {
    fn transmit(&mut self, apdu: &[u8]) -> Vec<u8>;
    fn power_cycle(&mut self);
    /// Persistent writes so far, so the caller knows when to save.
    fn writes(&self) -> u64;
}

impl VirtualCard for SimCard {
    fn transmit(&mut self, apdu: &[u8]) -> Vec<u8> {
        SimCard::transmit(self, apdu)
    }
    fn power_cycle(&mut self) {
        SimCard::power_cycle(self)
    }
    fn writes(&self) -> u64 {
        SimCard::writes(self)
    }
}

/// A card that answers `90 00` to everything at once: with it, a benchmark
/// measures what pcscd and vpcd cost by themselves.
pub struct EchoCard;

impl VirtualCard for EchoCard {
    fn transmit(&mut self, _: &[u8]) -> Vec<u8> {
        vec![0x90, 0x00]
    }
    fn power_cycle(&mut self) {}
    fn writes(&self) -> u64 {
        0
    }
}

const POWER_OFF: u8 = 0x00;
const POWER_ON: u8 = 0x01;
const RESET: u8 = 0x02;
const GET_ATR: u8 = 0x04;

/// How often a blocked read looks at the stop flag.
const POLL: Duration = Duration::from_millis(200);
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// Reads exactly `buf.len()` bytes. `Ok(false)`: stop was asked for, or the
/// peer closed the connection before a message began.
fn read_full(stream: &mut TcpStream, buf: &mut [u8], stop: &AtomicBool) -> io::Result<bool> {
    let mut got = 0;
    while got < buf.len() {
        if stop.load(Ordering::Relaxed) {
            return Ok(false);
        }
        match stream.read(&mut buf[got..]) {
            Ok(0) if got == 0 => return Ok(false),
            Ok(0) => return Err(io::Error::new(ErrorKind::UnexpectedEof, "vpcd closed mid-message")),
            Ok(n) => {
                got += n;
                quick_ack(stream);
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

/// Acknowledges at once. vpcd writes a message's length and its payload
/// separately; with Nagle on its side and delayed ACKs on ours, every APDU
/// would wait ~40 ms for our ACK of the length. Linux resets the flag after
/// each read, so it is set again every time.
fn quick_ack(stream: &TcpStream) {
    #[cfg(target_os = "linux")]
    let _ = socket2::SockRef::from(stream).set_tcp_quickack(true);
    #[cfg(not(target_os = "linux"))]
    let _ = stream;
}

fn send(stream: &mut TcpStream, payload: &[u8]) -> io::Result<()> {
    let len = u16::try_from(payload.len()).map_err(|_| io::Error::new(ErrorKind::InvalidData, "answer too long"))?;
    stream.write_all(&[&len.to_be_bytes()[..], payload].concat())
}

/// Connects to vpcd, retrying with backoff until it answers or stop is set.
fn connect(addr: &str, stop: &AtomicBool) -> Option<TcpStream> {
    let mut wait = Duration::from_millis(100);
    let mut told = false;
    while !stop.load(Ordering::Relaxed) {
        match TcpStream::connect(addr) {
            Ok(s) => return Some(s),
            Err(e) => {
                if !told {
                    eprintln!("apdu-sim: waiting for vpcd at {addr} ({e}); is pcscd running?");
                    told = true;
                }
                std::thread::sleep(wait);
                wait = (wait * 2).min(MAX_BACKOFF);
            }
        }
    }
    None
}

/// Serves `card` to vpcd at `addr` until `stop` is set. When vpcd goes away
/// (pcscd stopped), the card is powered off and we reconnect. `persist` is
/// called after every command that wrote persistent state.
pub fn serve<C: VirtualCard>(
    card: &mut C,
    addr: &str,
    stop: &AtomicBool,
    mut persist: impl FnMut(&C) -> io::Result<()>,
) -> io::Result<()> {
    while let Some(mut stream) = connect(addr, stop) {
        eprintln!("apdu-sim: card inserted in vpcd at {addr}");
        stream.set_read_timeout(Some(POLL))?;
        stream.set_nodelay(true)?;
        let result = session(card, &mut stream, stop, &mut persist);
        card.power_cycle();
        match result {
            Ok(()) if stop.load(Ordering::Relaxed) => break,
            Ok(()) => eprintln!("apdu-sim: vpcd closed the connection; reconnecting"),
            Err(e) => eprintln!("apdu-sim: connection to vpcd lost ({e}); reconnecting"),
        }
    }
    Ok(())
}

fn session<C: VirtualCard>(
    card: &mut C,
    stream: &mut TcpStream,
    stop: &AtomicBool,
    persist: &mut impl FnMut(&C) -> io::Result<()>,
) -> io::Result<()> {
    let mut len = [0u8; 2];
    let mut payload = Vec::new();
    while read_full(stream, &mut len, stop)? {
        payload.resize(u16::from_be_bytes(len) as usize, 0);
        if !read_full(stream, &mut payload, stop)? {
            return Ok(());
        }
        match payload.as_slice() {
            [POWER_OFF] | [POWER_ON] | [RESET] => card.power_cycle(),
            [GET_ATR] => send(stream, &SIMULATOR_ATR)?,
            [_] | [] => {}
            apdu => {
                let writes = card.writes();
                let answer = card.transmit(apdu);
                // Saved before answering: once the host sees 9000, it is on disk.
                if card.writes() != writes {
                    persist(card)?;
                }
                send(stream, &answer)?;
            }
        }
    }
    Ok(())
}
