//! Integration test: `scan` memory does not grow with the queue (issue 8, item 7).
//!
//! Two spools made of the real deferred sample files (and their defer logs) under fresh
//! queue IDs, one four times the other, scanned in one run; the peak RSS of the larger
//! may exceed the smaller's only by a small constant. The old `scan --json` held every
//! message object (~4 KB each): 6,000 more messages cost ~26 MB.

use std::path::Path;

use crate::harness::{assert_code, deferred_copies};
use crate::spool_safety::peak_rss;

/// A spool of `n` copies of the deferred samples, spread over the hash directories.
fn spool_of(dst: &Path, n: usize) {
    let id = |i: usize| format!("{:X}{:06X}{:03X}", i % 16, i, i % 4096);
    deferred_copies(dst, n, id, true);
}

#[test]
fn scan_memory_does_not_grow_with_the_queue() {
    // In memory when /dev/shm is there: 10,000 small files are slow on a busy disk.
    let tmp = tempfile::tempdir_in("/dev/shm")
        .or_else(|_| tempfile::tempdir())
        .unwrap();
    let (small, large) = (tmp.path().join("small"), tmp.path().join("large"));
    let n = 2_000;
    spool_of(&small, n);
    spool_of(&large, 4 * n);
    for format in [&["--json"][..], &[][..]] {
        let rss = |spool: &Path| {
            let mut args = vec![
                "scan",
                "--jobs",
                "2",
                "--queue-dir",
                spool.to_str().unwrap(),
            ];
            args.extend(format);
            let (out, kb) = peak_rss(&args);
            assert_code(&out, 0);
            assert!(out.stdout.len() > 1000);
            kb
        };
        let (a, b) = (rss(&small), rss(&large));
        eprintln!(
            "scan {format:?}: peak RSS {a} KB at {n} messages, {b} KB at {}",
            4 * n
        );
        assert!(
            b < a + 4 * 1024,
            "scan {format:?}: {a} KB at {n} messages, {b} KB at {} (grows with the queue)",
            4 * n
        );
    }
}
