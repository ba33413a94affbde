//! Fuzz target: the queue-file state machine (full and envelope-only reads, maildrop
//! and cleanup flavours) and postcat rendering never panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use mxsalvage::cat::{CatFlags, render};
use mxsalvage::queue::{Depth, QueueFile};

fuzz_target!(|data: &[u8]| {
    if let Ok(f) = QueueFile::parse(data.to_vec(), Depth::Full, false) {
        let _ = f.message_bytes();
        let _ = render(&f, "fuzz", CatFlags::default());
        let _ = render(&f, "fuzz", CatFlags { body: true, header: false, envelope: false });
    }
    let _ = QueueFile::parse(data.to_vec(), Depth::EnvelopeOnly, false);
    let _ = QueueFile::parse(data.to_vec(), Depth::Full, true);
});
