//! The simulated card behind `pcscd`, through the vsmartcard `vpcd` reader
//! driver. We are the card side: we connect to vpcd (it listens, by default
//! on 127.0.0.1:35963, reader "Virtual PCD 00 00"). Every message is a 2-byte
//! big-endian length and a payload. One-byte payloads are control: 00 power
//! off, 01 power on, 02 reset (no reply), 04 get ATR (reply: the ATR);
//! anything longer is a C-APDU answered with its R-APDU.

use std::io::{self, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use applet_spec::atr::SIMULATOR_ATR;

use crate::SimCard;

/// What vpcd can talk to: a card that answers APDUs and can be reset.
pub trait VirtualCard {
    /// The R-APDU; empty when the card lost power during the command.
    fn transmit(&mut self, apdu: &[u8]) -> Vec<u8>;
    /// Power off and on: transient state lost, persistent state kept.
    fn power_cycle(&mut self);
    /// Why the card stopped for good (a write it could not save), if it did.
    fn failure(&self) -> Option<String> {
        None
    }
}

impl VirtualCard for SimCard {
    fn transmit(&mut self, apdu: &[u8]) -> Vec<u8> {
        SimCard::transmit(self, apdu)
    }
    fn power_cycle(&mut self) {
        SimCard::power_cycle(self)
    }
    fn failure(&self) -> Option<String> {
        SimCard::failure(self).map(str::to_owned)
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
}

const POWER_OFF: u8 = 0x00;
const POWER_ON: u8 = 0x01;
const RESET: u8 = 0x02;
const GET_ATR: u8 = 0x04;

/// How often a blocked read, connect or backoff looks at the stop flag.
const POLL: Duration = Duration::from_millis(200);
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(2);
/// A connection that lasted less than this is a quick drop, however many
/// frames it carried (a peer may send one and hang up, every time); after
/// [`QUICK_DROPS`] in a row, reconnecting backs off. vpcd keeps its
/// connection for as long as pcscd runs, and may drop a new one or two
/// while it notices an old one gone: those are redialled at once.
const QUICK_DROP: Duration = Duration::from_secs(1);
const QUICK_DROPS: u32 = 5;
/// The longest a frame may take once its first byte is in. vpcd writes a
/// frame's length and payload back to back, so a frame stalled this long
/// is broken: the connection is reset (the card powered off) and renewed.
pub const FRAME_TIMEOUT: Duration = Duration::from_secs(2);
/// The largest payload a frame's 2-byte length can announce.
pub const MAX_FRAME: usize = u16::MAX as usize;
/// What the card answers instead of an R-APDU too long for one frame
/// (`6700`, wrong length: the Le asked for more than the link carries).
pub const TOO_LONG: [u8; 2] = [0x67, 0x00];

/// How a read of one frame part ended.
enum Part {
    Done,
    /// The peer closed the connection before the frame began.
    Closed,
    Stopped,
}

/// Reads exactly `buf.len()` bytes, by `deadline` once it is set (it is set
/// when the frame's first byte arrives).
fn read_full(
    stream: &mut TcpStream,
    buf: &mut [u8],
    stop: &AtomicBool,
    deadline: &mut Option<Instant>,
) -> io::Result<Part> {
    let mut got = 0;
    while got < buf.len() {
        if stop.load(Ordering::Relaxed) {
            return Ok(Part::Stopped);
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return Err(io::Error::new(ErrorKind::TimedOut, format!("a frame stalled for {FRAME_TIMEOUT:?}")));
        }
        match stream.read(&mut buf[got..]) {
            Ok(0) if got == 0 && deadline.is_none() => return Ok(Part::Closed),
            Ok(0) => return Err(io::Error::new(ErrorKind::UnexpectedEof, "vpcd closed mid-message")),
            Ok(n) => {
                got += n;
                deadline.get_or_insert_with(|| Instant::now() + FRAME_TIMEOUT);
                quick_ack(stream);
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(Part::Done)
}

/// One frame's payload; `None` when the peer closed between frames or stop
/// was asked for.
fn read_frame(stream: &mut TcpStream, stop: &AtomicBool, payload: &mut Vec<u8>) -> io::Result<bool> {
    let mut deadline = None;
    let mut len = [0u8; 2];
    if !matches!(read_full(stream, &mut len, stop, &mut deadline)?, Part::Done) {
        return Ok(false);
    }
    payload.resize(u16::from_be_bytes(len) as usize, 0);
    Ok(matches!(read_full(stream, payload, stop, &mut deadline)?, Part::Done))
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

/// An R-APDU as one frame: one too long for the frame's length is replaced
/// by [`TOO_LONG`] (and said so), never cut or sent as a broken frame.
fn answer_frame(answer: &[u8]) -> &[u8] {
    if answer.len() > MAX_FRAME {
        eprintln!("apdu-sim: a {}-byte answer does not fit a vpcd frame; answered 6700", answer.len());
        return &TOO_LONG;
    }
    answer
}

/// Sleeps `d`, waking early when stop is set.
fn nap(d: Duration, stop: &AtomicBool) {
    let end = Instant::now() + d;
    while !stop.load(Ordering::Relaxed) && Instant::now() < end {
        std::thread::sleep(POLL.min(end - Instant::now()).min(Duration::from_millis(50)));
    }
}

/// Refuses an address no retry can make work (no port, a bad port); a
/// name that does not resolve yet is left to the retries.
pub fn check_addr(addr: &str) -> Result<(), String> {
    match addr.to_socket_addrs() {
        Err(e) if e.kind() == ErrorKind::InvalidInput => Err(format!("--addr {addr}: {e}; give HOST:PORT")),
        _ => Ok(()),
    }
}

/// Connects to vpcd, retrying with backoff until it answers or stop is set.
/// Each attempt is bounded ([`POLL`]), so a stop is seen even when the
/// address swallows connection attempts.
fn connect(addr: &str, stop: &AtomicBool) -> Option<TcpStream> {
    let mut wait = FIRST_BACKOFF;
    let mut told = false;
    while !stop.load(Ordering::Relaxed) {
        let attempt = addr.to_socket_addrs().and_then(|addrs| {
            let addrs: Vec<SocketAddr> = addrs.collect();
            let mut last = io::Error::new(ErrorKind::NotFound, "no address");
            for a in addrs {
                match TcpStream::connect_timeout(&a, POLL) {
                    Ok(s) => return Ok(s),
                    Err(e) => last = e,
                }
            }
            Err(last)
        });
        match attempt {
            Ok(s) => return Some(s),
            Err(e) => {
                if !told {
                    eprintln!("apdu-sim: waiting for vpcd at {addr} ({e}); is pcscd running?");
                    told = true;
                }
                nap(wait, stop);
                wait = (wait * 2).min(MAX_BACKOFF);
            }
        }
    }
    None
}

/// Serves `card` to vpcd at `addr` until `stop` is set. When vpcd goes away
/// (pcscd stopped) or a frame stalls, the card is powered off and we
/// reconnect. When the card stops for good (a write it could not save), it
/// is removed from the reader (the connection closed, never an answer) and
/// the error says why.
pub fn serve<C: VirtualCard>(card: &mut C, addr: &str, stop: &AtomicBool) -> Result<(), String> {
    let (mut pause, mut quick_drops) = (Duration::ZERO, 0);
    while let Some(mut stream) = connect(addr, stop) {
        let began = Instant::now();
        eprintln!("apdu-sim: card inserted in vpcd at {addr}");
        let result = stream
            .set_read_timeout(Some(POLL))
            .and_then(|()| stream.set_nodelay(true))
            .and_then(|()| session(card, &mut stream, stop));
        card.power_cycle();
        if let Some(why) = card.failure() {
            let _ = stream.shutdown(std::net::Shutdown::Both);
            return Err(format!("the card stopped and was removed from the reader: {why}"));
        }
        match result {
            Ok(()) if stop.load(Ordering::Relaxed) => break,
            Ok(()) => eprintln!("apdu-sim: vpcd closed the connection; reconnecting"),
            Err(e) => eprintln!("apdu-sim: connection to vpcd lost ({e}); reconnecting"),
        }
        // A peer that drops us at once (not vpcd, or one going down) is not
        // redialled in a tight loop: back off as connect() does.
        quick_drops = if began.elapsed() < QUICK_DROP { quick_drops + 1 } else { 0 };
        pause = if quick_drops >= QUICK_DROPS { (pause * 2).clamp(FIRST_BACKOFF, MAX_BACKOFF) } else { Duration::ZERO };
        nap(pause, stop);
    }
    Ok(())
}

fn session<C: VirtualCard>(card: &mut C, stream: &mut TcpStream, stop: &AtomicBool) -> io::Result<()> {
    let mut payload = Vec::new();
    while read_frame(stream, stop, &mut payload)? {
        match payload.as_slice() {
            [POWER_OFF] | [POWER_ON] | [RESET] => card.power_cycle(),
            [GET_ATR] => send(stream, &SIMULATOR_ATR)?,
            [_] | [] => {}
            apdu => {
                // A file-backed card has saved the command's writes by now.
                let answer = card.transmit(apdu);
                if answer.is_empty() {
                    // Power lost: no answer, ever. The caller removes the card.
                    return Ok(());
                }
                send(stream, answer_frame(&answer))?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_too_long_for_a_frame_is_refused_with_6700() {
        let long = vec![0u8; MAX_FRAME + 1];
        assert_eq!(answer_frame(&long), TOO_LONG);
        let fits = vec![0u8; MAX_FRAME];
        assert_eq!(answer_frame(&fits).len(), MAX_FRAME);
    }
}
