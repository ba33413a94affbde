//! Fuzz target: record framing never panics and always makes progress.
#![no_main]
use libfuzzer_sys::fuzz_target;
use mxsalvage::queue::record::read_record;

fuzz_target!(|data: &[u8]| {
    let mut pos = 0;
    while let Ok(Some(r)) = read_record(data, pos) {
        assert!(r.next > pos && r.next <= data.len());
        pos = r.next;
    }
});
