//! Which CRL counts: of all the CRLs a server holds, for each issuer the
//! newest one it may use, whatever order they came in (several files,
//! several blocks in one file).
//!
//! For each issuer (the CRL's issuer name):
//! - only CRLs whose signature verifies under a certificate the verifier
//!   knows with that subject, and in force already (thisUpdate ≤ the time
//!   checked), are candidates. Without any candidate, every CRL of the
//!   issuer goes to OpenSSL, which then says precisely why none is usable
//!   (bad signature, not yet valid): a refusal, never a pass;
//! - the newest candidate is the one with the highest CRL number
//!   (RFC 5280 5.2.3: numbers increase with every CRL an issuer publishes).
//!   When a candidate has no number, the newest is the one with the latest
//!   thisUpdate;
//! - two different CRLs with the same number (or, unnumbered, the same
//!   thisUpdate) contradict each other: [`Refusal::CrlConflict`];
//! - a delta CRL (RFC 5280 5.2.4) is refused, [`Refusal::DeltaCrl`]: this
//!   verifier reads complete CRLs only, and a delta taken for one would
//!   leave out every revocation of its base.
//!
//! Only the chosen CRL reaches OpenSSL's verifier, so an older CRL that
//! still lists fewer revocations can never be the one it reads.

use std::cmp::Ordering;
use std::time::SystemTime;

use openssl::asn1::{Asn1Integer, Asn1Time};
use openssl::nid::Nid;
use openssl::x509::{CrlNumber, ExtensionType, X509Crl, X509};

use crate::chain::name;
use crate::error::Refusal;
use crate::time::unix;

/// RFC 5280 5.2.4, for `X509CrlRef::extension` (the crate has no type for it).
enum DeltaCrlIndicator {}

// SAFETY: the delta CRL indicator is a BaseCRLNumber, an INTEGER, in the
// RFC and in OpenSSL (NID_delta_crl decodes to ASN1_INTEGER).
unsafe impl ExtensionType for DeltaCrlIndicator {
    const NID: Nid = Nid::DELTA_CRL;
    type Output = Asn1Integer;
}

/// What orders one issuer's CRLs.
struct Facts {
    issuer: Vec<u8>,
    /// The CRL number, big-endian without leading zeros.
    number: Option<Vec<u8>>,
    this_update: i64,
    der: Vec<u8>,
}

fn facts(crl: &X509Crl) -> Result<Facts, Refusal> {
    let malformed = |e| Refusal::malformed("CRL", format!("{}: {e}", name(crl.issuer_name())));
    if crl.extension::<DeltaCrlIndicator>().map_err(malformed)?.is_some() {
        return Err(Refusal::DeltaCrl { issuer: name(crl.issuer_name()) });
    }
    let number = match crl.extension::<CrlNumber>().map_err(malformed)? {
        Some((_, n)) => Some(n.to_bn().map_err(malformed)?.to_vec()),
        None => None,
    };
    let since_1970 = Asn1Time::from_unix(0).and_then(|t| t.diff(crl.last_update())).map_err(malformed)?;
    Ok(Facts {
        issuer: crl.issuer_name().to_der().map_err(malformed)?,
        number,
        this_update: i64::from(since_1970.days) * 86400 + i64::from(since_1970.secs),
        der: crl.to_der().map_err(malformed)?,
    })
}

/// Orders two CRL numbers (unsigned, big-endian, no leading zeros).
fn by_number(a: &[u8], b: &[u8]) -> Ordering {
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// The number as people read it (hex, as OpenSSL prints serials).
fn shown(n: &Option<Vec<u8>>) -> String {
    match n {
        Some(n) if n.is_empty() => "0".into(),
        Some(n) => hex::encode_upper(n),
        None => "(none)".into(),
    }
}

/// For each issuer among `crls`, the CRL to check against at `at` (see
/// the module documentation); `known` are the certificates whose keys may
/// have signed them (anchors and intermediates).
pub fn newest<'a>(crls: &'a [X509Crl], known: &[&X509], at: SystemTime) -> Result<Vec<&'a X509Crl>, Refusal> {
    let mut all = Vec::with_capacity(crls.len());
    for crl in crls {
        all.push((facts(crl)?, crl));
    }
    let mut issuers: Vec<&[u8]> = all.iter().map(|(f, _)| f.issuer.as_slice()).collect();
    issuers.sort();
    issuers.dedup();
    let at = unix(at);
    let mut chosen = Vec::new();
    for issuer in issuers {
        let of_issuer: Vec<&(Facts, &X509Crl)> = all.iter().filter(|(f, _)| f.issuer == issuer).collect();
        let signed_by_known = |crl: &X509Crl| {
            // A CA certificate of the CRL's issuer name whose key signed it.
            known.iter().any(|c| {
                c.subject_name().to_der().is_ok_and(|n| n == issuer)
                    && c.public_key().is_ok_and(|k| crl.verify(&k).unwrap_or(false))
            })
        };
        let mut candidates: Vec<&(Facts, &X509Crl)> =
            of_issuer.iter().copied().filter(|(f, crl)| f.this_update <= at && signed_by_known(crl)).collect();
        if candidates.is_empty() {
            // OpenSSL tells why none of them can be used.
            for (_, crl) in &of_issuer {
                chosen.push(*crl);
            }
            continue;
        }
        let numbered = candidates.iter().all(|(f, _)| f.number.is_some());
        let order = |a: &Facts, b: &Facts| match (numbered, &a.number, &b.number) {
            (true, Some(x), Some(y)) => by_number(x, y),
            _ => a.this_update.cmp(&b.this_update),
        };
        candidates.sort_by(|(a, _), (b, _)| order(a, b));
        let (best, crl) = *candidates.last().expect("not empty");
        let rival = candidates.iter().find(|(f, _)| order(f, best) == Ordering::Equal && f.der != best.der);
        if rival.is_some() {
            let what = if numbered {
                format!("number {}", shown(&best.number))
            } else {
                format!("thisUpdate {} and no CRL number", crl.last_update())
            };
            return Err(Refusal::CrlConflict { issuer: name(crl.issuer_name()), what });
        }
        chosen.push(crl);
    }
    Ok(chosen)
}
