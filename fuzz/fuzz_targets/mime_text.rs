//! Fuzz target: MIME-to-text rendering (decoding, charsets, attachments, nested
//! messages, HTML to text), attachment naming and the HTML view (sanitiser, message
//! page) never panic on hostile messages, and a page never holds a script.
#![no_main]
use libfuzzer_sys::fuzz_target;
use mxsalvage::decode::html::sanitize;
use mxsalvage::decode::{decode, html_to_text, raw_header};
use mxsalvage::export::sinks::html::{PageInfo, PageLinks, message_page};

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
    let links = PageLinks {
        index: "../index.html".into(),
        files: "f".into(),
        as_text: "a".into(),
        eml: None,
    };
    let info = PageInfo {
        queue_id: "Q",
        arrival: 0,
        size: data.len() as u64,
        mailbox: "a@example.com",
    };
    let page = message_page(&d, &info, &links).to_ascii_lowercase();
    // Text is escaped, so these can only be markup the page would run.
    assert!(!page.contains("<script") && !page.contains("href=\"javascript"));
    let _ = raw_header(data, "Subject");
    let text = String::from_utf8_lossy(data);
    let _ = html_to_text(&text);
    let s = sanitize(&text, &|_| None).html.to_ascii_lowercase();
    assert!(!s.contains("<script") && !s.contains("href=\"javascript"), "{s}");
});
