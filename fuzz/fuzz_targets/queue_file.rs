//! Fuzz target: the queue-file state machine (full and envelope-only reads, maildrop
//! and cleanup flavours) and postcat rendering (default, `-bh`, `-v -r -o -d`, `-s`)
//! never panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use mxsalvage::postcat::{CatFlags, Output, postcat};
use mxsalvage::queue::{Depth, QueueFile};

fuzz_target!(|data: &[u8]| {
    if let Ok(f) = QueueFile::parse(data.to_vec(), Depth::Full, false) {
        let _ = f.message_bytes();
    }
    let bh = CatFlags { body: true, header: true, ..CatFlags::default() };
    let raw = CatFlags { verbose: 2, raw: true, offsets: true, decimal: true, ..CatFlags::default() };
    let start = CatFlags { start: (data.len() / 2) as u64, ..CatFlags::default() };
    for (flags, maildrop, stdin) in [
        (CatFlags::default(), false, false),
        (bh, false, false),
        (raw, true, false),
        (start, false, true),
    ] {
        let mut out = Output::default();
        let _ = postcat(data, "fuzz", maildrop, flags, stdin, &mut out);
    }
    let _ = QueueFile::parse(data.to_vec(), Depth::EnvelopeOnly, false);
    let _ = QueueFile::parse(data.to_vec(), Depth::Full, true);
});
