//! Integration tests: `scan --format postqueue`, `scan --list`, `scan --id` and the
//! streamed `scan --json` (issue 8, items 7 and 8), against what Postfix's own tools
//! printed for the samples (3.7) and for the peer-queues versions (2.10 … 3.10).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::harness::{Mx, mx, peer_queues, peer_versions, scan_report, untar};
use crate::util::*;

/// `scan --queue-dir SPOOL --config-dir CONFIG ARGS`.
fn scan_cmd(spool: &Path, config: &Path, args: &[&str]) -> Mx {
    mx(["scan"]).queue_dir(spool).config_dir(config).args(args)
}

fn scan(spool: &Path, config: &Path, args: &[&str]) -> std::process::Output {
    scan_cmd(spool, config, args).output()
}

fn by_id(text: &str) -> BTreeMap<String, serde_json::Value> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            (v["queue_id"].as_str().unwrap().to_string(), v)
        })
        .collect()
}

/// Every field postqueue printed has the same value in our line.
fn same_fields(want: &str, got: &str, what: &str) {
    let (w, g) = (by_id(want), by_id(got));
    assert_eq!(
        w.keys().collect::<Vec<_>>(),
        g.keys().collect::<Vec<_>>(),
        "{what}: the same messages"
    );
    for (id, wv) in &w {
        for (field, value) in wv.as_object().unwrap() {
            assert_eq!(Some(value), g[id].get(field), "{what}: {id} field {field}");
        }
    }
}

#[test]
fn postqueue_lines_equal_postqueue_j_on_the_samples() {
    let out = scan(
        &sample_spool(),
        &root().join("samples/config"),
        &["--format", "postqueue"],
    );
    assert_eq!(out.status.code(), Some(0));
    let got = String::from_utf8(out.stdout).unwrap();
    let want = std::fs::read_to_string(root().join("samples/expected/postqueue.jsonl")).unwrap();
    same_fields(&want, &got, "samples");
    // Postfix 3.7's own bytes, line for line (its order is readdir order, ours sorted).
    let sorted = |t: &str| t.lines().map(str::to_string).collect::<BTreeSet<_>>();
    assert_eq!(sorted(&got), sorted(&want));
}

fn peer_spools(mut f: impl FnMut(&Path, &Path, &Path)) -> bool {
    let Some(peer) = peer_queues() else {
        return false;
    };
    for v in peer_versions(&peer) {
        let tmp = tempfile::tempdir().unwrap();
        untar(&v.join("queue.tar.gz"), tmp.path());
        // The instance's own main.cf, with its directory lines left out.
        let main_cf: String = std::fs::read_to_string(v.join("main.cf.txt"))
            .unwrap()
            .lines()
            .filter(|l| !l.contains("INSTANCE"))
            .map(|l| format!("{l}\n"))
            .collect();
        std::fs::write(tmp.path().join("main.cf"), main_cf).unwrap();
        f(&v, &tmp.path().join("postfix"), tmp.path());
    }
    true
}

#[test]
fn postqueue_lines_equal_postqueue_j_of_every_peer_version() {
    let mut n = 0;
    peer_spools(|v, spool, cfg| {
        let Ok(want) = std::fs::read_to_string(v.join("postqueue.jsonl")) else {
            return; // Postfix 2.10 has no postqueue -j
        };
        let out = scan_cmd(spool, cfg, &["--format", "postqueue"]).code(0);
        same_fields(
            &want,
            &String::from_utf8(out.stdout).unwrap(),
            &v.display().to_string(),
        );
        n += 1;
    });
    assert!(n == 0 || n >= 6, "{n}");
}

/// The `mailq` listing: Postfix 3.10's byte for byte (as a set of message blocks: its
/// order is readdir order); older versions' by content (they used another layout).
#[test]
fn list_equals_mailq_of_every_peer_version() {
    fn blocks(t: &str) -> (String, BTreeSet<String>, String) {
        let (head, body) = t.split_once('\n').unwrap();
        let mut parts: Vec<String> = body.split("\n\n").map(str::to_string).collect();
        let foot = parts.pop().unwrap();
        (head.to_string(), parts.into_iter().collect(), foot)
    }
    fn content(b: &str) -> (String, Vec<String>) {
        let mut lines = b.lines();
        let first = lines.next().unwrap();
        let id = first.split_whitespace().next().unwrap().to_string();
        let sender = first.split_whitespace().last().unwrap().to_string();
        let mut rest: Vec<String> = vec![sender];
        rest.extend(lines.map(|l| l.trim().to_string()));
        (id, rest)
    }
    let mut exact = 0;
    peer_spools(|v, spool, cfg| {
        let want = std::fs::read_to_string(v.join("postqueue-p.txt")).unwrap();
        let out = scan(spool, cfg, &["--list"]);
        assert_eq!(out.status.code(), Some(0));
        let got = String::from_utf8(out.stdout).unwrap();
        let version = std::fs::read_to_string(v.join("mail_version.txt")).unwrap();
        let what = v.display().to_string();
        let (wh, wb, wf) = blocks(&want);
        let (gh, gb, gf) = blocks(&got);
        if version.trim().starts_with("3.10") {
            assert_eq!((&gh, &gb, &gf), (&wh, &wb, &wf), "{what}");
            exact += 1;
        } else {
            let c = |b: &BTreeSet<String>| b.iter().map(|x| content(x)).collect::<BTreeSet<_>>();
            assert_eq!(c(&gb), c(&wb), "{what}");
            assert!(
                wf.contains(&format!("in {} Request", gb.len())),
                "{what}: {wf}"
            );
        }
    });
    assert!(exact == 0 || exact == 2, "{exact}");
}

#[test]
fn list_and_ids_on_the_samples() {
    let cfg = root().join("samples/config");
    let out = scan(&sample_spool(), &cfg, &["--list"]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.starts_with(
            "----Queue ID----- --Size-- ---Arrival Time---- --Sender/Recipient------\n"
        )
    );
    assert!(
        text.ends_with("\n-- 314 Kbytes in 37 Requests.\n"),
        "{text}"
    );
    assert!(text.contains("\n4jbhxZ6RBPz1SW26*      541 Fri Nov 27 18:38:10 sender@example.net\n"));
    assert!(text.contains("\n4DD7F98E560!           432 Fri Nov 27 18:38:00 sender@example.net\n"));
    // --id: only those; an unknown one is an error naming it.
    let out = scan(
        &sample_spool(),
        &cfg,
        &["--json", "--id", "4DD7F98E560", "--id", "NOSUCHID00"],
    );
    assert_eq!(out.status.code(), Some(1));
    let r = scan_report(&out);
    assert_eq!(r.messages.len(), 1);
    assert_eq!(r.messages[0].queue_id, "4DD7F98E560");
    assert!(
        r.errors
            .iter()
            .any(|e| e.reason.contains("NOSUCHID00 not found"))
    );
}

/// The streamed document is exactly `serde_json::to_string_pretty` of the report.
#[test]
fn streamed_json_is_the_pretty_printed_report() {
    let cfg = root().join("samples/config");
    for extra in [
        &[][..],
        &["--recipient", "bob@example.com"][..],
        &["--queue", "hold"][..],
    ] {
        let mut args = vec!["--json"];
        args.extend(extra);
        let out = scan(&sample_spool(), &cfg, &args);
        let text = String::from_utf8(out.stdout).unwrap();
        let r: mxsalvage::report::scan::ScanReport = serde_json::from_str(&text).unwrap();
        assert_eq!(
            text,
            serde_json::to_string_pretty(&r).unwrap() + "\n",
            "{extra:?}"
        );
    }
}
