//! Fuzz target: MIME-to-text rendering (decoding, charsets, attachments, nested
//! messages, HTML to text) and attachment naming never panic on hostile messages.
#![no_main]
use libfuzzer_sys::fuzz_target;
use mxsalvage::decode::{decode, html_to_text, raw_header};

fuzz_target!(|data: &[u8]| {
    let d = decode(data, "fuzz.files");
    let _ = d;
    let _ = raw_header(data, "Subject");
    let _ = html_to_text(&String::from_utf8_lossy(data));
});
