//! Every certificate-path refusal, with certificates and CRLs made by the
//! library's test CA; the clock is passed in.

mod common;
use common::*;

use subsim_verifier::{Refusal, Revocation, Role, TestCa, Verifier};

fn root() -> TestCa {
    TestCa::new("CN=Bank Root", t0() - 30 * DAY, 3650).unwrap()
}

#[test]
fn a_login_certificate_from_a_trusted_ca_with_a_fresh_crl_passes() {
    let mut ca = root();
    let (_, cert) = holder(&mut ca, "Alice", Role::Login, t0() - DAY, t0() + 365 * DAY);
    let v = Verifier::new(vec![ca.certificate().clone()]).crls(vec![fresh_crl(&mut ca)]);
    let ok = v.verify(&der(&cert), Role::Login, t0()).unwrap();
    assert_eq!(ok.subject, "CN=Alice");
    assert_eq!(ok.path, ["CN=Alice", "CN=Bank Root (TEST CA)"]);
    // The same certificate is good for transactions too (digitalSignature).
    v.verify(&der(&cert), Role::Transaction, t0()).unwrap();
}

#[test]
fn through_an_intermediate_ca_every_level_needs_its_crl() {
    let mut root = root();
    let mut inter = root.intermediate("CN=Bank Issuing", t0() - 10 * DAY, 1000).unwrap();
    let (_, cert) = holder(&mut inter, "Bob", Role::Transaction, t0() - DAY, t0() + 365 * DAY);
    let both = vec![fresh_crl(&mut root), fresh_crl(&mut inter)];
    let v = |crls, r| {
        Verifier::new(vec![root.certificate().clone()])
            .intermediates(vec![inter.certificate().clone()])
            .crls(crls)
            .revocation(r)
    };
    let ok =
        v(both.iter().map(copy).collect(), Revocation::Chain).verify(&der(&cert), Role::Transaction, t0()).unwrap();
    assert_eq!(ok.path.len(), 3);
    // Without the root's CRL the intermediate's revocation is unknown: refused...
    let only_inter = || vec![copy(&both[1])];
    let e = v(only_inter(), Revocation::Chain).verify(&der(&cert), Role::Transaction, t0()).unwrap_err();
    assert!(
        matches!(&e, Refusal::NoCrl { subject, issuer } if subject.contains("Bank Issuing") && issuer.contains("Bank Root")),
        "{e}"
    );
    // ...unless only the end entity's revocation is asked for.
    v(only_inter(), Revocation::Leaf).verify(&der(&cert), Role::Transaction, t0()).unwrap();
    // Without the intermediate there is no path.
    let e = Verifier::new(vec![root.certificate().clone()])
        .crls(both)
        .verify(&der(&cert), Role::Transaction, t0())
        .unwrap_err();
    assert!(matches!(&e, Refusal::UnknownIssuer { subject } if subject == "CN=Bob"), "{e}");
}

#[test]
fn a_revoked_intermediate_takes_its_certificates_with_it() {
    let mut root = root();
    let mut inter = root.intermediate("CN=Bank Issuing", t0() - 10 * DAY, 1000).unwrap();
    let (_, cert) = holder(&mut inter, "Bob", Role::Login, t0() - DAY, t0() + 365 * DAY);
    root.revoke_certificate(&inter.certificate().clone(), t0() - DAY).unwrap();
    let v = Verifier::new(vec![root.certificate().clone()])
        .intermediates(vec![inter.certificate().clone()])
        .crls(vec![fresh_crl(&mut root), fresh_crl(&mut inter)]);
    let e = v.verify(&der(&cert), Role::Login, t0()).unwrap_err();
    assert!(matches!(&e, Refusal::Revoked { subject, .. } if subject.contains("Bank Issuing")), "{e}");
}

#[test]
fn a_certificate_from_an_untrusted_ca_has_an_unknown_issuer() {
    let mut ours = root();
    let mut theirs = TestCa::new("CN=Other Bank", t0() - DAY, 100).unwrap();
    let (_, cert) = holder(&mut theirs, "Mallory", Role::Login, t0() - DAY, t0() + DAY);
    let v = Verifier::new(vec![ours.certificate().clone()]).crls(vec![fresh_crl(&mut ours), fresh_crl(&mut theirs)]);
    let e = v.verify(&der(&cert), Role::Login, t0()).unwrap_err();
    assert_eq!(e.reason(), "unknown-issuer", "{e}");
}

#[test]
fn a_ca_with_the_trusted_name_but_another_key_is_caught() {
    // A forger copies the root's name: its key identifier does not match the
    // trusted root's, so OpenSSL finds no issuer for the certificate.
    let mut ours = TestCa::new("CN=Bank Root", t0() - DAY, 100).unwrap();
    let mut forger = TestCa::new("CN=Bank Root", t0() - DAY, 100).unwrap();
    let (_, cert) = holder(&mut forger, "Mallory", Role::Login, t0() - DAY, t0() + DAY);
    let v = Verifier::new(vec![ours.certificate().clone()]).crls(vec![fresh_crl(&mut ours)]);
    let e = v.verify(&der(&cert), Role::Login, t0()).unwrap_err();
    assert!(matches!(&e, Refusal::UnknownIssuer { subject } if subject == "CN=Mallory"), "{e}");
}

#[test]
fn expired_and_not_yet_valid_certificates_are_refused_at_the_time_given() {
    let mut ca = root();
    let (_, cert) = holder(&mut ca, "Carol", Role::Login, t0() - DAY, t0() + DAY);
    let crl = |ca: &mut TestCa, at| ca.crl(at - DAY, at + DAY).unwrap();
    let at_late = t0() + 2 * DAY;
    let v = Verifier::new(vec![ca.certificate().clone()]).crls(vec![crl(&mut ca, at_late)]);
    let e = v.verify(&der(&cert), Role::Login, at_late).unwrap_err();
    assert!(matches!(&e, Refusal::Expired { subject, .. } if subject == "CN=Carol"), "{e}");

    let (_, future) = holder(&mut ca, "Dave", Role::Login, t0() + 5 * DAY, t0() + 50 * DAY);
    let v = Verifier::new(vec![ca.certificate().clone()]).crls(vec![crl(&mut ca, t0())]);
    let e = v.verify(&der(&future), Role::Login, t0()).unwrap_err();
    assert!(matches!(&e, Refusal::NotYetValid { subject, .. } if subject == "CN=Dave"), "{e}");
    // The same certificates pass inside their windows.
    v.verify(&der(&cert), Role::Login, t0()).unwrap();
}

#[test]
fn a_revoked_certificate_is_refused_and_its_neighbour_is_not() {
    let mut ca = root();
    let (_, bad) = holder(&mut ca, "Eve", Role::Login, t0() - DAY, t0() + 365 * DAY);
    let (_, good) = holder(&mut ca, "Frank", Role::Login, t0() - DAY, t0() + 365 * DAY);
    ca.revoke_certificate(&bad, t0()).unwrap();
    let v = Verifier::new(vec![ca.certificate().clone()]).crls(vec![fresh_crl(&mut ca)]);
    let e = v.verify(&der(&bad), Role::Login, t0() + DAY).unwrap_err();
    assert!(matches!(&e, Refusal::Revoked { subject, .. } if subject == "CN=Eve"), "{e}");
    v.verify(&der(&good), Role::Login, t0() + DAY).unwrap();
    // Revocation is only known through a CRL: the CRL made before it says nothing.
    assert_eq!(ca.revoked().len(), 1);
}

#[test]
fn a_crl_past_its_next_update_is_stale_not_a_pass() {
    let mut ca = root();
    let (_, cert) = holder(&mut ca, "Grace", Role::Login, t0() - DAY, t0() + 365 * DAY);
    let crl = ca.crl(t0() - 10 * DAY, t0() - DAY).unwrap();
    let v = Verifier::new(vec![ca.certificate().clone()]).crls(vec![crl]);
    let e = v.verify(&der(&cert), Role::Login, t0()).unwrap_err();
    assert!(matches!(&e, Refusal::StaleCrl { issuer, .. } if issuer.contains("Bank Root")), "{e}");
}

#[test]
fn a_crl_not_yet_in_force_is_refused() {
    let mut ca = root();
    let (_, cert) = holder(&mut ca, "Heidi", Role::Login, t0() - DAY, t0() + 365 * DAY);
    let crl = ca.crl(t0() + DAY, t0() + 8 * DAY).unwrap();
    let v = Verifier::new(vec![ca.certificate().clone()]).crls(vec![crl]);
    let e = v.verify(&der(&cert), Role::Login, t0()).unwrap_err();
    assert_eq!(e.reason(), "crl-not-yet-valid", "{e}");
}

#[test]
fn a_crl_from_another_issuer_does_not_count() {
    let mut ca = root();
    let mut other = TestCa::new("CN=Other Bank", t0() - DAY, 100).unwrap();
    let (_, cert) = holder(&mut ca, "Ivan", Role::Login, t0() - DAY, t0() + 365 * DAY);
    let v =
        Verifier::new(vec![ca.certificate().clone(), other.certificate().clone()]).crls(vec![fresh_crl(&mut other)]);
    let e = v.verify(&der(&cert), Role::Login, t0()).unwrap_err();
    assert!(matches!(&e, Refusal::NoCrl { issuer, .. } if issuer.contains("Bank Root")), "{e}");
}

#[test]
fn a_crl_forged_under_the_issuers_name_is_refused() {
    let mut ca = root();
    let mut forger = TestCa::new("CN=Bank Root", t0() - DAY, 100).unwrap();
    let (_, cert) = holder(&mut ca, "Judy", Role::Login, t0() - DAY, t0() + 365 * DAY);
    let v = Verifier::new(vec![ca.certificate().clone()]).crls(vec![fresh_crl(&mut forger)]);
    let e = v.verify(&der(&cert), Role::Login, t0()).unwrap_err();
    assert!(matches!(&e, Refusal::BadCrlSignature { issuer } if issuer.contains("Bank Root")), "{e}");
}

#[test]
fn a_tampered_certificate_signature_is_caught() {
    let mut ca = root();
    let (_, cert) = holder(&mut ca, "Ken", Role::Login, t0() - DAY, t0() + 365 * DAY);
    let mut bytes = der(&cert);
    let last = bytes.len() - 1;
    bytes[last] ^= 0x01;
    let v = Verifier::new(vec![ca.certificate().clone()]).crls(vec![fresh_crl(&mut ca)]);
    let e = v.verify(&bytes, Role::Login, t0()).unwrap_err();
    assert!(matches!(e, Refusal::BadCertificateSignature { .. }), "{e}");
}

#[test]
fn revocation_can_be_left_unchecked_only_when_asked() {
    let mut ca = root();
    let (_, cert) = holder(&mut ca, "Liz", Role::Login, t0() - DAY, t0() + 365 * DAY);
    let strict = Verifier::new(vec![ca.certificate().clone()]);
    assert_eq!(strict.verify(&der(&cert), Role::Login, t0()).unwrap_err().reason(), "no-crl");
    let lax = Verifier::new(vec![ca.certificate().clone()]).revocation(Revocation::NotChecked);
    lax.verify(&der(&cert), Role::Login, t0()).unwrap();
}

#[test]
fn garbage_is_malformed_not_a_panic() {
    let ca = root();
    let v = Verifier::new(vec![ca.certificate().clone()]);
    for junk in [&b""[..], b"\x30\x03\x02\x01", b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"] {
        assert_eq!(v.verify(junk, Role::Login, t0()).unwrap_err().reason(), "malformed");
    }
}

#[test]
fn names_read_and_print_in_rfc_4514_order() {
    use subsim_verifier::chain::name;
    use subsim_verifier::testca::parse_name;
    let a = parse_name("CN=Alice,O=Bank").unwrap();
    assert_eq!(name(&a), "CN=Alice,O=Bank");
    assert_eq!(a.to_der().unwrap(), parse_name("/O=Bank/CN=Alice").unwrap().to_der().unwrap());
    assert!(parse_name("Alice").is_err() && parse_name("").is_err());
}

#[test]
fn an_unknown_critical_extension_is_refused_with_openssls_reason() {
    use openssl::asn1::{Asn1Object, Asn1OctetString};
    use openssl::hash::MessageDigest;
    use openssl::x509::{X509Builder, X509Extension};
    // A certificate built here, signed by a key the verifier trusts directly.
    let k = key();
    let mut b = X509Builder::new().unwrap();
    b.set_version(2).unwrap();
    let name = subsim_verifier::testca::parse_name("CN=Self").unwrap();
    b.set_subject_name(&name).unwrap();
    b.set_issuer_name(&name).unwrap();
    b.set_pubkey(&k).unwrap();
    b.set_not_before(&openssl::asn1::Asn1Time::from_unix(subsim_verifier::time::unix(t0() - DAY) as _).unwrap())
        .unwrap();
    b.set_not_after(&openssl::asn1::Asn1Time::from_unix(subsim_verifier::time::unix(t0() + DAY) as _).unwrap())
        .unwrap();
    let oid = Asn1Object::from_str("1.3.6.1.4.1.99999.1").unwrap();
    b.append_extension(
        X509Extension::new_from_der(&oid, true, &Asn1OctetString::new_from_bytes(&[5, 0]).unwrap()).unwrap(),
    )
    .unwrap();
    b.sign(&k, MessageDigest::sha256()).unwrap();
    let c = b.build();
    let v = Verifier::new(vec![c.clone()]).revocation(Revocation::NotChecked);
    let e = v.verify(&der(&c), Role::Login, t0()).unwrap_err();
    assert!(matches!(&e, Refusal::PathRefused { code: 34, .. }), "{e}");
}

#[test]
fn the_test_ca_refuses_a_request_not_signed_by_its_key() {
    use openssl::hash::MessageDigest;
    use openssl::x509::X509ReqBuilder;
    let mut ca = root();
    let (k, other) = (key(), key());
    let mut b = X509ReqBuilder::new().unwrap();
    b.set_subject_name(&subsim_verifier::testca::parse_name("CN=x").unwrap()).unwrap();
    b.set_pubkey(&k).unwrap();
    b.sign(&other, MessageDigest::sha256()).unwrap();
    let e = ca.issue(&b.build().to_der().unwrap(), None, Role::Login, t0(), 1).unwrap_err();
    assert!(matches!(e, subsim_verifier::CaError::Refused(Refusal::BadRequestSignature)), "{e}");
}

#[test]
fn the_test_ca_keeps_its_state_in_a_directory() {
    let dir = tempfile::tempdir().unwrap();
    let mut ca = root();
    let (_, cert) = holder(&mut ca, "Mia", Role::Login, t0() - DAY, t0() + DAY);
    ca.save(dir.path()).unwrap();
    let mut again = TestCa::open(dir.path()).unwrap();
    assert_eq!(again.certificate().to_der().unwrap(), ca.certificate().to_der().unwrap());
    again.revoke_certificate(&cert, t0()).unwrap();
    let crl = fresh_crl(&mut again);
    let v = Verifier::new(vec![again.certificate().clone()]).crls(vec![crl]);
    assert_eq!(v.verify(&der(&cert), Role::Login, t0() + DAY / 2).unwrap_err().reason(), "revoked");
    assert!(TestCa::exists(dir.path()));
    assert!(again.certificate().subject_name().entries().any(|e| e.data().to_string().unwrap().contains("TEST CA")));
}

#[test]
fn a_server_may_pin_the_issuing_ca_instead_of_the_root() {
    let mut root = root();
    let mut inter = root.intermediate("CN=Bank Issuing", t0() - 10 * DAY, 1000).unwrap();
    let (_, cert) = holder(&mut inter, "Nina", Role::Login, t0() - DAY, t0() + 365 * DAY);
    let inter_crl = fresh_crl(&mut inter);
    let anchor = inter.certificate().clone();
    let pinned = |r| Verifier::new(vec![anchor.clone()]).revocation(r);
    let ok = pinned(Revocation::Leaf).crls(vec![copy(&inter_crl)]).verify(&der(&cert), Role::Login, t0()).unwrap();
    assert_eq!(ok.path, ["CN=Nina", "CN=Bank Issuing (TEST CA)"]);
    // Along the whole chain, OpenSSL wants the root's word on the pinned CA too.
    let e = pinned(Revocation::Chain).crls(vec![copy(&inter_crl)]).verify(&der(&cert), Role::Login, t0()).unwrap_err();
    assert!(matches!(&e, Refusal::NoCrl { subject, .. } if subject.contains("Bank Issuing")), "{e}");
    // The leaf's own CRL is always required; a sibling CA's certificate stays foreign.
    let no_crl = pinned(Revocation::Leaf);
    assert_eq!(no_crl.verify(&der(&cert), Role::Login, t0()).unwrap_err().reason(), "no-crl");
    let pinned = pinned(Revocation::Leaf).crls(vec![inter_crl]);
    let mut sibling = root.intermediate("CN=Bank Other", t0() - 10 * DAY, 1000).unwrap();
    let (_, foreign) = holder(&mut sibling, "Oscar", Role::Login, t0() - DAY, t0() + 365 * DAY);
    assert_eq!(pinned.verify(&der(&foreign), Role::Login, t0()).unwrap_err().reason(), "unknown-issuer");
}
