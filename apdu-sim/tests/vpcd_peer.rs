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

/// A vpcd peer on a free port, its first connection accepted.
fn peer_and_card(args: &[&str]) -> (TcpListener, TcpStream, Child) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let card =
        Command::new("sh").args(["-c", "exec \"$@\"", "sh", BIN, "vpcd", "--addr", &addr]).args(args).spawn().unwrap();
    let (vpcd, _) = listener.accept().unwrap();
    vpcd.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    (listener, vpcd, card)
}

fn exits_within(child: &mut Child, limit: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("apdu-sim did not end within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

const SELECT: [u8; 10] = [0x00, 0xA4, 0x04, 0x00, 0x05, 0xA0, 0x00, 0x00, 0x03, 0x08];
const WRONG_PIN: [u8; 13] = [0x00, 0x20, 0x00, 0x80, 0x08, b'9', b'9', b'9', b'9', b'9', b'9', 0xFF, 0xFF];

#[test]
fn a_stalled_frame_times_out_and_the_connection_is_reset() {
    let (listener, mut vpcd, mut card) = peer_and_card(&["--seed", "5"]);
    send(&mut vpcd, &[0x01]);
    send(&mut vpcd, &SELECT);
    assert!(recv(&mut vpcd).ends_with(&[0x90, 0x00]));
    // A frame announcing 65535 bytes, three sent, then nothing.
    vpcd.write_all(&[0xFF, 0xFF, 1, 2, 3]).unwrap();
    let stalled = Instant::now();
    let mut rest = Vec::new();
    vpcd.set_read_timeout(Some(apdu_sim::vpcd::FRAME_TIMEOUT * 3)).unwrap();
    let closed = vpcd.read_to_end(&mut rest);
    assert!(closed.is_ok() || closed.is_err_and(|e| e.kind() == std::io::ErrorKind::ConnectionReset));
    assert!(rest.is_empty() && stalled.elapsed() < apdu_sim::vpcd::FRAME_TIMEOUT * 2, "closed in time, nothing sent");
    // The card comes back on a new connection, powered off and on: select again.
    let (mut again, _) = listener.accept().unwrap();
    again.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    send(&mut again, &[0x00, 0x20, 0x00, 0x80]);
    assert_eq!(recv(&mut again), [0x6D, 0x00], "a reset card: nothing selected");
    assert!(terminate(&mut card).success());
}

#[test]
fn a_write_that_cannot_be_saved_removes_the_card_and_ends_the_program() {
    let dir = std::env::temp_dir().join(format!("apdu-sim-vpcd-full-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let state = dir.join("card.json");
    // The card file exists; then the program may not write files over 512 bytes.
    Command::new(BIN).args(["script", "--state", state.to_str().unwrap()]).status().unwrap();
    let before = std::fs::read(&state).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let mut card = Command::new("sh")
        .args(["-c", "ulimit -f 1; trap '' XFSZ; exec \"$@\"", "sh", BIN, "vpcd", "--addr", &addr])
        .args(["--state", state.to_str().unwrap()])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let (mut vpcd, _) = listener.accept().unwrap();
    vpcd.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    send(&mut vpcd, &SELECT);
    assert!(recv(&mut vpcd).ends_with(&[0x90, 0x00]), "reads are served");
    send(&mut vpcd, &WRONG_PIN);
    let mut rest = Vec::new();
    let _ = vpcd.read_to_end(&mut rest);
    assert!(rest.is_empty(), "no answer to the write: {rest:02X?}");
    let status = exits_within(&mut card, Duration::from_secs(5));
    assert_eq!(status.code(), Some(2));
    let mut err = String::new();
    card.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    assert!(err.contains("removed from the reader") && err.contains("card.json"), "{err}");
    assert_eq!(std::fs::read(&state).unwrap(), before, "the file stays as it was");
    assert!(listener.set_nonblocking(true).is_ok() && listener.accept().is_err(), "it did not come back");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn sigterm_and_sigint_end_the_program_while_connect_blocks() {
    // A listener that never accepts, its queue full: connecting hangs.
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.bind(&"127.0.0.1:0".parse::<std::net::SocketAddr>().unwrap().into()).unwrap();
    socket.listen(0).unwrap();
    let addr = socket.local_addr().unwrap().as_socket().unwrap();
    let fill: Vec<_> =
        (0..4).filter_map(|_| TcpStream::connect_timeout(&addr, Duration::from_millis(200)).ok()).collect();
    for signal in ["-TERM", "-INT"] {
        let mut card = Command::new(BIN).args(["vpcd", "--addr", &addr.to_string(), "--seed", "6"]).spawn().unwrap();
        std::thread::sleep(Duration::from_millis(700));
        let asked = Instant::now();
        Command::new("kill").args([signal, &card.id().to_string()]).status().unwrap();
        assert!(exits_within(&mut card, Duration::from_secs(3)).success(), "{signal}");
        assert!(asked.elapsed() < Duration::from_secs(1), "{signal} prompt: {:?}", asked.elapsed());
    }
    drop(fill);
}

#[test]
fn sigterm_ends_the_program_while_it_waits_for_its_card_file() {
    let dir = std::env::temp_dir().join(format!("apdu-sim-vpcd-waitfile-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let state = dir.join("card.json");
    let mut holder = start(free_port(), &state);
    let deadline = Instant::now() + Duration::from_secs(5);
    while !state.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut waiting = Command::new(BIN)
        .args(["vpcd", "--addr", &format!("127.0.0.1:{}", free_port()), "--wait", "60", "--state"])
        .arg(&state)
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    assert!(waiting.try_wait().unwrap().is_none(), "it waits");
    let asked = Instant::now();
    Command::new("kill").args(["-TERM", &waiting.id().to_string()]).status().unwrap();
    exits_within(&mut waiting, Duration::from_secs(3));
    assert!(asked.elapsed() < Duration::from_secs(1));
    assert!(terminate(&mut holder).success());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_second_vpcd_on_one_card_file_is_refused() {
    let dir = std::env::temp_dir().join(format!("apdu-sim-vpcd-two-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let state = dir.join("card.json");
    let mut first = start(free_port(), &state);
    let deadline = Instant::now() + Duration::from_secs(5);
    while !state.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let second = Command::new(BIN)
        .args(["vpcd", "--addr", &format!("127.0.0.1:{}", free_port()), "--state", state.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(second.status.code(), Some(apdu_sim::cardfile::EXIT_IN_USE as i32));
    let err = String::from_utf8_lossy(&second.stderr);
    assert!(err.contains(&format!("is in use by apdu-sim pid {}", first.id())), "{err}");
    assert!(terminate(&mut first).success());
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Connections a peer accepted in 2 s, each handled by `peer` and dropped.
fn connections_in_two_seconds(peer: impl Fn(&mut TcpStream)) -> (usize, String) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let mut card = Command::new(BIN)
        .args(["vpcd", "--addr", &addr, "--seed", "2"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    listener.set_nonblocking(true).unwrap();
    let (mut connections, began) = (0, Instant::now());
    while began.elapsed() < Duration::from_secs(2) {
        match listener.accept() {
            Ok((mut s, _)) => {
                s.set_nonblocking(false).unwrap();
                peer(&mut s);
                drop(s);
                connections += 1;
            }
            Err(_) => std::thread::sleep(Duration::from_millis(5)),
        }
    }
    assert!(terminate(&mut card).success());
    let mut err = String::new();
    card.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    (connections, err)
}

#[test]
fn a_peer_that_drops_every_connection_at_once_is_retried_with_backoff() {
    let (connections, err) = connections_in_two_seconds(|_| {});
    // Five at once, then a backoff from 100 ms doubling to 2 s: a handful, not hundreds.
    assert!((1..=15).contains(&connections), "{connections} connections in 2 s");
    assert!(err.lines().count() <= 25, "{} lines on stderr", err.lines().count());
}

#[test]
fn a_peer_that_sends_a_frame_then_drops_is_retried_with_backoff_too() {
    // One frame (power on, or a GET ATR answered) and hang up, every time.
    let (connections, err) = connections_in_two_seconds(|s| send(s, &[0x01]));
    assert!((1..=15).contains(&connections), "{connections} connections in 2 s");
    assert!(err.lines().count() <= 35, "{} lines on stderr", err.lines().count());
    let (connections, _) = connections_in_two_seconds(|s| {
        send(s, &[0x04]);
        let _ = recv(s);
    });
    assert!((1..=15).contains(&connections), "{connections} connections in 2 s (GET ATR)");
}

#[test]
fn an_address_that_can_never_work_is_refused_at_once() {
    for addr in ["127.0.0.1", "127.0.0.1:99999", "localhost:x"] {
        let mut card = Command::new(BIN)
            .args(["vpcd", "--addr", addr, "--seed", "1"])
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let status = exits_within(&mut card, Duration::from_secs(3));
        let mut err = String::new();
        card.stderr.take().unwrap().read_to_string(&mut err).unwrap();
        assert_eq!(status.code(), Some(2), "{addr}: {err}");
        assert!(err.contains(addr) && err.contains("HOST:PORT"), "{addr}: {err}");
    }
}
