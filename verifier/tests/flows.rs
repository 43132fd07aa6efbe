//! Logins and transfers end to end on the server: challenges (single use,
//! expiry, session), statements (canonical encoding, altered fields,
//! replays), and the signature itself. The clock is passed in.

mod common;
use common::*;

use std::time::Duration;

use openssl::pkey::{PKey, Private};
use openssl::x509::X509;
use subsim_verifier::challenge::ChallengeIssuer;
use subsim_verifier::statement::Ledger;
use subsim_verifier::{Field, Refusal, Role, Server, SessionId, Statement, TestCa, Transfer, Verifier};

struct Bank {
    server: Server,
    ca: TestCa,
    login: (PKey<Private>, X509),
    tx: (PKey<Private>, X509),
}

fn bank() -> Bank {
    let mut ca = TestCa::new("CN=Bank Root", t0() - 30 * DAY, 3650).unwrap();
    let login = holder(&mut ca, "Alice", Role::Login, t0() - DAY, t0() + 365 * DAY);
    let tx = holder(&mut ca, "Alice", Role::Transaction, t0() - DAY, t0() + 365 * DAY);
    let crl = fresh_crl(&mut ca);
    let server = Server::new(Verifier::new(vec![ca.certificate().clone()]).crls(vec![crl]));
    Bank { server, ca, login, tx }
}

fn session() -> SessionId {
    SessionId::new("s-1").unwrap()
}

fn transfer(amount: &str) -> Transfer {
    Transfer::new("DE89370400440532013000", amount, "EUR").unwrap()
}

#[test]
fn a_login_is_accepted_once_and_its_replay_refused() {
    let mut b = bank();
    let c = b.server.challenge(&session(), t0());
    let sig = sign(&b.login.0, &c.bytes);
    let who = b.server.login(&session(), &c.bytes, &sig, &der(&b.login.1), t0() + Duration::from_secs(5)).unwrap();
    assert_eq!(who.subject, "CN=Alice");
    let again = b.server.login(&session(), &c.bytes, &sig, &der(&b.login.1), t0() + Duration::from_secs(6));
    assert_eq!(again.unwrap_err(), Refusal::ReplayedChallenge);
}

#[test]
fn a_login_after_the_challenge_expired_is_refused() {
    let mut b = bank();
    let c = b.server.challenge(&session(), t0());
    let sig = sign(&b.login.0, &c.bytes);
    let late = c.expires + Duration::from_secs(1);
    let e = b.server.login(&session(), &c.bytes, &sig, &der(&b.login.1), late).unwrap_err();
    assert!(matches!(e, Refusal::ChallengeExpired { .. }), "{e}");
}

#[test]
fn a_challenge_the_server_never_issued_is_unknown() {
    let mut b = bank();
    let made_up = [7u8; 32];
    let sig = sign(&b.login.0, &made_up);
    let e = b.server.login(&session(), &made_up, &sig, &der(&b.login.1), t0()).unwrap_err();
    assert_eq!(e, Refusal::UnknownChallenge);
    assert_eq!(
        b.server.login(&session(), b"short", &sig, &der(&b.login.1), t0()).unwrap_err(),
        Refusal::UnknownChallenge
    );
}

#[test]
fn a_challenge_answered_from_another_session_is_refused_and_spent() {
    let mut b = bank();
    let c = b.server.challenge(&session(), t0());
    let sig = sign(&b.login.0, &c.bytes);
    let other = SessionId::new("s-2").unwrap();
    let e = b.server.login(&other, &c.bytes, &sig, &der(&b.login.1), t0()).unwrap_err();
    assert!(matches!(e, Refusal::WrongSession { .. }), "{e}");
    // The attempt spent it: the rightful session cannot use it after.
    let e = b.server.login(&session(), &c.bytes, &sig, &der(&b.login.1), t0()).unwrap_err();
    assert_eq!(e, Refusal::ReplayedChallenge);
}

#[test]
fn a_bad_login_signature_is_refused_and_spends_the_challenge() {
    let mut b = bank();
    let c = b.server.challenge(&session(), t0());
    let wrong_key = sign(&b.tx.0, &c.bytes);
    let e = b.server.login(&session(), &c.bytes, &wrong_key, &der(&b.login.1), t0()).unwrap_err();
    assert_eq!(e, Refusal::BadSignature { subject: "CN=Alice".into() });
    let right = sign(&b.login.0, &c.bytes);
    assert_eq!(
        b.server.login(&session(), &c.bytes, &right, &der(&b.login.1), t0()).unwrap_err(),
        Refusal::ReplayedChallenge
    );
}

#[test]
fn a_revoked_certificates_login_is_refused() {
    let mut b = bank();
    b.ca.revoke_certificate(&b.login.1, t0()).unwrap();
    b.server.trust = Verifier::new(vec![b.ca.certificate().clone()]).crls(vec![fresh_crl(&mut b.ca)]);
    let c = b.server.challenge(&session(), t0());
    let sig = sign(&b.login.0, &c.bytes);
    let e = b.server.login(&session(), &c.bytes, &sig, &der(&b.login.1), t0()).unwrap_err();
    assert_eq!(e.reason(), "revoked", "{e}");
}

#[test]
fn used_challenges_are_forgotten_only_long_after_they_expire() {
    let mut issuer = ChallengeIssuer::new(Duration::from_secs(60));
    let s = session();
    let c = issuer.issue(&s, t0());
    issuer.consume(&s, &c.bytes, t0()).unwrap();
    // A late replay is still recognised as a replay...
    issuer.issue(&s, t0() + Duration::from_secs(100));
    assert_eq!(issuer.consume(&s, &c.bytes, t0() + Duration::from_secs(100)), Err(Refusal::ReplayedChallenge));
    // ...and after two lifetimes the issuer has forgotten it (memory stays bounded).
    issuer.issue(&s, t0() + Duration::from_secs(200));
    assert_eq!(issuer.remembered(), 2);
    assert_eq!(issuer.consume(&s, &c.bytes, t0() + Duration::from_secs(200)), Err(Refusal::UnknownChallenge));
}

#[test]
fn challenges_are_random() {
    let mut issuer = ChallengeIssuer::new(Duration::from_secs(60));
    let a = issuer.issue(&session(), t0());
    let b = issuer.issue(&session(), t0());
    assert_ne!(a.bytes, b.bytes);
}

// ---- transfers

#[test]
fn the_statement_encoding_is_canonical_and_round_trips() {
    let mut ledger = Ledger::new(Duration::from_secs(60));
    let s = ledger.issue(&session(), transfer("250.00"), t0());
    let text = String::from_utf8(s.encode()).unwrap();
    assert!(text.starts_with("subsim transfer statement v1\nsession: s-1\nsequence: 1\nnonce: "), "{text}");
    assert!(text.ends_with("\npayee: DE89370400440532013000\namount: 250.00\ncurrency: EUR\n"), "{text}");
    assert_eq!(Statement::decode(text.as_bytes()).unwrap(), s);
    // Every other spelling of the same statement is refused.
    for variant in [
        text.replace('\n', "\r\n"),
        text.replace("amount: 250.00", "amount:  250.00"),
        text.replace("amount: 250.00", "amount: 0250.00"),
        text.replace("amount: 250.00", "amount: +250.00"),
        text.replace("currency: EUR", "currency: eur"),
        text.replace("sequence: 1", "sequence: 01"),
        text.trim_end().to_string(),
        format!("{text}extra: 1\n"),
        text.replace("payee: ", "payee:"),
    ] {
        let e = Statement::decode(variant.as_bytes()).unwrap_err();
        assert_eq!(e.reason(), "malformed", "{variant:?} decoded");
    }
    let upper = text.replace(&hex::encode(s.nonce), &hex::encode_upper(s.nonce));
    assert!(Statement::decode(upper.as_bytes()).is_err(), "hex must be lowercase");
}

#[test]
fn transfer_fields_are_validated() {
    assert!(Transfer::new("", "1", "EUR").is_err());
    assert!(Transfer::new(" x", "1", "EUR").is_err());
    assert!(Transfer::new("x\ny", "1", "EUR").is_err());
    assert!(Transfer::new("Zoë", "1", "EUR").is_err(), "ASCII only");
    assert!(Transfer::new("x", "1.2345", "EUR").is_err());
    assert!(Transfer::new("x", "1.", "EUR").is_err());
    assert!(Transfer::new("x", ".5", "EUR").is_err());
    assert!(Transfer::new("x", "99999999999999999999", "EUR").is_err());
    assert!(Transfer::new("x", "1", "EURO").is_err());
    assert_eq!(Transfer::new("x", "0.05", "JPY").unwrap().amount.to_string(), "0.05");
    assert_eq!(Transfer::new("x", "1000", "JPY").unwrap().amount.to_string(), "1000");
}

#[test]
fn a_transfer_is_confirmed_once_and_its_replay_refused() {
    let mut b = bank();
    let s = b.server.issue_transfer(&session(), transfer("250.00"), t0());
    let signed = s.encode();
    let sig = sign(&b.tx.0, &signed);
    let (confirmed, who) = b.server.confirm(&session(), &signed, &sig, &der(&b.tx.1), t0()).unwrap();
    assert_eq!((confirmed, who.subject.as_str()), (s.clone(), "CN=Alice"));
    let e = b.server.confirm(&session(), &signed, &sig, &der(&b.tx.1), t0()).unwrap_err();
    assert!(matches!(e, Refusal::ReplayedStatement { .. }), "{e}");
    // A second transfer gets the next sequence number and a new nonce.
    let s2 = b.server.issue_transfer(&session(), transfer("250.00"), t0());
    assert_eq!(s2.sequence, 2);
    assert_ne!(s2.nonce, s.nonce);
}

/// The man in the middle changes one field before the card signs: the
/// signature is good, the statement is not the one issued; the field is named.
#[test]
fn every_altered_field_is_named_even_with_a_good_signature() {
    type Alter = fn(&str) -> String;
    let cases: [(Field, Alter); 5] = [
        (Field::Amount, |t| t.replace("amount: 250.00", "amount: 950.00")),
        (Field::Payee, |t| t.replace("payee: DE89370400440532013000", "payee: GB33BUKB20201555555555")),
        (Field::Currency, |t| t.replace("currency: EUR", "currency: USD")),
        (Field::Sequence, |t| t.replace("sequence: 1", "sequence: 7")),
        (Field::Session, |t| t.replace("session: s-1", "session: s-9")),
    ];
    for (field, alter) in cases {
        let mut b = bank();
        let s = b.server.issue_transfer(&session(), transfer("250.00"), t0());
        let altered = alter(std::str::from_utf8(&s.encode()).unwrap()).into_bytes();
        let sig = sign(&b.tx.0, &altered);
        let e = b.server.confirm(&session(), &altered, &sig, &der(&b.tx.1), t0()).unwrap_err();
        match &e {
            Refusal::AlteredField { field: f, .. } => assert_eq!(*f, field, "{e}"),
            _ => panic!("{field}: {e}"),
        }
    }
}

#[test]
fn an_amount_changed_after_signing_is_named_too() {
    let mut b = bank();
    let s = b.server.issue_transfer(&session(), transfer("250.00"), t0());
    let sig = sign(&b.tx.0, &s.encode());
    let altered = String::from_utf8(s.encode()).unwrap().replace("250.00", "950.00");
    let e = b.server.confirm(&session(), altered.as_bytes(), &sig, &der(&b.tx.1), t0()).unwrap_err();
    assert_eq!(e, Refusal::AlteredField { field: Field::Amount, issued: "250.00".into(), received: "950.00".into() });
    assert_eq!(e.to_string(), "altered amount: the server issued \"250.00\", the signed statement says \"950.00\"");
}

#[test]
fn a_statement_with_a_nonce_the_server_never_issued_is_unknown() {
    let mut b = bank();
    let s = b.server.issue_transfer(&session(), transfer("250.00"), t0());
    let mut forged = s.clone();
    forged.nonce = [0xAB; 16];
    let sig = sign(&b.tx.0, &forged.encode());
    let e = b.server.confirm(&session(), &forged.encode(), &sig, &der(&b.tx.1), t0()).unwrap_err();
    assert!(matches!(e, Refusal::UnknownStatement { .. }), "{e}");
}

#[test]
fn a_late_confirmation_is_refused() {
    let mut b = bank();
    let s = b.server.issue_transfer(&session(), transfer("250.00"), t0());
    let sig = sign(&b.tx.0, &s.encode());
    let late = t0() + subsim_verifier::server::STATEMENT_LIFETIME + Duration::from_secs(1);
    let e = b.server.confirm(&session(), &s.encode(), &sig, &der(&b.tx.1), late).unwrap_err();
    assert!(matches!(e, Refusal::StatementExpired { .. }), "{e}");
}

#[test]
fn a_statement_confirmed_from_another_session_is_refused() {
    let mut b = bank();
    let s = b.server.issue_transfer(&session(), transfer("250.00"), t0());
    let sig = sign(&b.tx.0, &s.encode());
    let e = b.server.confirm(&SessionId::new("s-2").unwrap(), &s.encode(), &sig, &der(&b.tx.1), t0()).unwrap_err();
    assert!(matches!(e, Refusal::WrongSession { .. }), "{e}");
}

#[test]
fn a_transfer_signed_with_the_wrong_key_or_certificate_is_refused() {
    let mut b = bank();
    let s = b.server.issue_transfer(&session(), transfer("250.00"), t0());
    let sig = sign(&b.login.0, &s.encode());
    let e = b.server.confirm(&session(), &s.encode(), &sig, &der(&b.tx.1), t0()).unwrap_err();
    assert!(matches!(e, Refusal::BadSignature { .. }), "{e}");
}

#[test]
fn session_ids_are_checked() {
    assert!(SessionId::new("").is_err());
    assert!(SessionId::new("a b").is_err());
    assert!(SessionId::new("x\n").is_err());
    assert!(SessionId::new(&"a".repeat(65)).is_err());
    assert_ne!(SessionId::random(), SessionId::random());
}
