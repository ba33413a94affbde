//! The envelope of one re-injection transaction: `MAIL FROM` and `RCPT TO` command
//! lines with the ESMTP parameters the queue recorded, as far as the server offers
//! the extensions (reference: postfix-queue-format.md section 6, items 19–33).
//!
//! Owns: RFC 5321 quoting of Postfix internal-form addresses, and the parameter rules
//! (`SIZE=`, `BODY=`, `SMTPUTF8`, DSN `RET=`/`ENVID=`/`NOTIFY=`/`ORCPT=`, `XVERP`).
//! Pure: in a message's envelope data and the server's [`Extensions`], out command
//! bytes (without CRLF) or a reason why the address cannot be sent at all.

use super::xtext::{orcpt_param, xtext};

/// What the server offered in its EHLO/LHLO reply (all false for HELO).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Extensions {
    pub size: bool,
    /// The `SIZE` limit the server announced (0 or absent: none).
    pub size_limit: Option<u64>,
    pub eight_bit_mime: bool,
    pub smtputf8: bool,
    pub dsn: bool,
    pub pipelining: bool,
    pub starttls: bool,
    pub xverp: bool,
    /// SASL mechanisms offered with `AUTH`, upper-case.
    pub auth: Vec<String>,
}

impl Extensions {
    /// All extensions this tool uses (what `--dry-run` assumes).
    pub fn all() -> Extensions {
        Extensions {
            size: true,
            size_limit: None,
            eight_bit_mime: true,
            smtputf8: true,
            dsn: true,
            pipelining: true,
            starttls: false,
            xverp: true,
            auth: Vec::new(),
        }
    }

    /// Parses the lines of an EHLO/LHLO reply (the first line is the greeting).
    pub fn parse<S: AsRef<str>>(lines: &[S]) -> Extensions {
        let mut e = Extensions::default();
        for line in lines.iter().skip(1) {
            let mut words = line.as_ref().split_whitespace();
            let Some(kw) = words.next() else { continue };
            let kw = kw.to_ascii_uppercase();
            let (kw, first_arg) = match kw.split_once('=') {
                Some((k, a)) => (k.to_string(), Some(a.to_string())),
                None => (kw, None),
            };
            match kw.as_str() {
                "SIZE" => {
                    e.size = true;
                    e.size_limit = words.next().and_then(|n| n.parse().ok()).filter(|&n| n > 0);
                }
                "8BITMIME" => e.eight_bit_mime = true,
                "SMTPUTF8" => e.smtputf8 = true,
                "DSN" => e.dsn = true,
                "PIPELINING" => e.pipelining = true,
                "STARTTLS" => e.starttls = true,
                "XVERP" => e.xverp = true,
                "AUTH" => {
                    for m in first_arg.into_iter().chain(words.map(str::to_string)) {
                        let m = m.to_ascii_uppercase();
                        if !e.auth.contains(&m) {
                            e.auth.push(m);
                        }
                    }
                }
                _ => {}
            }
        }
        e
    }
}

/// What the queue recorded about one message, as far as the envelope needs it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MessageEnvelope {
    /// Internal form; empty = null sender.
    pub sender: Vec<u8>,
    /// `8bit`, `7bit` or none.
    pub encoding: Option<String>,
    pub smtputf8_requested: bool,
    pub envelope_id: Option<Vec<u8>>,
    /// `FULL` or `HDRS`.
    pub ret: Option<String>,
    /// VERP delimiters (`V` record).
    pub verp: Option<Vec<u8>>,
}

/// One recipient to send: the address and its DSN data.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RcptEnvelope {
    pub address: Vec<u8>,
    /// Decoded `type;address`.
    pub orcpt: Option<Vec<u8>>,
    /// `NEVER` or a comma list of `SUCCESS`, `FAILURE`, `DELAY`.
    pub notify: Option<String>,
}

/// RFC 5321 `atext` (with 8-bit bytes allowed, as in RFC 6531).
fn is_atext(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~".contains(&b) || b >= 0x80
}

/// Whether a local part can be sent unquoted (an RFC 5321 Dot-string).
fn is_dot_string(local: &[u8]) -> bool {
    !local.is_empty()
        && local
            .split(|&b| b == b'.')
            .all(|atom| !atom.is_empty() && atom.iter().all(|&b| is_atext(b)))
}

/// `<address>` for SMTP: the internal-form address with its local part quoted when it
/// is not a Dot-string (`john doe@example.com` → `<"john doe"@example.com>`). The empty
/// address gives `<>`. Fails when a byte cannot be sent at all (controls, CR, LF).
pub fn smtp_path(addr: &[u8]) -> Result<Vec<u8>, String> {
    if addr.is_empty() {
        return Ok(b"<>".to_vec());
    }
    if let Some(b) = addr.iter().find(|&&b| b < 0x20 || b == 0x7f) {
        return Err(format!(
            "address contains the control character 0x{b:02x}, which SMTP cannot carry"
        ));
    }
    let (local, domain) = match addr.iter().rposition(|&b| b == b'@') {
        Some(i) => (&addr[..i], Some(&addr[i + 1..])),
        None => (addr, None),
    };
    if let Some(d) = domain
        && d.iter().any(|&b| b == b' ' || b == b'<' || b == b'>')
    {
        return Err("domain part contains a space or angle bracket".into());
    }
    let mut out = Vec::with_capacity(addr.len() + 4);
    out.push(b'<');
    if is_dot_string(local) {
        out.extend_from_slice(local);
    } else {
        out.push(b'"');
        for &b in local {
            if b == b'"' || b == b'\\' {
                out.push(b'\\');
            }
            out.push(b);
        }
        out.push(b'"');
    }
    if let Some(d) = domain {
        out.push(b'@');
        out.extend_from_slice(d);
    }
    out.push(b'>');
    Ok(out)
}

/// `MAIL FROM:<sender> params`. `size` is the DATA size (CRLF, dot-stuffed).
/// Returns the command and notes about parameters the server could not take.
pub fn mail_from(
    m: &MessageEnvelope,
    size: u64,
    ext: &Extensions,
) -> Result<(Vec<u8>, Vec<String>), String> {
    let mut cmd = b"MAIL FROM:".to_vec();
    cmd.extend_from_slice(&smtp_path(&m.sender).map_err(|e| format!("sender: {e}"))?);
    let mut notes = Vec::new();
    let mut param = |p: &str| {
        cmd.push(b' ');
        cmd.extend_from_slice(p.as_bytes());
    };
    if ext.size {
        param(&format!("SIZE={size}"));
    }
    match m.encoding.as_deref() {
        Some("8bit") if ext.eight_bit_mime => param("BODY=8BITMIME"),
        Some("8bit") => notes
            .push("8-bit content sent to a server without 8BITMIME (as Postfix does)".to_string()),
        Some("7bit") if ext.eight_bit_mime => param("BODY=7BIT"),
        _ => {}
    }
    if m.smtputf8_requested && ext.smtputf8 {
        param("SMTPUTF8");
    }
    if ext.dsn {
        if let Some(r) = m.ret.as_deref().filter(|r| matches!(*r, "FULL" | "HDRS")) {
            param(&format!("RET={r}"));
        }
        if let Some(id) = m.envelope_id.as_deref().filter(|i| !i.is_empty()) {
            param(&format!("ENVID={}", xtext(id)));
        }
    } else if m.ret.is_some() || m.envelope_id.is_some() {
        notes.push("server does not offer DSN: RET/ENVID not sent".to_string());
    }
    if let Some(v) = &m.verp {
        if ext.xverp {
            if v.len() == 2 && v.iter().all(|b| b.is_ascii_graphic()) {
                param(&format!("XVERP={}", String::from_utf8_lossy(v)));
            } else {
                param("XVERP");
            }
        } else {
            notes.push(
                "VERP requested but the server does not offer XVERP: sent with the plain sender"
                    .to_string(),
            );
        }
    }
    Ok((cmd, notes))
}

/// `RCPT TO:<address> params`.
pub fn rcpt_to(r: &RcptEnvelope, ext: &Extensions) -> Result<Vec<u8>, String> {
    let mut cmd = b"RCPT TO:".to_vec();
    cmd.extend_from_slice(&smtp_path(&r.address)?);
    if ext.dsn {
        if let Some(n) = r.notify.as_deref().filter(|n| valid_notify(n)) {
            cmd.extend_from_slice(format!(" NOTIFY={n}").as_bytes());
        }
        if let Some(o) = r.orcpt.as_deref().and_then(orcpt_param) {
            cmd.extend_from_slice(format!(" ORCPT={o}").as_bytes());
        }
    }
    Ok(cmd)
}

fn valid_notify(n: &str) -> bool {
    n == "NEVER"
        || (!n.is_empty()
            && n.split(',')
                .all(|w| matches!(w, "SUCCESS" | "FAILURE" | "DELAY")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: Vec<u8>) -> String {
        String::from_utf8(v).unwrap()
    }

    #[test]
    fn quoting() {
        assert_eq!(s(smtp_path(b"").unwrap()), "<>");
        assert_eq!(
            s(smtp_path(b"a.b@example.com").unwrap()),
            "<a.b@example.com>"
        );
        assert_eq!(
            s(smtp_path(b"john doe@example.com").unwrap()),
            "<\"john doe\"@example.com>"
        );
        assert_eq!(s(smtp_path(b"a\"b\\c@x").unwrap()), "<\"a\\\"b\\\\c\"@x>");
        assert_eq!(s(smtp_path(b".a@x").unwrap()), "<\".a\"@x>");
        assert_eq!(s(smtp_path(b"a..b@x").unwrap()), "<\"a..b\"@x>");
        assert_eq!(s(smtp_path(b"a@b@x").unwrap()), "<\"a@b\"@x>");
        assert_eq!(
            s(smtp_path("jörg@example.com".as_bytes()).unwrap()),
            "<jörg@example.com>"
        );
        assert_eq!(s(smtp_path(b"postmaster").unwrap()), "<postmaster>");
        assert!(smtp_path(b"a\r\nRCPT TO:<x>@y").is_err());
    }

    #[test]
    fn ehlo_parse() {
        let e = Extensions::parse(&[
            "mx.example.com",
            "PIPELINING",
            "SIZE 10240000",
            "8BITMIME",
            "DSN",
            "SMTPUTF8",
            "AUTH PLAIN LOGIN",
            "AUTH=PLAIN",
        ]);
        assert!(e.pipelining && e.size && e.eight_bit_mime && e.dsn && e.smtputf8);
        assert_eq!(e.size_limit, Some(10240000));
        assert_eq!(e.auth, vec!["PLAIN", "LOGIN"]);
        assert!(!e.starttls);
    }

    #[test]
    fn parameters() {
        let m = MessageEnvelope {
            sender: b"bounce me@example.org".to_vec(),
            encoding: Some("8bit".into()),
            smtputf8_requested: true,
            envelope_id: Some(b"id+1=x".to_vec()),
            ret: Some("HDRS".into()),
            verp: None,
        };
        let (c, notes) = mail_from(&m, 1234, &Extensions::all()).unwrap();
        assert_eq!(
            s(c),
            "MAIL FROM:<\"bounce me\"@example.org> SIZE=1234 BODY=8BITMIME SMTPUTF8 RET=HDRS ENVID=id+2B1+3Dx"
        );
        assert!(notes.is_empty());
        let (c, notes) = mail_from(&m, 1234, &Extensions::default()).unwrap();
        assert_eq!(s(c), "MAIL FROM:<\"bounce me\"@example.org>");
        assert_eq!(notes.len(), 2);
        let r = RcptEnvelope {
            address: b"u@example.com".to_vec(),
            orcpt: Some(b"rfc822;U+x@example.com".to_vec()),
            notify: Some("SUCCESS,FAILURE".into()),
        };
        assert_eq!(
            s(rcpt_to(&r, &Extensions::all()).unwrap()),
            "RCPT TO:<u@example.com> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;U+2Bx@example.com"
        );
        assert_eq!(
            s(rcpt_to(&r, &Extensions::default()).unwrap()),
            "RCPT TO:<u@example.com>"
        );
    }
}
