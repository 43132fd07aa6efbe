//! The clock is always the caller's: every check takes the time it is made
//! at, so tests move time instead of sleeping.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Seconds since 1970 (negative before it).
pub fn unix(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64,
        Err(e) => -(e.duration().as_secs() as i64),
    }
}

/// A time as OpenSSL prints certificate dates (`Nov 23 16:41:26 2026 GMT`).
pub fn show(t: SystemTime) -> String {
    openssl::asn1::Asn1Time::from_unix(unix(t) as _).map(|a| a.to_string()).unwrap_or_else(|_| format!("{}", unix(t)))
}

/// `t` moved by a signed number of seconds.
pub fn shift(t: SystemTime, seconds: i64) -> SystemTime {
    if seconds >= 0 {
        t + Duration::from_secs(seconds as u64)
    } else {
        t - Duration::from_secs(seconds.unsigned_abs())
    }
}
