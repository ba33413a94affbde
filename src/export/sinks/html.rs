//! The `html` view: `index.html` in each bundle and one page per message, for someone
//! who is not a mail administrator and just double-clicks.
//!
//! Owns: the static pages — `index.html` (the bundle's messages, newest first: received
//! time with its time zone, sender, subject, size, an attachment mark, each linking to
//! its page) and `html/<stem>.html` (headers, the readable body — HTML mail through the
//! sanitiser of [`crate::decode::html`], plain text with its web addresses as links —,
//! attached messages, links to the attachments and to the `.eml`). The attachments and
//! the `.eml` are those of the `text` and `eml` formats when the bundle has them, else
//! this view writes its own copies under `html/`. In: the decoded message / the
//! mailbox's summaries. Out: UTF-8 files through the bundle's [`Dest`]; fails only with
//! the [`Dest`]'s write error.
//!
//! Every page is static: no script, no form, nothing from outside the bundle; a
//! Content-Security-Policy meta tag forbids scripts, frames and every remote load (only
//! the bundle's own files and `data:` images may show), and the sanitiser removes
//! remote references before that. Everything from the message (headers, names, HTML,
//! text) is escaped; every link this view writes is relative, made of safe names from
//! [`crate::decode::names`] and percent-encoded, so it stays inside the bundle (and inside its
//! zip). Times are shown in the time zone of the machine that ran the export (`TZ`),
//! said next to them.

use std::fmt::Write as _;

use chrono::{Local, TimeZone};

use crate::decode::html::{Sanitized, escape, escape_into, sanitize};
use crate::decode::{Body, Decoded, Item, Part, Shown};

use super::eml::Crlf;
use super::text::{files_dir, put_attachments};
use crate::decode::names::visible;
use crate::export::error::ExportError;
use crate::export::sink::{Dest, FileOpts, Filing, Mailbox, Message, Sink, SinkInfo, Summary};

/// The `html` format.
pub struct Html;

/// The folder of the message pages, in the bundle.
pub const PAGES: &str = "html";

/// What the `html` format is.
pub static INFO: SinkInfo = SinkInfo {
    name: "html",
    aliases: &[],
    location: "index.html",
    dirs: &[PAGES],
    junk_dirs: &["Junk", "Junk/html"],
    readme: "index.html  - START HERE: open it in your web browser (double-click). It lists\n\
             \x20             your messages, newest first; click one to read it, with links\n\
             \x20             to its attachments. It works offline and loads nothing from\n\
             \x20             the internet. (The pages are in the html/ folder.)\n\n",
};

impl Sink for Html {
    fn info(&self) -> &'static SinkInfo {
        &INFO
    }
    fn message(&self, m: &Message, dest: &mut dyn Dest) -> Result<(), ExportError> {
        let d = m.decoded();
        let mtime = m.arrival.0;
        let stem = m.stem;
        // A Junk message's files mirror the bundle's layout under `Junk/`, so every
        // link but the index's is the same.
        let pages = format!("{}{PAGES}", m.folder());
        // Attachments and the .eml: the text and eml formats' files when the bundle has
        // them, else copies of our own beside the page.
        let files = if m.formats.has("text") {
            format!("../text/{}", files_dir(stem))
        } else {
            let dir = format!("{pages}/{}", files_dir(stem));
            put_attachments(dest, &dir, mtime, &d.attachments)?;
            files_dir(stem)
        };
        // Files a browser would run or render with network access: linked only as
        // plain-text copies (see [`active`]).
        if d.attachments.iter().any(active) {
            let dir = format!("{pages}/{}", as_text_dir(stem));
            dest.dir(&dir)?;
            for a in d.attachments.iter().filter(|a| active(a)) {
                dest.put(&format!("{dir}/{}.txt", a.name), mtime, &a.data)?;
            }
        }
        let eml = if m.formats.has("eml") {
            format!("../eml/{stem}.eml")
        } else {
            dest.file(
                &format!("{pages}/{stem}.eml"),
                FileOpts::at(mtime),
                &mut |w| {
                    let mut c = Crlf::new();
                    c.write(w, m.prepend)?;
                    c.write(w, m.bytes)
                },
            )?;
            format!("{stem}.eml")
        };
        let links = PageLinks {
            index: match m.filing {
                Filing::Junk => "../../index.html".into(),
                _ => "../index.html".into(),
            },
            files: url_path(&files),
            as_text: url_path(&as_text_dir(stem)),
            eml: Some(url_path(&eml)),
        };
        let address = String::from_utf8_lossy(m.mailbox);
        let info = PageInfo {
            queue_id: &m.summary.queue_id,
            arrival: mtime,
            size: m.summary.exported.bytes,
            mailbox: &address,
        };
        let note = page_note(m);
        let page = message_page_noted(d, &info, &links, note.as_deref());
        dest.put(&format!("{pages}/{stem}.html"), mtime, page.as_bytes())
    }
    fn mailbox(&self, b: &Mailbox, dest: &mut dyn Dest) -> Result<(), ExportError> {
        // Newest first; the inbox and Junk apart, never interleaved.
        let (mut inbox, mut junk) = (Vec::new(), Vec::new());
        for i in (0..b.len).rev() {
            let it = b.get(i)?;
            match it.filing {
                Filing::Junk => junk.push(row_of(it.summary, "Junk/")),
                _ => inbox.push(row_of(it.summary, "")),
            }
        }
        let mut out = index_intro(&b.address(), inbox.len());
        if b.withheld > 0 {
            let held: Vec<Summary> = (0..b.withheld)
                .map(|i| b.withheld(i))
                .collect::<Result<_, _>>()?;
            withheld_section(&mut out, &held);
        }
        out.push_str(TABLE_OPEN);
        for r in &inbox {
            index_row(&mut out, r);
        }
        if !junk.is_empty() {
            spam_section(&mut out, junk.len());
            for r in &junk {
                index_row(&mut out, r);
            }
        }
        let others: Vec<(&str, &str)> = b
            .formats
            .sinks()
            .filter(|s| s.name() != self.name())
            .map(|s| (s.location(), describe(s.name())))
            .collect();
        out.push_str(&index_tail(&others));
        dest.put("index.html", b.newest, out.as_bytes())
    }
}

/// The index row of a message whose page is under `folder` (`""`, `"Junk/"`).
fn row_of(s: Summary, folder: &str) -> Row {
    Row {
        arrival: s.arrival_unix,
        unscanned: s.verdict.as_ref().is_some_and(|v| v.marked_unscanned()),
        from: s.exported.from,
        subject: s.exported.subject,
        size: s.exported.bytes,
        attachments: s.exported.attachments.len(),
        page: url_path(&format!("{folder}{PAGES}/{}.html", s.stem)),
    }
}

/// The note at the top of a message page: spam (filed in Junk) or not scanned.
fn page_note(m: &Message) -> Option<String> {
    let v = m.summary.verdict.as_ref()?;
    if m.filing == Filing::Junk {
        let by = v
            .spam
            .as_ref()
            .map_or(String::new(), |s| format!(" ({}: {})", s.filter, s.action));
        return Some(format!(
            "The spam filter judged this message to be spam{by}. It is kept apart from your mail in case it is not: be careful with its links and attachments."
        ));
    }
    v.marked_unscanned().then(|| {
        "This message could not be checked for spam and viruses (a filter failed on it): be careful with its links and attachments.".to_string()
    })
}

/// What the other formats of a bundle are, for the index's last lines.
fn describe(format: &str) -> &'static str {
    match format {
        "mbox" => "all messages in one file, to import into Thunderbird, Apple Mail or mutt",
        "maildir" => "one file per message in a mail server's folder layout (Dovecot, Courier)",
        "eml" => "one file per message: double-click to open it in your mail program",
        "text" => "one plain-text file per message, readable in any text editor",
        _ => "another copy of the same mail",
    }
}

/// The Content-Security-Policy of every page.
pub const CSP: &str = "default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; \
                       base-uri 'none'; form-action 'none'";

const STYLE: &str = "\
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,'Noto Sans','Noto Sans CJK JP',\
'Hiragino Sans','Yu Gothic',sans-serif;margin:0;padding:1rem;color:#1d1d1f;background:#fff;\
line-height:1.45;-webkit-text-size-adjust:100%}
main{max-width:62rem;margin:0 auto}
h1{font-size:1.4rem;margin:.2rem 0 .8rem;overflow-wrap:anywhere}
h2{font-size:1.05rem;margin:1.2rem 0 .4rem}
a[href]{color:#0b57d0}
p.intro{color:#444;margin:.2rem 0 1rem}
table.list{border-collapse:collapse;width:100%}
table.list th,table.list td{text-align:left;padding:.45rem .5rem;border-bottom:1px solid #ddd;\
vertical-align:top}
table.list th{font-size:.85rem;color:#555}
td.date,td.size{white-space:nowrap;color:#444}
td.size{text-align:right}
td.from,td.subject{overflow-wrap:anywhere}
td.att{width:1.5rem;text-align:center}
table.headers{border-collapse:collapse;margin-bottom:.6rem}
table.headers th{text-align:left;vertical-align:top;padding:.15rem .8rem .15rem 0;color:#555;\
font-weight:normal;white-space:nowrap}
table.headers td{padding:.15rem 0;overflow-wrap:anywhere}
ul.attachments{padding-left:1.2rem;margin:.3rem 0}
ul.attachments li{margin:.2rem 0;overflow-wrap:anywhere}
.meta{color:#555;font-size:.9rem}
.note{background:#fff8e1;border:1px solid #f0d98c;padding:.4rem .6rem;font-size:.9rem}
section.mail-html{border:1px solid #ddd;padding:.75rem;overflow-x:auto;overflow-wrap:anywhere}
section.mail-html img{max-width:100%;height:auto}
section.mail-html table{max-width:100%}
pre.mail-text{white-space:pre-wrap;overflow-wrap:anywhere;font-family:inherit;margin:0;\
border:1px solid #ddd;padding:.75rem}
section.attached{border-left:3px solid #bbb;padding-left:.8rem;margin-top:1.2rem}
.no-image{color:#666;font-size:.9em}
nav{margin-bottom:.6rem}
@media (max-width:40rem){body{padding:.6rem}\
table.list thead{display:none}\
table.list tr{display:block;border-bottom:1px solid #ddd;padding:.45rem 0}\
table.list td{display:inline;border:0;padding:0 .4rem 0 0}\
table.list td.subject{display:block;font-size:1.05rem;padding:.1rem 0}\
td.size{float:right}}
";

/// The start of every page, up to and including `<body>`.
fn head(out: &mut String, title: &str) {
    out.push_str("<!DOCTYPE html>\n<html>\n<head>\n<meta charset=\"utf-8\">\n");
    let _ = writeln!(
        out,
        "<meta http-equiv=\"Content-Security-Policy\" content=\"{CSP}\">"
    );
    out.push_str("<meta name=\"referrer\" content=\"no-referrer\">\n");
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    out.push_str("<title>");
    escape_into(out, title);
    out.push_str("</title>\n<style>\n");
    out.push_str(STYLE);
    out.push_str("</style>\n</head>\n<body>\n");
}

/// A time in the export machine's time zone, with the zone said:
/// `2026-11-27 18:16 UTC`, `2026-11-28 03:16 UTC+09:00`.
pub fn local_time(secs: i64) -> String {
    match Local.timestamp_opt(secs, 0).single() {
        Some(t) => {
            let off = t.offset().local_minus_utc();
            let zone = if off == 0 {
                "UTC".to_string()
            } else {
                format!("UTC{}", t.format("%:z"))
            };
            format!("{} {zone}", t.format("%Y-%m-%d %H:%M"))
        }
        None => format!("@{secs}"),
    }
}

/// A size for people: `812 bytes`, `14 KB`, `2.3 MB` (1 KB = 1024 bytes).
pub fn human_size(n: u64) -> String {
    const K: f64 = 1024.0;
    let f = n as f64;
    if n < 1024 {
        format!("{n} bytes")
    } else if f < K * K {
        format!("{:.0} KB", (f / K).max(1.0))
    } else if f < K * K * K {
        format!("{:.1} MB", f / K / K)
    } else {
        format!("{:.1} GB", f / K / K / K)
    }
}

/// Percent-encodes one path component for a relative URL (everything but unreserved
/// ASCII), so no name can add a query, a fragment or a directory to the link.
pub fn url_component(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'@' | b'+') {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// A relative URL from `/`-separated safe components.
pub fn url_path(rel: &str) -> String {
    rel.split('/')
        .map(|c| {
            if c == ".." {
                "..".to_string()
            } else {
                url_component(c)
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// Plain text with every `http://`/`https://` address made a link; escaped.
pub fn linkify(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    let mut rest = text;
    loop {
        let Some(i) = find_url(rest) else {
            escape_into(&mut out, rest);
            return out;
        };
        escape_into(&mut out, &rest[..i]);
        let tail = &rest[i..];
        let mut end = tail
            .find(|c: char| c.is_whitespace() || c.is_control() || "<>\"'`{}|\\^".contains(c))
            .unwrap_or(tail.len());
        while end > 0 && tail[..end].ends_with(['.', ',', ';', ':', '!', '?', ')', ']']) {
            end -= 1;
        }
        let url = &tail[..end];
        if url.len() <= "https://".len() {
            escape_into(&mut out, &tail[..end.max(1)]);
            rest = &tail[end.max(1)..];
            continue;
        }
        let e = escape(url);
        let _ = write!(out, "<a href=\"{e}\" rel=\"noopener noreferrer\">{e}</a>");
        rest = &tail[end..];
    }
}

/// Where the next `http://` or `https://` (any case) starts in `s`. One forward scan
/// over the candidates `h`/`H`, so repeated calls over the rest stay linear.
fn find_url(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let mut i = 0;
    while let Some(p) = b[i..].iter().position(|c| *c == b'h' || *c == b'H') {
        let at = i + p;
        let t = &b[at..];
        if t.len() >= 7 && t[..4].eq_ignore_ascii_case(b"http") {
            let after = if t[4].eq_ignore_ascii_case(&b's') {
                5
            } else {
                4
            };
            if t.len() >= after + 3 && &t[after..after + 3] == b"://" {
                return Some(at);
            }
        }
        i = at + 1;
    }
    None
}

/// Where a message page's links point, relative to the page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageLinks {
    /// The index page (`../index.html`).
    pub index: String,
    /// The folder holding the message's attachments (`../text/<stem>.files`).
    pub files: String,
    /// The folder of the plain-text copies of [`active`] attachments (`<stem>.as-text`).
    pub as_text: String,
    /// The message as an `.eml` file, if the bundle has one.
    pub eml: Option<String>,
}

/// What a message page shows besides the decoded message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageInfo<'a> {
    pub queue_id: &'a str,
    pub arrival: i64,
    pub size: u64,
    /// The bundle's address (for the page title).
    pub mailbox: &'a str,
}

fn headers_table(out: &mut String, s: &Shown, received: Option<&str>) {
    out.push_str("<table class=\"headers\">\n");
    for (name, v) in &s.headers {
        if *name == "Subject" && received.is_some() {
            continue; // the top message's subject is the page's heading
        }
        let _ = writeln!(out, "<tr><th>{name}</th><td>{}</td></tr>", escape(v));
    }
    if let Some(r) = received {
        let _ = writeln!(out, "<tr><th>Received</th><td>{}</td></tr>", escape(r));
    }
    out.push_str("</table>\n");
}

fn body(out: &mut String, s: &Shown, d: &Decoded, links: &PageLinks, blocked: &mut usize) {
    let cid = |id: &str| -> Option<String> {
        d.attachments
            .iter()
            .find(|a| a.content_id.as_deref() == Some(id) && a.content_type.starts_with("image/"))
            .map(|a| format!("{}/{}", links.files, url_component(&a.name)))
    };
    if s.bodies.is_empty() {
        out.push_str("<p class=\"meta\">(no readable text in this message)</p>\n");
    }
    for b in &s.bodies {
        match b {
            Body::Html(h) => {
                let Sanitized { html, blocked: n } = sanitize(h, &cid);
                *blocked += n;
                out.push_str("<section class=\"mail-html\">\n");
                out.push_str(&html);
                out.push_str("\n</section>\n");
            }
            Body::Text(t) => {
                out.push_str("<pre class=\"mail-text\">");
                out.push_str(&linkify(t.trim_end()));
                out.push_str("</pre>\n");
            }
        }
    }
}

fn attachment_list(out: &mut String, s: &Shown, d: &Decoded, links: &PageLinks) {
    let items: Vec<usize> = s
        .items
        .iter()
        .filter_map(|i| match i {
            Item::Attachment(i) => Some(*i),
            Item::Message(_) => None,
        })
        .filter(|&i| i < d.attachments.len())
        .collect();
    if items.is_empty() {
        return;
    }
    out.push_str("<h2>Attachments</h2>\n<ul class=\"attachments\">\n");
    for i in items {
        let a = &d.attachments[i];
        let (href, extra) = if active(a) {
            let href = format!("{}/{}.txt", links.as_text, url_component(&a.name));
            (href, format!(" download=\"{}\"", escape(&a.name)))
        } else {
            (
                format!("{}/{}", links.files, url_component(&a.name)),
                String::new(),
            )
        };
        let _ = write!(
            out,
            "<li><a class=\"attachment\" href=\"{}\"{extra}>📎 {}</a> <span class=\"meta\">({}, {})</span>",
            escape(&href),
            escape(&a.name),
            escape(&a.content_type),
            human_size(a.data.len() as u64)
        );
        if active(a) {
            out.push_str(" <span class=\"note\">opens as text here: a web page or drawing from a stranger could run the sender's code or contact the sender; its file is ");
            escape_into(out, &format!("{}/{}", links.files, a.name));
            out.push_str("</span>");
        }
        if let Some(o) = &a.original_name
            && *o != a.name
        {
            // As sent, with invisible and direction characters written out.
            let _ = write!(
                out,
                " <span class=\"meta\">sent as “{}”</span>",
                escape(&visible(o))
            );
        }
        out.push_str("</li>\n");
    }
    out.push_str("</ul>\n");
}

/// The folder of the plain-text copies of [`active`] attachments, beside the page.
pub fn as_text_dir(stem: &str) -> String {
    format!("{stem}.as-text")
}

/// Whether a browser opening this attachment from disk could run it as a page
/// (scripts, remote loads): by the saved name's extension, which is what a browser goes
/// by for a local file — HTML, XHTML, SVG, XML (style sheets), MHTML —, and for an
/// extension a browser may not know (it then sniffs the content), by a markup type or
/// content that starts with `<`.
pub fn active(a: &Part) -> bool {
    let ext = a
        .name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    const LIVE: &[&str] = &[
        "html", "htm", "shtml", "shtm", "xhtml", "xht", "svg", "svgz", "xml", "xsl", "xslt", "mht",
        "mhtml",
    ];
    // Extensions browsers map to a type they never run as a page.
    const INERT: &[&str] = &[
        "txt", "pdf", "png", "jpg", "jpeg", "gif", "webp", "bmp", "ico", "tif", "tiff", "heic",
        "zip", "gz", "tgz", "bz2", "xz", "7z", "rar", "tar", "doc", "docx", "xls", "xlsx", "ppt",
        "pptx", "odt", "ods", "odp", "rtf", "csv", "ics", "vcf", "json", "mp3", "mp4", "m4a",
        "wav", "ogg", "oga", "webm", "mov", "avi", "eml",
    ];
    if LIVE.contains(&ext.as_str()) {
        return true;
    }
    if INERT.contains(&ext.as_str()) {
        return false;
    }
    let data = a.data.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&a.data);
    matches!(
        a.content_type.as_str(),
        "text/html" | "application/xhtml+xml" | "image/svg+xml" | "text/xml" | "application/xml"
    ) || data.trim_ascii_start().starts_with(b"<")
}

fn attached(out: &mut String, s: &Shown, d: &Decoded, links: &PageLinks, blocked: &mut usize) {
    for i in &s.items {
        if let Item::Message(m) = i {
            out.push_str("<section class=\"attached\">\n<h2>Attached message</h2>\n");
            headers_table(out, m, None);
            attachment_list(out, m, d, links);
            body(out, m, d, links, blocked);
            attached(out, m, d, links, blocked);
            out.push_str("</section>\n");
        }
    }
}

/// The page of one message.
pub fn message_page(d: &Decoded, info: &PageInfo, links: &PageLinks) -> String {
    message_page_noted(d, info, links, None)
}

/// The page of one message with a `note` (text) under its heading.
pub fn message_page_noted(
    d: &Decoded,
    info: &PageInfo,
    links: &PageLinks,
    note: Option<&str>,
) -> String {
    let subject = d
        .subject
        .as_deref()
        .filter(|s| !s.trim().is_empty())
        .unwrap_or("(no subject)");
    let mut out = String::with_capacity(4096 + d.text.len() * 2);
    head(&mut out, subject);
    let _ = writeln!(
        out,
        "<nav><a class=\"index\" href=\"{}\">← All messages for {}</a></nav>\n<main>",
        escape(&links.index),
        escape(info.mailbox)
    );
    out.push_str("<h1>");
    escape_into(&mut out, subject);
    out.push_str("</h1>\n");
    if let Some(n) = note {
        out.push_str("<p class=\"note verdict\">");
        escape_into(&mut out, n);
        out.push_str("</p>\n");
    }
    headers_table(&mut out, &d.shown, Some(&local_time(info.arrival)));
    attachment_list(&mut out, &d.shown, d, links);
    if let Some(e) = &links.eml {
        let _ = writeln!(
            out,
            "<p class=\"meta\"><a class=\"eml\" href=\"{}\">Download the original message (.eml, {})</a> — opens in Outlook, Apple Mail or Thunderbird.</p>",
            escape(e),
            human_size(info.size)
        );
    }
    let mut blocked = 0;
    let mut rest = String::new();
    body(&mut rest, &d.shown, d, links, &mut blocked);
    attached(&mut rest, &d.shown, d, links, &mut blocked);
    if blocked > 0 {
        let _ = writeln!(
            out,
            "<p class=\"note\">{blocked} picture{} from the internet {} not shown, to protect your privacy (they could tell the sender you read this).</p>",
            if blocked == 1 { "" } else { "s" },
            if blocked == 1 { "is" } else { "are" }
        );
    }
    out.push_str(&rest);
    let _ = writeln!(
        out,
        "<p class=\"meta\">Queue ID {}</p>\n</main>\n</body>\n</html>",
        escape(info.queue_id)
    );
    out
}

/// One line of the index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub arrival: i64,
    pub from: Option<String>,
    pub subject: Option<String>,
    pub size: u64,
    pub attachments: usize,
    /// The message page, relative to the index (`html/<stem>.html`).
    pub page: String,
    /// A filter failed on this message: the row says it was not checked.
    pub unscanned: bool,
}

/// The start of `index.html`, before the rows (which follow newest first).
pub fn index_head(address: &str, count: usize) -> String {
    let mut out = index_intro(address, count);
    out.push_str(TABLE_OPEN);
    out
}

/// The opening of a list of messages (the inbox's, Junk's).
const TABLE_OPEN: &str = "<table class=\"list\">\n<thead><tr><th>Received</th><th>From</th><th>Subject</th><th>Size</th><th><span title=\"attachments\">📎</span></th></tr></thead>\n<tbody>\n";

/// Ends the inbox's list and starts Junk's: a heading of its own, what it is, a list.
fn spam_section(out: &mut String, count: usize) {
    out.push_str("</tbody>\n</table>\n<section class=\"spam\" id=\"spam\">\n");
    let _ = writeln!(
        out,
        "<h2>Spam: {count} message{}</h2>\n<p class=\"note\">The spam filter judged these to be spam. They are kept here, apart from your mail, in case the filter was wrong: open them with care, and do not follow their links or open their attachments unless you are sure of the sender. In a mail program they are in the Junk folder.</p>\n</section>",
        if count == 1 { "" } else { "s" },
    );
    out.push_str(TABLE_OPEN);
}

/// The notice of the messages withheld from this bundle: how many, and for each why
/// (virus name, or spam), sender, subject and time — no link, no body.
pub fn withheld_section(out: &mut String, held: &[Summary]) {
    let n = held.len();
    let _ = writeln!(
        out,
        "<section class=\"withheld\" id=\"withheld\">\n<h2>{n} message{} withheld</h2>\n<p class=\"note\">Not put here: a virus scanner found malware in these, or the spam filter judged them to be spam. They cannot be opened here. If you expected one of them, ask your mail administrator, who has kept them.</p>",
        if n == 1 { "" } else { "s" },
    );
    out.push_str("<table class=\"list\">\n<thead><tr><th>Received</th><th>From</th><th>Subject</th><th>Why</th></tr></thead>\n<tbody>\n");
    for s in held {
        let notice = s.notice();
        let _ = writeln!(
            out,
            "<tr><td class=\"date\">{}</td><td class=\"from\">{}</td><td class=\"subject\">{}</td><td class=\"why\">{}</td></tr>",
            escape(&local_time(s.arrival_unix)),
            escape(&notice.from),
            escape(notice.subject),
            escape(&notice.why),
        );
    }
    out.push_str("</tbody>\n</table>\n</section>\n");
}

/// `index.html` up to the lists: the title, the heading and what the page is.
fn index_intro(address: &str, count: usize) -> String {
    let mut out = String::with_capacity(8192);
    head(&mut out, &format!("Mail for {address}"));
    out.push_str("<main>\n<h1>Mail for ");
    escape_into(&mut out, address);
    out.push_str("</h1>\n");
    let _ = writeln!(
        out,
        "<p class=\"intro\">{count} message{} kept for you by the backup mail server while your mail server was unreachable. Newest first; click a subject to read the message. Times are {}.</p>",
        if count == 1 { "" } else { "s" },
        zone_phrase()
    );
    out
}

/// The time zone the index's times are in, in words.
fn zone_phrase() -> String {
    let now = crate::timefmt::now();
    match Local.timestamp_opt(now, 0).single() {
        Some(t) if t.offset().local_minus_utc() != 0 => {
            format!("in your server's time zone (UTC{})", t.format("%:z"))
        }
        _ => "in UTC".into(),
    }
}

/// The marker of a message a filter failed on, after its subject in the index.
pub const UNSCANNED_MARK: &str = " <span class=\"note unscanned\" title=\"a spam or virus filter failed on this message\">not checked for spam or viruses</span>";

/// One row of `index.html`.
pub fn index_row(out: &mut String, r: &Row) {
    let subject = r
        .subject
        .as_deref()
        .filter(|s| !s.trim().is_empty())
        .unwrap_or("(no subject)");
    let _ = write!(
        out,
        "<tr><td class=\"date\">{}</td><td class=\"from\">{}</td><td class=\"subject\"><a href=\"{}\">{}</a>{}</td><td class=\"size\">{}</td><td class=\"att\">",
        escape(&local_time(r.arrival)),
        escape(r.from.as_deref().unwrap_or("")),
        escape(&r.page),
        escape(subject),
        if r.unscanned { UNSCANNED_MARK } else { "" },
        human_size(r.size)
    );
    if r.attachments > 0 {
        let _ = write!(
            out,
            "<span title=\"{} attachment{}\">📎</span>",
            r.attachments,
            if r.attachments == 1 { "" } else { "s" }
        );
    }
    out.push_str("</td></tr>\n");
}

/// The end of `index.html`: what else is in the bundle.
pub fn index_tail(others: &[(&str, &str)]) -> String {
    let mut out = String::from("</tbody>\n</table>\n");
    if !others.is_empty() {
        out.push_str("<h2>The same mail in other forms</h2>\n<ul>\n");
        for (path, what) in others {
            let _ = writeln!(
                out,
                "<li><code>{}</code> — {}</li>",
                escape(path),
                escape(what)
            );
        }
        out.push_str("</ul>\n");
    }
    out.push_str("</main>\n</body>\n</html>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::decode;

    fn links() -> PageLinks {
        PageLinks {
            as_text: "S.as-text".into(),
            index: "../index.html".into(),
            files: "../text/S.files".into(),
            eml: Some("../eml/S.eml".into()),
        }
    }

    fn info() -> PageInfo<'static> {
        PageInfo {
            queue_id: "ABC",
            arrival: 1_700_000_000,
            size: 1234,
            mailbox: "alice@example.com",
        }
    }

    #[test]
    fn sizes_urls_links() {
        for (n, want) in [
            (0, "0 bytes"),
            (2048, "2 KB"),
            (5 * 1024 * 1024 / 2, "2.5 MB"),
        ] {
            assert_eq!(human_size(n), want, "{n}");
        }
        for (name, want) in [
            ("a b#c%d?.pdf", "a%20b%23c%25d%3F.pdf"),
            ("résumé.txt", "r%C3%A9sum%C3%A9.txt"),
        ] {
            assert_eq!(url_component(name), want, "{name}");
        }
        assert_eq!(url_path("../text/x y.files/a"), "../text/x%20y.files/a");
        for (text, want) in [
            (
                "see https://example.com/a?b=1&c=2. or HTTP://x.example/) <b>",
                "see <a href=\"https://example.com/a?b=1&amp;c=2\" rel=\"noopener noreferrer\">https://example.com/a?b=1&amp;c=2</a>. or <a href=\"HTTP://x.example/\" rel=\"noopener noreferrer\">HTTP://x.example/</a>) &lt;b&gt;",
            ),
            ("http:// x https://", "http:// x https://"),
        ] {
            assert_eq!(linkify(text), want, "{text}");
        }
    }

    #[test]
    fn hostile_message_page_is_escaped() {
        let raw = "From: \"<script>alert(1)</script>\" <evil@example.net>\nTo: a@example.com\nSubject: <img src=x onerror=alert(1)> &amp;\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=B\n\n--B\nContent-Type: text/html\n\n<p onclick=x>Hi <img src=\"https://tracker.example/p.gif\"><script>alert(2)</script></p></section></main><h1>fake</h1>\n--B\nContent-Type: application/octet-stream\nContent-Disposition: attachment; filename=\"\\\"><script>alert(3)</script>.txt\"\n\nx\n--B--\n";
        let d = decode(raw.as_bytes(), "S.files");
        let page = message_page(&d, &info(), &links());
        let l = page.to_ascii_lowercase();
        assert!(!l.contains("<script"), "{page}");
        assert!(
            !l.contains("onerror") || l.contains("onerror=alert(1)&gt;"),
            "{page}"
        );
        assert!(!l.contains("onclick"), "{page}");
        assert!(!l.contains("tracker.example"), "{page}");
        assert_eq!(page.matches("</main>").count(), 1);
        assert!(page.contains("1 picture from the internet is not shown"));
        assert!(
            page.contains("&lt;img src=x onerror=alert(1)&gt; &amp;amp;"),
            "{page}"
        );
        // The attachment's link is made of its safe name only.
        let a = &d.attachments[0];
        assert!(page.contains(&format!(
            "href=\"../text/S.files/{}\"",
            url_component(&a.name)
        )));
        assert!(page.contains("Content-Security-Policy"));
    }

    /// r13: the name as sent is shown with its direction controls written out.
    #[test]
    fn r13_sent_as_shows_no_bidi_controls() {
        let raw = "From: spam@evil.example\nSubject: invoice\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=B\n\n--B\nContent-Type: text/plain\n\nsee attached\n--B\nContent-Type: application/octet-stream\nContent-Disposition: attachment; filename=\"invoice\u{202E}txt.exe\"\n\nMZ\n--B--\n";
        let d = decode(raw.as_bytes(), "S.files");
        assert_eq!(d.attachments[0].name, "invoice_txt.exe");
        let page = message_page(&d, &info(), &links());
        assert!(
            !page.contains(|c| matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')),
            "{page}"
        );
        assert!(page.contains("sent as “invoice[U+202E]txt.exe”"), "{page}");
        assert!(!d.text.contains('\u{202E}'), "{}", d.text);
    }

    /// r12: HTML, SVG and markup attachments are linked only as plain-text copies.
    #[test]
    fn r12_live_attachments_are_linked_as_text() {
        let raw = "From: spam@evil.example\nSubject: your invoice\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=B\n\n--B\nContent-Type: multipart/related; boundary=R\n\n--R\nContent-Type: text/html\n\n<a href=\"cid:page@x\">the page</a><img src=\"cid:page@x\">\n--R\nContent-Type: text/html\nContent-ID: <page@x>\n\n<script>fetch('http://127.0.0.1:9/cid')</script>\n--R--\n--B\nContent-Type: text/html\nContent-Disposition: attachment; filename=\"invoice.html\"\n\n<script>fetch('http://127.0.0.1:9/js')</script>\n--B\nContent-Type: image/svg+xml\nContent-Disposition: attachment; filename=\"photo.svg\"\n\n<svg xmlns='http://www.w3.org/2000/svg' onload=\"fetch('http://127.0.0.1:9/svg')\"/>\n--B\nContent-Type: application/octet-stream\nContent-Disposition: attachment; filename=\"data.bin\"\n\n  <script>x</script>\n--B\nContent-Type: application/pdf\nContent-Disposition: attachment; filename=\"report.pdf\"\n\n%PDF-1.4\n--B--\n";
        let d = decode(raw.as_bytes(), "S.files");
        let names: Vec<(&str, bool)> = d
            .attachments
            .iter()
            .map(|a| (a.name.as_str(), active(a)))
            .collect();
        assert_eq!(
            names,
            [
                ("part-1.html", true),
                ("invoice.html", true),
                ("photo.svg", true),
                ("data.bin", true),
                ("report.pdf", false)
            ]
        );
        let page = message_page(&d, &info(), &links());
        for n in ["part-1.html", "invoice.html", "photo.svg", "data.bin"] {
            assert!(
                page.contains(&format!("href=\"S.as-text/{n}.txt\" download=\"{n}\"")),
                "{n}: {page}"
            );
            assert!(!page.contains(&format!("S.files/{n}\"")), "{n}: {page}");
        }
        assert!(page.contains("href=\"../text/S.files/report.pdf\">"));
        assert!(!page.to_ascii_lowercase().contains("cid:"), "{page}");
    }

    #[test]
    fn index_rows() {
        let mut s = index_head("<b>@example.com", 2);
        index_row(
            &mut s,
            &Row {
                arrival: 1_700_000_000,
                from: Some("Bob <bob@example.com>".into()),
                subject: Some("日本語の件名".into()),
                size: 3000,
                attachments: 2,
                page: "html/20231114-221320_ABC.html".into(),
                unscanned: false,
            },
        );
        s.push_str(&index_tail(&[("mail.mbox", "for Thunderbird")]));
        assert!(s.contains("Mail for &lt;b&gt;@example.com"));
        assert!(s.contains("<td class=\"from\">Bob &lt;bob@example.com&gt;</td>"));
        assert!(s.contains(">日本語の件名</a>"));
        assert!(s.contains("2 attachments"));
        assert!(s.contains("3 KB"));
    }
}
