//! clamd over `zINSTREAM`: the raw message in chunks (a 4-byte big-endian length, then
//! the bytes; a zero length ends it), answered `stream: OK`, `stream: NAME FOUND` or
//! `… ERROR`; `zPING` (→ `PONG`) to see that it is there. clamd decodes the message
//! itself (ScanMail, ScanArchive): attachments, zips, attached messages.
//!
//! Owns: the request and reading the reply. In: a message. Out: a [`VirusResult`].
//! Fails with [`FilterError`]: [`FilterError::TooLarge`] for clamd's
//! `INSTREAM size limit exceeded` (its `StreamMaxLength`), another `ERROR`, or a reply
//! that is not clamd's ("garbage").

use std::time::Duration;

use super::conn::{self, Conn};
use super::url::FilterUrl;
use super::verdict::VirusResult;
use super::{FilterError, garbage, now};

/// Bytes per INSTREAM chunk.
const CHUNK: usize = 64 * 1024;
const MAX_REPLY: usize = 64 * 1024;

/// `zPING` → `PONG`.
pub fn ping(url: &FilterUrl, limit: Duration) -> Result<(), FilterError> {
    let mut c = conn::connect(url, limit)?;
    c.send(b"zPING\0")?;
    let r = c.read_reply(Some(0), MAX_REPLY)?;
    match r == b"PONG" {
        true => Ok(()),
        false => Err(garbage(url, "not clamd's answer to PING", &r)),
    }
}

/// Streams `msg`; clamd may stop reading early (its size limit) and answer at once.
fn stream(c: &mut Conn, msg: &[u8]) -> Result<(), FilterError> {
    c.send(b"zINSTREAM\0")?;
    for chunk in msg.chunks(CHUNK) {
        c.send(&(chunk.len() as u32).to_be_bytes())?;
        c.send(chunk)?;
    }
    c.send(&0u32.to_be_bytes())
}

/// Asks clamd about `msg`.
pub fn check(url: &FilterUrl, limit: Duration, msg: &[u8]) -> Result<VirusResult, FilterError> {
    let mut c = conn::connect(url, limit)?;
    let sent = stream(&mut c, msg);
    // A refusal half-way (the size limit) breaks the stream: its reply says why.
    let reply = match (sent, c.read_reply(Some(0), MAX_REPLY)) {
        (_, Ok(r)) if !r.is_empty() => r,
        (Err(e), _) => return Err(e),
        (Ok(()), Err(e)) => return Err(e),
        (Ok(()), Ok(r)) => return Err(garbage(url, "no reply", &r)),
    };
    let text = String::from_utf8_lossy(&reply);
    let text = text.trim_end_matches(['\n', '\r']);
    if text.ends_with("ERROR") {
        return Err(match text.contains("size limit exceeded") {
            true => FilterError::TooLarge {
                url: url.to_string(),
            },
            false => garbage(url, "clamd reported an error", &reply),
        });
    }
    let virus = match text.strip_prefix("stream: ") {
        Some("OK") => None,
        Some(found) => match found.strip_suffix(" FOUND") {
            Some(name) if !name.is_empty() => Some(name.to_string()),
            _ => return Err(garbage(url, "not clamd's answer", &reply)),
        },
        None => return Err(garbage(url, "not clamd's answer", &reply)),
    };
    Ok(VirusResult {
        filter: "clamd".into(),
        virus,
        at: now(),
    })
}
