//! Exit codes, the same for every command: 0 everything done, 1 partial (some items
//! failed and are listed), 2 usage or fatal error. And the one exception to "an error
//! is reported": a closed pipe on standard output (`mxsalvage scan | head -1`) ends the
//! program quietly with 0, as ripgrep does — the reader has all it wanted.

use std::error::Error;
use std::io;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Ok = 0,
    Partial = 1,
    Fatal = 2,
}

impl Exit {
    pub fn code(self) -> i32 {
        self as i32
    }
    /// `Partial` when `failed`, else `Ok`.
    pub fn partial_if(failed: bool) -> Exit {
        if failed { Exit::Partial } else { Exit::Ok }
    }
}

/// Whether this one error (not its sources) is a closed pipe: an `io::Error` of kind
/// `BrokenPipe`, or a `serde_json` error caused by one (serde_json hides its io::Error
/// from the source chain).
fn is_broken_pipe_here(e: &(dyn Error + 'static)) -> bool {
    if let Some(io) = e.downcast_ref::<io::Error>() {
        return io.kind() == io::ErrorKind::BrokenPipe;
    }
    if let Some(j) = e.downcast_ref::<serde_json::Error>() {
        return j.io_error_kind() == Some(io::ErrorKind::BrokenPipe);
    }
    false
}

/// Whether a closed pipe is anywhere in the error's source chain.
pub fn is_broken_pipe(e: &(dyn Error + 'static)) -> bool {
    let mut cur = Some(e);
    while let Some(x) = cur {
        if is_broken_pipe_here(x) {
            return true;
        }
        cur = x.source();
    }
    false
}

/// Whether a panic message is the standard library's "failed printing to stdout/stderr"
/// on a closed pipe (an `eprintln!` into `2>&1 | head`): the binary's panic hook then
/// ends quietly with 0 instead of printing a panic.
pub fn is_broken_pipe_panic(msg: &str) -> bool {
    msg.starts_with("failed printing to std") && msg.contains("Broken pipe")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("writing the report")]
    struct Wrap(#[source] io::Error);

    #[test]
    fn finds_a_closed_pipe_anywhere_in_the_chain() {
        let bp = || io::Error::from(io::ErrorKind::BrokenPipe);
        assert!(is_broken_pipe(&bp()));
        assert!(is_broken_pipe(&Wrap(bp())));
        let a = anyhow::Error::new(Wrap(bp())).context("scan");
        assert!(a.chain().any(is_broken_pipe));
        let j = serde_json::to_writer(Dead, &vec![1u8; 10]).unwrap_err();
        assert!(is_broken_pipe(&j));
        assert!(!is_broken_pipe(&io::Error::from(io::ErrorKind::NotFound)));
        assert!(!is_broken_pipe(&Wrap(io::Error::other("disk full"))));
        assert!(is_broken_pipe_panic(
            "failed printing to stderr: Broken pipe (os error 32)"
        ));
        assert!(!is_broken_pipe_panic("index out of bounds"));
    }

    struct Dead;
    impl io::Write for Dead {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::ErrorKind::BrokenPipe.into())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
}
