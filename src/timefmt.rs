//! Time formatting used across outputs: RFC 3339 (UTC) for JSON, asctime for mbox From_
//! lines (UTC) and for postcat-compatible output (local time, as postcat prints).
//! Pure; out-of-range values give a fixed placeholder instead of panicking.

use chrono::{DateTime, Local, TimeZone, Utc};

fn utc(secs: i64) -> Option<DateTime<Utc>> {
    Utc.timestamp_opt(secs, 0).single()
}

/// `2026-11-27T18:16:55Z`
pub fn rfc3339(secs: i64) -> String {
    utc(secs)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_else(|| format!("@{secs}"))
}

/// asctime form in UTC: `Sat Jan  3 01:05:34 1996` (24 characters, no newline).
pub fn asctime_utc(secs: i64) -> String {
    utc(secs)
        .map(|t| t.format("%a %b %e %H:%M:%S %Y").to_string())
        .unwrap_or_else(|| "Thu Jan  1 00:00:00 1970".into())
}

/// asctime form in the local time zone (what postcat prints; honours `TZ`).
pub fn asctime_local(secs: i64) -> String {
    Local
        .timestamp_opt(secs, 0)
        .single()
        .map(|t| t.format("%a %b %e %H:%M:%S %Y").to_string())
        .unwrap_or_else(|| asctime_utc(secs))
}

/// Parses `2026-11-27T18:16:55Z`, `2026-11-27 18:16:55`, `2026-11-27` (UTC) or `@epoch`.
pub fn parse_time(s: &str) -> Option<i64> {
    if let Some(e) = s.strip_prefix('@') {
        return e.parse().ok();
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.timestamp());
    }
    if let Ok(t) = chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S") {
        return Some(t.and_utc().timestamp());
    }
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc().timestamp())
}

/// The environment variable that sets "now" for the reports (`scan`'s "bounce within 24
/// hours" and relative times, `generated_at`): a time in any form [`parse_time`] reads.
/// It answers "what will bounce by tomorrow 9:00?", and pins the clock for the
/// documentation tests. Unset: the system clock; unreadable: [`check_now_var`] says so
/// (the binary checks it before any command runs).
pub const NOW_VAR: &str = "MXSALVAGE_NOW";

/// An error message when [`NOW_VAR`] is set but is not a time.
pub fn check_now_var() -> Result<(), String> {
    match std::env::var_os(NOW_VAR) {
        None => Ok(()),
        Some(v) => match v.to_str().and_then(|s| parse_time(s.trim())) {
            Some(_) => Ok(()),
            None => Err(format!(
                "{NOW_VAR}={v:?} is not a time (use e.g. 2026-11-28T09:00:00Z, 2026-11-28 or @epoch), or unset it"
            )),
        },
    }
}

/// Now, in seconds since the epoch ([`NOW_VAR`] when set, else the system clock).
pub fn now() -> i64 {
    std::env::var(NOW_VAR)
        .ok()
        .and_then(|v| parse_time(v.trim()))
        .unwrap_or_else(|| Utc::now().timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(asctime_utc(1700000000), "Tue Nov 14 22:13:20 2023");
        assert_eq!(asctime_utc(820631134), "Wed Jan  3 01:05:34 1996");
        assert_eq!(rfc3339(1700000000), "2023-11-14T22:13:20Z");
        assert_eq!(parse_time("2023-11-14T22:13:20Z"), Some(1700000000));
        assert_eq!(parse_time("2023-11-14"), Some(1699920000));
        assert_eq!(parse_time("@5"), Some(5));
    }
}
