//! Fuzz target: the Exim `-H` parser and the message-log reader never panic on hostile
//! bytes (lengths past the end, huge counts, trees that never end, bad recipient data),
//! and what parses is self-consistent.
#![no_main]
use libfuzzer_sys::fuzz_target;
use mxsalvage::exim::header::HeaderFile;
use mxsalvage::exim::msglog::defers;

const ID: &str = "1xaa4w-00055k-0J";

fuzz_target!(|data: &[u8]| {
    // As given, and behind a valid first line (so the parser gets past it).
    let _ = HeaderFile::parse(data, ID);
    let mut file = format!("{ID}-H\n").into_bytes();
    file.extend_from_slice(data);
    if let Ok(h) = HeaderFile::parse(&file, ID) {
        assert!(h.recipients.len() <= 16384);
        assert!(h.headers.iter().all(|x| !x.text.contains(&0)));
    }
    let _ = defers(data);
});
