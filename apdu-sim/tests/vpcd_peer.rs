//! `apdu-sim vpcd` against a scripted vpcd peer (a TCP listener speaking the
//! vpcd protocol), so the card side is tested without pcscd: backoff until
//! the peer listens, ATR, power and reset, APDUs, and a clean stop on SIGTERM
//! with the state saved. The real pcscd path is tested by scripts/test.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use applet_spec::atr::SIMULATOR_ATR;

const BIN: &str = env!("CARGO_BIN_EXE_apdu-sim");

fn send(s: &mut TcpStream, payload: &[u8]) {
    s.write_all(&[&(payload.len() as u16).to_be_bytes()[..], payload].concat()).unwrap();
}

fn recv(s: &mut TcpStream) -> Vec<u8> {
    let mut len = [0u8; 2];
    s.read_exact(&mut len).unwrap();
    let mut out = vec![0u8; u16::from_be_bytes(len) as usize];
    s.read_exact(&mut out).unwrap();
    out
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn start(port: u16, state: &std::path::Path) -> Child {
    Command::new(BIN)
        .args(["vpcd", "--addr", &format!("127.0.0.1:{port}"), "--state", state.to_str().unwrap(), "--seed", "4"])
        .spawn()
        .unwrap()
}

fn terminate(child: &mut Child) -> std::process::ExitStatus {
    Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < deadline, "apdu-sim did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn serves_a_vpcd_peer_and_stops_cleanly() {
    let dir = std::env::temp_dir().join(format!("apdu-sim-vpcd-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let state = dir.join("card.json");
    let port = free_port();
    // The card starts first and must keep trying until vpcd listens.
    let mut card = start(port, &state);
    std::thread::sleep(Duration::from_millis(400));
    let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
    let (mut vpcd, _) = listener.accept().unwrap();
    vpcd.set_read_timeout(Some(Duration::from_secs(5))).unwrap();

    send(&mut vpcd, &[0x01]); // power on
    send(&mut vpcd, &[0x04]); // get ATR
    assert_eq!(recv(&mut vpcd), SIMULATOR_ATR);
    send(&mut vpcd, &[0x00, 0xA4, 0x04, 0x00, 0x05, 0xA0, 0x00, 0x00, 0x03, 0x08]);
    assert!(recv(&mut vpcd).ends_with(&[0x90, 0x00]));
    let wrong_pin = [0x00, 0x20, 0x00, 0x80, 0x08, b'9', b'9', b'9', b'9', b'9', b'9', 0xFF, 0xFF];
    send(&mut vpcd, &wrong_pin);
    assert_eq!(recv(&mut vpcd), [0x63, 0xC2]);
    // Saved before the answer: already on disk.
    let saved = std::fs::read_to_string(&state).unwrap();
    assert!(saved.contains("\"tries_left\": 2"), "{saved}");

    // Reset clears transient state: the applet must be selected again.
    send(&mut vpcd, &[0x02]);
    send(&mut vpcd, &[0x00, 0x20, 0x00, 0x80]);
    assert_eq!(recv(&mut vpcd), [0x6D, 0x00]);

    assert!(terminate(&mut card).success(), "exit 0 on SIGTERM");
    assert!(std::fs::read_to_string(&state).unwrap().contains("\"tries_left\": 2"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn stops_on_sigterm_while_waiting_for_vpcd() {
    let dir = std::env::temp_dir().join(format!("apdu-sim-vpcd-wait-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let state = dir.join("card.json");
    let mut card = start(free_port(), &state);
    std::thread::sleep(Duration::from_millis(300));
    assert!(terminate(&mut card).success());
    assert!(state.exists(), "a new card is saved at once, identity included");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_echo_card_answers_9000_to_everything() {
    let port = free_port();
    let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
    let mut card = Command::new(BIN).args(["vpcd", "--echo", "--addr", &format!("127.0.0.1:{port}")]).spawn().unwrap();
    let (mut vpcd, _) = listener.accept().unwrap();
    vpcd.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    send(&mut vpcd, &[0x04]);
    assert_eq!(recv(&mut vpcd), SIMULATOR_ATR);
    for apdu in [&[0x00, 0xFD, 0x00, 0x00][..], &[0x80, 0x3C, 0x00, 0x00], &[0xFF, 0xFF, 0xFF, 0xFF, 0x01, 0x00]] {
        send(&mut vpcd, apdu);
        assert_eq!(recv(&mut vpcd), [0x90, 0x00]);
    }
    assert!(terminate(&mut card).success());
}
