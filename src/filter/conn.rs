//! One connection to a filter, with a deadline: every connect, read and write gives up
//! when the request's time is over, so a filter that stops answering (or answers one
//! byte a minute) never hangs a run.
//!
//! Owns: [`Conn`] (TCP or Unix socket) and bounded reads. In: a [`FilterUrl`] and a
//! time limit. Out: bytes. Fails with [`FilterError`] (connect, timeout, I/O, an answer
//! over its size limit).

use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use super::FilterError;
use super::url::{Addr, FilterUrl};

enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
}

/// An open connection and the time by which the request must be done.
pub struct Conn<'a> {
    s: Stream,
    url: &'a FilterUrl,
    deadline: Instant,
    limit: Duration,
}

/// Opens a connection to `url`; the whole request must end within `limit`.
pub fn connect(url: &FilterUrl, limit: Duration) -> Result<Conn<'_>, FilterError> {
    let deadline = Instant::now() + limit;
    let cerr = |error: io::Error| FilterError::Connect {
        url: url.to_string(),
        error,
    };
    let s = match &url.addr {
        Addr::Unix(p) => Stream::Unix(UnixStream::connect(p).map_err(cerr)?),
        Addr::Tcp { host, port } => {
            let addrs: Vec<_> = (host.as_str(), *port)
                .to_socket_addrs()
                .map_err(cerr)?
                .collect();
            let mut last = io::Error::new(io::ErrorKind::NotFound, "no address for the host");
            let mut got = None;
            for a in addrs {
                match TcpStream::connect_timeout(&a, limit) {
                    Ok(s) => {
                        got = Some(s);
                        break;
                    }
                    Err(e) => last = e,
                }
            }
            let s = got.ok_or_else(|| cerr(last))?;
            let _ = s.set_nodelay(true);
            Stream::Tcp(s)
        }
    };
    Ok(Conn {
        s,
        url,
        deadline,
        limit,
    })
}

impl Conn<'_> {
    /// The time left, as a socket timeout; a timeout error when none is left.
    fn left(&self) -> Result<Duration, FilterError> {
        let now = Instant::now();
        match self.deadline.checked_duration_since(now) {
            Some(d) if d > Duration::from_millis(1) => Ok(d),
            _ => Err(self.timeout()),
        }
    }

    fn timeout(&self) -> FilterError {
        FilterError::Timeout {
            url: self.url.to_string(),
            secs: self.limit.as_secs(),
        }
    }

    fn io(&self, error: io::Error) -> FilterError {
        match error.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => self.timeout(),
            _ => FilterError::Io {
                url: self.url.to_string(),
                error,
            },
        }
    }

    /// Writes all of `b` before the deadline.
    pub fn send(&mut self, mut b: &[u8]) -> Result<(), FilterError> {
        while !b.is_empty() {
            let t = Some(self.left()?);
            let r = match &mut self.s {
                Stream::Tcp(s) => s.set_write_timeout(t).and_then(|_| s.write(b)),
                Stream::Unix(s) => s.set_write_timeout(t).and_then(|_| s.write(b)),
            };
            match r {
                Ok(0) => return Err(self.io(io::ErrorKind::WriteZero.into())),
                Ok(n) => b = &b[n..],
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(self.io(e)),
            }
        }
        Ok(())
    }

    /// Ends the sending side (the filter then sees the end of the request).
    pub fn finish_sending(&mut self) {
        let _ = match &self.s {
            Stream::Tcp(s) => s.shutdown(std::net::Shutdown::Write),
            Stream::Unix(s) => s.shutdown(std::net::Shutdown::Write),
        };
    }

    /// Reads some bytes into `buf` before the deadline (0: the filter closed).
    fn read_some(&mut self, buf: &mut [u8]) -> Result<usize, FilterError> {
        loop {
            let t = Some(self.left()?);
            let r = match &mut self.s {
                Stream::Tcp(s) => s.set_read_timeout(t).and_then(|_| s.read(buf)),
                Stream::Unix(s) => s.set_read_timeout(t).and_then(|_| s.read(buf)),
            };
            match r {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(self.io(e)),
            }
        }
    }

    /// Reads until the filter closes the connection, or until `stop` is read (then the
    /// bytes up to it, without it); at most `max` bytes.
    pub fn read_reply(&mut self, stop: Option<u8>, max: usize) -> Result<Vec<u8>, FilterError> {
        let mut out = Vec::new();
        let mut buf = [0u8; 8192];
        loop {
            let n = self.read_some(&mut buf)?;
            if n == 0 {
                return Ok(out);
            }
            out.extend_from_slice(&buf[..n]);
            if let Some(i) = stop.and_then(|b| out.iter().position(|&x| x == b)) {
                out.truncate(i);
                return Ok(out);
            }
            if out.len() > max {
                return Err(FilterError::Garbage {
                    url: self.url.to_string(),
                    what: format!("an answer longer than {max} bytes"),
                });
            }
        }
    }
}
