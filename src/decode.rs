//! MIME → readable text and attachment files, for the `text/` export format.
//!
//! Owns: turning one message (the archive copy's bytes) into a UTF-8 text rendering —
//! a decoded header block (Date, From, To, Cc, Subject), the readable body (text/plain
//! as is, HTML-only mail through a small tag stripper), nested `message/rfc822` parts
//! rendered inline — plus every attachment decoded, under a safe unique file name,
//! and the summary fields of the manifest (Message-ID raw, Subject, From, Date).
//! Decoding is mail-parser's (RFC 2045–2049, 2047, 2231, 6532; with `full_encoding`
//! the Japanese charsets). In: message bytes. Out: [`Decoded`]. Never fails: damaged
//! or undecodable parts are rendered as far as possible and reported in `warnings`.

use std::collections::BTreeSet;

use mail_parser::decoders::charsets::map::charset_decoder;
use mail_parser::{Address, Message, MessageParser, MimeHeaders, PartType};

use crate::export::names::attachment_name;

/// One decoded attachment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// Safe file name (unique within the message).
    pub name: String,
    /// The name the sender gave (decoded), if any.
    pub original_name: Option<String>,
    pub content_type: String,
    pub data: Vec<u8>,
}

/// The readable form of one message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Decoded {
    /// The Message-ID header value as raw bytes (unfolded, trimmed).
    pub message_id: Option<Vec<u8>>,
    pub subject: Option<String>,
    /// First From address, `Name <addr>`.
    pub from: Option<String>,
    /// The Date header in RFC 3339, when it parses.
    pub date: Option<String>,
    /// The text rendering (UTF-8, LF).
    pub text: String,
    pub attachments: Vec<Part>,
    pub warnings: Vec<String>,
}

/// Unfolded raw value of the first header `name` in the top header block.
pub fn raw_header(raw: &[u8], name: &str) -> Option<Vec<u8>> {
    let mut value: Option<Vec<u8>> = None;
    for line in raw.split(|&c| c == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            break;
        }
        if line[0] == b' ' || line[0] == b'\t' {
            if let Some(v) = value.as_mut() {
                v.push(b' ');
                v.extend_from_slice(line.trim_ascii());
            }
            continue;
        }
        if value.is_some() {
            break;
        }
        if let Some(colon) = line.iter().position(|&c| c == b':')
            && line[..colon]
                .trim_ascii()
                .eq_ignore_ascii_case(name.as_bytes())
        {
            value = Some(line[colon + 1..].trim_ascii().to_vec());
        }
    }
    value.filter(|v| !v.is_empty())
}

fn fmt_addr_list(a: &Address) -> String {
    let one = |x: &mail_parser::Addr| match (x.name(), x.address()) {
        (Some(n), Some(a)) if !n.is_empty() => format!("{n} <{a}>"),
        (_, Some(a)) => a.to_string(),
        (Some(n), None) => n.to_string(),
        (None, None) => String::new(),
    };
    match a {
        Address::List(l) => l.iter().map(one).collect::<Vec<_>>().join(", "),
        Address::Group(gs) => gs
            .iter()
            .map(|g| {
                let members = g.addresses.iter().map(one).collect::<Vec<_>>().join(", ");
                match &g.name {
                    Some(n) => format!("{n}: {members};"),
                    None => members,
                }
            })
            .collect::<Vec<_>>()
            .join(", "),
    }
}

fn header_block(m: &Message, out: &mut String) {
    let date = m
        .date()
        .map(|d| d.to_rfc822())
        .or_else(|| m.header_raw("Date").map(|s| s.trim().to_string()));
    let lines = [
        ("Date", date),
        ("From", m.from().map(fmt_addr_list)),
        ("To", m.to().map(fmt_addr_list)),
        ("Cc", m.cc().map(fmt_addr_list)),
        ("Subject", m.subject().map(str::to_string)),
    ];
    for (name, v) in lines {
        if let Some(v) = v {
            out.push_str(name);
            out.push_str(": ");
            out.push_str(&v.replace(['\r', '\n'], " "));
            out.push('\n');
        }
    }
}

fn ctype(p: &mail_parser::MessagePart) -> String {
    match p.content_type() {
        Some(ct) => match &ct.c_subtype {
            Some(s) => format!("{}/{}", ct.c_type, s).to_ascii_lowercase(),
            None => ct.c_type.to_ascii_lowercase(),
        },
        None => match p.body {
            PartType::Message(_) => "message/rfc822".into(),
            _ => "text/plain".into(),
        },
    }
}

struct Ctx<'a> {
    label: &'a str,
    used: BTreeSet<String>,
    attachments: Vec<Part>,
    warnings: Vec<String>,
    index: usize,
}

const MAX_DEPTH: usize = 8;

fn check_parts(m: &Message, ctx: &mut Ctx, depth: usize) {
    for (i, p) in m.parts.iter().enumerate() {
        let where_ = if depth == 0 {
            format!("MIME part {i}")
        } else {
            format!("MIME part {i} of an attached message")
        };
        if p.is_encoding_problem {
            ctx.warnings.push(format!(
                "{where_} ({}): content could not be decoded cleanly; rendered as far as possible",
                ctype(p)
            ));
        }
        if matches!(p.body, PartType::Text(_) | PartType::Html(_))
            && let Some(cs) = p.content_type().and_then(|ct| ct.attribute("charset"))
        {
            let known = matches!(
                cs.to_ascii_lowercase().as_str(),
                "utf-8" | "utf8" | "us-ascii" | "ascii"
            ) || charset_decoder(cs.as_bytes()).is_some();
            if !known {
                ctx.warnings.push(format!(
                    "{where_}: unknown charset {cs:?}; shown as UTF-8 with replacement characters"
                ));
            }
        }
    }
}

fn render(m: &Message, ctx: &mut Ctx, out: &mut String, depth: usize) {
    check_parts(m, ctx, depth);
    header_block(m, out);
    out.push('\n');
    let mut any = false;
    for &id in &m.text_body {
        let Some(p) = m.parts.get(id as usize) else {
            continue;
        };
        let body = match &p.body {
            PartType::Text(t) => t.to_string(),
            PartType::Html(h) => html_to_text(h),
            _ => continue,
        };
        if any {
            out.push_str("\n\n");
        }
        any = true;
        out.push_str(body.replace("\r\n", "\n").trim_end_matches('\n'));
        out.push('\n');
    }
    if !any {
        out.push_str("(no readable text in this message)\n");
    }
    let mut listed = Vec::new();
    for &id in &m.attachments {
        let Some(p) = m.parts.get(id as usize) else {
            continue;
        };
        match &p.body {
            PartType::Message(nested) => {
                out.push_str("\n---------- attached message ----------\n");
                if depth + 1 >= MAX_DEPTH {
                    out.push_str("(nested too deeply to show)\n");
                } else {
                    render(nested, ctx, out, depth + 1);
                }
                out.push_str("---------- end of attached message ----------\n");
            }
            PartType::Multipart(_) => {}
            PartType::Text(_)
            | PartType::Html(_)
            | PartType::Binary(_)
            | PartType::InlineBinary(_) => {
                ctx.index += 1;
                let ct = ctype(p);
                let original = p.attachment_name().map(str::to_string);
                let name = attachment_name(original.as_deref(), ctx.index, &ct, &mut ctx.used);
                let data = p.contents().to_vec();
                listed.push(format!(
                    "  {name} ({ct}, {} bytes){}",
                    data.len(),
                    match &original {
                        Some(o) if *o != name => format!("  [sent as {o:?}]"),
                        _ => String::new(),
                    }
                ));
                ctx.attachments.push(Part {
                    name,
                    original_name: original,
                    content_type: ct,
                    data,
                });
            }
        }
    }
    if !listed.is_empty() {
        out.push_str(&format!(
            "\n---------- attachments (in {}/) ----------\n",
            ctx.label
        ));
        for l in listed {
            out.push_str(&l);
            out.push('\n');
        }
    }
}

/// Decodes one message. `files_label` is the attachment folder's name, shown in the text.
pub fn decode(raw: &[u8], files_label: &str) -> Decoded {
    let mut d = Decoded {
        message_id: raw_header(raw, "Message-ID"),
        ..Decoded::default()
    };
    let Some(m) = MessageParser::default().parse(raw) else {
        d.text = "(the message could not be parsed; see the .eml copy)\n".into();
        d.warnings
            .push("message could not be parsed as MIME; text form is empty".into());
        return d;
    };
    d.subject = m.subject().map(str::to_string);
    d.from = m.from().map(fmt_addr_list).filter(|s| !s.is_empty());
    d.date = m.date().map(|t| t.to_rfc3339());
    let mut ctx = Ctx {
        label: files_label,
        used: BTreeSet::new(),
        attachments: Vec::new(),
        warnings: Vec::new(),
        index: 0,
    };
    let mut text = String::new();
    render(&m, &mut ctx, &mut text, 0);
    d.text = text;
    d.attachments = ctx.attachments;
    d.warnings = ctx.warnings;
    d
}

const BLOCK: &[&str] = &[
    "p",
    "div",
    "br",
    "tr",
    "li",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "table",
    "blockquote",
    "hr",
    "ul",
    "ol",
    "pre",
    "section",
    "article",
    "header",
    "footer",
    "dd",
    "dt",
    "title",
];

fn entity(name: &str) -> Option<char> {
    if let Some(num) = name.strip_prefix('#') {
        let v = match num.strip_prefix(['x', 'X']) {
            Some(h) => u32::from_str_radix(h, 16).ok()?,
            None => num.parse().ok()?,
        };
        return Some(
            char::from_u32(v)
                .filter(|c| *c != '\0')
                .unwrap_or('\u{FFFD}'),
        );
    }
    Some(match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        "nbsp" => '\u{A0}',
        "copy" => '©',
        "reg" => '®',
        "trade" => '™',
        "hellip" => '…',
        "mdash" => '—',
        "ndash" => '–',
        "lsquo" => '‘',
        "rsquo" => '’',
        "ldquo" => '“',
        "rdquo" => '”',
        "laquo" => '«',
        "raquo" => '»',
        "euro" => '€',
        "yen" => '¥',
        "pound" => '£',
        "middot" => '·',
        "bull" => '•',
        "times" => '×',
        "deg" => '°',
        "auml" => 'ä',
        "ouml" => 'ö',
        "uuml" => 'ü',
        "Auml" => 'Ä',
        "Ouml" => 'Ö',
        "Uuml" => 'Ü',
        "szlig" => 'ß',
        "eacute" => 'é',
        "egrave" => 'è',
        "agrave" => 'à',
        "ccedil" => 'ç',
        _ => return None,
    })
}

/// A small HTML → text converter: drops tags, comments, `head`/`style`/`script`;
/// decodes entities; newlines at block elements; `* ` before list items; collapses
/// white space outside `pre`.
pub fn html_to_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len() / 2);
    let mut skip: Option<String> = None;
    let mut pre = 0usize;
    let mut rest = html;
    let mut space = false;
    let newline = |out: &mut String| {
        while out.ends_with(' ') {
            out.pop();
        }
        if !out.is_empty() && !out.ends_with("\n\n") {
            out.push('\n');
        }
    };
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix("<!--") {
            rest = r.find("-->").map(|i| &r[i + 3..]).unwrap_or("");
            continue;
        }
        if rest.starts_with('<') {
            // An unclosed tag runs to the end of the text.
            let (tag, after) = match rest.find('>') {
                Some(end) => (&rest[1..end], &rest[end + 1..]),
                None => (&rest[1..], ""),
            };
            rest = after;
            let closing = tag.starts_with('/');
            let name: String = tag
                .trim_start_matches('/')
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric())
                .collect::<String>()
                .to_ascii_lowercase();
            if let Some(s) = &skip {
                if closing && name == *s {
                    skip = None;
                }
                continue;
            }
            match name.as_str() {
                "head" | "style" | "script" | "template" if !closing => skip = Some(name),
                "pre" => {
                    pre = if closing {
                        pre.saturating_sub(1)
                    } else {
                        pre + 1
                    };
                    newline(&mut out);
                }
                "li" if !closing => {
                    newline(&mut out);
                    out.push_str("* ");
                }
                "td" | "th" if closing => out.push('\t'),
                "br" => out.push('\n'),
                n if BLOCK.contains(&n) => newline(&mut out),
                _ => {}
            }
            space = false;
            continue;
        }
        if skip.is_some() {
            let next = rest.find('<').unwrap_or(rest.len());
            rest = &rest[next..];
            continue;
        }
        let c = rest.chars().next().unwrap_or(' ');
        if c == '&' {
            let semi = rest[1..].find(';').filter(|&i| i <= 10);
            if let Some(i) = semi
                && let Some(ch) = entity(&rest[1..1 + i])
            {
                out.push(if ch == '\u{A0}' { ' ' } else { ch });
                rest = &rest[i + 2..];
                space = false;
                continue;
            }
        }
        rest = &rest[c.len_utf8()..];
        if pre == 0 && c.is_whitespace() {
            if !space && !out.is_empty() && !out.ends_with('\n') {
                out.push(' ');
            }
            space = true;
            continue;
        }
        space = false;
        out.push(c);
    }
    let mut s: String = out
        .lines()
        .map(str::trim_end)
        .collect::<Vec<_>>()
        .join("\n");
    while s.contains("\n\n\n") {
        s = s.replace("\n\n\n", "\n\n");
    }
    s.trim().to_string() + "\n"
}

#[cfg(test)]
mod tests {

    /// Found by the mime_text fuzz target: an unclosed tag ending in a multi-byte
    /// character made the converter slice inside that character.
    #[test]
    fn unclosed_tag_ending_in_multibyte_char() {
        assert_eq!(html_to_text("text <b\u{fffd}").trim_end(), "text");
        let _ = html_to_text("<\u{e9}");
        let _ = html_to_text("<");
    }

    use super::*;

    #[test]
    fn html() {
        let t = html_to_text(
            "<html><head><title>x</title><style>p{}</style></head><body><p>Hello&nbsp;&amp; <b>world</b></p><ul><li>one<li>two</ul><!-- c --><div>&#x3042;&#12354;</div></body></html>",
        );
        assert_eq!(t, "Hello & world\n\n* one\n* two\n\nああ\n");
    }

    #[test]
    fn japanese_iso2022jp() {
        // "テスト" in ISO-2022-JP, subject as an encoded word.
        let raw = b"From: =?ISO-2022-JP?B?GyRCJUYlOSVIGyhC?= <a@example.jp>\nTo: b@example.jp\nSubject: =?ISO-2022-JP?B?GyRCJUYlOSVIGyhC?=\nMessage-ID: <1@x>\nMIME-Version: 1.0\nContent-Type: text/plain; charset=ISO-2022-JP\nContent-Transfer-Encoding: 7bit\n\n\x1b$B%F%9%H\x1b(B\n";
        let d = decode(raw, "x.files");
        assert_eq!(d.subject.as_deref(), Some("テスト"));
        assert_eq!(d.from.as_deref(), Some("テスト <a@example.jp>"));
        assert_eq!(d.message_id.as_deref(), Some(&b"<1@x>"[..]));
        assert!(d.text.contains("\n\nテスト\n"), "{}", d.text);
        assert!(d.warnings.is_empty(), "{:?}", d.warnings);
    }

    #[test]
    fn attachments_and_nested() {
        let raw = b"From: a@x\nSubject: s\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=B\n\n--B\nContent-Type: text/plain\n\nbody\n--B\nContent-Type: application/octet-stream; name=\"../../etc/passwd\"\nContent-Disposition: attachment; filename=\"../../etc/passwd\"\nContent-Transfer-Encoding: base64\n\naGVsbG8=\n--B\nContent-Type: message/rfc822\n\nFrom: c@y\nSubject: inner\nContent-Type: multipart/mixed; boundary=C\n\n--C\nContent-Type: text/plain\n\ninner body\n--C\nContent-Type: text/plain; name=notes.txt\nContent-Disposition: attachment; filename=notes.txt\n\nnotes\n--C--\n--B--\n";
        let d = decode(raw, "s.files");
        let names: Vec<&str> = d.attachments.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["passwd", "notes.txt"]);
        assert_eq!(d.attachments[0].data, b"hello");
        assert_eq!(
            d.attachments[0].original_name.as_deref(),
            Some("../../etc/passwd")
        );
        assert!(d.text.contains("Subject: inner"), "{}", d.text);
        assert!(d.text.contains("inner body"));
    }
}
