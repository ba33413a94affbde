//! MIME → readable text, attachment files and the structure the HTML view shows.
//!
//! Owns: turning one message (the archive copy's bytes) into a UTF-8 text rendering —
//! a decoded header block (Date, From, To, Cc, Subject), the readable body (text/plain
//! as is, HTML-only mail through [`html::html_to_text`], which keeps link addresses),
//! nested `message/rfc822` parts rendered inline — plus every attachment decoded,
//! under a safe unique file name, the same content as a [`Shown`] tree for the HTML
//! view, and the summary fields of the manifest (Message-ID raw, Subject, From, Date).
//! Decoding is mail-parser's (RFC 2045–2049, 2047, 2231, 6532; with `full_encoding`
//! the Japanese charsets), patched in vendor/mail-parser (README.mxsalvage.md there),
//! plus uuencode ([`uu`]: x-uuencode parts, files uuencoded in text bodies). In: message
//! bytes. Out: [`Decoded`]. Never fails: damaged or undecodable parts are rendered as
//! far as possible and reported in `warnings` (an unknown transfer encoding, a damaged
//! uuencoded file, a part without the empty line after its headers, an unknown charset).
//!
//! Depth is bounded ([`MAX_NESTING`]; Postfix's own `mime_nesting_limit` is 100):
//! mail-parser builds a tree with one level per attached message and frees it
//! recursively, and it parses a base64/quoted-printable encoded attached message
//! recursively, so a message nested 40,000 deep would overflow the stack and abort
//! the whole export. A first, structure-only parse (Content-Type only, transfer
//! encodings ignored, so mail-parser never recurses) finds every attached message;
//! those nested deeper than the bound, and encoded ones (RFC 2046 allows only
//! 7bit/8bit/binary there), get a neutral Content-Type in a private copy of the bytes
//! before the real parse, which then sees them as plain attachments: the deep ones are
//! saved raw (`part-N.eml`, with a warning), the encoded ones are decoded and rendered
//! by this module itself, within the same bound. The first tree is freed iteratively.

pub mod html;
pub mod names;
pub mod uu;

use std::collections::HashMap;

use mail_parser::decoders::charsets::map::charset_decoder;
use mail_parser::{Address, HeaderName, Message, MessageParser, MimeHeaders, PartType};

use names::{NameSet, attachment_name};

/// Attached messages nested deeper than this are saved raw instead of shown.
pub const MAX_NESTING: usize = 100;

/// Encoded attached messages (base64/quoted-printable, against RFC 2046) inside one
/// another that are still decoded and shown (mail-parser's own bound is 3).
const MAX_ENCODED: usize = 3;

/// One decoded attachment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// Safe file name (unique within the message).
    pub name: String,
    /// The name the sender gave (decoded), if any.
    pub original_name: Option<String>,
    pub content_type: String,
    /// The Content-ID without `<>`, for `cid:` references from HTML.
    pub content_id: Option<String>,
    pub data: Vec<u8>,
}

/// A readable body part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    /// Plain text (UTF-8, LF).
    Text(String),
    /// HTML as the sender wrote it (UTF-8, not sanitised: [`html::sanitize`] it).
    Html(String),
}

/// An attachment or an attached message, in the order of the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// Index into [`Decoded::attachments`].
    Attachment(usize),
    Message(Box<Shown>),
}

/// One message (the top one or an attached one) as the HTML view shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Shown {
    /// Decoded header fields (Date, From, To, Cc, Subject when present), one line each.
    pub headers: Vec<(&'static str, String)>,
    pub bodies: Vec<Body>,
    pub items: Vec<Item>,
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
    /// Every readable body part as decoded (plain text, or HTML source), with the name
    /// it was sent under if any, in the order rendered: with [`Decoded::attachments`],
    /// every leaf part of the message (compared with Python's `email` in the tests).
    pub body_parts: Vec<(Option<String>, String)>,
    /// The same content, structured for the HTML view.
    pub shown: Shown,
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

fn headers_of(m: &Message) -> Vec<(&'static str, String)> {
    let date = m
        .date()
        .map(|d| d.to_rfc822())
        .or_else(|| m.header_raw("Date").map(|s| s.trim().to_string()));
    [
        ("Date", date),
        ("From", m.from().map(fmt_addr_list)),
        ("To", m.to().map(fmt_addr_list)),
        ("Cc", m.cc().map(fmt_addr_list)),
        ("Subject", m.subject().map(str::to_string)),
    ]
    .into_iter()
    .filter_map(|(n, v)| v.map(|v| (n, v.replace(['\r', '\n'], " "))))
    .collect()
}

/// Why a part was given a neutral type before the real parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Neutral {
    /// An attached message nested deeper than the bound: saved raw.
    TooDeep,
    /// An attached message with a transfer encoding: decoded and shown by us.
    Encoded,
}

/// The parse-ready bytes of one message: the original, or a copy in which some
/// attached messages have a neutral Content-Type, with those parts by the offset of
/// that Content-Type's value in the copy.
struct Prepared<'a> {
    bytes: std::borrow::Cow<'a, [u8]>,
    neutral: HashMap<u32, (Neutral, String)>,
}

/// Parses `raw`; `None` when mail-parser finds no message (or trips its own debug
/// assertion, found by the mime_text fuzzer; compiled out of release builds).
fn parse<'a>(parser: &MessageParser, raw: &'a [u8]) -> Option<Message<'a>> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| parser.parse(raw)))
        .ok()
        .flatten()
}

/// Frees a message tree of any depth without recursion.
fn free_iteratively(m: Message) {
    let mut stack = vec![m];
    while let Some(mut m) = stack.pop() {
        for p in &mut m.parts {
            if let PartType::Message(_) = &p.body
                && let PartType::Message(inner) = std::mem::take(&mut p.body)
            {
                stack.push(inner);
            }
        }
    }
}

/// One planned edit of the private copy: at `at`, remove `del` bytes, insert `ins`;
/// the part it neutralises is of `kind` and was originally of type `ct`.
struct Edit {
    at: usize,
    del: usize,
    ins: String,
    kind: Neutral,
    ct: String,
}

/// The structure-only parse and the edits it calls for (see the module comment).
/// `budget` is how many levels of attached messages may still be shown.
fn prepare(raw: &[u8], budget: usize) -> Prepared<'_> {
    let structure = MessageParser::new()
        .header_content_type(HeaderName::ContentType)
        .default_header_ignore();
    let Some(top) = parse(&structure, raw) else {
        return Prepared {
            bytes: raw.into(),
            neutral: HashMap::new(),
        };
    };
    let edits = plan_edits(&top, raw, budget);
    free_iteratively(top);
    apply_edits(raw, edits)
}

/// Walks the structure-only tree and lists the edits that neutralise attached
/// messages nested deeper than `budget` or carrying a transfer encoding.
fn plan_edits(top: &Message, raw: &[u8], budget: usize) -> Vec<Edit> {
    let mut edits = Vec::new();
    let mut stack: Vec<(&Message, usize)> = vec![(top, 0)];
    while let Some((m, depth)) = stack.pop() {
        let in_digest = digest_parts(m);
        for (i, p) in m.parts.iter().enumerate() {
            let inner = match &p.body {
                PartType::Message(inner) => Some(inner),
                // A message whose (still encoded) body did not parse as one.
                _ if matches!(ctype(p).as_str(), "message/rfc822" | "message/global")
                    || (p.content_type().is_none() && in_digest.contains(&(i as u32))) =>
                {
                    None
                }
                _ => continue,
            };
            let kind = if depth + 1 > budget {
                Neutral::TooDeep
            } else if !plain_encoding(p, raw) {
                Neutral::Encoded
            } else if let Some(inner) = inner {
                stack.push((inner, depth + 1));
                continue;
            } else {
                continue;
            };
            neutralise(p, raw, kind, &mut edits);
        }
    }
    edits
}

/// The ids of the parts of `m`'s multipart/digest parts: messages unless they say otherwise.
fn digest_parts(m: &Message) -> std::collections::HashSet<u32> {
    let mut in_digest = std::collections::HashSet::new();
    for p in &m.parts {
        if let PartType::Multipart(ids) = &p.body
            && ctype(p) == "multipart/digest"
        {
            in_digest.extend(ids.iter().copied());
        }
    }
    in_digest
}

/// Whether every Content-Transfer-Encoding of `p` is an identity one (7bit/8bit/binary).
fn plain_encoding(p: &mail_parser::MessagePart, raw: &[u8]) -> bool {
    p.headers
        .iter()
        .filter(|h| h.name == HeaderName::ContentTransferEncoding)
        .all(|h| {
            let v = raw
                .get(h.offset_start as usize..h.offset_end as usize)
                .unwrap_or_default();
            let v = String::from_utf8_lossy(v).trim().to_ascii_lowercase();
            matches!(v.as_str(), "" | "7bit" | "8bit" | "binary")
        })
}

/// Adds to `edits` what gives the attached message `p` a neutral Content-Type.
fn neutralise(p: &mail_parser::MessagePart, raw: &[u8], kind: Neutral, edits: &mut Vec<Edit>) {
    let ct = if p.content_type().is_none() {
        "message/rfc822".to_string()
    } else {
        ctype(p)
    };
    let cts: Vec<_> = p
        .headers
        .iter()
        .filter(|h| h.name == HeaderName::ContentType)
        .collect();
    if cts.is_empty() {
        // A part of a multipart/digest: message/rfc822 by default.
        edits.push(Edit {
            at: p.offset_header as usize,
            del: 0,
            ins: "Content-Type: application/octet-stream\n".into(),
            kind,
            ct,
        });
    } else {
        for h in cts {
            let (a, b) = (h.offset_start as usize, h.offset_end as usize);
            let v = raw.get(a..b).unwrap_or_default();
            let keep = v.len() - v.trim_ascii_end().len();
            let eol = &v[v.len() - keep..];
            let eol = if eol.contains(&b'\n') { "\n" } else { "" };
            edits.push(Edit {
                at: a,
                del: b - a,
                ins: format!(" application/octet-stream{eol}"),
                kind,
                ct: ct.clone(),
            });
        }
    }
}

/// Applies `edits` to a copy of `raw` (the original itself when there are none) and
/// records each neutralised part by where the real parse will see its type begin.
fn apply_edits(raw: &[u8], mut edits: Vec<Edit>) -> Prepared<'_> {
    if edits.is_empty() {
        return Prepared {
            bytes: raw.into(),
            neutral: HashMap::new(),
        };
    }
    edits.sort_by_key(|e| e.at);
    let mut out = Vec::with_capacity(raw.len() + edits.len() * 40);
    let mut neutral = HashMap::new();
    let mut at = 0;
    for Edit {
        at: off,
        del,
        ins,
        kind,
        ct,
    } in edits
    {
        if off < at || off + del > raw.len() {
            continue; // overlapping or out of range: leave as is
        }
        out.extend_from_slice(&raw[at..off]);
        // Where the real parse will see this Content-Type's value begin.
        let value_at = if del == 0 {
            out.len() + "Content-Type:".len()
        } else {
            out.len()
        };
        neutral.insert(value_at as u32, (kind, ct));
        out.extend_from_slice(ins.as_bytes());
        at = off + del;
    }
    out.extend_from_slice(&raw[at..]);
    Prepared {
        bytes: out.into(),
        neutral,
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
    used: NameSet,
    attachments: Vec<Part>,
    warnings: Vec<String>,
    body_parts: Vec<(Option<String>, String)>,
    index: usize,
    too_deep: bool,
}

fn check_parts(m: &Message, raw: &[u8], ctx: &mut Ctx, depth: usize) {
    for (i, p) in m.parts.iter().enumerate() {
        let where_ = if depth == 0 {
            format!("MIME part {i}")
        } else {
            format!("MIME part {i} of an attached message")
        };
        if i > 0 && missing_separator(raw, p) {
            ctx.warnings.push(format!(
                "{where_} ({}): no empty line between its headers and its data; the data was read from the first line that is no header field",
                ctype(p)
            ));
        }
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

/// Whether a part's header block ends without the empty line (the patched mail-parser
/// then starts the body at the first line that is no header field).
fn missing_separator(raw: &[u8], p: &mail_parser::MessagePart) -> bool {
    let (h, b, e) = (
        p.offset_header as usize,
        p.offset_body as usize,
        p.offset_end as usize,
    );
    let Some(head) = raw.get(h..b) else {
        return false;
    };
    let blank_end =
        head == b"\n" || head == b"\r\n" || head.ends_with(b"\n\n") || head.ends_with(b"\n\r\n");
    !blank_end && e > b && !matches!(p.body, PartType::Multipart(_) | PartType::Message(_))
}

/// Adds an attachment and returns its index.
fn add_attachment(
    ctx: &mut Ctx,
    original: Option<String>,
    ct: String,
    content_id: Option<String>,
    data: Vec<u8>,
) -> usize {
    ctx.index += 1;
    let name = attachment_name(original.as_deref(), ctx.index, &ct, &mut ctx.used);
    ctx.attachments.push(Part {
        name,
        original_name: original,
        content_type: ct,
        content_id,
        data,
    });
    ctx.attachments.len() - 1
}

/// Records the readable body parts of `m` (text and HTML, each once) in `ctx`.
fn record_bodies(m: &Message, ctx: &mut Ctx) {
    let mut seen = std::collections::BTreeSet::new();
    for &id in m.text_body.iter().chain(&m.html_body) {
        if m.attachments.contains(&id) || !seen.insert(id) {
            continue;
        }
        let Some(p) = m.parts.get(id as usize) else {
            continue;
        };
        if let PartType::Text(t) | PartType::Html(t) = &p.body
            && !is_uu(p)
        {
            let name = p.attachment_name().map(str::to_string);
            ctx.body_parts.push((name, t.to_string()));
        }
    }
}

/// The text form's line for one attachment.
fn list_line(a: &Part) -> String {
    let (name, ct, size) = (&a.name, &a.content_type, a.data.len());
    let sent_as = match &a.original_name {
        Some(o) if o != name => format!("  [sent as {o:?}]"),
        _ => String::new(),
    };
    format!("  {name} ({ct}, {size} bytes){sent_as}")
}

/// How warnings name part `i` of a message at nesting level `depth`.
fn part_where(i: u32, depth: usize) -> String {
    if depth == 0 {
        format!("MIME part {i}")
    } else {
        format!("MIME part {i} of an attached message")
    }
}

/// The Content-Transfer-Encoding of a part, lower case, as sent.
fn transfer_encoding(p: &mail_parser::MessagePart) -> Option<String> {
    p.headers
        .iter()
        .rev()
        .find(|h| h.name == HeaderName::ContentTransferEncoding)
        .and_then(|h| h.value.as_text())
        .map(|v| v.trim().to_ascii_lowercase())
}

/// The sender's name and the decoded data of an attachment part: mail-parser's
/// decoding, plus uuencode (which it does not know); warns about what stays encoded.
fn attachment_data(
    m: &Message,
    raw: &[u8],
    id: u32,
    ctx: &mut Ctx,
    depth: usize,
) -> (Option<String>, Vec<u8>) {
    let p = &m.parts[id as usize];
    let original = p.attachment_name().map(str::to_string);
    let where_ = part_where(id, depth);
    match transfer_encoding(p).as_deref() {
        None | Some("7bit" | "8bit" | "binary" | "base64" | "quoted-printable") => {}
        Some("x-uuencode" | "uuencode" | "x-uue" | "uue") => {
            match uu::blocks(body_bytes(raw, p)).into_iter().next() {
                Some(b) => {
                    let (name, data) = uu_data(b, &where_, ctx);
                    // Text is saved as UTF-8, as every text attachment.
                    let cs = p.content_type().and_then(|ct| ct.attribute("charset"));
                    let data = match cs.and_then(|c| charset_decoder(c.as_bytes())) {
                        Some(dec) if ctype(p).starts_with("text/") => dec(&data).into_bytes(),
                        _ => data,
                    };
                    return (original.or(name), data);
                }
                None => ctx.warnings.push(format!(
                    "{where_}: declared x-uuencode but holds no uuencoded data (no `begin` line); saved as sent"
                )),
            }
        }
        Some(other) => ctx.warnings.push(format!(
            "{where_}: unknown transfer encoding {other:?}; saved undecoded, as sent"
        )),
    }
    (original, p.contents().to_vec())
}

/// The body of a part as its transfer encoding leaves it: the bytes as sent when it
/// has none (before any charset conversion), else mail-parser's decoding. `raw` is
/// the buffer parsed (the offsets of attached messages' parts are into it too).
fn body_bytes<'a>(raw: &'a [u8], p: &'a mail_parser::MessagePart) -> &'a [u8] {
    let raw = raw.get(p.offset_body as usize..p.offset_end as usize);
    match raw {
        Some(r) if p.encoding == mail_parser::Encoding::None => r,
        _ => p.contents(),
    }
}

/// Whether the part is declared uuencoded.
fn is_uu(p: &mail_parser::MessagePart) -> bool {
    matches!(
        transfer_encoding(p).as_deref(),
        Some("x-uuencode" | "uuencode" | "x-uue" | "uue")
    )
}

/// A decoded uuencoded block as (name, data); warns when it was damaged.
fn uu_data(b: uu::Block, where_: &str, ctx: &mut Ctx) -> (Option<String>, Vec<u8>) {
    if b.damaged {
        ctx.warnings.push(format!(
            "{where_}: uuencoded file {:?} is damaged or cut short; saved as far as it decodes ({} bytes), the .eml has it as sent",
            b.name,
            b.data.len()
        ));
    }
    (Some(b.name).filter(|n| !n.is_empty()), b.data)
}

/// Body parts declared x-uuencode, and files uuencoded in the text of a body part:
/// saved as attachments (the text keeps them as sent), listed in `listed` and `shown`.
fn uu_in_bodies(
    m: &Message,
    raw: &[u8],
    ctx: &mut Ctx,
    depth: usize,
    listed: &mut Vec<String>,
    shown: &mut Shown,
) {
    let mut seen = std::collections::BTreeSet::new();
    for &id in m.text_body.iter().chain(&m.html_body) {
        let Some(p) = m.parts.get(id as usize) else {
            continue;
        };
        if m.attachments.contains(&id)
            || !seen.insert(id)
            || !matches!(p.body, PartType::Text(_) | PartType::Html(_))
        {
            continue;
        }
        let found = if is_uu(p) {
            let (name, data) = attachment_data(m, raw, id, ctx, depth);
            vec![(name, ctype(p), data)]
        } else {
            let blocks = uu::blocks(body_bytes(raw, p));
            let octets = || "application/octet-stream".to_string();
            let w = part_where(id, depth);
            blocks
                .into_iter()
                .map(|b| uu_data(b, &w, ctx))
                .map(|(n, d)| (n, octets(), d))
                .collect()
        };
        for (name, ct, data) in found {
            let i = add_attachment(ctx, name, ct, None, data);
            listed.push(list_line(&ctx.attachments[i]));
            shown.items.push(Item::Attachment(i));
        }
    }
}

/// Renders one message (parsed from `prep`) into `out` and returns its [`Shown`].
/// `depth` is its nesting level, `encoded` how many encoded levels enclose it.
fn render(
    m: &Message,
    prep: &Prepared,
    ctx: &mut Ctx,
    out: &mut String,
    depth: usize,
    encoded: usize,
) -> Shown {
    let raw: &[u8] = &prep.bytes;
    check_parts(m, raw, ctx, depth);
    record_bodies(m, ctx);
    let mut shown = Shown {
        headers: headers_of(m),
        ..Shown::default()
    };
    for (name, v) in &shown.headers {
        out.push_str(name);
        out.push_str(": ");
        out.push_str(v);
        out.push('\n');
    }
    out.push('\n');
    write_readable(m, out);
    shown.bodies = view_bodies(m);
    let mut listed = Vec::new();
    for &id in &m.attachments {
        let Some(p) = m.parts.get(id as usize) else {
            continue;
        };
        match &p.body {
            PartType::Message(nested) => {
                out.push_str("\n---------- attached message ----------\n");
                let s = render(nested, prep, ctx, out, depth + 1, encoded);
                shown.items.push(Item::Message(Box::new(s)));
                out.push_str("---------- end of attached message ----------\n");
            }
            PartType::Multipart(_) => {}
            PartType::Text(_)
            | PartType::Html(_)
            | PartType::Binary(_)
            | PartType::InlineBinary(_) => {
                let (item, line) = render_leaf(m, id, prep, ctx, out, depth, encoded);
                listed.extend(line);
                shown.items.push(item);
            }
        }
    }
    uu_in_bodies(m, raw, ctx, depth, &mut listed, &mut shown);
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
    shown
}

/// Writes the readable text of `m` (its text bodies, HTML ones as text) to `out`.
fn write_readable(m: &Message, out: &mut String) {
    let mut any = false;
    for &id in &m.text_body {
        let Some(p) = m.parts.get(id as usize) else {
            continue;
        };
        let text = match &p.body {
            PartType::Text(t) => t.to_string(),
            PartType::Html(h) => html::html_to_text(h),
            _ => continue,
        };
        if any {
            out.push_str("\n\n");
        }
        any = true;
        out.push_str(text.replace("\r\n", "\n").trim_end_matches('\n'));
        out.push('\n');
    }
    if !any {
        out.push_str("(no readable text in this message)\n");
    }
}

/// The bodies the view shows for `m`: the HTML version where there is one.
fn view_bodies(m: &Message) -> Vec<Body> {
    let html_ids: Vec<u32> = m
        .html_body
        .iter()
        .copied()
        .filter(|&id| {
            matches!(
                m.parts.get(id as usize).map(|p| &p.body),
                Some(PartType::Html(_))
            )
        })
        .collect();
    let ids = if html_ids.is_empty() {
        &m.text_body
    } else {
        &html_ids
    };
    let mut bodies = Vec::new();
    for &id in ids {
        match m.parts.get(id as usize).map(|p| &p.body) {
            Some(PartType::Text(t)) => bodies.push(Body::Text(t.replace("\r\n", "\n"))),
            Some(PartType::Html(h)) => bodies.push(Body::Html(h.to_string())),
            _ => {}
        }
    }
    bodies
}

/// Renders the non-multipart attachment `id` of `m`: an encoded attached message
/// inline, anything else saved as a file. Returns its item and its listing line.
fn render_leaf(
    m: &Message,
    id: u32,
    prep: &Prepared,
    ctx: &mut Ctx,
    out: &mut String,
    depth: usize,
    encoded: usize,
) -> (Item, Option<String>) {
    let p = &m.parts[id as usize];
    let mark = p
        .headers
        .iter()
        .filter(|h| h.name == HeaderName::ContentType)
        .find_map(|h| prep.neutral.get(&h.offset_start));
    if let Some((Neutral::Encoded, _)) = mark
        && encoded < MAX_ENCODED
    {
        out.push_str("\n---------- attached message ----------\n");
        let s = render_bytes(p.contents(), ctx, out, depth + 1, encoded + 1);
        out.push_str("---------- end of attached message ----------\n");
        return (Item::Message(Box::new(s)), None);
    }
    let ct = match mark {
        Some((kind, ct)) => {
            if *kind == Neutral::TooDeep {
                ctx.too_deep = true;
            }
            ct.clone()
        }
        None => ctype(p),
    };
    let cid = p
        .content_id()
        .map(|c| c.trim().trim_matches(['<', '>']).to_string());
    let (original, data) = attachment_data(m, &prep.bytes, id, ctx, depth);
    let i = add_attachment(ctx, original, ct, cid, data);
    (Item::Attachment(i), Some(list_line(&ctx.attachments[i])))
}

/// Prepares, parses and renders the message in `raw` at nesting level `depth`.
fn render_bytes(
    raw: &[u8],
    ctx: &mut Ctx,
    out: &mut String,
    depth: usize,
    encoded: usize,
) -> Shown {
    let prep = prepare(raw, MAX_NESTING.saturating_sub(depth));
    match parse(&MessageParser::default(), &prep.bytes) {
        Some(m) => render(&m, &prep, ctx, out, depth, encoded),
        None => {
            out.push_str(
                "(this part could not be parsed as a message; it is saved as an attachment)\n",
            );
            let i = add_attachment(ctx, None, "message/rfc822".into(), None, raw.to_vec());
            Shown {
                items: vec![Item::Attachment(i)],
                ..Shown::default()
            }
        }
    }
}

/// Decodes one message. `files_label` is the attachment folder's name, shown in the text.
pub fn decode(raw: &[u8], files_label: &str) -> Decoded {
    let mut d = Decoded {
        message_id: raw_header(raw, "Message-ID"),
        ..Decoded::default()
    };
    let prep = prepare(raw, MAX_NESTING);
    let Some(m) = parse(&MessageParser::default(), &prep.bytes) else {
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
        used: NameSet::new(),
        attachments: Vec::new(),
        warnings: Vec::new(),
        body_parts: Vec::new(),
        index: 0,
        too_deep: false,
    };
    let mut text = String::new();
    d.shown = render(&m, &prep, &mut ctx, &mut text, 0, 0);
    if ctx.too_deep {
        ctx.warnings.push(format!(
            "attached messages nested more than {MAX_NESTING} deep are saved raw as .eml attachments, not shown"
        ));
    }
    d.text = text;
    d.attachments = ctx.attachments;
    d.warnings = ctx.warnings;
    d.body_parts = ctx.body_parts;
    d
}

pub use html::html_to_text;

#[cfg(test)]
mod tests {

    use super::*;

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

    /// The attachments as (name, data), in order.
    fn names_and_data(d: &Decoded) -> Vec<(&str, &[u8])> {
        d.attachments
            .iter()
            .map(|a| (a.name.as_str(), a.data.as_slice()))
            .collect()
    }

    fn deep822(n: usize) -> Vec<u8> {
        let mut v = b"From: a@x\nTo: b@x\nSubject: deep\n".to_vec();
        for i in 0..n {
            v.extend_from_slice(
                format!("Content-Type: message/rfc822\n\nFrom: x{i}@x\nSubject: level {i}\n")
                    .as_bytes(),
            );
        }
        v.extend_from_slice(b"\ninnermost\n");
        v
    }

    /// Runs `f` on a thread with a small stack (the rayon workers' default is 2 MiB):
    /// what must not recurse per nesting level fails here long before 40,000 levels.
    fn small_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
        std::thread::Builder::new()
            .stack_size(1 << 20)
            .spawn(f)
            .unwrap()
            .join()
            .unwrap()
    }

    #[test]
    fn nesting_40000_deep_is_bounded() {
        let d = small_stack(|| decode(&deep822(40_000), "x.files"));
        assert_eq!(
            d.text.matches("---------- attached message").count(),
            MAX_NESTING
        );
        assert!(d.text.contains("Subject: level 99\n"), "{}", &d.text[..200]);
        assert!(!d.text.contains("Subject: level 100\n"));
        assert_eq!(d.attachments.len(), 1);
        let raw = &d.attachments[0];
        assert_eq!(raw.content_type, "message/rfc822");
        assert!(raw.name.ends_with(".eml"), "{}", raw.name);
        assert!(
            raw.data.starts_with(b"From: x100@x\nSubject: level 100\n"),
            "{:?}",
            &raw.data[..40]
        );
        assert!(raw.data.ends_with(b"innermost\n"));
        assert!(
            d.warnings
                .iter()
                .any(|w| w.contains("nested more than 100")),
            "{:?}",
            d.warnings
        );
        // Shallow nesting is shown whole, without the warning.
        let d = decode(&deep822(30), "x.files");
        assert!(d.text.contains("innermost"));
        assert!(
            d.attachments.is_empty() && d.warnings.is_empty(),
            "{:?}",
            d.warnings
        );
    }

    /// mail-parser parses a base64-encoded attached message recursively and copies the
    /// result recursively: deep nesting inside one must not reach it.
    #[test]
    fn deep_nesting_inside_an_encoded_message_is_bounded() {
        use base64::Engine;
        let inner = deep822(40_000);
        let b64 = base64::engine::general_purpose::STANDARD.encode(&inner);
        let mut raw = b"From: a@x\nSubject: outer\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=B\n\n--B\nContent-Type: text/plain\n\nsee attached\n--B\nContent-Type: message/rfc822\nContent-Transfer-Encoding: base64\n\n".to_vec();
        for line in b64.as_bytes().chunks(76) {
            raw.extend_from_slice(line);
            raw.push(b'\n');
        }
        raw.extend_from_slice(b"--B--\n");
        let d = small_stack(move || decode(&raw, "x.files"));
        assert!(d.text.contains("see attached"));
        // Shown (decoded by us) up to the bound, the rest raw.
        assert!(d.text.contains("Subject: level 0\n"), "{}", &d.text[..300]);
        assert_eq!(
            d.text.matches("---------- attached message").count(),
            MAX_NESTING
        );
        assert_eq!(
            d.attachments.len(),
            1,
            "{:?}",
            d.attachments.iter().map(|a| &a.name).collect::<Vec<_>>()
        );
    }

    #[test]
    fn digest_parts_and_encoded_messages_are_shown() {
        let raw = b"From: a@x\nSubject: digest\nMIME-Version: 1.0\nContent-Type: multipart/digest; boundary=D\n\n--D\n\nFrom: one@x\nSubject: first\n\nbody one\n--D\nContent-Transfer-Encoding: quoted-printable\n\nFrom: two@x\nSubject: second=20qp\n\nbody two\n--D--\n";
        let d = decode(raw, "x.files");
        assert!(d.text.contains("Subject: first\n"), "{}", d.text);
        assert!(d.text.contains("Subject: second qp\n"), "{}", d.text);
        assert!(d.text.contains("body two"), "{}", d.text);
        assert!(d.attachments.is_empty());
        assert_eq!(d.shown.items.len(), 2);
    }

    #[test]
    fn many_parts_and_ampersands_are_linear() {
        // The r2 reproductions: same-named parts and `&` without `;` (each was
        // quadratic). A linear decode of these takes well under a second even in a
        // debug build; the ratio test is in tests/viewer.rs.
        let mut raw =
            b"From: a@x\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=B\n\n".to_vec();
        for i in 0..4000 {
            raw.extend_from_slice(format!("--B\nContent-Type: application/octet-stream\nContent-Disposition: attachment; filename=\"a.txt\"\n\nx{i}\n").as_bytes());
        }
        raw.extend_from_slice(b"--B--\n");
        let d = decode(&raw, "x.files");
        assert_eq!(d.attachments.len(), 4000);
        assert_eq!(d.attachments[3999].name, "a-4000.txt");
        let html = format!("<p>{}</p>", "&".repeat(200_000));
        assert_eq!(html_to_text(&html).len(), 200_001);
    }

    /// Issue 18, defect 1: `=` ending the last line before the boundary is a soft break.
    #[test]
    fn d1_qp_soft_break_before_the_boundary_keeps_the_last_byte() {
        for eol in ["\n", "\r\n"] {
            let raw = "From: a@x\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"b1\"\n\n--b1\nContent-Type: text/plain; charset=us-ascii\nContent-Transfer-Encoding: quoted-printable\n\nThe last word of this body is WORLD=\n--b1\nContent-Type: application/octet-stream; name=\"data.bin\"\nContent-Disposition: attachment; filename=\"data.bin\"\nContent-Transfer-Encoding: quoted-printable\n\nABCDEFGHIJ=\n--b1\nContent-Type: application/octet-stream; name=\"two.bin\"\nContent-Transfer-Encoding: quoted-printable\n\nline=0D=0A=\nsoft=\nend\n\n--b1--\n".replace('\n', eol);
            let d = decode(raw.as_bytes(), "x.files");
            assert!(d.text.contains("is WORLD\n"), "{}", d.text);
            assert_eq!(d.attachments[0].name, "data.bin");
            assert_eq!(d.attachments[0].data, b"ABCDEFGHIJ");
            // A hard line break before the boundary still belongs to the boundary.
            assert_eq!(
                d.attachments[1].data,
                format!("line\r\nsoftend{eol}").as_bytes()
            );
            assert!(d.warnings.is_empty(), "{:?}", d.warnings);
        }
    }

    /// Issue 18, defect 2: parameter values folded onto the next line.
    #[test]
    fn d1_folded_parameter_values_are_read() {
        let raw = b"From: a@x\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\r\n \"b2\"\r\n\r\n--b2\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\nVISIBLE BODY TEXT\r\n--b2\r\nContent-Type: application/pdf; name=\r\n\t\"report.pdf\"\r\nContent-Disposition: attachment; filename=\r\n\t\"report.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--b2\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\r\n unquoted.dat\r\n\r\nx\r\n--b2--\r\n";
        let d = decode(raw, "x.files");
        assert!(d.text.contains("VISIBLE BODY TEXT"), "{}", d.text);
        assert_eq!(
            names_and_data(&d),
            [("report.pdf", &b"%PDF-1.4\n"[..]), ("unquoted.dat", b"x")]
        );
    }

    /// Issue 18, defect 3: x-uuencode parts and uuencoded files in a text body.
    #[test]
    fn d1_uuencode_is_decoded() {
        let raw = b"From: a@x\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"b3\"\n\n--b3\nContent-Type: text/plain; charset=us-ascii\n\nsee attachment\n--b3\nContent-Type: text/plain; name=\"hello.txt\"\nContent-Transfer-Encoding: x-uuencode\nContent-Disposition: attachment; filename=\"hello.txt\"\n\nbegin 644 hello.txt\n,2&5L;&\\@=V]R;&0*\n`\nend\n--b3\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: x-uuencode\n\nbegin 600 cut.bin\n,2&5L;&\\@=V]R;&0*\n--b3--\n";
        let d = decode(raw, "x.files");
        assert_eq!(d.attachments[0].name, "hello.txt");
        assert_eq!(d.attachments[0].data, b"Hello world\n");
        assert_eq!(d.attachments[1].name, "cut.bin");
        assert_eq!(d.attachments[1].data, b"Hello world\n");
        assert_eq!(d.warnings.len(), 1, "{:?}", d.warnings);
        assert!(d.warnings[0].contains("\"cut.bin\" is damaged or cut short"));
        // Old-style mail: the file uuencoded in the text itself.
        let raw = b"From: a@x\nSubject: uu\n\nHere it is:\n\nbegin 644 hello.txt\n,2&5L;&\\@=V]R;&0*\n`\nend\n\nbye\n";
        let d = decode(raw, "x.files");
        assert!(d.text.contains("Here it is:") && d.text.contains("bye"));
        assert_eq!(d.attachments.len(), 1);
        assert_eq!(d.attachments[0].name, "hello.txt");
        assert_eq!(d.attachments[0].data, b"Hello world\n");
        assert!(d.warnings.is_empty(), "{:?}", d.warnings);
        // An encoding nobody knows: saved as sent, with a warning.
        let raw = b"From: a@x\nMIME-Version: 1.0\nContent-Type: application/octet-stream; name=a.bin\nContent-Transfer-Encoding: x-gzip64\n\nH4sI\n";
        let d = decode(raw, "x.files");
        assert_eq!(d.attachments[0].data, b"H4sI\n");
        assert!(
            d.warnings[0].contains("unknown transfer encoding \"x-gzip64\""),
            "{:?}",
            d.warnings
        );
    }

    /// Issue 18, defect 4: a part whose data follows its headers without the empty line.
    #[test]
    fn d1_part_without_the_empty_line_keeps_its_data() {
        let raw = b"From: a@x\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"b4\"\n\n--b4\nContent-Type: text/plain; charset=us-ascii\n\nsee attachment\n--b4\nContent-Type: application/zip; name=\"a.zip\"\nContent-Transfer-Encoding: base64\nContent-Disposition: attachment; filename=\"a.zip\"\nUEsFBgAAAAAAAAAAAAAAAAAAAAAAAA==\n\n--b4--\n";
        let d = decode(raw, "x.files");
        assert!(d.text.contains("see attachment"));
        assert_eq!(d.attachments[0].name, "a.zip");
        let mut zip = b"PK\x05\x06".to_vec();
        zip.extend([0u8; 18]);
        assert_eq!(d.attachments[0].data, zip);
        assert_eq!(d.warnings.len(), 1, "{:?}", d.warnings);
        assert!(d.warnings[0].contains("no empty line between its headers and its data"));
        // A well-formed part gives no such warning.
        let fixed = String::from_utf8_lossy(raw).replace("a.zip\"\nUEs", "a.zip\"\n\nUEs");
        let ok = decode(fixed.as_bytes(), "x.files");
        assert_eq!(ok.attachments[0].data, zip);
        assert!(ok.warnings.is_empty(), "{:?}", ok.warnings);
    }

    /// Found by the differential test: message/rfc822 directly in message/rfc822 inside
    /// a multipart lost the whole structure (mail-parser closed one level of two).
    #[test]
    fn message_in_message_in_multipart() {
        let raw = b"From: a@x\nSubject: top\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=B\n\n--B\nContent-Type: message/rfc822\n\nFrom: b@x\nSubject: middle\nContent-Type: message/rfc822\n\nFrom: c@x\nSubject: inner\nContent-Type: application/pdf; name=one.pdf\nContent-Transfer-Encoding: base64\n\nJVBERi0xLjQK\n\n--B\nContent-Type: text/plain; name=two.txt\nContent-Disposition: attachment; filename=two.txt\n\nsecond\n--B--\n";
        let d = decode(raw, "x.files");
        assert_eq!(
            names_and_data(&d),
            [("one.pdf", &b"%PDF-1.4\n"[..]), ("two.txt", b"second")]
        );
        assert!(d.text.contains("Subject: middle\n") && d.text.contains("Subject: inner\n"));
    }
}
