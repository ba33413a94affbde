//! Fuzz target: MIME-to-text rendering (decoding, charsets, attachments, nested
//! messages, HTML to text) and attachment naming never panic on hostile messages.
#![no_main]
use libfuzzer_sys::fuzz_target;
use mxsalvage::decode::{decode, html_to_text, raw_header};

/// libfuzzer-sys aborts on any panic. mail-parser 0.11's one debug assertion is caught
/// by `decode` (and compiled out of release builds); every other panic still aborts.
fn tolerate_mail_parser_debug_assertion() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            if info.location().is_some_and(|l| l.file().contains("mail-parser")) {
                return;
            }
            eprintln!("{info}");
            std::process::abort();
        }));
    });
}

fuzz_target!(|data: &[u8]| {
    tolerate_mail_parser_debug_assertion();
    let d = decode(data, "fuzz.files");
    let _ = d;
    let _ = raw_header(data, "Subject");
    let _ = html_to_text(&String::from_utf8_lossy(data));
});
