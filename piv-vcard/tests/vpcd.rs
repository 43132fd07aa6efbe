//! The runner from the reader's side: these tests play vpcd (they listen,
//! the card connects) and drive the real binary over the socket protocol, so
//! they need neither pcscd nor vsmartcard.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

const SELECT: &str = "00A4040009A0000003080000100000";
const PIN_STATUS: &str = "0020008000";
const WRONG_PIN: &str = "00200080083030303030303030";
const RIGHT_PIN: &str = "0020008008313233343536FFFF";
/// PUT DATA of a small certificate object in 9A's slot: needs 9B.
const PUT_CERT: &str = "00DB3FFF105C035FC1055309700401020304710100";

struct Vpcd {
    listener: TcpListener,
}

struct Card {
    child: Child,
}

impl Card {
    fn start(vpcd: &Vpcd, state: Option<&Path>) -> Card {
        let addr = vpcd.listener.local_addr().unwrap().to_string();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_piv-vcard"));
        cmd.args(["--addr", &addr]).stderr(if std::env::var_os("PIV_VCARD_TEST_STDERR").is_some() {
            Stdio::inherit()
        } else {
            Stdio::null()
        });
        if let Some(dir) = state {
            cmd.arg("--state").arg(dir);
        }
        Card { child: cmd.spawn().unwrap() }
    }

    /// Where the supervisor keeps a RAM card's flash.
    fn temporary_dir(&self) -> std::path::PathBuf {
        std::env::temp_dir().join(format!("piv-vcard-{}", self.child.id()))
    }

    /// SIGTERM, then the exit status (within 5 s).
    fn stop(mut self) -> ExitStatus {
        // SAFETY: kill(2) on our own child's pid.
        assert_eq!(unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) }, 0);
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "piv-vcard did not stop on SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Card {
    /// SIGTERM, so that the supervisor stops its card process and removes
    /// its temporary directory; SIGKILL if that takes over 5 s.
    fn drop(&mut self) {
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(5);
        while self.child.try_wait().ok().flatten().is_none() {
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Vpcd {
    fn new() -> Vpcd {
        Vpcd { listener: TcpListener::bind("127.0.0.1:0").unwrap() }
    }

    /// Waits for the card to connect (as vpcd accepts it).
    fn accept(&self) -> Link {
        self.listener.set_nonblocking(false).unwrap();
        let (stream, _) = self.listener.accept().unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        Link { stream }
    }
}

struct Link {
    stream: TcpStream,
}

impl Link {
    fn send(&mut self, payload: &[u8]) {
        let mut message = (payload.len() as u16).to_be_bytes().to_vec();
        message.extend_from_slice(payload);
        self.stream.write_all(&message).unwrap();
    }

    fn receive(&mut self) -> Vec<u8> {
        let mut len = [0u8; 2];
        self.stream.read_exact(&mut len).unwrap();
        let mut payload = vec![0u8; u16::from_be_bytes(len).into()];
        self.stream.read_exact(&mut payload).unwrap();
        payload
    }

    fn control(&mut self, code: u8) {
        self.send(&[code]);
    }

    /// One APDU; returns the response's status word (and checks the data
    /// length is plausible).
    fn sw(&mut self, apdu_hex: &str) -> u16 {
        let response = self.apdu(apdu_hex);
        u16::from_be_bytes([response[response.len() - 2], response[response.len() - 1]])
    }

    fn apdu(&mut self, apdu_hex: &str) -> Vec<u8> {
        self.send(&hex(apdu_hex));
        let response = self.receive();
        assert!(response.len() >= 2, "a response has a status word: {response:02X?}");
        response
    }
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

#[test]
fn answers_atr_select_and_pin_status_and_stops_on_sigterm() {
    let vpcd = Vpcd::new();
    let card = Card::start(&vpcd, None);
    let mut link = vpcd.accept();
    link.control(0x04);
    assert_eq!(link.receive(), hex("3B951381018073FF01000B"));
    link.control(0x01);
    let select = link.apdu(SELECT);
    assert_eq!(&select[..4], &hex("61694F06"), "the application property template with the PIX");
    assert_eq!(&select[select.len() - 2..], &[0x90, 0x00]);
    assert_eq!(link.sw(PIN_STATUS), 0x63C3, "a new card: 3 PIN tries");
    let dir = card.temporary_dir();
    assert!(dir.join("internal.img").exists(), "a RAM card's flash is in {}", dir.display());
    assert!(card.stop().success(), "a clean exit on SIGTERM");
    assert!(!dir.exists(), "the temporary flash is gone with the card");
}

#[test]
fn a_reset_drops_the_security_status_but_not_the_try_counter() {
    let vpcd = Vpcd::new();
    let _card = Card::start(&vpcd, None);
    let mut link = vpcd.accept();
    link.control(0x01);
    link.apdu(SELECT);
    assert_eq!(link.sw(WRONG_PIN), 0x63C2);
    assert_eq!(link.sw(RIGHT_PIN), 0x9000);
    assert_eq!(link.sw(PIN_STATUS), 0x9000, "verified");
    link.control(0x02);
    link.apdu(SELECT);
    // The right PIN restored the counter; the reset dropped the verification.
    assert_eq!(link.sw(PIN_STATUS), 0x63C3);
    assert_eq!(link.sw(WRONG_PIN), 0x63C2);
    link.control(0x00);
    link.control(0x01);
    link.apdu(SELECT);
    assert_eq!(link.sw(PIN_STATUS), 0x63C2, "a power cycle keeps the spent try");
    assert_eq!(link.sw(PUT_CERT), 0x6982, "no management key authentication after power-on");
}

#[test]
fn the_card_comes_back_when_vpcd_does_and_keeps_its_ram_state() {
    let vpcd = Vpcd::new();
    let _card = Card::start(&vpcd, None);
    let mut link = vpcd.accept();
    link.apdu(SELECT);
    assert_eq!(link.sw(WRONG_PIN), 0x63C2);
    drop(link); // pcscd went away: the card is removed...
    let mut link = vpcd.accept(); // ...and inserted again when it is back.
    link.apdu(SELECT);
    assert_eq!(link.sw(PIN_STATUS), 0x63C2, "the same card, still in RAM");
}

#[test]
fn state_dir_keeps_the_card_across_runs_and_is_held_by_one_process() {
    let dir = std::env::temp_dir().join(format!("piv-vcard-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let vpcd = Vpcd::new();
    let card = Card::start(&vpcd, Some(&dir));
    let mut link = vpcd.accept();
    link.apdu(SELECT);
    assert_eq!(link.sw(WRONG_PIN), 0x63C2);

    let second =
        Command::new(env!("CARGO_BIN_EXE_piv-vcard")).args(["--port", "1", "--state"]).arg(&dir).output().unwrap();
    assert!(!second.status.success(), "a second process on the same directory is refused");
    assert!(String::from_utf8_lossy(&second.stderr).contains("in use"));

    assert!(card.stop().success());
    drop(link);
    let _card = Card::start(&vpcd, Some(&dir));
    let mut link = vpcd.accept();
    link.apdu(SELECT);
    assert_eq!(link.sw(PIN_STATUS), 0x63C2, "the spent try survived the restart");
    for image in ["internal.img", "external.img"] {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.join(image)).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "{image} is owner-only");
    }
    drop(link);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_arguments_exit_with_usage() {
    let out = Command::new(env!("CARGO_BIN_EXE_piv-vcard")).arg("--bogus").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("Usage: piv-vcard"));
}

/// 9B external authentication with the factory 3DES key.
fn authenticate_admin(link: &mut Link) {
    use des::cipher::{generic_array::GenericArray, BlockEncrypt, KeyInit};
    let challenge = link.apdu("0087039B047C02810000");
    assert_eq!(&challenge[..4], &hex("7C0A8108"), "a witness-free challenge: {challenge:02X?}");
    let key = hex("010203040506070801020304050607080102030405060708");
    let mut block = GenericArray::clone_from_slice(&challenge[4..12]);
    des::TdesEde3::new_from_slice(&key).unwrap().encrypt_block(&mut block);
    let mut step2 = hex("0087039B0C7C0A8208");
    step2.extend_from_slice(&block);
    assert_eq!(link.sw(&hex_string(&step2)), 0x9000, "factory management key");
}

fn hex_string(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

/// Signs `block` with 9A's RSA-2048 key (chained, as OpenSC sends it);
/// `None` if the card went away instead of answering.
fn rsa_sign(link: &mut Link, block: &[u8]) -> Option<u16> {
    let mut data = hex("7C8201068200818201 00".replace(' ', "").as_str());
    data.extend_from_slice(block);
    let (first, rest) = data.split_at(255);
    let mut part = hex("1087079AFF");
    part.extend_from_slice(first);
    assert_eq!(link.sw(&hex_string(&part)), 0x9000);
    let mut last = hex("0087079A");
    last.push(rest.len() as u8);
    last.extend_from_slice(rest);
    last.push(0);
    link.send(&last);
    let mut len = [0u8; 2];
    link.stream.read_exact(&mut len).ok()?;
    let mut response = vec![0u8; u16::from_be_bytes(len).into()];
    link.stream.read_exact(&mut response).ok()?;
    Some(u16::from_be_bytes([response[response.len() - 2], response[response.len() - 1]]))
}

#[test]
fn a_panic_in_the_card_reinserts_it_with_its_state() {
    let vpcd = Vpcd::new();
    let _card = Card::start(&vpcd, None);
    let mut link = vpcd.accept();
    link.apdu(SELECT);
    authenticate_admin(&mut link);
    let mut key = link.apdu("0047009A05AC0380010700");
    assert_eq!(&key[key.len() - 2..], &[0x61, 0x0E], "256 bytes, then 14 more");
    key.truncate(key.len() - 2);
    key.extend(link.apdu("00C000000E"));
    let modulus = key[9..9 + 256].to_vec();
    assert_eq!(link.sw(RIGHT_PIN), 0x9000);
    let mut good = vec![0u8; 256];
    good[255] = 2;
    assert_eq!(rsa_sign(&mut link, &good), Some(0x6108), "a signature, 256 bytes + 8 to fetch");
    link.apdu("00C0000008");

    // piv-authenticator 0.7.0 panics on a block equal to the modulus: the
    // card leaves the reader without answering...
    assert_eq!(rsa_sign(&mut link, &modulus), None, "the command in flight goes unanswered");
    // ...and comes back, its key still there, its security status gone.
    let mut link = vpcd.accept();
    link.apdu(SELECT);
    assert_eq!(link.sw(PIN_STATUS), 0x63C3);
    assert_eq!(link.sw(RIGHT_PIN), 0x9000);
    assert_eq!(rsa_sign(&mut link, &good), Some(0x6108), "the key survived the crash");
}
