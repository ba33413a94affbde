//! SpamAssassin's spamd over the spamc protocol: `SYMBOLS SPAMC/1.5` with the message,
//! answered `SPAMD/1.x 0 EX_OK`, a `Spam: True ; 1003.3 / 5.0` header and the rule
//! names; `PING` (→ `PONG`) to see that it is there.
//!
//! Owns: the request and reading the reply. In: a message. Out: a [`SpamResult`]
//! (action `spam` or `ham`: spamd's own verdict). Fails with [`FilterError`]: a
//! non-zero spamd code or a reply that is not the protocol's ("garbage").

use std::time::Duration;

use super::conn;
use super::url::FilterUrl;
use super::verdict::SpamResult;
use super::{FilterError, garbage, now};

const MAX_REPLY: usize = 1 << 20;

/// The reply's head (status line and headers) and body.
fn exchange(
    url: &FilterUrl,
    limit: Duration,
    cmd: &str,
    msg: &[u8],
) -> Result<(String, Vec<u8>), FilterError> {
    let mut c = conn::connect(url, limit)?;
    let head = match cmd {
        "PING" => "PING SPAMC/1.5\r\n\r\n".to_string(),
        _ => format!("{cmd} SPAMC/1.5\r\nContent-length: {}\r\n\r\n", msg.len()),
    };
    c.send(head.as_bytes())?;
    c.send(msg)?;
    c.finish_sending();
    let reply = c.read_reply(None, MAX_REPLY)?;
    let (head, body) = match reply.windows(4).position(|w| w == b"\r\n\r\n") {
        Some(i) => (&reply[..i], reply[i + 4..].to_vec()),
        None => (reply.strip_suffix(b"\r\n").unwrap_or(&reply), Vec::new()),
    };
    let head = String::from_utf8_lossy(head).into_owned();
    let status = head.lines().next().unwrap_or("");
    let mut parts = status.splitn(3, ' ');
    let (proto, code) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    if !proto.starts_with("SPAMD/1.") {
        return Err(garbage(url, "not a SPAMD/1.x reply", &reply));
    }
    if code != "0" {
        return Err(garbage(url, "spamd refused the request", status.as_bytes()));
    }
    Ok((head, body))
}

/// `PING` → `SPAMD/1.5 0 PONG`.
pub fn ping(url: &FilterUrl, limit: Duration) -> Result<(), FilterError> {
    let (head, _) = exchange(url, limit, "PING", b"")?;
    match head.lines().next().is_some_and(|l| l.ends_with(" PONG")) {
        true => Ok(()),
        false => Err(garbage(url, "not spamd's answer to PING", head.as_bytes())),
    }
}

/// `Spam: True ; 1003.3 / 5.0` → (is spam, score, required).
fn spam_header(head: &str) -> Option<(bool, f64, f64)> {
    let v = head
        .lines()
        .find_map(|l| l.strip_prefix("Spam:").or_else(|| l.strip_prefix("spam:")))?;
    let (flag, scores) = v.split_once(';')?;
    let (score, required) = scores.split_once('/')?;
    let is = match flag.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" => true,
        "false" | "no" => false,
        _ => return None,
    };
    Some((
        is,
        score.trim().parse().ok()?,
        required.trim().parse().ok()?,
    ))
}

/// Asks spamd about `msg`.
pub fn check(url: &FilterUrl, limit: Duration, msg: &[u8]) -> Result<SpamResult, FilterError> {
    let (head, body) = exchange(url, limit, "SYMBOLS", msg)?;
    let (is_spam, score, required) =
        spam_header(&head).ok_or_else(|| garbage(url, "no Spam: header", head.as_bytes()))?;
    let mut symbols: Vec<String> = String::from_utf8_lossy(&body)
        .split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
    symbols.sort();
    Ok(SpamResult {
        filter: "spamd".into(),
        action: if is_spam { "spam" } else { "ham" }.into(),
        is_spam,
        score,
        required,
        symbols,
        at: now(),
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_the_spam_header() {
        let h = "SPAMD/1.1 0 EX_OK\r\nContent-length: 5\r\nSpam: True ; 1003.3 / 5.0";
        assert_eq!(super::spam_header(h), Some((true, 1003.3, 5.0)));
        assert_eq!(
            super::spam_header("Spam: False ; -0.1 / 5.0"),
            Some((false, -0.1, 5.0))
        );
        assert_eq!(super::spam_header("Spam: maybe ; 1 / 5"), None);
    }
}
