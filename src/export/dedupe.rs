//! Several spools, one export: each recipient gets a message once (after phase 1).
//!
//! Owns: the per-recipient choice between copies with the same content key
//! ([`super::content::Content`]): for a recipient held by such copies in several spools,
//! the copy in the first spool given (then the oldest, then by name) is kept — with
//! every other copy in that same spool, as a single-spool export would — and the others
//! drop that recipient; a copy left with no recipient is not exported. Each drop is a
//! [`Duplicate`]. The Message-ID alone decides nothing: copies that share it but not the
//! key are all exported, each with a warning, and listed as a [`NearDuplicate`]. In: the
//! [`Plan`], the scan objects in the spill file. Out: the plan reduced (the scan objects
//! of the messages touched rewritten), plus the lists. Fails only on a spill read or
//! write.

use std::collections::{BTreeMap, BTreeSet};

use crate::bytes::Bytes;
use crate::decode::names::mailbox_key;
use crate::manifest::{Duplicate, NearDuplicate};
use crate::report::model::MessageInfo;

use super::error::ExportError;
use super::plan::{Plan, Planned};
use super::spill::Spill;

/// What [`apply`] found.
#[derive(Debug, Default)]
pub struct Found {
    pub duplicates: Vec<Duplicate>,
    pub near_duplicates: Vec<NearDuplicate>,
}

/// The spool's directory of a planned message, as the manifest names it.
fn spool_of(p: &Planned) -> String {
    p.entry
        .origin
        .spool
        .as_deref()
        .unwrap_or_default()
        .to_string()
}

/// For every mailbox held by copies with the same key in several spools: the copies
/// that drop it, as (message index → mailbox indices), and the duplicates recorded.
fn choose(plan: &Plan) -> (BTreeMap<usize, BTreeSet<u32>>, Vec<Duplicate>) {
    let msgs = &plan.messages;
    let mut groups: BTreeMap<[u8; 32], Vec<usize>> = BTreeMap::new();
    for (i, p) in msgs.iter().enumerate() {
        if let Some(c) = &p.content {
            groups.entry(c.key).or_default().push(i);
        }
    }
    let mut drops: BTreeMap<usize, BTreeSet<u32>> = BTreeMap::new();
    let mut dups = Vec::new();
    let rank = |i: &usize| {
        let p = &msgs[*i];
        (p.entry.origin.index, p.arrival_unix, p.entry.export_id())
    };
    for members in groups.values().filter(|m| m.len() > 1) {
        let mut holders: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
        for &i in members {
            for &k in &msgs[i].keys {
                holders.entry(k).or_default().push(i);
            }
        }
        for (k, hs) in holders {
            let Some(&win) = hs.iter().min_by_key(|i| rank(i)) else {
                continue;
            };
            let kept = &msgs[win];
            let others = hs
                .iter()
                .filter(|&&h| msgs[h].entry.origin.index != kept.entry.origin.index);
            for &h in others {
                drops.entry(h).or_default().insert(k);
                dups.push(Duplicate {
                    recipient: Bytes(plan.mailboxes[k as usize].clone()),
                    kept: kept.entry.export_id().to_string(),
                    kept_spool: spool_of(kept),
                    spool: spool_of(&msgs[h]),
                    queue_id: msgs[h].entry.id.clone(),
                });
            }
        }
    }
    dups.sort_by(|a, b| {
        (&a.spool, &a.queue_id, &a.recipient.0).cmp(&(&b.spool, &b.queue_id, &b.recipient.0))
    });
    (drops, dups)
}

/// Messages that share a Message-ID but not their content key: (message index → the
/// warning to add), and the groups.
fn near(msgs: &[Planned]) -> (BTreeMap<usize, String>, Vec<NearDuplicate>) {
    let mut by_id: BTreeMap<&[u8], Vec<usize>> = BTreeMap::new();
    for (i, p) in msgs.iter().enumerate() {
        if let Some(mid) = p.content.as_ref().and_then(|c| c.message_id.as_deref()) {
            by_id.entry(mid).or_default().push(i);
        }
    }
    let mut notes = BTreeMap::new();
    let mut groups = Vec::new();
    for (mid, members) in by_id {
        let keys: BTreeSet<[u8; 32]> = (members.iter())
            .filter_map(|&i| msgs[i].content.as_ref().map(|c| c.key))
            .collect();
        if keys.len() < 2 {
            continue;
        }
        let mut names: Vec<String> = (members.iter())
            .map(|&i| msgs[i].entry.export_id().to_string())
            .collect();
        names.sort();
        names.dedup();
        for &i in &members {
            let me = msgs[i].entry.export_id();
            let others: Vec<&str> = names
                .iter()
                .map(String::as_str)
                .filter(|n| *n != me)
                .collect();
            notes.insert(i, format!(
                "near-duplicate: {} share its Message-ID {} but not its content (another copy changed on the way, or a reused Message-ID): all kept",
                others.join(", "),
                String::from_utf8_lossy(mid)
            ));
        }
        groups.push(NearDuplicate {
            message_id: Bytes(mid.to_vec()),
            messages: names,
        });
    }
    (notes, groups)
}

/// Drops each recipient's duplicate copies and flags near-duplicates; the scan objects
/// of the messages touched are rewritten in the spill file. Only a plan of several
/// spools has content keys: any other is left as it is.
pub fn apply(plan: &mut Plan, spill: &Spill) -> Result<Found, ExportError> {
    if plan.messages.iter().all(|m| m.content.is_none()) {
        return Ok(Found::default());
    }
    let (drops, duplicates) = choose(plan);
    let (notes, near_duplicates) = near(&plan.messages);
    let touched: BTreeSet<usize> = drops.keys().chain(notes.keys()).copied().collect();
    spill.flush()?;
    let mut gone = BTreeSet::new();
    for i in touched {
        let p = &mut plan.messages[i];
        let mut info: MessageInfo = spill.get_json(p.info)?;
        if let Some(d) = drops.get(&i) {
            let dropped: BTreeSet<&[u8]> = d
                .iter()
                .map(|&k| plan.mailboxes[k as usize].as_slice())
                .collect();
            info.recipients
                .retain(|r| !dropped.contains(mailbox_key(&r.address.0).as_slice()));
            p.keys.retain(|k| !d.contains(k));
        }
        if let Some(n) = notes.get(&i) {
            info.warnings.push(n.clone());
        }
        if p.keys.is_empty() {
            gone.insert(i);
            continue;
        }
        p.records = info.recipients.len();
        p.info = spill.put_json(&info, false)?;
    }
    let mut i = 0;
    plan.messages.retain(|_| {
        i += 1;
        !gone.contains(&(i - 1))
    });
    spill.flush()?;
    Ok(Found {
        duplicates,
        near_duplicates,
    })
}
