//! A small SMTP/LMTP client over `std::net::TcpStream`, with rustls for TLS.
//!
//! Owns: connecting (with a timeout, trying each address of the host), the greeting,
//! EHLO/LHLO (HELO fallback for SMTP), STARTTLS or implicit TLS, AUTH PLAIN/LOGIN,
//! reading replies (multi-line, size-bounded), and the protocol steps of one mail
//! transaction: [`Session::envelope`] (MAIL + RCPTs, pipelined when offered),
//! [`Session::data`], [`Session::send_content`] (the content without the final dot,
//! flushed), [`Session::send_end_of_data`] and [`Session::read_reply`] (once for SMTP,
//! once per accepted recipient for LMTP). What to do with the replies — and the
//! journal write between the content and the final dot — is the caller's
//! ([`super::worker`]). Never logs or returns the AUTH password.

use std::fmt;
use std::io::{self, BufWriter, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use rustls::pki_types::ServerName;

use super::data::{DotStuffer, END_OF_DATA};
use super::envelope::Extensions;

/// Longest reply line accepted (RFC 5321 says 512; servers exceed it).
const MAX_LINE: usize = 64 * 1024;
/// Most lines in one reply.
const MAX_LINES: usize = 1000;

/// One server reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub code: u16,
    /// The text of each line, after the code and separator.
    pub lines: Vec<String>,
}

impl Reply {
    pub fn is_positive(&self) -> bool {
        (200..300).contains(&self.code)
    }
    pub fn is_transient(&self) -> bool {
        (400..500).contains(&self.code)
    }
    pub fn is_permanent(&self) -> bool {
        self.code >= 500
    }
    /// A made-up reply for outcomes decided on this side (e.g. no SMTPUTF8).
    pub fn local(code: u16, text: &str) -> Reply {
        Reply {
            code,
            lines: vec![text.to_string()],
        }
    }
}

impl fmt::Display for Reply {
    /// `250 2.0.0 Ok: queued as X`; the lines of a multi-line reply joined with ` / `.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.code, self.lines.join(" / "))
    }
}

/// How TLS is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// `--no-tls`.
    Plain,
    /// Default: STARTTLS when offered, certificate not checked (like Postfix's `may`).
    Opportunistic,
    /// `--starttls`: STARTTLS or fail.
    StartTls,
    /// `--tls`: TLS from the first byte (SMTPS).
    Implicit,
}

/// Everything needed to open a session.
#[derive(Clone)]
pub struct ClientConfig {
    pub host: String,
    pub port: u16,
    pub lmtp: bool,
    pub security: Security,
    /// Accept any certificate with `--starttls`/`--tls`.
    pub insecure: bool,
    pub helo: String,
    /// User and password for AUTH.
    pub auth: Option<(String, String)>,
    pub connect_timeout: Duration,
    pub command_timeout: Duration,
    /// Wait for the reply after the final dot (RFC 5321: 10 minutes).
    pub data_timeout: Duration,
}

impl fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("lmtp", &self.lmtp)
            .field("security", &self.security)
            .field("helo", &self.helo)
            .field("auth_user", &self.auth.as_ref().map(|a| &a.0))
            .finish_non_exhaustive()
    }
}

/// Why a session failed. Replies that refuse a transaction are not errors; these are.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("cannot connect to {0}: {1}")]
    Connect(String, String),
    #[error("connection lost: {0}")]
    Io(#[from] io::Error),
    #[error("connection closed by the server")]
    Closed,
    #[error("unreadable reply: {0}")]
    Protocol(String),
    #[error("TLS: {0}")]
    Tls(String),
    /// The server refused the session (greeting, EHLO, STARTTLS, AUTH) or said 421.
    #[error("{0}: {1}")]
    Refused(&'static str, Reply),
}

impl SessionError {
    /// A refusal that will not go away by retrying (5xx at greeting/EHLO/AUTH, TLS
    /// required but not offered).
    pub fn is_permanent(&self) -> bool {
        match self {
            SessionError::Refused(_, r) => r.is_permanent(),
            SessionError::Tls(_) => true,
            _ => false,
        }
    }
}

enum Stream {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
    Gone,
}

impl Stream {
    fn tcp(&self) -> Option<&TcpStream> {
        match self {
            Stream::Plain(t) => Some(t),
            Stream::Tls(s) => Some(&s.sock),
            Stream::Gone => None,
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(t) => t.read(buf),
            Stream::Tls(s) => s.read(buf),
            Stream::Gone => Err(io::ErrorKind::NotConnected.into()),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(t) => t.write(buf),
            Stream::Tls(s) => s.write(buf),
            Stream::Gone => Err(io::ErrorKind::NotConnected.into()),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(t) => t.flush(),
            Stream::Tls(s) => s.flush(),
            Stream::Gone => Err(io::ErrorKind::NotConnected.into()),
        }
    }
}

/// An open SMTP/LMTP session, ready for transactions.
pub struct Session {
    stream: Stream,
    rbuf: Vec<u8>,
    cfg: ClientConfig,
    pub ext: Extensions,
    pub tls: bool,
    /// The greeting's first line, for messages.
    pub banner: String,
}

impl Session {
    /// Connects, reads the greeting, says EHLO/LHLO, starts TLS and authenticates as
    /// configured.
    pub fn connect(cfg: &ClientConfig) -> Result<Session, SessionError> {
        let target = format!("{}:{}", cfg.host, cfg.port);
        let addrs = (cfg.host.as_str(), cfg.port)
            .to_socket_addrs()
            .map_err(|e| SessionError::Connect(target.clone(), e.to_string()))?;
        let mut last = String::from("no address");
        let mut tcp = None;
        for a in addrs {
            match TcpStream::connect_timeout(&a, cfg.connect_timeout) {
                Ok(t) => {
                    tcp = Some(t);
                    break;
                }
                Err(e) => last = e.to_string(),
            }
        }
        let tcp = tcp.ok_or(SessionError::Connect(target, last))?;
        tcp.set_read_timeout(Some(cfg.command_timeout))?;
        tcp.set_write_timeout(Some(cfg.command_timeout))?;
        let _ = tcp.set_nodelay(true);
        let mut s = Session {
            stream: Stream::Plain(tcp),
            rbuf: Vec::new(),
            cfg: cfg.clone(),
            ext: Extensions::default(),
            tls: false,
            banner: String::new(),
        };
        if cfg.security == Security::Implicit {
            s.start_tls(true)?;
        }
        let greeting = s.read_reply()?;
        if greeting.code != 220 {
            return Err(SessionError::Refused("greeting", greeting));
        }
        s.banner = greeting.lines.first().cloned().unwrap_or_default();
        s.hello()?;
        let want_tls = match cfg.security {
            Security::Plain | Security::Implicit => false,
            Security::Opportunistic => s.ext.starttls,
            Security::StartTls => true,
        };
        if want_tls {
            if !s.ext.starttls {
                return Err(SessionError::Tls(
                    "--starttls given but the server does not offer STARTTLS".into(),
                ));
            }
            let r = s.command(b"STARTTLS")?;
            if r.code == 220 {
                s.start_tls(cfg.security == Security::StartTls)?;
                s.hello()?;
            } else if cfg.security == Security::StartTls || r.code == 421 {
                return Err(SessionError::Refused("STARTTLS", r));
            }
            // Opportunistic: a refused STARTTLS (e.g. 454) leaves the session in
            // plain text, which is what Postfix's `may` level then uses too.
        }
        if cfg.auth.is_some() {
            s.authenticate()?;
        }
        Ok(s)
    }

    fn hello(&mut self) -> Result<(), SessionError> {
        let verb = if self.cfg.lmtp { "LHLO" } else { "EHLO" };
        let r = self.command(format!("{verb} {}", self.cfg.helo).as_bytes())?;
        if r.is_positive() {
            self.ext = Extensions::parse(&r.lines);
            return Ok(());
        }
        if r.code == 421 || self.cfg.lmtp || r.is_transient() {
            return Err(SessionError::Refused(verb, r));
        }
        let r2 = self.command(format!("HELO {}", self.cfg.helo).as_bytes())?;
        if !r2.is_positive() {
            return Err(SessionError::Refused("HELO", r2));
        }
        self.ext = Extensions::default();
        Ok(())
    }

    fn start_tls(&mut self, verify: bool) -> Result<(), SessionError> {
        let verify = verify && !self.cfg.insecure;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| SessionError::Tls(e.to_string()))?;
        let config = if verify {
            let roots =
                rustls::RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
            builder.with_root_certificates(roots).with_no_client_auth()
        } else {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AcceptAny(provider)))
                .with_no_client_auth()
        };
        let name = ServerName::try_from(self.cfg.host.trim_matches(['[', ']']).to_string())
            .map_err(|e| SessionError::Tls(format!("bad server name {}: {e}", self.cfg.host)))?;
        let mut conn = rustls::ClientConnection::new(Arc::new(config), name)
            .map_err(|e| SessionError::Tls(e.to_string()))?;
        let Stream::Plain(mut tcp) = std::mem::replace(&mut self.stream, Stream::Gone) else {
            return Err(SessionError::Tls("TLS already active".into()));
        };
        if !self.rbuf.is_empty() {
            return Err(SessionError::Protocol(
                "server sent data before the TLS handshake".into(),
            ));
        }
        while conn.is_handshaking() {
            conn.complete_io(&mut tcp)
                .map_err(|e| SessionError::Tls(format!("handshake failed: {e}")))?;
        }
        self.stream = Stream::Tls(Box::new(rustls::StreamOwned::new(conn, tcp)));
        self.tls = true;
        Ok(())
    }

    fn authenticate(&mut self) -> Result<(), SessionError> {
        let (user, pass) = self.cfg.auth.clone().expect("checked by caller");
        if !self.tls {
            eprintln!(
                "mxsalvage: warning: sending the AUTH password to {}:{} without TLS",
                self.cfg.host, self.cfg.port
            );
        }
        let r = if self.ext.auth.iter().any(|m| m == "PLAIN") || self.ext.auth.is_empty() {
            let token = B64.encode(format!("\0{user}\0{pass}"));
            self.command_secret(b"AUTH PLAIN ", token.as_bytes())?
        } else if self.ext.auth.iter().any(|m| m == "LOGIN") {
            let r = self.command(b"AUTH LOGIN")?;
            if r.code != 334 {
                return Err(SessionError::Refused("AUTH LOGIN", r));
            }
            let r = self.command(B64.encode(&user).as_bytes())?;
            if r.code != 334 {
                return Err(SessionError::Refused("AUTH LOGIN", r));
            }
            self.command_secret(b"", B64.encode(&pass).as_bytes())?
        } else {
            return Err(SessionError::Refused(
                "AUTH",
                Reply::local(
                    504,
                    &format!(
                        "server offers no usable mechanism (only {})",
                        self.ext.auth.join(" ")
                    ),
                ),
            ));
        };
        if r.code != 235 {
            return Err(SessionError::Refused("AUTH", r));
        }
        Ok(())
    }

    /// Sends one command line and reads its reply.
    pub fn command(&mut self, line: &[u8]) -> Result<Reply, SessionError> {
        self.command_secret(line, b"")
    }

    /// `prefix` + `secret` as one line; kept apart only so no caller formats secrets.
    fn command_secret(&mut self, prefix: &[u8], secret: &[u8]) -> Result<Reply, SessionError> {
        let mut buf = Vec::with_capacity(prefix.len() + secret.len() + 2);
        buf.extend_from_slice(prefix);
        buf.extend_from_slice(secret);
        buf.extend_from_slice(b"\r\n");
        self.stream.write_all(&buf)?;
        self.stream.flush()?;
        self.read_reply()
    }

    /// MAIL FROM and the RCPTs: one write and then the replies in order when the
    /// server offers PIPELINING; else one at a time, stopping after a refused MAIL.
    /// Returns MAIL's reply and one reply per RCPT sent (none after a refused MAIL
    /// without pipelining).
    pub fn envelope(
        &mut self,
        mail: &[u8],
        rcpts: &[Vec<u8>],
    ) -> Result<(Reply, Vec<Reply>), SessionError> {
        if self.ext.pipelining {
            let mut buf = Vec::new();
            for c in std::iter::once(mail).chain(rcpts.iter().map(Vec::as_slice)) {
                buf.extend_from_slice(c);
                buf.extend_from_slice(b"\r\n");
            }
            self.stream.write_all(&buf)?;
            self.stream.flush()?;
            let m = self.read_reply()?;
            let mut rs = Vec::with_capacity(rcpts.len());
            for _ in rcpts {
                rs.push(self.read_reply()?);
            }
            Ok((m, rs))
        } else {
            let m = self.command(mail)?;
            if !m.is_positive() {
                return Ok((m, Vec::new()));
            }
            let mut rs = Vec::with_capacity(rcpts.len());
            for r in rcpts {
                rs.push(self.command(r)?);
            }
            Ok((m, rs))
        }
    }

    /// `DATA`; the caller goes on only after a 354.
    pub fn data(&mut self) -> Result<Reply, SessionError> {
        self.command(b"DATA")
    }

    /// Streams the content in DATA form (CRLF, dot-stuffed) and flushes it, without
    /// the final `.` line. Returns the bytes sent.
    pub fn send_content(&mut self, content: &[u8]) -> Result<u64, SessionError> {
        let w = BufWriter::with_capacity(64 * 1024, &mut self.stream);
        let mut st = DotStuffer::new(w);
        st.write_all(content)?;
        let (mut w, n) = st.finish_content()?;
        w.flush()?;
        Ok(n)
    }

    /// Sends the final `.` line and arms the long timeout for the reply.
    pub fn send_end_of_data(&mut self) -> Result<(), SessionError> {
        if let Some(t) = self.stream.tcp() {
            t.set_read_timeout(Some(self.cfg.data_timeout))?;
        }
        self.stream.write_all(END_OF_DATA)?;
        self.stream.flush()?;
        Ok(())
    }

    /// Back to the normal command timeout after the end-of-data replies.
    pub fn end_of_data_done(&mut self) {
        if let Some(t) = self.stream.tcp() {
            let _ = t.set_read_timeout(Some(self.cfg.command_timeout));
        }
    }

    /// RSET; errors are ignored by callers that drop the session on failure.
    pub fn rset(&mut self) -> Result<Reply, SessionError> {
        self.command(b"RSET")
    }

    /// QUIT, ignoring what happens.
    pub fn quit(mut self) {
        let _ = self.command(b"QUIT");
        if let Stream::Tls(s) = &mut self.stream {
            s.conn.send_close_notify();
            let _ = s.flush();
        }
    }

    fn read_line(&mut self) -> Result<Vec<u8>, SessionError> {
        let mut scanned = 0;
        loop {
            if let Some(i) = self.rbuf[scanned..].iter().position(|&b| b == b'\n') {
                let end = scanned + i;
                let mut line: Vec<u8> = self.rbuf.drain(..=end).collect();
                line.pop();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                return Ok(line);
            }
            scanned = self.rbuf.len();
            if scanned > MAX_LINE {
                return Err(SessionError::Protocol(format!(
                    "reply line longer than {MAX_LINE} bytes"
                )));
            }
            let mut chunk = [0u8; 4096];
            let n = match self.stream.read(&mut chunk) {
                Ok(0) => return Err(SessionError::Closed),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                    return Err(SessionError::Closed);
                }
                Err(e) => return Err(e.into()),
            };
            self.rbuf.extend_from_slice(&chunk[..n]);
        }
    }

    /// Reads one (possibly multi-line) reply.
    pub fn read_reply(&mut self) -> Result<Reply, SessionError> {
        let mut lines = Vec::new();
        loop {
            let line = self.read_line()?;
            let text = String::from_utf8_lossy(&line).into_owned();
            if line.len() < 3 || !line[..3].iter().all(u8::is_ascii_digit) {
                return Err(SessionError::Protocol(text));
            }
            let code: u16 = text[..3].parse().expect("three digits");
            let sep = line.get(3).copied();
            lines.push(text.get(4..).unwrap_or("").to_string());
            match sep {
                Some(b'-') if lines.len() < MAX_LINES => continue,
                Some(b'-') => return Err(SessionError::Protocol("reply too long".into())),
                None | Some(b' ') => return Ok(Reply { code, lines }),
                _ => return Err(SessionError::Protocol(text)),
            }
        }
    }
}

/// The certificate verifier for opportunistic TLS and `--insecure`: accepts any
/// certificate but still checks the handshake signatures.
#[derive(Debug)]
struct AcceptAny(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AcceptAny {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
