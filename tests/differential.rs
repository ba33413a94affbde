//! The differential test (issue 18): mxsalvage's decoding against Python's `email`
//! (`policy=default`), on every message the suite has and on generated ones.
//!
//! Both decoders list the leaf parts of each message — the name the sender gave, the
//! size and SHA-256 of the decoded content (text parts as UTF-8 text with LF line ends,
//! other parts as bytes). mxsalvage's side is [`mxsalvage::decode::decode`] called in
//! this process (its `attachments` and `body_parts`); Python's is
//! tests/differential_email.py, one process for the whole batch. A difference fails
//! the test unless tests/data/accepted-differences.txt lists its kind for that message
//! (a feature of the generated message, or the sample's name) with the RFC reasoning.
//! The generator is seeded (`MXSALVAGE_DIFF_SEED`, `MXSALVAGE_DIFF_COUNT`): a failure
//! names the seed and the message's number, and prints the message.

use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Instant;

use mxsalvage::decode::decode;
use mxsalvage::queue::{Depth, QueueFile};

use crate::harness::{files_under, sha256_hex as sha, tool};
use crate::util::root;

/// A leaf part: (name as sent, size, sha256 of the decoded content).
type Leaf = (Option<String>, u64, String);

fn text_leaf(name: Option<String>, s: &str) -> Leaf {
    let s = s.replace("\r\n", "\n");
    (name, s.len() as u64, sha(s.as_bytes()))
}

/// mxsalvage's leaves of one message, sorted.
fn ours(raw: &[u8]) -> Vec<Leaf> {
    let d = decode(raw, "x.files");
    let mut v: Vec<Leaf> = d
        .body_parts
        .iter()
        .map(|(n, t)| text_leaf(n.clone(), t))
        .collect();
    for a in &d.attachments {
        v.push(if a.content_type.starts_with("text/") {
            text_leaf(a.original_name.clone(), &String::from_utf8_lossy(&a.data))
        } else {
            (a.original_name.clone(), a.data.len() as u64, sha(&a.data))
        });
    }
    v.sort();
    v
}

/// Python's leaves of every message: one Python process per core, each over a batch.
fn theirs(msgs: &[Message]) -> Vec<Result<Vec<Leaf>, String>> {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get().min(4));
    let per = msgs.len().div_ceil(cores).max(1);
    std::thread::scope(|s| {
        let runs: Vec<_> = msgs
            .chunks(per)
            .map(|c| s.spawn(|| python_batch(c)))
            .collect();
        runs.into_iter().flat_map(|r| r.join().unwrap()).collect()
    })
}

/// Python's leaves of `msgs`, in one run of tests/differential_email.py.
fn python_batch(msgs: &[Message]) -> Vec<Result<Vec<Leaf>, String>> {
    let mut child = Command::new("python3")
        .arg(root().join("tests/differential_email.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3");
    let mut stdin = child.stdin.take().unwrap();
    let input: Vec<u8> = msgs
        .iter()
        .flat_map(|m| {
            let mut v = format!("{}\n", m.raw.len()).into_bytes();
            v.extend_from_slice(&m.raw);
            v
        })
        .collect();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(out.status.success(), "differential_email.py failed");
    let lines: Vec<&[u8]> = out
        .stdout
        .split(|&c| c == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    assert_eq!(lines.len(), msgs.len());
    lines
        .iter()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_slice(l).unwrap();
            if let Some(e) = v.get("error") {
                return Err(e.to_string());
            }
            let mut leaves: Vec<Leaf> = serde_json::from_value(v["leaves"].clone()).unwrap();
            leaves.sort();
            Ok(leaves)
        })
        .collect()
}

/// One message of the corpus, with what it is (sample path or generator seed/number)
/// and its features (the generator's tags, or `sample:<name>`).
struct Message {
    what: String,
    features: Vec<String>,
    raw: Vec<u8>,
}

/// The kinds of difference, as the accepted list names them.
fn difference(ours: &[Leaf], theirs: &Result<Vec<Leaf>, String>) -> Option<(String, String)> {
    let theirs = match theirs {
        Err(e) => return Some(("python-error".into(), e.clone())),
        Ok(t) => t,
    };
    if ours == theirs.as_slice() {
        return None;
    }
    let only = |a: &[Leaf], b: &[Leaf]| -> Vec<Leaf> {
        let mut b = b.to_vec();
        a.iter()
            .filter(|x| match b.iter().position(|y| y == *x) {
                Some(i) => {
                    b.remove(i);
                    false
                }
                None => true,
            })
            .cloned()
            .collect()
    };
    let (o, t) = (only(ours, theirs), only(theirs, ours));
    let same_content = |a: &Leaf, b: &Leaf| a.1 == b.1 && a.2 == b.2;
    let kind = if o.len() == t.len() && o.iter().zip(&t).all(|(a, b)| same_content(a, b)) {
        "names"
    } else if o.len() == t.len() && o.iter().zip(&t).all(|(a, b)| a.0 == b.0) {
        "content"
    } else if t.is_empty() {
        "extra-ours"
    } else if o.is_empty() {
        "extra-theirs"
    } else {
        "structure"
    };
    Some((
        kind.into(),
        format!("only mxsalvage: {o:?}\n  only python: {t:?}"),
    ))
}

/// An accepted difference: a kind, for messages with a feature, and why.
struct Accepted {
    id: String,
    kinds: Vec<String>,
    feature: String,
}

/// tests/data/accepted-differences.txt: blocks of `id:`, `kind:`, `feature:`, `why:`.
fn accepted() -> Vec<Accepted> {
    let text = std::fs::read_to_string(root().join("tests/data/accepted-differences.txt")).unwrap();
    let mut v = Vec::new();
    for block in text.split("\n\n") {
        let field = |k: &str| {
            block
                .lines()
                .find_map(|l| l.strip_prefix(&format!("{k}: ")))
                .map(str::to_string)
        };
        if let (Some(id), Some(kind), Some(feature)) =
            (field("id"), field("kind"), field("feature"))
        {
            assert!(field("why").is_some(), "{id}: no reasoning");
            let kinds = kind.split(", ").map(str::to_string).collect();
            v.push(Accepted { id, kinds, feature });
        }
    }
    v
}

// ---------------------------------------------------------------------------------------
// the generator

/// xorshift64*: small, seeded, the same on every machine.
struct Rng(u64);

impl Rng {
    fn new(seed: u64, i: u64) -> Rng {
        Rng((seed ^ i.wrapping_mul(0x9E37_79B9_7F4A_7C15)).max(1))
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
    fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[self.below(v.len())]
    }
}

struct Gen {
    rng: Rng,
    eol: &'static str,
    features: Vec<String>,
    parts: usize,
}

const WORDS: &[&str] = &[
    "invoice",
    "the",
    "meeting",
    "Grüße",
    "日本語",
    "naïve",
    "report",
    "=",
    "a=b",
    "--",
    "x",
    "tab\there",
    "données",
    "€",
    "line",
    "CAPS",
    "end.",
    "\"quoted\"",
];

impl Gen {
    fn tag(&mut self, f: &str) {
        if !self.features.iter().any(|x| x == f) {
            self.features.push(f.to_string());
        }
    }

    /// Some lines of text (no trailing blanks), UTF-8.
    fn text(&mut self) -> String {
        let mut s = String::new();
        for _ in 0..1 + self.rng.below(6) {
            let n = self.rng.below(14);
            let line: Vec<&str> = (0..n).map(|_| *self.rng.pick(WORDS)).collect();
            s.push_str(line.join(" ").trim_end());
            s.push('\n');
        }
        if self.rng.chance(20) {
            s.pop(); // no final line break
        }
        s
    }

    fn binary(&mut self) -> Vec<u8> {
        let n = self
            .rng
            .pick(&[0usize, 1, 2, 3, 45, 57, 100, 300])
            .to_owned();
        (0..n).map(|_| self.rng.next() as u8).collect()
    }

    fn name(&mut self) -> Option<(String, String)> {
        let base = *self.rng.pick(&[
            "report.pdf",
            "a b.txt",
            "Grüße.doc",
            "x.bin",
            "日本.zip",
            "data",
        ]);
        let eol = self.eol;
        Some(match self.rng.below(6) {
            0 => return None,
            1 => (
                format!("; filename={}", base.replace(' ', "_")),
                base.replace(' ', "_"),
            ),
            2 => (format!("; filename=\"{base}\""), base.into()),
            3 => {
                self.tag("folded-param");
                (format!("; filename={eol}\t\"{base}\""), base.into())
            }
            4 => {
                self.tag("rfc2231");
                let enc: String = base.bytes().map(|b| format!("%{b:02X}")).collect();
                (format!("; filename*=UTF-8''{enc}"), base.into())
            }
            _ => {
                self.tag("rfc2231-continued");
                let base = if base.is_ascii() {
                    base
                } else {
                    "long-name.pdf"
                };
                let (a, b) = base.split_at(base.len() / 2);
                (
                    format!(";{eol} filename*0=\"{a}\";{eol} filename*1=\"{b}\""),
                    base.into(),
                )
            }
        })
    }
}

fn base64_lines(data: &[u8], eol: &str) -> String {
    use base64::Engine;
    let b = base64::engine::general_purpose::STANDARD.encode(data);
    let mut s = String::new();
    for c in b.as_bytes().chunks(76) {
        s.push_str(std::str::from_utf8(c).unwrap());
        s.push_str(eol);
    }
    s
}

/// Quoted-printable (RFC 2045 6.7), soft breaks at 76; with `soft_end`, the last line
/// ends in a soft break.
fn qp(data: &[u8], eol: &str, soft_end: bool) -> String {
    let mut s = String::new();
    let mut col = 0;
    for (i, &b) in data.iter().enumerate() {
        let last_of_line = data.get(i + 1).is_none_or(|&n| n == b'\n');
        if b == b'\n' {
            s.push_str(eol);
            col = 0;
            continue;
        }
        let lit =
            (33..=126).contains(&b) && b != b'=' || (b == b' ' || b == b'\t') && !last_of_line;
        let piece = if lit {
            (b as char).to_string()
        } else {
            format!("={b:02X}")
        };
        if col + piece.len() > 75 {
            s.push('=');
            s.push_str(eol);
            col = 0;
        }
        col += piece.len();
        s.push_str(&piece);
    }
    if soft_end || !data.ends_with(b"\n") && !data.is_empty() {
        s.push('=');
        s.push_str(eol);
    } else if !s.ends_with(eol) {
        s.push_str(eol);
    }
    s
}

fn uuencode(data: &[u8], name: &str, eol: &str) -> String {
    let ch = |v: u8| if v == 0 { '`' } else { (b' ' + v) as char };
    let mut s = format!("begin 644 {name}{eol}");
    for line in data.chunks(45) {
        s.push(ch(line.len() as u8));
        for t in line.chunks(3) {
            let t = [t[0], *t.get(1).unwrap_or(&0), *t.get(2).unwrap_or(&0)];
            for v in [
                t[0] >> 2,
                (t[0] << 4 | t[1] >> 4) & 63,
                (t[1] << 2 | t[2] >> 6) & 63,
                t[2] & 63,
            ] {
                s.push(ch(v));
            }
        }
        s.push_str(eol);
    }
    s.push_str(&format!("`{eol}end{eol}"));
    s
}

impl Gen {
    /// A leaf part: headers and body.
    fn leaf(&mut self) -> Vec<u8> {
        self.parts += 1;
        let text = self.rng.chance(50);
        let (ct, data) = if text {
            let ct = *self.rng.pick(&["text/plain", "text/html", "text/plain"]);
            let cs = *self.rng.pick(&["utf-8", "us-ascii", "iso-8859-1"]);
            let mut t = self.text();
            if cs != "utf-8" {
                t = t.chars().filter(|c| c.is_ascii()).collect();
            }
            let t = if cs == "iso-8859-1" && self.rng.chance(50) {
                self.tag("latin1");
                return self.leaf_with(
                    format!("{ct}; charset={cs}"),
                    "Caf\u{e9} cr\u{e8}me\n".chars().map(|c| c as u8).collect(),
                    true,
                );
            } else {
                t
            };
            (format!("{ct}; charset={cs}"), t.into_bytes())
        } else {
            let ct = *self
                .rng
                .pick(&["application/octet-stream", "image/png", "application/pdf"]);
            (ct.to_string(), self.binary())
        };
        self.leaf_with(ct, data, text)
    }

    fn leaf_with(&mut self, ct: String, data: Vec<u8>, text: bool) -> Vec<u8> {
        let eol = self.eol;
        let name = self.name();
        let mut h = format!("Content-Type: {ct}");
        if let Some((p, _)) = &name {
            h.push_str(&p.replace("filename", "name"));
        }
        h.push_str(eol);
        if let Some((p, _)) = &name
            && self.rng.chance(70)
        {
            h.push_str(&format!("Content-Disposition: attachment{p}{eol}"));
        }
        let enc = if text && data.is_ascii() && !data.is_empty() {
            *self
                .rng
                .pick(&["7bit", "quoted-printable", "base64", "x-uuencode", ""])
        } else {
            *self
                .rng
                .pick(&["8bit", "quoted-printable", "base64", "x-uuencode", "base64"])
        };
        let body: Vec<u8> = match enc {
            "base64" => base64_lines(&data, eol).into_bytes(),
            "quoted-printable" => {
                let soft = self.rng.chance(20);
                if soft {
                    self.tag("qp-soft-end");
                }
                qp(&data, eol, soft).into_bytes()
            }
            "x-uuencode" => {
                self.tag("uuencode");
                uuencode(&data, name.as_ref().map_or("file", |n| &n.1), eol).into_bytes()
            }
            _ => {
                let mut s = Vec::new();
                for &b in &data {
                    if b == b'\n' {
                        s.extend_from_slice(eol.as_bytes());
                    } else {
                        s.push(b);
                    }
                }
                s.extend_from_slice(eol.as_bytes());
                s
            }
        };
        if !enc.is_empty() {
            h.push_str(&format!("Content-Transfer-Encoding: {enc}{eol}"));
        }
        if !text && enc == "8bit" {
            self.tag("8bit-binary");
        }
        let mut v = format!("{h}{eol}").into_bytes();
        v.extend_from_slice(&body);
        v
    }
}

impl Gen {
    /// A MIME entity: a leaf, a multipart of entities, or an attached message.
    fn entity(&mut self, depth: usize) -> Vec<u8> {
        let eol = self.eol;
        let r = self.rng.below(10);
        if depth >= 3 || r < 5 || self.parts > 6 {
            return self.leaf();
        }
        if r == 9 {
            self.tag("rfc822");
            let mut v = format!("Content-Type: message/rfc822{eol}{eol}").into_bytes();
            v.extend_from_slice(&self.message(depth + 1));
            return v;
        }
        let sub = *self
            .rng
            .pick(&["mixed", "alternative", "related", "mixed", "signed"]);
        let boundary = format!("b{}={}", depth, self.rng.next() % 100_000);
        let param = match self.rng.below(4) {
            0 => {
                self.tag("folded-param");
                format!("boundary={eol} \"{boundary}\"")
            }
            1 => format!("{eol}\tboundary=\"{boundary}\""),
            _ => format!("boundary=\"{boundary}\""),
        };
        let mut v = format!("Content-Type: multipart/{sub}; {param}{eol}{eol}").into_bytes();
        if self.rng.chance(30) {
            v.extend_from_slice(format!("This is a preamble.{eol}").as_bytes());
        }
        for _ in 0..1 + self.rng.below(4) {
            v.extend_from_slice(format!("{eol}--{boundary}{eol}").as_bytes());
            v.extend_from_slice(&self.entity(depth + 1));
        }
        v.extend_from_slice(format!("{eol}--{boundary}--{eol}").as_bytes());
        if self.rng.chance(20) {
            v.extend_from_slice(format!("epilogue{eol}").as_bytes());
        }
        v
    }

    /// A message: top header fields, then an entity.
    fn message(&mut self, depth: usize) -> Vec<u8> {
        let eol = self.eol;
        let subject = *self
            .rng
            .pick(&["plain subject", "=?UTF-8?B?R3LDvMOfZQ==?=", "Grüße"]);
        let mut v = format!(
            "From: A <a@example.net>{eol}To: b@example.com{eol}Subject: {subject}{eol}Date: Mon, 07 Dec 2026 10:00:00 +0000{eol}MIME-Version: 1.0{eol}"
        )
        .into_bytes();
        v.extend_from_slice(&self.entity(depth));
        v
    }
}

/// Generated message number `i` of `seed`.
fn generated(seed: u64, i: u64) -> Message {
    let mut rng = Rng::new(seed, i);
    let eol = if rng.chance(30) { "\r\n" } else { "\n" };
    let mut g = Gen {
        rng,
        eol,
        features: Vec::new(),
        parts: 0,
    };
    if eol == "\r\n" {
        g.tag("crlf");
    }
    let mut raw = g.message(0);
    if g.rng.chance(5) {
        g.tag("truncated");
        let cut = g.rng.below(raw.len());
        raw.truncate(cut);
    }
    Message {
        what: format!("generated message {i} of seed {seed}"),
        features: g.features,
        raw,
    }
}

// ---------------------------------------------------------------------------------------
// the corpus of the suite

/// Every message of the suite's spools: samples/spool (every queue) and tests/data/d1,
/// plus the hostile and inline-picture messages of the viewer tests.
fn suite_messages() -> Vec<Message> {
    let mut v = Vec::new();
    for spool in [
        root().join("samples/spool"),
        root().join("tests/data/d1/spool"),
    ] {
        // Queue files only: not the defer and bounce logs.
        let files = files_under(&spool).into_iter().filter(|p| {
            !p.components()
                .any(|c| c.as_os_str() == "defer" || c.as_os_str() == "bounce")
        });
        for f in files {
            let rel = f.strip_prefix(root()).unwrap().display().to_string();
            let maildrop = rel.contains("/maildrop/");
            let Ok(q) = QueueFile::parse(std::fs::read(&f).unwrap(), Depth::Full, maildrop) else {
                continue; // a defer log, or a damaged file the reader tests cover
            };
            let raw = q.message_bytes();
            let mut features = vec![format!("sample:{rel}")];
            if raw
                .windows(23)
                .any(|w| w.eq_ignore_ascii_case(b"message/delivery-status"))
            {
                features.push("delivery-status".into());
            }
            v.push(Message {
                features,
                what: rel,
                raw,
            });
        }
    }
    for (name, m) in [
        ("HOSTILE", crate::viewer::hostile()),
        ("INLINE", crate::viewer::inline()),
    ] {
        v.push(Message {
            what: format!("tests/viewer.rs {name}"),
            features: vec![format!("sample:tests/viewer.rs {name}")],
            raw: m.as_bytes().to_vec(),
        });
    }
    v
}

/// Compares both decoders on `msgs`; panics on differences not accepted.
fn compare(msgs: &[Message]) {
    use rayon::prelude::*;
    let t0 = Instant::now();
    let ((python, tp), (ours, to)): ((Vec<_>, _), (Vec<Vec<Leaf>>, _)) = rayon::join(
        || (theirs(msgs), t0.elapsed()),
        || {
            let v = msgs.par_iter().map(|m| ours(&m.raw)).collect();
            (v, t0.elapsed())
        },
    );
    eprintln!("python done after {tp:.1?}, mxsalvage after {to:.1?}");
    let list = accepted();
    let mut used: BTreeMap<&str, usize> = BTreeMap::new();
    let mut failures = Vec::new();
    let mut histogram: BTreeMap<String, usize> = BTreeMap::new();
    let mut differences = 0;
    for ((m, o), t) in msgs.iter().zip(&ours).zip(&python) {
        let Some((kind, detail)) = difference(o, t) else {
            continue;
        };
        differences += 1;
        match list
            .iter()
            .find(|a| a.kinds.contains(&kind) && m.features.contains(&a.feature))
        {
            Some(a) => *used.entry(&a.id).or_default() += 1,
            None => {
                *histogram
                    .entry(format!("{kind} {:?}", m.features))
                    .or_default() += 1;
                failures.push(format!(
                    "{} (features {:?}): {kind} difference\n  {detail}\n  message: {:?}",
                    m.what,
                    m.features,
                    String::from_utf8_lossy(&m.raw[..m.raw.len().min(3000)])
                ))
            }
        }
    }
    eprintln!(
        "differential: {} messages, {differences} differences, {} accepted {used:?}, {} not accepted, {:.1?}",
        msgs.len(),
        differences - failures.len(),
        failures.len(),
        t0.elapsed()
    );
    for (k, n) in &histogram {
        eprintln!("  not accepted: {n} × {k}");
    }
    assert!(
        failures.is_empty(),
        "{} differences not in tests/data/accepted-differences.txt; the first:\n{}",
        failures.len(),
        failures[..failures.len().min(5)].join("\n\n")
    );
}

#[test]
fn same_as_python_email_on_the_suites_messages() {
    if !tool("python3") {
        return;
    }
    let msgs = suite_messages();
    assert!(msgs.len() >= 40, "{}", msgs.len());
    compare(&msgs);
}

#[test]
fn same_as_python_email_on_generated_messages() {
    if !tool("python3") {
        return;
    }
    let env = |k: &str, d: u64| {
        std::env::var(k)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(d)
    };
    let seed = env("MXSALVAGE_DIFF_SEED", 18);
    let count = env("MXSALVAGE_DIFF_COUNT", 10_000);
    if let Ok(i) = std::env::var("MXSALVAGE_DIFF_DUMP") {
        // Writes one generated message to a file, to look at it or decode it by hand.
        let m = generated(seed, i.parse().unwrap());
        let path = std::env::temp_dir().join(format!("mxsalvage-diff-{seed}-{i}.eml"));
        std::fs::write(&path, &m.raw).unwrap();
        eprintln!("{} written to {}", m.what, path.display());
        return;
    }
    let t0 = Instant::now();
    let msgs: Vec<Message> = (0..count).map(|i| generated(seed, i)).collect();
    eprintln!(
        "generated {count} messages (seed {seed}) in {:.1?}",
        t0.elapsed()
    );
    compare(&msgs);
}
