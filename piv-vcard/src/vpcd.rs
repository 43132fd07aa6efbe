//! The card's side of vsmartcard's vpcd protocol: we connect to vpcd (one TCP
//! port per reader); every message is a 2-byte big-endian length and a
//! payload. A 1-byte payload is a control code (00 power off, 01 power on,
//! 02 reset, 04 send the ATR); anything longer is a command APDU, answered
//! with its response APDU.

use std::io::{self, ErrorKind, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// How often a waiting read looks at the stop flag.
const POLL: Duration = Duration::from_millis(200);
const FIRST_RETRY: Duration = Duration::from_millis(100);
const MAX_RETRY: Duration = Duration::from_secs(2);

pub enum Message {
    PowerOff,
    PowerOn,
    Reset,
    GetAtr,
    Apdu(Vec<u8>),
}

pub struct Link {
    stream: TcpStream,
}

/// Connects to vpcd at `addr`, retrying with growing pauses until it
/// answers; `None` once `stop` is set.
pub fn connect(addr: &str, stop: &AtomicBool) -> Option<Link> {
    let mut pause = FIRST_RETRY;
    let mut said = false;
    while !stop.load(Ordering::Relaxed) {
        match TcpStream::connect(addr).and_then(Link::new) {
            Ok(link) => return Some(link),
            Err(e) if !said => {
                eprintln!("piv-vcard: waiting for vpcd at {addr} ({e}); is pcscd running?");
                said = true;
            }
            Err(_) => {}
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(MAX_RETRY);
    }
    None
}

impl Link {
    fn new(stream: TcpStream) -> io::Result<Self> {
        stream.set_read_timeout(Some(POLL))?;
        stream.set_nodelay(true)?;
        Ok(Self { stream })
    }

    /// The next message; `Ok(None)` when vpcd closed the connection between
    /// messages or `stop` was set.
    pub fn receive(&mut self, stop: &AtomicBool) -> io::Result<Option<Message>> {
        let mut len = [0u8; 2];
        if !self.fill(&mut len, stop)? {
            return Ok(None);
        }
        let mut payload = vec![0u8; usize::from(u16::from_be_bytes(len))];
        if !self.fill(&mut payload, stop)? {
            return Err(io::Error::new(ErrorKind::UnexpectedEof, "vpcd stopped mid-message"));
        }
        Ok(Some(match payload[..] {
            [0x00] => Message::PowerOff,
            [0x01] => Message::PowerOn,
            [0x02] => Message::Reset,
            [0x04] => Message::GetAtr,
            [code] => {
                return Err(io::Error::new(ErrorKind::InvalidData, format!("unknown vpcd control code {code:02X}")))
            }
            _ => Message::Apdu(payload),
        }))
    }

    pub fn send(&mut self, payload: &[u8]) -> io::Result<()> {
        let len =
            u16::try_from(payload.len()).map_err(|_| io::Error::new(ErrorKind::InvalidData, "answer too long"))?;
        let mut message = Vec::with_capacity(2 + payload.len());
        message.extend_from_slice(&len.to_be_bytes());
        message.extend_from_slice(payload);
        self.stream.write_all(&message)
    }

    /// Fills `buf`; `Ok(false)` if stopped, or if the peer closed before
    /// the first byte.
    fn fill(&mut self, buf: &mut [u8], stop: &AtomicBool) -> io::Result<bool> {
        let mut got = 0;
        while got < buf.len() {
            if stop.load(Ordering::Relaxed) {
                return Ok(false);
            }
            match self.stream.read(&mut buf[got..]) {
                Ok(0) if got == 0 => return Ok(false),
                Ok(0) => return Err(io::Error::new(ErrorKind::UnexpectedEof, "vpcd closed mid-message")),
                Ok(n) => {
                    got += n;
                    // vpcd writes the length and the payload separately: ACK
                    // at once, or each APDU waits for our delayed ACK (~40 ms).
                    let _ = socket2::SockRef::from(&self.stream).set_tcp_quickack(true);
                }
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(true)
    }
}
