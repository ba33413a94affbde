//! `mxsalvage journal`: reads an export's manifest and its reinject journal and reports,
//! per message and per pair, what happened (sent / failed and its DSN / deferred /
//! unknown / not tried); `--sent-ids` prints only the queue IDs the secondary may
//! delete (`postsuper -d -`): messages delivered to every recipient, and with
//! `--include-refused` also those whose refused pairs' DSNs are done (never a message
//! withheld as malware: counted on stderr, the administrator deletes it knowingly);
//! `--json` the whole report. Never writes anything.
//! Exit 0 when every message is done (with `--sent-ids`: listed), 1 when some are not
//! (listed, or counted on stderr with `--sent-ids`), 2 on errors (no manifest, a journal others can write, a
//! partial export with `--sent-ids`).

use std::io::Write;

use anyhow::{Context, Result, bail};

use mxsalvage::exit::Exit;
use mxsalvage::manifest::Manifest;
use mxsalvage::reinject::delete::deletion_lists;
use mxsalvage::reinject::journal::JournalState;
use mxsalvage::reinject::read_manifest;
use mxsalvage::reinject::status::{PairState, Report, report};

pub fn run(a: crate::cli::args::JournalArgs) -> Result<Exit> {
    let manifest = read_manifest(&a.from).map_err(anyhow::Error::msg)?;
    let path = a
        .journal
        .clone()
        .unwrap_or_else(|| a.from.join("reinject-journal.jsonl"));
    let js = JournalState::read(&path)
        .with_context(|| format!("cannot read the journal {}", path.display()))?;
    for w in &js.warnings {
        eprintln!("mxsalvage: warning: {}: {w}", path.display());
    }
    let rep = report(
        &manifest,
        &js,
        &a.from.display().to_string(),
        &path.display().to_string(),
    );
    if rep.not_in_manifest > 0 {
        eprintln!(
            "mxsalvage: warning: {} pair(s) in the journal are not pending pairs of this export (the journal of another export, or the export was made again?)",
            rep.not_in_manifest
        );
    }
    let all_done = rep.totals.messages_done == rep.totals.messages;
    if a.sent_ids {
        if let Some(why) = &rep.partial_export {
            bail!(
                "--sent-ids refused: {why}, so deleting them from the queue could lose mail; decide with `mxsalvage journal --from {}` and the queue itself",
                a.from.display()
            );
        }
        if !manifest.source.spools.is_empty() {
            return per_spool(&manifest, &rep, a.include_refused);
        }
        let ids = rep.sent_ids(a.include_refused);
        let mut o = std::io::stdout().lock();
        for id in &ids {
            writeln!(o, "{id}")?;
        }
        o.flush()?;
        eprintln!(
            "mxsalvage: {}. Delete them right away, on the secondary the export was read from (host {}, queue directory {}): queue IDs are reused, and `postsuper -r` gives messages new ones, after which an ID may name another message",
            sent_ids_counts(
                &rep,
                ids.len(),
                a.include_refused,
                &a.from.display().to_string()
            ),
            manifest
                .source
                .myhostname
                .as_deref()
                .unwrap_or(&manifest.source.host),
            manifest.source.queue_directory
        );
        return Ok(Exit::partial_if(ids.len() < rep.totals.messages));
    }
    if a.json {
        let mut o = std::io::stdout().lock();
        serde_json::to_writer_pretty(&mut o, &rep)?;
        writeln!(o)?;
    } else {
        print_report(&rep)?;
    }
    Ok(Exit::partial_if(!all_done))
}

/// `--sent-ids` for an export of several spools: per spool a comment line naming it,
/// then the command that deletes each queue file there whose mail is out (duplicates
/// left out of the export go with the copy kept in their place). Exit 1 while some
/// must stay.
fn per_spool(manifest: &Manifest, rep: &Report, include_refused: bool) -> Result<Exit> {
    let lists = deletion_lists(manifest, rep, include_refused);
    let mut o = std::io::stdout().lock();
    for l in &lists {
        writeln!(o, "# {} ({})", l.queue_directory, l.kind.as_str())?;
        for c in l.commands() {
            writeln!(o, "{c}")?;
        }
    }
    o.flush()?;
    let kept: usize = lists.iter().map(|l| l.kept).sum();
    let listed: usize = lists.iter().map(|l| l.ids.len()).sum();
    let withheld = match rep.totals.messages_withheld {
        0 => String::new(),
        n => format!(
            " ({n} of the export's messages withheld as malware among them: delete those yourself once seen)"
        ),
    };
    eprintln!(
        "mxsalvage: {listed} queue file(s) listed in {} spool(s), {kept} not yet done{withheld} (see mxsalvage journal --from {}). Run each spool's commands on the host that holds it, right away: queue IDs are reused",
        lists.len(),
        rep.export
    );
    Ok(Exit::partial_if(kept > 0))
}

/// `35 of 37 message(s) listed (every pair delivered); left out: 2 with refused …`.
fn sent_ids_counts(rep: &Report, listed: usize, include_refused: bool, from: &str) -> String {
    let t = &rep.totals;
    let refused_done = t.messages_done - t.messages_delivered - t.messages_withheld;
    let mut s = format!(
        "{listed} of {} message(s) listed ({} with every pair delivered{})",
        t.messages,
        t.messages_delivered,
        if include_refused {
            format!(", {refused_done} with refused pairs whose DSNs are done")
        } else {
            String::new()
        }
    );
    let mut left = Vec::new();
    if !include_refused && refused_done > 0 {
        left.push(format!(
            "{refused_done} with refused pairs whose DSNs are done (check them with mxsalvage journal --from {from}, then add --include-refused)"
        ));
    }
    if t.messages_withheld > 0 {
        left.push(format!(
            "{} withheld as malware, not sent to the primary (they remain in the queue: delete them yourself once you have seen them with mxsalvage journal --from {from})",
            t.messages_withheld
        ));
    }
    if t.messages > t.messages_done {
        left.push(format!(
            "{} not done (see mxsalvage journal --from {from})",
            t.messages - t.messages_done
        ));
    }
    if !left.is_empty() {
        s.push_str(&format!("; left out: {}", left.join("; ")));
    }
    s
}

/// The two lines of counts: pairs by state, messages by outcome.
fn write_totals(o: &mut impl Write, t: &mxsalvage::reinject::status::Totals) -> Result<()> {
    writeln!(
        o,
        "\n{} pair(s): {} sent, {} failed ({} with its DSN done), {} deferred, {} unknown, {} not tried{}",
        t.pairs,
        t.sent,
        t.failed,
        t.failed_done,
        t.deferred,
        t.unknown,
        t.not_tried,
        match t.withheld {
            0 => String::new(),
            n => format!(", {n} withheld (malware, not sent)"),
        }
    )?;
    writeln!(
        o,
        "{} message(s): {} delivered (every pair sent), {} done with refused pairs (their DSNs done), {}{} not done",
        t.messages,
        t.messages_delivered,
        t.messages_done - t.messages_delivered - t.messages_withheld,
        match t.messages_withheld {
            0 => String::new(),
            n => format!("{n} withheld as malware (not in --sent-ids), "),
        },
        t.messages - t.messages_done
    )?;
    Ok(())
}

fn print_report(r: &Report) -> Result<()> {
    let mut o = std::io::stdout().lock();
    if r.lines == 0 {
        writeln!(
            o,
            "journal {}: empty or not there yet (nothing re-injected from the export {})",
            r.journal, r.export
        )?;
    } else {
        writeln!(
            o,
            "journal {} ({} line(s)) for the export {}",
            r.journal, r.lines, r.export
        )?;
    }
    for (target, n) in &r.targets {
        writeln!(o, "sent to {target}: {n} pair(s)")?;
    }
    write_totals(&mut o, &r.totals)?;
    if let Some(why) = &r.partial_export {
        writeln!(o, "note: {why}: `--sent-ids` lists nothing for it")?;
    }
    writeln!(
        o,
        "\n{:<18} {:>5} {:>5} {:>6} {:>8} {:>7} {:>9}  done",
        "queue id", "pairs", "sent", "failed", "deferred", "unknown", "not tried"
    )?;
    for m in &r.messages {
        let n = |s: PairState| m.pairs.iter().filter(|p| p.state == s).count();
        writeln!(
            o,
            "{:<18} {:>5} {:>5} {:>6} {:>8} {:>7} {:>9}  {}",
            m.queue_id,
            m.pairs.len(),
            n(PairState::Sent),
            n(PairState::Failed),
            n(PairState::Deferred),
            n(PairState::Unknown),
            n(PairState::NotTried),
            if m.done { "yes" } else { "no" }
        )?;
    }
    let open: Vec<_> = r
        .messages
        .iter()
        .flat_map(|m| m.pairs.iter().map(move |p| (m, p)))
        .filter(|(_, p)| p.state != PairState::Sent)
        .collect();
    if !open.is_empty() {
        writeln!(o, "\npairs not sent")?;
    }
    for (m, p) in open {
        let mut line = format!(
            "  {} {}: {}",
            m.queue_id,
            p.recipient.display(),
            p.state.as_str()
        );
        if let Some(reply) = &p.line.reply {
            line.push_str(&format!(": {reply}"));
        }
        if let (Some(target), Some(time)) = (&p.line.target, &p.line.time) {
            line.push_str(&format!(" ({target}, {time})"));
        }
        if let Some(d) = &p.dsn {
            line.push_str(&format!("; {}", d.describe()));
        }
        if p.done {
            line.push_str(" [done]");
        }
        writeln!(o, "{line}")?;
    }
    Ok(())
}
