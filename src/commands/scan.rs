//! `mxsalvage scan`: walk, read envelopes in parallel, summarise.

use std::io::Write;

use anyhow::Result;
use rayon::prelude::*;

use super::{SpoolCtx, pool};
use crate::cli::ScanArgs;
use mxsalvage::exit::Exit;
use mxsalvage::model::MessageInfo;
use mxsalvage::queue::Depth;
use mxsalvage::scan::{Problem, ScanReport, queue_totals, render_text, summarize};
use mxsalvage::select::{Asked, why_nothing};
use mxsalvage::timefmt::{now, rfc3339};

pub fn run(a: ScanArgs) -> Result<Exit> {
    let (queues, sel) = super::selection(&a.select)?;
    let ctx = SpoolCtx::open(&a.spool, queues)?;
    ctx.warn_if_running();
    let walk = ctx.spool.walk();
    let cfg = &ctx.spool.cfg;
    let results: Vec<_> = pool(a.jobs)?.install(|| {
        walk.entries
            .par_iter()
            .map(|e| {
                ctx.spool
                    .load(e, Depth::EnvelopeOnly)
                    .map(|l| MessageInfo::from_loaded(&l, cfg))
            })
            .collect()
    });
    let filtering = !sel.recipients.is_empty() || !sel.domains.is_empty() || sel.only_valid;
    let mut messages = Vec::new();
    let mut errors: Vec<Problem> = walk
        .problems
        .iter()
        .map(|p| Problem {
            path: p.path.display().to_string(),
            queue_id: None,
            reason: p.reason.clone(),
        })
        .collect();
    for r in results {
        match r {
            Ok(mut m) => {
                if filtering {
                    m.recipients.retain(|x| sel.matches(&x.address.0));
                    if m.recipients.is_empty() {
                        continue;
                    }
                }
                if sel.valid.is_some() {
                    let invalid: Vec<String> = m
                        .pending()
                        .filter(|x| sel.is_valid(&x.address.0) == Some(false))
                        .map(|x| {
                            format!(
                                "recipient {} is not in the recipient lists",
                                x.address.display()
                            )
                        })
                        .collect();
                    m.warnings.extend(invalid);
                }
                messages.push(m)
            }
            Err(e) => errors.push(Problem {
                path: e.path.display().to_string(),
                queue_id: Some(e.queue_id.clone()),
                reason: e.to_string(),
            }),
        }
    }
    // An empty result: a typo in the selection, or nothing readable, is an error (exit 2).
    if messages.is_empty()
        && filtering
        && let Some(why) = why_nothing(
            &ctx.spool,
            &Asked {
                sel: &sel,
                ids: &[],
                window: false,
                pending_only: false,
            },
        )
    {
        anyhow::bail!(why);
    }
    let nothing_readable = messages.is_empty() && !errors.is_empty() && !filtering;
    let mut skipped: Vec<Problem> = walk
        .ignored
        .iter()
        .map(|p| Problem {
            path: p.display().to_string(),
            queue_id: None,
            reason: "not a queue file name (temporary or leftover file)".into(),
        })
        .collect();
    skipped.extend(walk.duplicates.iter().map(|p| Problem {
        path: p.display().to_string(),
        queue_id: p.file_name().map(|n| n.to_string_lossy().into_owned()),
        reason: "queue ID seen twice (moved during the scan); counted once".into(),
    }));
    let report = ScanReport {
        schema: 1,
        generated_at: rfc3339(now()),
        queue_directory: ctx.spool.root.display().to_string(),
        postfix_running: ctx.running(),
        maximal_queue_lifetime: cfg.maximal_queue_lifetime,
        bounce_queue_lifetime: cfg.bounce_queue_lifetime,
        recipients: summarize(&messages, |a| sel.is_valid(a)),
        queues: queue_totals(&messages),
        messages,
        errors,
        skipped,
    };
    let mut out = std::io::stdout().lock();
    if a.json {
        serde_json::to_writer_pretty(&mut out, &report)?;
        writeln!(out)?;
    } else {
        out.write_all(render_text(&report, now()).as_bytes())?;
    }
    if nothing_readable {
        out.flush()?;
        eprintln!(
            "mxsalvage: nothing could be read in {}: every queue file failed (listed above)",
            ctx.spool.root.display()
        );
        return Ok(Exit::Fatal);
    }
    Ok(Exit::partial_if(!report.errors.is_empty()))
}
