//! A small SMTP/LMTP client over `std::net::TcpStream`, with rustls for TLS.
//!
//! Owns: connecting (trying each address of the host), the greeting, EHLO/LHLO (HELO
//! fallback for SMTP), STARTTLS or implicit TLS, AUTH PLAIN/LOGIN, reading replies
//! (multi-line, size-bounded, one overall deadline per reply), and the protocol steps
//! of one mail transaction: [`Session::envelope`] (MAIL + RCPTs, and DATA when asked,
//! pipelined when offered), [`Session::send_content`] (the content without the final
//! dot, flushed), [`Session::send_end_of_data`] and [`Session::read_reply`].
//! Every reply is checked against what its [`Step`] allows ([`Reply::class`]): a code
//! the step does not allow is a protocol violation, never a success. Replies are
//! counted exactly: [`Session::unasked`] tells whether the server sent anything it
//! was not asked for (a reply too many), which the caller checks at each point where
//! the line must be quiet. What to do with the replies — and the journal write between
//! the content and the final dot — is the caller's ([`super::worker`]).
//! Fails with [`SessionError`] (timeouts name the step and the limit). Never logs or
//! returns the AUTH password.

use std::fmt;
use std::io::{self, BufWriter, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use rustls::pki_types::ServerName;

use super::data::{DotStuffer, END_OF_DATA};
use super::envelope::Extensions;

/// Longest reply line accepted (RFC 5321 says 512; servers exceed it).
const MAX_LINE: usize = 64 * 1024;
/// Most lines in one reply.
const MAX_LINES: usize = 1000;
/// Longest wait for the reply to QUIT (nothing depends on it).
const QUIT_WAIT: Duration = Duration::from_secs(5);

/// One server reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub code: u16,
    /// The text of each line, after the code and separator.
    pub lines: Vec<String>,
}

/// The protocol step a reply answers; it decides which codes mean "go on".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Greeting,
    Hello,
    StartTls,
    Auth,
    Mail,
    Rcpt,
    Data,
    /// The reply (SMTP) or one of the replies (LMTP) after the final dot.
    EndOfData,
    Rset,
    Quit,
}

impl Step {
    pub fn name(self) -> &'static str {
        match self {
            Step::Greeting => "the greeting",
            Step::Hello => "EHLO/LHLO",
            Step::StartTls => "STARTTLS",
            Step::Auth => "AUTH",
            Step::Mail => "MAIL FROM",
            Step::Rcpt => "RCPT TO",
            Step::Data => "DATA",
            Step::EndOfData => "the end of data",
            Step::Rset => "RSET",
            Step::Quit => "QUIT",
        }
    }

    /// The command as a DSN names it (`in reply to RCPT TO command`).
    pub fn command(self) -> &'static str {
        match self {
            Step::Greeting => "the greeting",
            Step::Hello => "EHLO command",
            Step::StartTls => "STARTTLS command",
            Step::Auth => "AUTH command",
            Step::Mail => "MAIL FROM command",
            Step::Rcpt => "RCPT TO command",
            Step::Data => "DATA command",
            Step::EndOfData => "end of DATA command",
            Step::Rset => "RSET command",
            Step::Quit => "QUIT command",
        }
    }

    /// The positive replies the step allows (RFC 5321 4.3.2, RFC 3207, RFC 4954,
    /// RFC 2033). 334 is AUTH's "go on" (a challenge).
    pub fn positive(self) -> &'static [u16] {
        match self {
            Step::Greeting | Step::StartTls => &[220],
            Step::Hello | Step::Mail | Step::EndOfData | Step::Rset => &[250],
            Step::Auth => &[235, 334],
            Step::Rcpt => &[250, 251],
            Step::Data => &[354],
            Step::Quit => &[221],
        }
    }
}

/// What a reply means at its step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// A code the step allows: go on.
    Positive,
    /// 4xx.
    Transient,
    /// 5xx.
    Permanent,
    /// A code the step does not allow (e.g. 250 to DATA, 354 to RCPT).
    Violation,
}

impl Reply {
    pub fn is_transient(&self) -> bool {
        (400..500).contains(&self.code)
    }
    pub fn is_permanent(&self) -> bool {
        (500..600).contains(&self.code)
    }
    /// The reply's meaning as an answer to `step`.
    pub fn class(&self, step: Step) -> Class {
        if step.positive().contains(&self.code) {
            Class::Positive
        } else if self.is_transient() {
            Class::Transient
        } else if self.is_permanent() {
            Class::Permanent
        } else {
            Class::Violation
        }
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

impl Security {
    /// How the summary and the target line describe it.
    pub fn describe(self, insecure: bool) -> &'static str {
        match (self, insecure) {
            (Security::Plain, _) => "none (--no-tls)",
            (Security::Opportunistic, _) => "STARTTLS if offered, certificate not checked",
            (Security::StartTls, false) => "STARTTLS required, certificate checked",
            (Security::StartTls, true) => "STARTTLS required, any certificate (--insecure)",
            (Security::Implicit, false) => "TLS from the first byte, certificate checked",
            (Security::Implicit, true) => "TLS from the first byte, any certificate (--insecure)",
        }
    }
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
    /// `--timeout`: connecting, each write, and the whole of each reply.
    pub timeout: Duration,
    /// The whole of each reply after the final dot (RFC 5321 4.5.3.2.6: 10 minutes).
    pub dot_timeout: Duration,
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
            .field("timeout", &self.timeout)
            .field("dot_timeout", &self.dot_timeout)
            .finish_non_exhaustive()
    }
}

/// Why a session failed. Replies that refuse a transaction are not errors; these are.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("cannot connect to {0}: {1}")]
    Connect(String, String),
    /// What was going on, and the error.
    #[error("connection lost {0}: {1}")]
    Io(String, io::Error),
    /// What was going on, and the limit.
    #[error("timed out after {secs} s {0} (--timeout)", secs = fmt_secs(*.1))]
    Timeout(String, Duration),
    #[error("connection closed by the server {0}")]
    Closed(String),
    /// An unreadable reply, a code the step does not allow, or something the server
    /// sent without being asked.
    #[error("protocol violation: {0}")]
    Protocol(String),
    #[error("TLS: {0}")]
    Tls(String),
    /// The server refused the session (greeting, EHLO, STARTTLS, AUTH) or said 421.
    #[error("{0}: {1}")]
    Refused(&'static str, Reply),
}

fn fmt_secs(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s.fract() == 0.0 {
        format!("{s:.0}")
    } else {
        format!("{s:.1}")
    }
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

/// What the server sent without being asked (see [`Session::unasked`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unasked {
    Nothing,
    /// The start of it, printable.
    Data(String),
    /// The server closed the connection.
    Closed,
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

/// Reads from a socket without waiting (for looking at what is already there).
struct NoWait<'a>(&'a TcpStream);

impl Read for NoWait<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        rustix::net::recv(self.0, buf, rustix::net::RecvFlags::DONTWAIT)
            .map(|(_, n)| n)
            .map_err(io::Error::from)
    }
}

/// Printable start of some bytes, for messages.
fn preview(b: &[u8]) -> String {
    let s = String::from_utf8_lossy(&b[..b.len().min(120)]);
    format!("{:?}", s.trim_end())
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// The replies to one envelope (see [`Session::envelope`]).
#[derive(Debug, Clone)]
pub struct EnvelopeReplies {
    pub mail: Reply,
    /// One per RCPT sent (none when MAIL was refused without pipelining).
    pub rcpts: Vec<Reply>,
    /// DATA's reply, when DATA was sent.
    pub data: Option<Reply>,
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
            match TcpStream::connect_timeout(&a, cfg.timeout) {
                Ok(t) => {
                    tcp = Some(t);
                    break;
                }
                Err(e) if is_timeout(&e) => {
                    last = format!(
                        "{a}: no answer within {} s (--timeout)",
                        fmt_secs(cfg.timeout)
                    )
                }
                Err(e) => last = format!("{a}: {e}"),
            }
        }
        let tcp = tcp.ok_or(SessionError::Connect(target, last))?;
        tcp.set_write_timeout(Some(cfg.timeout))
            .map_err(|e| SessionError::Io("setting up the connection".into(), e))?;
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
        let greeting = s.read_reply(Step::Greeting)?;
        match greeting.class(Step::Greeting) {
            Class::Positive => {}
            Class::Violation => {
                return Err(SessionError::Protocol(format!(
                    "the server greeted with {greeting} instead of 220"
                )));
            }
            _ => return Err(SessionError::Refused("greeting", greeting)),
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
            let r = s.command(Step::StartTls, b"STARTTLS")?;
            match r.class(Step::StartTls) {
                Class::Positive => {
                    s.start_tls(cfg.security == Security::StartTls)?;
                    s.hello()?;
                }
                Class::Violation => return Err(violation(Step::StartTls, &r)),
                _ if cfg.security == Security::StartTls || r.code == 421 => {
                    return Err(SessionError::Refused("STARTTLS", r));
                }
                // Opportunistic: a refused STARTTLS (e.g. 454) leaves the session in
                // plain text, which is what Postfix's `may` level then uses too.
                _ => {}
            }
        }
        if cfg.auth.is_some() {
            s.authenticate()?;
        }
        Ok(s)
    }

    fn hello(&mut self) -> Result<(), SessionError> {
        let verb = if self.cfg.lmtp { "LHLO" } else { "EHLO" };
        let r = self.command(Step::Hello, format!("{verb} {}", self.cfg.helo).as_bytes())?;
        match r.class(Step::Hello) {
            Class::Positive => {
                self.ext = Extensions::parse(&r.lines);
                return Ok(());
            }
            Class::Violation => return Err(violation(Step::Hello, &r)),
            _ => {}
        }
        if r.code == 421 || self.cfg.lmtp || r.is_transient() {
            return Err(SessionError::Refused(verb, r));
        }
        let r2 = self.command(Step::Hello, format!("HELO {}", self.cfg.helo).as_bytes())?;
        match r2.class(Step::Hello) {
            Class::Positive => {}
            Class::Violation => return Err(violation(Step::Hello, &r2)),
            _ => return Err(SessionError::Refused("HELO", r2)),
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
            return Err(SessionError::Protocol(format!(
                "the server sent {} before the TLS handshake",
                preview(&self.rbuf)
            )));
        }
        let deadline = Instant::now() + self.cfg.timeout;
        while conn.is_handshaking() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(SessionError::Timeout(
                    "in the TLS handshake".into(),
                    self.cfg.timeout,
                ));
            }
            tcp.set_read_timeout(Some(left))
                .map_err(|e| SessionError::Io("in the TLS handshake".into(), e))?;
            if let Err(e) = conn.complete_io(&mut tcp) {
                if is_timeout(&e) {
                    return Err(SessionError::Timeout(
                        "in the TLS handshake".into(),
                        self.cfg.timeout,
                    ));
                }
                return Err(SessionError::Tls(format!("handshake failed: {e}")));
            }
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
            self.command_secret(Step::Auth, b"AUTH PLAIN ", token.as_bytes())?
        } else if self.ext.auth.iter().any(|m| m == "LOGIN") {
            let r = self.command(Step::Auth, b"AUTH LOGIN")?;
            if r.code != 334 {
                return Err(SessionError::Refused("AUTH LOGIN", r));
            }
            let r = self.command(Step::Auth, B64.encode(&user).as_bytes())?;
            if r.code != 334 {
                return Err(SessionError::Refused("AUTH LOGIN", r));
            }
            self.command_secret(Step::Auth, b"", B64.encode(&pass).as_bytes())?
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

    /// Sends one command line and reads its reply (checked only for syntax; the
    /// caller classifies it with [`Reply::class`]). Refuses to send while the server
    /// has sent something unasked (already buffered).
    pub fn command(&mut self, step: Step, line: &[u8]) -> Result<Reply, SessionError> {
        self.command_secret(step, line, b"")
    }

    /// `prefix` + `secret` as one line; kept apart only so no caller formats secrets.
    fn command_secret(
        &mut self,
        step: Step,
        prefix: &[u8],
        secret: &[u8],
    ) -> Result<Reply, SessionError> {
        self.expect_empty_buffer(step)?;
        let mut buf = Vec::with_capacity(prefix.len() + secret.len() + 2);
        buf.extend_from_slice(prefix);
        buf.extend_from_slice(secret);
        buf.extend_from_slice(b"\r\n");
        self.send(&buf, step.name())?;
        self.read_reply(step)
    }

    fn expect_empty_buffer(&self, step: Step) -> Result<(), SessionError> {
        if self.rbuf.is_empty() {
            Ok(())
        } else {
            Err(SessionError::Protocol(format!(
                "the server sent {} before {} (a reply nobody asked for)",
                preview(&self.rbuf),
                step.name()
            )))
        }
    }

    /// Writes and flushes, mapping errors to what was being sent.
    fn send(&mut self, bytes: &[u8], what: &str) -> Result<(), SessionError> {
        let timeout = self.cfg.timeout;
        let r = self
            .stream
            .write_all(bytes)
            .and_then(|_| self.stream.flush());
        r.map_err(|e| write_error(e, what, timeout))
    }

    /// MAIL FROM, the RCPTs and (with `data`) DATA. With PIPELINING: one write, then
    /// exactly one reply per command, in order (RFC 2920). Without: one command at a
    /// time, stopping after a MAIL that is not accepted, and DATA only when a RCPT was
    /// accepted. The replies are not judged here.
    pub fn envelope(
        &mut self,
        mail: &[u8],
        rcpts: &[Vec<u8>],
        data: bool,
    ) -> Result<EnvelopeReplies, SessionError> {
        let pipelined = self.ext.pipelining;
        if pipelined {
            self.expect_empty_buffer(Step::Mail)?;
            let mut buf = Vec::new();
            for c in std::iter::once(mail).chain(rcpts.iter().map(Vec::as_slice)) {
                buf.extend_from_slice(c);
                buf.extend_from_slice(b"\r\n");
            }
            if data {
                buf.extend_from_slice(b"DATA\r\n");
            }
            self.send(&buf, "the envelope (MAIL FROM, RCPT TO)")?;
        }
        let m = self.reply_to(pipelined, Step::Mail, mail)?;
        if !pipelined && m.class(Step::Mail) != Class::Positive {
            return Ok(EnvelopeReplies {
                mail: m,
                rcpts: Vec::new(),
                data: None,
            });
        }
        let mut rs = Vec::with_capacity(rcpts.len());
        for r in rcpts {
            rs.push(self.reply_to(pipelined, Step::Rcpt, r)?);
        }
        let any = rs.iter().any(|r| r.class(Step::Rcpt) == Class::Positive);
        let d = if data && (pipelined || any) {
            Some(self.reply_to(pipelined, Step::Data, b"DATA")?)
        } else {
            None
        };
        Ok(EnvelopeReplies {
            mail: m,
            rcpts: rs,
            data: d,
        })
    }

    /// The reply to the next command of an envelope: with PIPELINING it was sent
    /// already, so the next reply is read; without, the command is sent now.
    fn reply_to(
        &mut self,
        pipelined: bool,
        step: Step,
        line: &[u8],
    ) -> Result<Reply, SessionError> {
        if pipelined {
            self.read_reply(step)
        } else {
            self.command(step, line)
        }
    }

    /// `DATA` on its own; the caller goes on only after a 354.
    pub fn data(&mut self) -> Result<Reply, SessionError> {
        self.command(Step::Data, b"DATA")
    }

    /// Streams the content in DATA form (CRLF, dot-stuffed) and flushes it, without
    /// the final `.` line. Returns the bytes sent.
    pub fn send_content(&mut self, content: &[u8]) -> Result<u64, SessionError> {
        let timeout = self.cfg.timeout;
        let w = BufWriter::with_capacity(64 * 1024, &mut self.stream);
        let mut st = DotStuffer::new(w);
        let r = st.write_all(content).and_then(|_| {
            let (mut w, n) = st.finish_content()?;
            w.flush()?;
            Ok(n)
        });
        r.map_err(|e| write_error(e, "the message content", timeout))
    }

    /// Sends the final `.` line.
    pub fn send_end_of_data(&mut self) -> Result<(), SessionError> {
        self.send(END_OF_DATA, "the final dot")
    }

    /// Whether the server has sent anything unasked: looks at what is buffered and
    /// what the socket holds, without waiting. A reply too many (or a reply before the
    /// final dot) shows up here; so does a server that closed the connection.
    pub fn unasked(&mut self) -> Result<Unasked, SessionError> {
        if !self.rbuf.is_empty() {
            return Ok(Unasked::Data(preview(&self.rbuf)));
        }
        let io = |e: io::Error| SessionError::Io("looking for unasked replies".into(), e);
        match &mut self.stream {
            Stream::Gone => Ok(Unasked::Closed),
            Stream::Plain(t) => {
                let mut b = [0u8; 120];
                loop {
                    let flags = rustix::net::RecvFlags::PEEK | rustix::net::RecvFlags::DONTWAIT;
                    match rustix::net::recv(&*t, &mut b[..], flags) {
                        Ok((_, 0)) => return Ok(Unasked::Closed),
                        Ok((_, n)) => return Ok(Unasked::Data(preview(&b[..n]))),
                        Err(rustix::io::Errno::INTR) => continue,
                        Err(e)
                            if e == rustix::io::Errno::AGAIN
                                || e == rustix::io::Errno::WOULDBLOCK =>
                        {
                            return Ok(Unasked::Nothing);
                        }
                        Err(e) => return Err(io(e.into())),
                    }
                }
            }
            Stream::Tls(s) => {
                let mut eof = false;
                while s.conn.wants_read() {
                    match s.conn.read_tls(&mut NoWait(&s.sock)) {
                        Ok(0) => {
                            eof = true;
                            break;
                        }
                        Ok(_) => {
                            s.conn
                                .process_new_packets()
                                .map_err(|e| SessionError::Tls(e.to_string()))?;
                        }
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                        Err(e) => return Err(io(e)),
                    }
                }
                let mut b = [0u8; 4096];
                match s.conn.reader().read(&mut b) {
                    Ok(0) => Ok(Unasked::Closed),
                    Ok(n) => {
                        self.rbuf.extend_from_slice(&b[..n]);
                        Ok(Unasked::Data(preview(&self.rbuf)))
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(if eof {
                        Unasked::Closed
                    } else {
                        Unasked::Nothing
                    }),
                    Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(Unasked::Closed),
                    Err(e) => Err(io(e)),
                }
            }
        }
    }

    /// RSET; true when the server said 250 and nothing else (the session can be
    /// reused).
    pub fn rset(&mut self) -> bool {
        match self.command(Step::Rset, b"RSET") {
            Ok(r) => {
                r.class(Step::Rset) == Class::Positive
                    && matches!(self.unasked(), Ok(Unasked::Nothing))
            }
            Err(_) => false,
        }
    }

    /// QUIT, ignoring what happens (waiting a few seconds at most).
    pub fn quit(mut self) {
        self.cfg.timeout = self.cfg.timeout.min(QUIT_WAIT);
        if let Some(t) = self.stream.tcp() {
            let _ = t.set_write_timeout(Some(self.cfg.timeout));
        }
        self.rbuf.clear();
        let _ = self.command(Step::Quit, b"QUIT");
        if let Stream::Tls(s) = &mut self.stream {
            s.conn.send_close_notify();
            let _ = s.flush();
        }
    }

    /// Reads more bytes into the buffer, waiting until `deadline` at most.
    fn fill(&mut self, deadline: Instant, step: Step, limit: Duration) -> Result<(), SessionError> {
        let what = || format!("waiting for the reply to {}", step.name());
        let mut chunk = [0u8; 4096];
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(SessionError::Timeout(what(), limit));
            }
            if let Some(t) = self.stream.tcp() {
                t.set_read_timeout(Some(left))
                    .map_err(|e| SessionError::Io(what(), e))?;
            }
            match self.stream.read(&mut chunk) {
                Ok(0) => return Err(SessionError::Closed(what())),
                Ok(n) => {
                    self.rbuf.extend_from_slice(&chunk[..n]);
                    return Ok(());
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                    return Err(SessionError::Closed(what()));
                }
                Err(e) if is_timeout(&e) => return Err(SessionError::Timeout(what(), limit)),
                Err(e) => return Err(SessionError::Io(what(), e)),
            }
        }
    }

    fn read_line(
        &mut self,
        deadline: Instant,
        step: Step,
        limit: Duration,
    ) -> Result<Vec<u8>, SessionError> {
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
                    "reply line to {} longer than {MAX_LINE} bytes",
                    step.name()
                )));
            }
            self.fill(deadline, step, limit)?;
        }
    }

    /// Reads one (possibly multi-line) reply to `step`, all of it within the step's
    /// deadline (`--timeout`; the end of data: the dot timeout). Checks the syntax:
    /// three digits, the first 2–5 and the second 0–5, the same code on every line.
    pub fn read_reply(&mut self, step: Step) -> Result<Reply, SessionError> {
        let limit = if step == Step::EndOfData {
            self.cfg.dot_timeout
        } else {
            self.cfg.timeout
        };
        let deadline = Instant::now() + limit;
        let mut lines = Vec::new();
        let mut code = None;
        loop {
            let line = self.read_line(deadline, step, limit)?;
            let bad = || {
                SessionError::Protocol(format!(
                    "unreadable reply to {}: {}",
                    step.name(),
                    preview(&line)
                ))
            };
            if line.len() < 3
                || !line[..3].iter().all(u8::is_ascii_digit)
                || !(b'2'..=b'5').contains(&line[0])
                || !(b'0'..=b'5').contains(&line[1])
            {
                return Err(bad());
            }
            let c = u16::from(line[0] - b'0') * 100
                + u16::from(line[1] - b'0') * 10
                + u16::from(line[2] - b'0');
            if code.is_some_and(|k| k != c) {
                return Err(SessionError::Protocol(format!(
                    "multi-line reply to {} changes its code ({} then {c})",
                    step.name(),
                    code.unwrap_or_default()
                )));
            }
            code = Some(c);
            let sep = line.get(3).copied();
            lines.push(String::from_utf8_lossy(line.get(4..).unwrap_or(b"")).into_owned());
            match sep {
                Some(b'-') if lines.len() < MAX_LINES => continue,
                Some(b'-') => {
                    return Err(SessionError::Protocol(format!(
                        "reply to {} longer than {MAX_LINES} lines",
                        step.name()
                    )));
                }
                None | Some(b' ') => return Ok(Reply { code: c, lines }),
                _ => return Err(bad()),
            }
        }
    }
}

/// A reply the step does not allow, as an error.
pub fn violation(step: Step, r: &Reply) -> SessionError {
    SessionError::Protocol(format!(
        "{} answered {r} (allowed: {}, 4xx, 5xx)",
        step.name(),
        step.positive()
            .iter()
            .map(u16::to_string)
            .collect::<Vec<_>>()
            .join("/")
    ))
}

fn write_error(e: io::Error, what: &str, timeout: Duration) -> SessionError {
    if is_timeout(&e) {
        SessionError::Timeout(
            format!("sending {what} (the server stopped reading)"),
            timeout,
        )
    } else {
        SessionError::Io(format!("sending {what}"), e)
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
        let algs = &self.0.signature_verification_algorithms;
        rustls::crypto::verify_tls12_signature(message, cert, dss, algs)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        let algs = &self.0.signature_verification_algorithms;
        rustls::crypto::verify_tls13_signature(message, cert, dss, algs)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
