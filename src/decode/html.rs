//! HTML for mail: a small tokenizer, HTML → text (keeping link addresses), a
//! whitelist sanitiser for showing HTML mail in a static page, and escaping.
//!
//! Owns: everything that reads hostile HTML. In: `&str` (mail-parser has decoded the
//! charset). Out: `String`. Pure; never fails; every function is linear in its input
//! (no search runs further than a bounded window or the next token, and no output is
//! rescanned). The sanitiser's safety does not depend on parsing like a browser: its
//! output is built from scratch out of whitelisted elements and attributes it writes
//! itself, with every text and attribute value escaped, so whatever the input, the
//! output holds no script, no event handler, no remote resource and no end tag for an
//! element it did not open.

use std::fmt::Write as _;

/// Escapes text for an HTML text node or a double-quoted attribute value.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 8);
    escape_into(&mut out, s);
    out
}

/// [`escape`] appending to `out`.
pub fn escape_into(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Controls other than tab/newline never reach a page.
            c if c.is_control() && c != '\n' && c != '\t' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
}

/// Named character references this module decodes (the common ones; others stay as
/// written, which is harmless: see [`sanitize`]).
fn named_entity(name: &str) -> Option<char> {
    Some(match name {
        "amp" | "AMP" => '&',
        "lt" | "LT" => '<',
        "gt" | "GT" => '>',
        "quot" | "QUOT" => '"',
        "apos" => '\'',
        "nbsp" => '\u{A0}',
        "copy" | "COPY" => '©',
        "reg" | "REG" => '®',
        "trade" => '™',
        "hellip" => '…',
        "mdash" => '—',
        "ndash" => '–',
        "lsquo" => '‘',
        "rsquo" => '’',
        "sbquo" => '‚',
        "ldquo" => '“',
        "rdquo" => '”',
        "bdquo" => '„',
        "laquo" => '«',
        "raquo" => '»',
        "euro" => '€',
        "yen" => '¥',
        "pound" => '£',
        "cent" => '¢',
        "middot" => '·',
        "bull" => '•',
        "times" => '×',
        "divide" => '÷',
        "deg" => '°',
        "plusmn" => '±',
        "sect" => '§',
        "para" => '¶',
        "shy" => '\u{AD}',
        "zwnj" => '\u{200C}',
        "zwj" => '\u{200D}',
        "ensp" => '\u{2002}',
        "emsp" => '\u{2003}',
        "thinsp" => '\u{2009}',
        "colon" => ':',
        "sol" => '/',
        "lpar" => '(',
        "rpar" => ')',
        "period" => '.',
        "comma" => ',',
        "excl" => '!',
        "quest" => '?',
        "num" => '#',
        "percnt" => '%',
        "equals" => '=',
        "Tab" => '\t',
        "NewLine" => '\n',
        "auml" => 'ä',
        "ouml" => 'ö',
        "uuml" => 'ü',
        "Auml" => 'Ä',
        "Ouml" => 'Ö',
        "Uuml" => 'Ü',
        "szlig" => 'ß',
        "eacute" => 'é',
        "Eacute" => 'É',
        "egrave" => 'è',
        "ecirc" => 'ê',
        "agrave" => 'à',
        "aacute" => 'á',
        "acirc" => 'â',
        "iacute" => 'í',
        "oacute" => 'ó',
        "uacute" => 'ú',
        "ntilde" => 'ñ',
        "ccedil" => 'ç',
        "aring" => 'å',
        "oslash" => 'ø',
        "aelig" => 'æ',
        _ => return None,
    })
}

/// Longest character reference looked at (`&` + name + `;`): a `&` without a `;`
/// within this window is a plain `&`, so text full of `&` stays linear.
const MAX_REF: usize = 40;

/// Decodes the character reference at the start of `s` (which starts with `&`):
/// `(char, bytes consumed)`, or None when there is none there.
fn char_ref(s: &str) -> Option<(char, usize)> {
    let b = s.as_bytes();
    let window = &b[1..b.len().min(MAX_REF)];
    let semi = window.iter().position(|&c| c == b';')?;
    let name = &s[1..1 + semi];
    let c = if let Some(num) = name.strip_prefix('#') {
        let v = match num.strip_prefix(['x', 'X']) {
            Some(h) if !h.is_empty() && h.bytes().all(|c| c.is_ascii_hexdigit()) => {
                u32::from_str_radix(h, 16).ok()
            }
            None if !num.is_empty() && num.bytes().all(|c| c.is_ascii_digit()) => num.parse().ok(),
            _ => return None,
        };
        v.and_then(char::from_u32)
            .filter(|c| *c != '\0')
            .unwrap_or('\u{FFFD}')
    } else {
        named_entity(name)?
    };
    Some((c, semi + 2))
}

/// Decodes the character references this module knows; leaves the rest as written.
pub fn decode_refs(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        match char_ref(rest) {
            Some((c, n)) => {
                out.push(c);
                rest = &rest[n..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// One token of HTML.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Token<'a> {
    /// Text as written (character references not decoded).
    Text(&'a str),
    /// Content of a raw-text element (`script`, `style`, `title`, …), never markup.
    Raw,
    /// A start tag: lower-case name, attributes (lower-case name, decoded value).
    Start {
        name: String,
        attrs: Vec<(String, String)>,
    },
    End(String),
    /// Comment, doctype, processing instruction, CDATA: nothing to show.
    Other,
}

/// Elements whose content is not markup (the tokenizer skips to their end tag).
const RAW_TEXT: &[&str] = &[
    "script",
    "style",
    "title",
    "textarea",
    "xmp",
    "iframe",
    "noembed",
    "noframes",
    "noscript",
    "template",
    "plaintext",
];

/// A linear HTML tokenizer, lenient like a browser: `<` not followed by a letter, `/`
/// or `!` is text; an unclosed tag or comment runs to the end.
struct Tokens<'a> {
    rest: &'a str,
    /// After the start tag of a raw-text element: skip to its end tag next.
    raw: Option<String>,
}

impl<'a> Tokens<'a> {
    fn new(s: &'a str) -> Tokens<'a> {
        Tokens { rest: s, raw: None }
    }
}

/// Position of `</name` (ASCII case-insensitive) followed by a delimiter, in `s`.
fn find_end_tag(s: &str, name: &str) -> Option<usize> {
    let b = s.as_bytes();
    let n = name.len();
    let mut from = 0;
    while let Some(i) = s[from..].find("</") {
        let at = from + i;
        let after = at + 2;
        if b.len() >= after + n
            && b[after..after + n].eq_ignore_ascii_case(name.as_bytes())
            && b.get(after + n)
                .is_none_or(|c| c.is_ascii_whitespace() || *c == b'>' || *c == b'/')
        {
            return Some(at);
        }
        from = after;
    }
    None
}

impl<'a> Iterator for Tokens<'a> {
    type Item = Token<'a>;

    fn next(&mut self) -> Option<Token<'a>> {
        if let Some(name) = self.raw.take() {
            let end = if name == "plaintext" {
                None
            } else {
                find_end_tag(self.rest, &name)
            };
            self.rest = &self.rest[end.unwrap_or(self.rest.len())..];
            return Some(Token::Raw);
        }
        if self.rest.is_empty() {
            return None;
        }
        let s = self.rest;
        let b = s.as_bytes();
        if b[0] != b'<' {
            let end = s.find('<').unwrap_or(s.len());
            self.rest = &s[end..];
            return Some(Token::Text(&s[..end]));
        }
        let next = b.get(1).copied();
        match next {
            Some(b'!') => {
                let end = if let Some(r) = s.strip_prefix("<!--") {
                    if r.starts_with('>') {
                        5
                    } else if r.starts_with("->") {
                        6
                    } else {
                        r.find("-->").map(|i| 4 + i + 3).unwrap_or(s.len())
                    }
                } else {
                    s.find('>').map(|i| i + 1).unwrap_or(s.len())
                };
                self.rest = &s[end..];
                Some(Token::Other)
            }
            Some(b'?') => {
                let end = s.find('>').map(|i| i + 1).unwrap_or(s.len());
                self.rest = &s[end..];
                Some(Token::Other)
            }
            Some(b'/') if b.get(2).is_some_and(u8::is_ascii_alphabetic) => {
                let name_len = b[2..]
                    .iter()
                    .position(|c| c.is_ascii_whitespace() || *c == b'/' || *c == b'>')
                    .unwrap_or(b.len() - 2);
                let name = s[2..2 + name_len].to_ascii_lowercase();
                let end = s[2 + name_len..]
                    .find('>')
                    .map(|i| 2 + name_len + i + 1)
                    .unwrap_or(s.len());
                self.rest = &s[end..];
                Some(Token::End(name))
            }
            Some(c) if c.is_ascii_alphabetic() => {
                let (tok, used) = start_tag(s);
                self.rest = &s[used..];
                if let Token::Start { name, .. } = &tok
                    && RAW_TEXT.contains(&name.as_str())
                {
                    self.raw = Some(name.clone());
                }
                Some(tok)
            }
            _ => {
                self.rest = &s[1..];
                Some(Token::Text(&s[..1]))
            }
        }
    }
}

/// Parses the start tag at the start of `s` (`<` + letter): the token and the bytes used.
fn start_tag(s: &str) -> (Token<'_>, usize) {
    let b = s.as_bytes();
    let mut i = 1;
    while i < b.len() && !(b[i].is_ascii_whitespace() || b[i] == b'/' || b[i] == b'>') {
        i += 1;
    }
    let name = s[1..i].to_ascii_lowercase();
    let mut attrs: Vec<(String, String)> = Vec::new();
    loop {
        while i < b.len() && (b[i].is_ascii_whitespace() || b[i] == b'/') {
            i += 1;
        }
        if i >= b.len() {
            break;
        }
        if b[i] == b'>' {
            i += 1;
            break;
        }
        let start = i;
        i += 1; // an attribute name may start with `=`
        while i < b.len() && !(b[i].is_ascii_whitespace() || b"/>=".contains(&b[i])) {
            i += 1;
        }
        let aname = s[start..i].to_ascii_lowercase();
        let mut j = i;
        while j < b.len() && b[j].is_ascii_whitespace() {
            j += 1;
        }
        let mut value = String::new();
        if j < b.len() && b[j] == b'=' {
            j += 1;
            while j < b.len() && b[j].is_ascii_whitespace() {
                j += 1;
            }
            if j < b.len() && (b[j] == b'"' || b[j] == b'\'') {
                let q = b[j];
                let vstart = j + 1;
                let vend = b[vstart..]
                    .iter()
                    .position(|&c| c == q)
                    .map(|p| vstart + p)
                    .unwrap_or(b.len());
                value = decode_refs(&s[vstart..vend]);
                j = (vend + 1).min(b.len());
            } else {
                let vstart = j;
                while j < b.len() && !(b[j].is_ascii_whitespace() || b[j] == b'>') {
                    j += 1;
                }
                value = decode_refs(&s[vstart..j]);
            }
            i = j;
        }
        // The first of two same-named attributes wins, as in browsers.
        if attrs.len() < 64 && !attrs.iter().any(|(n, _)| *n == aname) {
            attrs.push((aname, value));
        }
    }
    (Token::Start { name, attrs }, i)
}

/// Whether `tok` ends an unclosed `head`, as in browsers: visible text, or the start of
/// an element that does not belong in a head.
fn ends_head(tok: &Token) -> bool {
    match tok {
        Token::Text(t) => !t.trim().is_empty(),
        Token::Start { name, .. } => !matches!(
            name.as_str(),
            "head"
                | "title"
                | "meta"
                | "link"
                | "style"
                | "script"
                | "base"
                | "noscript"
                | "template"
        ),
        _ => false,
    }
}

fn attr<'x>(attrs: &'x [(String, String)], name: &str) -> Option<&'x str> {
    attrs
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// A link address worth keeping: `http:`, `https:`, `mailto:` or `ftp:` (browsers
/// drop tabs and newlines inside URLs and ignore leading blanks and controls: so
/// does this check). Returns the address cleaned that way.
pub fn safe_link(href: &str) -> Option<String> {
    let cleaned: String = href
        .trim_matches(|c: char| c <= ' ')
        .chars()
        .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
        .collect();
    let lower = cleaned.to_ascii_lowercase();
    let ok = ["http://", "https://", "mailto:", "ftp://"]
        .iter()
        .any(|p| lower.starts_with(p) && lower.len() > p.len());
    (ok && !cleaned.chars().any(char::is_control)).then_some(cleaned)
}

/// The heading elements: block elements the sanitiser keeps.
const HEADINGS: &[&str] = &["h1", "h2", "h3", "h4", "h5", "h6"];

/// Block elements besides [`HEADINGS`]: a line break before and after in the text.
const BLOCK: &[&str] = &[
    "p",
    "div",
    "tr",
    "li",
    "table",
    "blockquote",
    "hr",
    "ul",
    "ol",
    "dl",
    "pre",
    "section",
    "article",
    "header",
    "footer",
    "main",
    "nav",
    "aside",
    "address",
    "figure",
    "figcaption",
    "center",
    "dd",
    "dt",
];

/// Text being built with HTML's white-space rules (collapse outside `pre`, at most one
/// blank line in a row, no trailing blanks on a line). Appends only: linear.
struct TextOut {
    s: String,
    /// A space is owed before the next visible character.
    space: bool,
    pre: usize,
}

impl TextOut {
    fn trim_line_end(&mut self) {
        while self.s.ends_with([' ', '\t']) {
            self.s.pop();
        }
    }
    fn newline(&mut self) {
        self.space = false;
        self.trim_line_end();
        if !self.s.is_empty() && !self.s.ends_with("\n\n") {
            self.s.push('\n');
        }
    }
    fn br(&mut self) {
        self.space = false;
        self.trim_line_end();
        if !self.s.ends_with("\n\n\n") {
            self.s.push('\n');
        }
    }
    fn text(&mut self, t: &str) {
        for c in t.chars() {
            let c = if c == '\u{A0}' { ' ' } else { c };
            if self.pre > 0 {
                if c == '\n' {
                    self.br();
                } else if c != '\r' {
                    self.s.push(c);
                }
                continue;
            }
            if c.is_whitespace() {
                if !self.s.is_empty() && !self.s.ends_with('\n') {
                    self.space = true;
                }
                continue;
            }
            if self.space {
                self.s.push(' ');
                self.space = false;
            }
            self.s.push(c);
        }
    }
}

/// HTML → plain text: drops tags, comments and the content of `head`, `style`,
/// `script` and the like; decodes character references; block elements on new lines,
/// `* ` before list items, tabs between table cells; collapses white space outside
/// `pre`. Links keep their address after the text: `here <https://example.com/>`
/// (not repeated when the text is the address); images show their `alt` text in
/// brackets.
pub fn html_to_text(html: &str) -> String {
    let mut t = ToText {
        o: TextOut {
            s: String::with_capacity(html.len() / 2),
            space: false,
            pre: 0,
        },
        link: None,
        in_head: false,
    };
    for tok in Tokens::new(html) {
        if t.in_head && ends_head(&tok) {
            t.in_head = false;
        }
        match tok {
            Token::Text(s) => {
                if !t.in_head {
                    t.o.text(&decode_refs(s));
                }
            }
            Token::Raw | Token::Other => {}
            Token::Start { name, attrs } => t.start(&name, &attrs),
            Token::End(name) => t.end(&name),
        }
    }
    t.close_link();
    tidy_lines(&t.o.s)
}

/// The state of [`html_to_text`] between tokens.
struct ToText {
    o: TextOut,
    /// The open link: its address and where its text starts in the output.
    link: Option<(String, usize)>,
    in_head: bool,
}

impl ToText {
    /// Ends the open link: its address follows its text unless the text shows it.
    fn close_link(&mut self) {
        let o = &mut self.o;
        if let Some((href, start)) = self.link.take() {
            let start = start.min(o.s.len());
            let shown = o.s[start..].trim();
            let bare = href
                .strip_prefix("mailto:")
                .or_else(|| href.strip_prefix("MAILTO:"))
                .unwrap_or(&href);
            let norm = |x: &str| x.trim_end_matches('/').to_ascii_lowercase();
            if !shown.contains(&href) && norm(shown) != norm(bare) {
                if !shown.is_empty() {
                    o.s.push(' ');
                }
                o.s.push('<');
                o.s.push_str(&href);
                o.s.push('>');
            }
        }
    }

    /// A start tag `name` with `attrs`.
    fn start(&mut self, name: &str, attrs: &[(String, String)]) {
        match name {
            "head" => self.in_head = true,
            "body" => self.in_head = false,
            "a" => {
                self.close_link();
                if let Some(h) = attr(attrs, "href").and_then(safe_link) {
                    let o = &mut self.o;
                    if o.space {
                        o.s.push(' ');
                        o.space = false;
                    }
                    self.link = Some((h, o.s.len()));
                }
            }
            "img" => {
                if let Some(alt) = attr(attrs, "alt").map(str::trim)
                    && !alt.is_empty()
                {
                    self.o.text(&format!("[{alt}]"));
                }
            }
            "br" => self.o.br(),
            "pre" => {
                self.o.newline();
                self.o.pre += 1;
            }
            "li" => {
                self.o.newline();
                self.o.s.push_str("* ");
            }
            n if BLOCK.contains(&n) || HEADINGS.contains(&n) => self.o.newline(),
            _ => {}
        }
    }

    /// An end tag `name`.
    fn end(&mut self, name: &str) {
        match name {
            "head" => self.in_head = false,
            "a" => self.close_link(),
            "pre" => {
                self.o.pre = self.o.pre.saturating_sub(1);
                self.o.newline();
            }
            "td" | "th" => {
                self.o.trim_line_end();
                self.o.s.push('\t');
                self.o.space = false;
            }
            n if BLOCK.contains(&n) || HEADINGS.contains(&n) => self.o.newline(),
            _ => {}
        }
    }
}

/// `s` without trailing blanks on any line nor blank lines at both ends, ending in a newline.
fn tidy_lines(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for line in s.lines() {
        out.push_str(line.trim_end());
        out.push('\n');
    }
    let t = out.trim();
    let mut res = String::with_capacity(t.len() + 1);
    res.push_str(t);
    res.push('\n');
    res
}

/// Elements the sanitiser keeps (with their content), besides [`HEADINGS`]. Others are dropped with their
/// tags only (their text stays), except [`DROP_CONTENT`].
const KEEP: &[&str] = &[
    "a",
    "abbr",
    "address",
    "b",
    "big",
    "blockquote",
    "br",
    "caption",
    "center",
    "cite",
    "code",
    "col",
    "colgroup",
    "dd",
    "del",
    "dfn",
    "div",
    "dl",
    "dt",
    "em",
    "figcaption",
    "figure",
    "font",
    "hr",
    "i",
    "img",
    "ins",
    "kbd",
    "li",
    "mark",
    "ol",
    "p",
    "pre",
    "q",
    "s",
    "samp",
    "small",
    "span",
    "strike",
    "strong",
    "sub",
    "sup",
    "table",
    "tbody",
    "td",
    "tfoot",
    "th",
    "thead",
    "tr",
    "tt",
    "u",
    "ul",
    "var",
    "wbr",
];

/// Sectioning elements shown as `div` (the page's own structure uses them).
const AS_DIV: &[&str] = &[
    "section", "article", "header", "footer", "main", "nav", "aside", "body", "details", "summary",
    "form", "fieldset", "legend", "label",
];

/// Elements dropped together with everything inside them.
const DROP_CONTENT: &[&str] = &[
    "head",
    "script",
    "style",
    "title",
    "template",
    "noscript",
    "iframe",
    "object",
    "embed",
    "applet",
    "svg",
    "math",
    "textarea",
    "select",
    "xmp",
    "noembed",
    "noframes",
    "frameset",
    "frame",
    "plaintext",
    "audio",
    "video",
    "canvas",
    "map",
    "datalist",
];

const VOID: &[&str] = &["br", "col", "hr", "img", "wbr"];

/// Attributes kept on any kept element (values escaped; `style` filtered).
const ATTRS: &[&str] = &[
    "title",
    "lang",
    "align",
    "valign",
    "width",
    "height",
    "bgcolor",
    "color",
    "face",
    "size",
    "border",
    "cellpadding",
    "cellspacing",
    "colspan",
    "rowspan",
    "nowrap",
    "start",
    "type",
    "alt",
    "dir",
    "span",
];

/// CSS properties kept in `style` attributes.
const CSS: &[&str] = &[
    "color",
    "background-color",
    "font",
    "font-family",
    "font-size",
    "font-weight",
    "font-style",
    "font-variant",
    "text-align",
    "text-decoration",
    "text-transform",
    "text-indent",
    "line-height",
    "letter-spacing",
    "word-spacing",
    "vertical-align",
    "white-space",
    "word-break",
    "overflow-wrap",
    "word-wrap",
    "width",
    "min-width",
    "max-width",
    "height",
    "min-height",
    "margin",
    "margin-top",
    "margin-right",
    "margin-bottom",
    "margin-left",
    "padding",
    "padding-top",
    "padding-right",
    "padding-bottom",
    "padding-left",
    "border",
    "border-top",
    "border-right",
    "border-bottom",
    "border-left",
    "border-color",
    "border-style",
    "border-width",
    "border-collapse",
    "border-spacing",
    "border-radius",
    "list-style-type",
    "table-layout",
    "display",
];

/// Keeps the whitelisted declarations of a `style` attribute whose values cannot load
/// anything or escape the message's box (no `url(`, `image-set(`, `expression(`,
/// escapes, comments, `@`, `!important`; functions only rgb/rgba/hsl/hsla).
fn clean_style(style: &str) -> String {
    let mut out = String::new();
    for decl in style.split(';') {
        let Some((prop, value)) = decl.split_once(':') else {
            continue;
        };
        let prop = prop.trim().to_ascii_lowercase();
        let value = value.trim();
        if !CSS.contains(&prop.as_str()) || value.is_empty() || value.len() > 200 {
            continue;
        }
        let lower = value.to_ascii_lowercase();
        let bad_char = value
            .chars()
            .any(|c| c.is_control() || matches!(c, '\\' | '@' | '<' | '>' | '&' | '{' | '}' | '!'));
        let funcs_ok = lower.match_indices('(').all(|(i, _)| {
            let head = lower[..i].trim_end();
            ["rgb", "rgba", "hsl", "hsla"]
                .iter()
                .any(|f| head.ends_with(f))
        });
        if bad_char || !funcs_ok || lower.contains("/*") || lower.contains("url") {
            continue;
        }
        if prop == "display"
            && !matches!(
                lower.as_str(),
                "block" | "inline" | "inline-block" | "none" | "table" | "table-row" | "table-cell"
            )
        {
            continue;
        }
        if !out.is_empty() {
            out.push_str("; ");
        }
        out.push_str(&prop);
        out.push_str(": ");
        out.push_str(value);
    }
    out
}

/// An `<img src>` the page may show: `data:` images of the common raster types only.
fn data_image(src: &str) -> bool {
    let l = src.trim().to_ascii_lowercase();
    [
        "data:image/png;",
        "data:image/gif;",
        "data:image/jpeg;",
        "data:image/webp;",
    ]
    .iter()
    .any(|p| l.starts_with(p))
}

/// What [`sanitize`] found besides the HTML it returns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sanitized {
    pub html: String,
    /// Remote images (and other remote references) left out.
    pub blocked: usize,
}

/// Makes HTML mail safe to show inside a static page: only [`KEEP`] elements (a few
/// sectioning ones as `div`), only [`ATTRS`] plus a filtered `style`, links only to
/// `http:`/`https:`/`mailto:`/`ftp:` (with the address as their tooltip, opening
/// nothing by themselves), images only from `data:` or from the message's own parts
/// (`cid:` resolved by `cid`, which returns a path inside the bundle); a remote image
/// is replaced by its alt text in brackets and counted. Every end tag closes only an
/// element the sanitiser opened, and all are closed at the end, so the result cannot
/// break out of the element it is put in (as long as that is not one of [`KEEP`]).
pub fn sanitize(html: &str, cid: &dyn Fn(&str) -> Option<String>) -> Sanitized {
    let mut out = String::with_capacity(html.len());
    let mut open: Vec<&'static str> = Vec::new();
    let mut blocked = 0;
    let mut drop_depth: Option<(String, usize)> = None;
    for tok in Tokens::new(html) {
        if dropped(&mut drop_depth, &tok) {
            continue;
        }
        match tok {
            Token::Text(t) => text_into(&mut out, t),
            Token::Raw | Token::Other => {}
            Token::Start { name, attrs } => {
                if DROP_CONTENT.contains(&name.as_str()) {
                    if !RAW_TEXT.contains(&name.as_str()) {
                        drop_depth = Some((name, 1));
                    }
                    continue;
                }
                let Some(tag) = intern(&name) else {
                    continue;
                };
                if open.len() >= 200 && !VOID.contains(&tag) {
                    continue; // nesting that deep shows nothing more
                }
                let a = kept_attrs(tag, &attrs);
                if tag == "img" {
                    if img_into(&mut out, &attrs, &a, cid) {
                        blocked += 1;
                    }
                    continue;
                }
                let _ = write!(out, "<{tag}{a}>");
                if !VOID.contains(&tag) {
                    open.push(tag);
                }
            }
            Token::End(name) => {
                let Some(tag) = intern(&name) else {
                    continue;
                };
                if let Some(pos) = open.iter().rposition(|t| *t == tag) {
                    while open.len() > pos {
                        let t = open.pop().unwrap_or("div");
                        let _ = write!(out, "</{t}>");
                    }
                }
            }
        }
    }
    while let Some(t) = open.pop() {
        let _ = write!(out, "</{t}>");
    }
    Sanitized { html: out, blocked }
}

/// The tag the sanitiser writes for element `n`, if it keeps it.
fn intern(n: &str) -> Option<&'static str> {
    KEEP.iter()
        .chain(HEADINGS)
        .find(|k| **k == n)
        .copied()
        .or_else(|| AS_DIV.contains(&n).then_some("div"))
}

/// Whether `tok` lies inside an element dropped with its content (`drop_depth`: its
/// name and nesting), updating that state; `head` also ends where a body starts.
fn dropped(drop_depth: &mut Option<(String, usize)>, tok: &Token) -> bool {
    if drop_depth.as_ref().is_some_and(|(n, _)| n == "head") && ends_head(tok) {
        *drop_depth = None;
    }
    let Some((name, depth)) = drop_depth else {
        return false;
    };
    match tok {
        Token::Start { name: n, .. } if n == name => *depth += 1,
        Token::End(n) if n == name => {
            *depth -= 1;
            if *depth == 0 {
                *drop_depth = None;
            }
        }
        _ => {}
    }
    true
}

/// The attributes written for kept element `tag`: whitelisted ones escaped, `style`
/// filtered, a safe `href` with its address as tooltip.
fn kept_attrs(tag: &str, attrs: &[(String, String)]) -> String {
    let mut a = String::new();
    let href = (tag == "a")
        .then(|| attr(attrs, "href").and_then(safe_link))
        .flatten();
    if let Some(h) = &href {
        let h = escape(h);
        let _ = write!(a, " href=\"{h}\" title=\"{h}\" rel=\"noopener noreferrer\"");
    }
    for (n, v) in attrs {
        if n == "title" && href.is_some() {
            continue;
        }
        if ATTRS.contains(&n.as_str()) {
            if n == "dir" && !matches!(v.as_str(), "ltr" | "rtl" | "auto") {
                continue;
            }
            let _ = write!(a, " {n}=\"{}\"", escape(v));
        } else if n == "style" {
            let s = clean_style(v);
            if !s.is_empty() {
                let _ = write!(a, " style=\"{}\"", escape(&s));
            }
        }
    }
    a
}

/// Writes an `img` with attributes `a` if its source is local (`cid:` or `data:`),
/// else its alt text in brackets. Returns whether a remote image was blocked.
fn img_into(
    out: &mut String,
    attrs: &[(String, String)],
    a: &str,
    cid: &dyn Fn(&str) -> Option<String>,
) -> bool {
    let src = attr(attrs, "src").unwrap_or("").trim();
    let local = if let Some(id) = src
        .get(..4)
        .filter(|p| p.eq_ignore_ascii_case("cid:"))
        .map(|_| &src[4..])
    {
        cid(id.trim_matches(['<', '>']))
    } else if data_image(src) {
        Some(src.to_string())
    } else {
        None
    };
    match local {
        Some(s) => {
            let _ = write!(out, "<img src=\"{}\"{a}>", escape(&s));
            false
        }
        None => {
            let alt = attr(attrs, "alt").unwrap_or("").trim();
            out.push_str("<span class=\"no-image\" title=\"image not loaded\">[");
            escape_into(out, if alt.is_empty() { "image" } else { alt });
            out.push_str("]</span>");
            !src.is_empty()
        }
    }
}

/// Writes text escaped, decoding the character references this module knows first.
fn text_into(out: &mut String, t: &str) {
    escape_into(out, &decode_refs(t));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn san(s: &str) -> String {
        sanitize(s, &|id| {
            (id == "logo@x").then(|| "files/logo.png".to_string())
        })
        .html
    }

    #[test]
    fn text_basic() {
        let t = html_to_text(
            "<html><head><title>x</title><style>p{}</style></head><body><p>Hello&nbsp;&amp; <b>world</b></p><ul><li>one<li>two</ul><!-- c --><div>&#x3042;&#12354;</div></body></html>",
        );
        assert_eq!(t, "Hello & world\n\n* one\n* two\n\nああ\n");
    }

    #[test]
    fn text_keeps_link_addresses() {
        let t = html_to_text(
            "<p>Read it <a href=\"https://example.com/a?b=1&amp;c=2\">here</a>.</p>\
             <p><a href='https://example.com/'>https://example.com/</a> \
             <a href=\"mailto:bob@example.com\">bob@example.com</a> \
             <a href=\"javascript:alert(1)\">click</a> <a href=\"#top\">top</a>\
             <a href=\"https://x.example/buy\"><img src=\"https://t.example/p.gif\" alt=\"Buy now\"></a></p>",
        );
        assert_eq!(
            t,
            "Read it here <https://example.com/a?b=1&c=2>.\n\nhttps://example.com/ bob@example.com click top[Buy now] <https://x.example/buy>\n"
        );
    }

    #[test]
    fn unclosed_tag_ending_in_multibyte_char() {
        assert_eq!(html_to_text("text <b\u{fffd}").trim_end(), "text");
        let _ = html_to_text("<\u{e9}");
        let _ = html_to_text("<");
        let _ = html_to_text("<a href=\"\u{e9}");
        let _ = sanitize("<a href=\"\u{e9}", &|_| None);
        let _ = sanitize("</\u{e9}", &|_| None);
        let _ = sanitize("&#x110000;&#99999999999;&#;&#x;", &|_| None);
    }

    #[test]
    fn hostile_html_is_neutralised() {
        let cases = [
            "<script>alert(1)</script>",
            "<SCRIPT SRC=//evil/x.js></SCRIPT>",
            "<img src=x onerror=alert(1)>",
            "<img src=\"https://tracker.example/pixel.gif\" width=1 height=1>",
            "<a href=\"javascript:alert(1)\">x</a>",
            "<a href=\"jav&#x61;script:alert(1)\">x</a>",
            "<a href=\"java\tscript:alert(1)\">x</a>",
            "<a href=\" javascript:alert(1)\">x</a>",
            "<a href=\"javascript&colon;alert(1)\">x</a>",
            "<a href=\"data:text/html,<script>alert(1)</script>\">x</a>",
            "<iframe src=\"https://evil/\"></iframe>",
            "<object data=x></object><embed src=x>",
            "<svg><script>alert(1)</script></svg>",
            "<math><mi xlink:href=\"javascript:alert(1)\">x</mi></math>",
            "<style>@import 'https://evil/x.css';</style>",
            "<link rel=stylesheet href=https://evil/x.css>",
            "<meta http-equiv=refresh content=\"0;url=https://evil/\">",
            "<base href=\"https://evil/\">",
            "<div style=\"background:url(https://evil/x.png)\">x</div>",
            "<div style=\"background-image:u\\72l(https://evil/x.png)\">x</div>",
            "<div style=\"width:expression(alert(1))\">x</div>",
            "<p style=\"position:fixed;top:0\">x</p>",
            "<table background=\"https://evil/bg.png\"><tr><td>x</td></tr></table>",
            "<form action=https://evil/><input name=p><button>go</button></form>",
            "<div onclick=alert(1) onmouseover=\"alert(2)\">x</div>",
            "<img src=cid:other@x>",
            "<<script>script>alert(1)<</script>/script>",
            "<scr<script>ipt>alert(1)</script>",
            "<!--<script>alert(1)//--><script>alert(2)</script>",
            "<textarea><script>alert(1)</script></textarea>",
            "<noscript><img src=x onerror=alert(1)></noscript>",
            "<a href=\"https://ok.example/\" onclick=alert(1)>ok</a>",
            "<body onload=alert(1)>x",
            "<video src=https://evil/v.mp4 poster=https://evil/p.png></video>",
            "<img srcset=\"https://evil/a.png 2x\" src=\"data:image/png;base64,AAAA\">",
            "<div style=\"color:red\" style=\"background:url(x)\">x</div>",
            "<p title=\"&quot;><script>alert(1)</script>\">x</p>",
        ];
        for c in cases {
            let out = san(c);
            let l = out.to_ascii_lowercase();
            for bad in [
                "<script",
                "onerror",
                "onclick",
                "onload",
                "onmouseover",
                "javascript:",
                "<iframe",
                "<object",
                "<embed",
                "<svg",
                "<math",
                "<style",
                "<link",
                "<meta",
                "<base",
                "url(",
                "expression",
                "position",
                "background=",
                "<form",
                "<input",
                "<button",
                "https://evil",
                "tracker",
                "srcset",
                "<video",
                "poster",
                "<textarea",
                "data:text",
            ] {
                assert!(!l.contains(bad), "{c:?} gave {out:?} (contains {bad})");
            }
            // Every tag in the output is one the sanitiser writes.
            for tag in l.split('<').skip(1) {
                let name: String = tag
                    .trim_start_matches('/')
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric())
                    .collect();
                assert!(
                    KEEP.contains(&name.as_str())
                        || HEADINGS.contains(&name.as_str())
                        || name == "span",
                    "{c:?} gave {out:?} ({name})"
                );
            }
        }
    }

    #[test]
    fn sanitised_html_keeps_what_is_safe() {
        assert_eq!(
            san(
                "<p style=\"color:#333; font-size: 14px; position:absolute\">Hi <b>you</b> &amp; me &hearts;</p>"
            ),
            "<p style=\"color: #333; font-size: 14px\">Hi <b>you</b> &amp; me &amp;hearts;</p>"
        );
        assert_eq!(
            san("<a href=\"https://example.com/?a=1&amp;b=2\" class=x id=y>go</a>"),
            "<a href=\"https://example.com/?a=1&amp;b=2\" title=\"https://example.com/?a=1&amp;b=2\" rel=\"noopener noreferrer\">go</a>"
        );
        assert_eq!(
            san("<img src=\"cid:logo@x\" alt=\"Logo\"><img src=\"https://t.example/p.gif\">"),
            "<img src=\"files/logo.png\" alt=\"Logo\"><span class=\"no-image\" title=\"image not loaded\">[image]</span>"
        );
        assert_eq!(
            sanitize("<img src=\"https://t/p.gif\">", &|_| None).blocked,
            1
        );
        // Stray end tags close nothing outside; open ones are closed at the end.
        assert_eq!(
            san("</div></td></table>x<div><table><tr><td>y"),
            "x<div><table><tr><td>y</td></tr></table></div>"
        );
        assert_eq!(
            san("<section><h1>T</h1></section>"),
            "<div><h1>T</h1></div>"
        );
        assert_eq!(san("a < b > c"), "a &lt; b &gt; c");
    }

    #[test]
    fn unclosed_head_ends_where_the_body_starts() {
        let h = "<html><head><title>t</title><meta charset=utf-8>Hello <b>there</b>";
        assert_eq!(html_to_text(h), "Hello there\n");
        assert_eq!(san(h), "Hello <b>there</b>");
        assert_eq!(san("<head><style>x</style></head><p>a</p>"), "<p>a</p>");
        assert_eq!(html_to_text("<head><title>t</title></head><body>b"), "b\n");
    }

    #[test]
    fn entities() {
        assert_eq!(decode_refs("&amp;&lt;&#65;&#x42;&bogus;&"), "&<AB&bogus;&");
        assert_eq!(decode_refs("&#0;&#xD800;"), "\u{FFFD}\u{FFFD}");
        assert_eq!(
            escape("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }

    #[test]
    fn safe_links() {
        assert_eq!(
            safe_link(" https://a.example/ ").as_deref(),
            Some("https://a.example/")
        );
        assert_eq!(
            safe_link("ht\ntps://a.example/").as_deref(),
            Some("https://a.example/")
        );
        for bad in [
            "javascript:x",
            "https:",
            "/relative",
            "file:///etc/passwd",
            "data:x",
            "vbscript:x",
            "//evil/",
        ] {
            assert_eq!(safe_link(bad), None, "{bad}");
        }
    }
}
