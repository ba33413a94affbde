//! mxsalvage: read a Postfix queue directly and get the mail out.
//!
//! Pipeline (one module per stage): [`queue::walk`] lists queue files →
//! [`queue::record`] frames records → [`queue::qfile`] assembles one queued message →
//! [`report::model`] describes it → [`decode`] renders MIME for humans → [`export`] plans and
//! writes sinks → [`manifest`] records the result; [`reinject`] and [`verify`] read an
//! export back. Everything between the file read and the file write is a pure function
//! of bytes.

// `println!`/`print!` panic on a closed pipe: write to a locked stdout and propagate the
// io::Error (the binary ends quietly on a BrokenPipe; see `exit`).
#![deny(clippy::print_stdout)]

pub mod bytes;
pub mod decode;
pub mod dovecot;
pub mod exim;
pub mod exit;
pub mod export;
pub mod filter;
pub mod manifest;
pub mod postcat;
pub mod queue;
pub mod reinject;
pub mod report;
pub mod timefmt;
pub mod units;
pub mod verify;
