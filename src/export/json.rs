//! Writes `manifest.json` as a stream, byte for byte what `serde_json::to_vec_pretty`
//! gives for the whole [`Manifest`] plus a final newline.
//!
//! Owns: the top-level object written by hand (two-space indent, `": "` after keys, as
//! serde_json's pretty printer), each field's value and each array element serialised
//! by serde_json on its own and re-indented to its depth. The message and recipient
//! entries come from an iterator of already serialised (pretty, depth 0) records, so
//! the manifest never has to be in memory as a whole. In: a [`Head`] and the entries.
//! Out: bytes on a writer. Fails with the writer's or serde_json's error.

use std::borrow::Cow;
use std::io::{self, Write};

use serde::Serialize;

use crate::manifest::{Duplicate, NearDuplicate, Options, Problem, Source, Space, Totals};

/// Everything in the manifest besides `messages` and `recipients`.
pub struct Head<'a> {
    pub schema: u32,
    pub tool: &'a str,
    pub generated_at: &'a str,
    pub complete: bool,
    pub source: &'a Source,
    pub options: &'a Options,
    pub totals: &'a Totals,
    pub space: Option<&'a Space>,
    pub duplicates: &'a [Duplicate],
    pub near_duplicates: &'a [NearDuplicate],
    pub errors: &'a [Problem],
    pub skipped: &'a [Problem],
}

/// `json` (pretty, depth 0) with every line after the first indented to `depth`.
fn put_at<W: Write>(w: &mut W, json: &[u8], depth: usize) -> io::Result<()> {
    for (i, line) in json.split(|&b| b == b'\n').enumerate() {
        if i > 0 {
            w.write_all(b"\n")?;
            for _ in 0..depth {
                w.write_all(b"  ")?;
            }
        }
        w.write_all(line)?;
    }
    Ok(())
}

fn field<W: Write, T: Serialize + ?Sized>(
    w: &mut W,
    name: &str,
    v: &T,
    last: bool,
) -> io::Result<()> {
    write!(w, "  \"{name}\": ")?;
    put_at(w, &serde_json::to_vec_pretty(v)?, 1)?;
    w.write_all(if last { b"\n" } else { b",\n" })
}

fn array<'a, W: Write>(
    w: &mut W,
    name: &str,
    items: impl Iterator<Item = io::Result<Cow<'a, [u8]>>>,
) -> io::Result<()> {
    write!(w, "  \"{name}\": [")?;
    let mut any = false;
    for item in items {
        let item = item?;
        w.write_all(if any { b",\n    " } else { b"\n    " })?;
        put_at(w, &item, 2)?;
        any = true;
    }
    if any {
        w.write_all(b"\n  ")?;
    }
    w.write_all(b"],\n")
}

/// Writes the manifest. `messages` and `recipients` yield each entry as
/// `serde_json::to_vec_pretty` of a `ManifestMessage` / `ManifestRecipient`.
pub fn write_manifest<'a, 'b, W: Write>(
    w: &mut W,
    h: &Head,
    messages: impl Iterator<Item = io::Result<Cow<'a, [u8]>>>,
    recipients: impl Iterator<Item = io::Result<Cow<'b, [u8]>>>,
) -> io::Result<()> {
    w.write_all(b"{\n")?;
    field(w, "schema", &h.schema, false)?;
    field(w, "tool", h.tool, false)?;
    field(w, "generated_at", h.generated_at, false)?;
    field(w, "complete", &h.complete, false)?;
    field(w, "source", h.source, false)?;
    field(w, "options", h.options, false)?;
    field(w, "totals", h.totals, false)?;
    if let Some(sp) = h.space {
        field(w, "space", sp, false)?;
    }
    if !h.duplicates.is_empty() {
        field(w, "duplicates", h.duplicates, false)?;
    }
    if !h.near_duplicates.is_empty() {
        field(w, "near_duplicates", h.near_duplicates, false)?;
    }
    array(w, "messages", messages)?;
    array(w, "recipients", recipients)?;
    field(w, "errors", h.errors, false)?;
    field(w, "skipped", h.skipped, true)?;
    w.write_all(b"}\n")
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::bytes::Bytes;
    use crate::manifest::{
        Attachment, Exported, FileEntry, Manifest, ManifestMessage, ManifestRecipient, Outputs,
    };
    use crate::queue::RcptState;
    use crate::report::model::{MessageInfo, RecipientInfo};

    /// A manifest entry for message `id` arriving at `n` (one recipient, one attachment).
    pub(crate) fn message(id: &str, n: i64) -> ManifestMessage {
        ManifestMessage {
            info: MessageInfo {
                spool: None,
                spool_queue_id: None,
                queue_id: id.into(),
                queue: "deferred".into(),
                path: format!("deferred/A/{id}"),
                arrival_time: "2026-01-01T00:00:00Z".into(),
                arrival_unix: n,
                create_time: "2026-01-01T00:00:00Z".into(),
                expires_at: None,
                expires_unix: Some(n + 5),
                next_attempt: None,
                held: false,
                forced_expire: false,
                sender: Bytes(b"s\xffender@x".to_vec()),
                full_name: None,
                size: 12,
                recipients: vec![RecipientInfo {
                    address: Bytes(b"a@b".to_vec()),
                    original: None,
                    status: RcptState::Pending,
                    notify: Some("NEVER".into()),
                    orcpt: None,
                    defer_reason: Some("say \"no\"\nnewline \u{1}".into()),
                    defer_status: None,
                    bounce_reason: None,
                    offset: 7,
                }],
                encoding: None,
                smtputf8_requested: false,
                smtputf8_required: false,
                envelope_id: None,
                ret: None,
                probe: false,
                content_filter: None,
                redirect_to: None,
                verp: None,
                warnings: if n % 2 == 0 {
                    vec![]
                } else {
                    vec!["w".into(), "ü".into()]
                },
            },
            exported: Exported {
                sha256: "ab".into(),
                store: format!("messages/{id}.eml"),
                bytes: 12,
                arrival_usec: 5,
                message_id: None,
                subject: Some("héllo".into()),
                from: None,
                date: None,
                attachments: vec![Attachment {
                    name: "a.pdf".into(),
                    original_name: Some(Bytes(b"../a.pdf".to_vec())),
                    content_type: "application/pdf".into(),
                    size: 3,
                }],
            },
            verdict: None,
        }
    }

    fn recipient(a: &str) -> ManifestRecipient {
        ManifestRecipient {
            address: Bytes(a.as_bytes().to_vec()),
            dir: a.into(),
            messages: vec!["A".into(), "B".into()],
            bytes: 24,
            outputs: Outputs(vec![
                ("mbox".into(), Some(format!("recipients/{a}/mail.mbox"))),
                ("maildir".into(), None),
            ]),
            zip: None,
            zip_sha256: None,
            valid: Some(true),
            files: vec![FileEntry {
                path: "x".into(),
                sha256: "cd".into(),
                size: 1,
            }],
            zip_entries: vec![],
            junk: vec![],
            withheld: vec![],
        }
    }

    fn check(m: &Manifest) {
        let mut want = serde_json::to_vec_pretty(m).unwrap();
        want.push(b'\n');
        let mut got = Vec::new();
        let h = Head {
            schema: m.schema,
            tool: &m.tool,
            generated_at: &m.generated_at,
            complete: m.complete,
            source: &m.source,
            options: &m.options,
            totals: &m.totals,
            space: m.space.as_ref(),
            duplicates: &m.duplicates,
            near_duplicates: &m.near_duplicates,
            errors: &m.errors,
            skipped: &m.skipped,
        };
        write_manifest(
            &mut got,
            &h,
            m.messages.iter().map(|x| {
                serde_json::to_vec_pretty(x)
                    .map(Cow::Owned)
                    .map_err(Into::into)
            }),
            m.recipients.iter().map(|x| {
                serde_json::to_vec_pretty(x)
                    .map(Cow::Owned)
                    .map_err(Into::into)
            }),
        )
        .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(&want)
        );
    }

    #[test]
    fn same_bytes_as_serde_json() {
        let mut m = Manifest {
            schema: 1,
            tool: "mxsalvage 0".into(),
            generated_at: "now".into(),
            complete: true,
            stopped: None,
            source: Source {
                queue_directory: "/q".into(),
                host: "h".into(),
                maximal_queue_lifetime: 1,
                bounce_queue_lifetime: 2,
                postfix_running: None,
                myhostname: None,
                myorigin: None,
                spools: vec![],
            },
            options: Options::default(),
            totals: Totals::default(),
            space: None,
            duplicates: vec![],
            near_duplicates: vec![],
            messages: vec![],
            recipients: vec![],
            errors: vec![],
            skipped: vec![],
        };
        check(&m);
        m.messages = vec![message("A", 1)];
        m.recipients = vec![recipient("a@b")];
        check(&m);
        m.messages.push(message("B", 2));
        m.recipients.push(recipient("c@d"));
        m.errors.push(Problem {
            path: "p".into(),
            queue_id: None,
            reason: "r\n".into(),
        });
        m.skipped = m.errors.clone();
        m.options.formats = vec!["eml".into()];
        check(&m);
        m.duplicates.push(crate::manifest::Duplicate {
            recipient: Bytes(b"b@example.com".to_vec()),
            kept: "A+1".into(),
            kept_spool: "/q".into(),
            spool: "/q2".into(),
            queue_id: "A".into(),
        });
        check(&m);
        m.near_duplicates.push(crate::manifest::NearDuplicate {
            message_id: Bytes(b"<x@y>".to_vec()),
            messages: vec!["B".into(), "C".into()],
        });
        check(&m);
        m.space = Some(Space {
            estimated_bytes: 9,
            ..Space::default()
        });
        check(&m);
    }
}
