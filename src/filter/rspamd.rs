//! rspamd's normal worker over HTTP: `POST /checkv2` with the message as the body, and
//! `GET /ping` (→ `pong`) to see that it is there.
//!
//! Owns: the request, and reading the reply's `action` (the decision; never
//! `is_skipped` or symbol scores), `score`, `required_score` and symbol names. In: a
//! message. Out: a [`SpamResult`]. Fails with [`FilterError`]: not HTTP 200, or a body
//! that is not rspamd's JSON ("garbage").

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

use super::conn::{self, Conn};
use super::url::{Addr, FilterUrl};
use super::verdict::SpamResult;
use super::{FilterError, garbage, now};

/// rspamd's actions that mean spam; `greylist` and `soft reject` are temporary
/// refusals (rate limits, greylisting), not a judgement of the content.
pub const SPAM_ACTIONS: &[&str] = &["reject", "add header", "rewrite subject"];

/// The largest reply read (rspamd's JSON lists every symbol: a few KB).
const MAX_REPLY: usize = 4 << 20;

#[derive(Deserialize)]
struct Reply {
    action: String,
    #[serde(default)]
    score: f64,
    #[serde(default)]
    required_score: f64,
    #[serde(default)]
    symbols: BTreeMap<String, serde_json::Value>,
}

fn host(url: &FilterUrl) -> String {
    match &url.addr {
        Addr::Tcp { host, port } => format!("{host}:{port}"),
        Addr::Unix(_) => "localhost".into(),
    }
}

/// Sends one HTTP/1.0 request and returns the status code and the body.
fn request(
    c: &mut Conn,
    url: &FilterUrl,
    head: &str,
    body: &[u8],
) -> Result<(u16, Vec<u8>), FilterError> {
    let head = format!(
        "{head} HTTP/1.0\r\nHost: {}\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
        host(url),
        body.len()
    );
    c.send(head.as_bytes())?;
    c.send(body)?;
    let reply = c.read_reply(None, MAX_REPLY)?;
    let split = reply
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| garbage(url, "no HTTP reply", &reply))?;
    let status = std::str::from_utf8(&reply[..split])
        .ok()
        .and_then(|h| h.lines().next())
        .filter(|l| l.starts_with("HTTP/1."))
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|c| c.parse::<u16>().ok())
        .ok_or_else(|| garbage(url, "no HTTP status line", &reply))?;
    Ok((status, reply[split + 4..].to_vec()))
}

/// `GET /ping` → `pong`.
pub fn ping(url: &FilterUrl, limit: Duration) -> Result<(), FilterError> {
    let mut c = conn::connect(url, limit)?;
    let (status, body) = request(&mut c, url, "GET /ping", b"")?;
    match status == 200 && body.trim_ascii() == b"pong" {
        true => Ok(()),
        false => Err(garbage(url, "not rspamd's answer to /ping", &body)),
    }
}

/// Asks rspamd about `msg`.
pub fn check(url: &FilterUrl, limit: Duration, msg: &[u8]) -> Result<SpamResult, FilterError> {
    let mut c = conn::connect(url, limit)?;
    let (status, body) = request(&mut c, url, "POST /checkv2", msg)?;
    if status != 200 {
        return Err(garbage(url, &format!("HTTP status {status}"), &body));
    }
    let r: Reply =
        serde_json::from_slice(&body).map_err(|_| garbage(url, "not rspamd's JSON", &body))?;
    Ok(SpamResult {
        filter: "rspamd".into(),
        is_spam: SPAM_ACTIONS.contains(&r.action.as_str()),
        action: r.action,
        score: r.score,
        required: r.required_score,
        symbols: r.symbols.into_keys().collect(),
        at: now(),
    })
}
