//! The newest CRL counts, per issuer, whatever order the server got them
//! in: CRLs from our test CA published within one second (the CRL number
//! tells them apart), given as separate CRLs and as one PEM file.

mod common;

use common::*;
use openssl::x509::X509Crl;
use subsim_verifier::chain::crls;
use subsim_verifier::{Role, TestCa, Verifier};

fn orders(n: usize) -> Vec<Vec<usize>> {
    fn permute(rest: Vec<usize>, done: Vec<usize>, out: &mut Vec<Vec<usize>>) {
        if rest.is_empty() {
            out.push(done);
            return;
        }
        for i in 0..rest.len() {
            let mut r = rest.clone();
            let x = r.remove(i);
            let mut d = done.clone();
            d.push(x);
            permute(r, d, out);
        }
    }
    let mut out = Vec::new();
    permute((0..n).collect(), Vec::new(), &mut out);
    out
}

/// The verdict on `cert` for each order of `lists`, as separate CRLs and as one PEM file.
fn verdicts(ca: &TestCa, lists: &[X509Crl], cert: &openssl::x509::X509) -> Vec<Result<(), String>> {
    let mut all = Vec::new();
    for order in orders(lists.len()) {
        let separate: Vec<X509Crl> = order.iter().map(|&i| copy(&lists[i])).collect();
        let pem: Vec<u8> = order.iter().flat_map(|&i| lists[i].to_pem().unwrap()).collect();
        for given in [separate, crls(&pem).unwrap()] {
            let v = Verifier::new(vec![ca.certificate().clone()]).crls(given);
            all.push(v.verify(&der(cert), Role::Login, t0()).map(|_| ()).map_err(|e| e.reason().to_string()));
        }
    }
    all
}

#[test]
fn a_revocation_published_in_the_same_second_is_never_lost() {
    let mut ca = TestCa::new("CN=Bank", t0() - DAY, 30).unwrap();
    let (_, alice) = holder(&mut ca, "alice", Role::Login, t0() - DAY, t0() + DAY);
    let (_, bob) = holder(&mut ca, "bob", Role::Login, t0() - DAY, t0() + DAY);
    let before = fresh_crl(&mut ca);
    ca.revoke_certificate(&alice, t0()).unwrap();
    let after = fresh_crl(&mut ca);
    ca.revoke_certificate(&bob, t0()).unwrap();
    let latest = fresh_crl(&mut ca);
    assert_eq!(before.last_update().to_string(), latest.last_update().to_string(), "one second");
    for v in verdicts(&ca, &[copy(&before), copy(&after)], &alice) {
        assert_eq!(v, Err("revoked".to_string()));
    }
    for v in verdicts(&ca, &[copy(&before), copy(&after)], &bob) {
        assert_eq!(v, Ok(()));
    }
    for v in verdicts(&ca, &[before, after, latest], &bob) {
        assert_eq!(v, Err("revoked".to_string()));
    }
}

#[test]
fn two_different_crls_with_one_number_are_a_refusal() {
    let dir = tempfile::tempdir().unwrap();
    let mut ca = TestCa::new("CN=Bank", t0() - DAY, 30).unwrap();
    let (_, alice) = holder(&mut ca, "alice", Role::Login, t0() - DAY, t0() + DAY);
    ca.save(dir.path()).unwrap();
    // Two copies of one CA state (a restored backup, say): each publishes "the next" CRL.
    let mut twin = TestCa::open(dir.path()).unwrap();
    let mine = fresh_crl(&mut ca);
    twin.revoke_certificate(&alice, t0()).unwrap();
    let theirs = fresh_crl(&mut twin);
    for v in verdicts(&ca, &[mine, theirs], &alice) {
        assert_eq!(v, Err("crl-conflict".to_string()));
    }
}

#[test]
fn a_forged_newer_crl_does_not_hide_the_real_one() {
    let mut ca = TestCa::new("CN=Bank", t0() - DAY, 30).unwrap();
    let mut forger = TestCa::new("CN=Bank", t0() - DAY, 30).unwrap();
    let (_, alice) = holder(&mut ca, "alice", Role::Login, t0() - DAY, t0() + DAY);
    ca.revoke_certificate(&alice, t0()).unwrap();
    let real = fresh_crl(&mut ca);
    for _ in 0..3 {
        fresh_crl(&mut forger); // a higher number, under the same name, another key
    }
    let forged = fresh_crl(&mut forger);
    for v in verdicts(&ca, &[real, forged], &alice) {
        assert_eq!(v, Err("revoked".to_string()));
    }
}
