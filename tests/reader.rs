//! Integration tests: the queue reader against the real sample spool made by Postfix.
//!
//! Golden: `cat -bh` / `cat -e` equal the stored postcat output of every sample file.
//! Differential: the same against the installed `postcat`, and `scan --json` against
//! `postqueue -j`, run live through `scripts/samples/postfix-view`. The spool is
//! unchanged after every command.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use crate::harness::{assert_same_as_postcat, manifest, mx, ran_ok, scan_report};
use crate::util::*;

/// Every message file of the sample spool, as paths relative to the spool root.
fn sample_files() -> Vec<String> {
    crate::harness::sample_files_at_least(10)
}

fn id_of(rel: &str) -> String {
    rel.rsplit('/').next().unwrap().to_string()
}

fn our_cat(flag: &str, rel: &str) -> Vec<u8> {
    mx(["cat", flag, rel]).dir(&sample_spool()).ok().stdout
}

/// Our -e output is postcat's, exactly (the recipient states are behind --states).
fn envelope_part(ours: &[u8]) -> Vec<u8> {
    ours.to_vec()
}

#[test]
fn cat_bh_matches_stored_postcat_output() {
    let expected = root().join("samples/expected");
    let mut n = 0;
    for rel in sample_files() {
        let want = expected.join(format!("{}.bh", id_of(&rel)));
        let Ok(want) = std::fs::read(&want) else {
            panic!("no expected output {}", want.display())
        };
        assert_same_as_postcat(&our_cat("-bh", &rel), &want, &rel);
        n += 1;
    }
    assert!(n > 0);
}

#[test]
fn cat_e_matches_stored_postcat_output() {
    let expected = root().join("samples/expected");
    for rel in sample_files() {
        let want = std::fs::read(expected.join(format!("{}.e", id_of(&rel)))).unwrap();
        let ours = our_cat("-e", &rel);
        assert_eq!(
            String::from_utf8_lossy(&envelope_part(&ours)),
            String::from_utf8_lossy(&want),
            "cat -e {rel}"
        );
    }
}

fn postfix_view(args: &[&str]) -> Option<Vec<u8>> {
    if !crate::harness::postcat_installed() {
        return None;
    }
    let out = Command::new("bash")
        .arg(root().join("scripts/samples/postfix-view"))
        .args(args)
        .env("TZ", "UTC")
        .output()
        .unwrap();
    Some(ran_ok(&out, &format!("postfix-view {args:?}")).to_vec())
}

/// Runs the installed `postcat` on a sample file (from the spool root, private config).
fn live_postcat(flag: &str, rel: &str) -> Option<Vec<u8>> {
    let out = crate::harness::live_postcat(&[flag, rel])?;
    Some(ran_ok(&out, &format!("postcat {flag} {rel}")).to_vec())
}

#[test]
fn cat_matches_live_postcat() {
    for rel in sample_files() {
        let Some(want) = live_postcat("-bh", &rel) else {
            return;
        };
        assert_same_as_postcat(&our_cat("-bh", &rel), &want, &rel);
        let want = live_postcat("-e", &rel).unwrap();
        assert_eq!(
            String::from_utf8_lossy(&envelope_part(&our_cat("-e", &rel))),
            String::from_utf8_lossy(&want),
            "cat -e {rel} vs live postcat"
        );
    }
}

/// What `postqueue -j` shows of a string: control characters as `?`.
fn showq_text(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

#[test]
fn scan_json_lists_exactly_what_postqueue_lists() {
    let Some(pq) = postfix_view(&["queue", sample_spool().to_str().unwrap()]) else {
        return;
    };
    let mut want: BTreeMap<String, (String, i64, BTreeSet<String>)> = BTreeMap::new();
    for line in String::from_utf8(pq)
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
    {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let rcpts = v["recipients"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["address"].as_str().unwrap().to_string())
            .collect();
        want.insert(
            v["queue_id"].as_str().unwrap().to_string(),
            (
                v["sender"].as_str().unwrap().to_string(),
                v["arrival_time"].as_i64().unwrap(),
                rcpts,
            ),
        );
    }
    let out = mx(["scan", "--json"])
        .queue_dir(&sample_spool())
        .config_dir(defaults_config_dir())
        .output();
    let report = scan_report(&out);
    let mut got: BTreeMap<String, (String, i64, BTreeSet<String>)> = BTreeMap::new();
    for m in &report.messages {
        if m.queue == "corrupt" {
            continue;
        }
        let sender = if m.sender.0.is_empty() {
            "MAILER-DAEMON".to_string()
        } else {
            showq_text(&mxsalvage::queue::logs::quote_822(&m.sender.0))
        };
        let rcpts = m
            .pending()
            .map(|r| showq_text(&mxsalvage::queue::logs::quote_822(&r.address.0)))
            .collect();
        got.insert(m.queue_id.clone(), (sender, m.arrival_unix, rcpts));
    }
    // Files postqueue cannot list (incomplete ones) are errors in our report.
    for e in &report.errors {
        if let Some(id) = &e.queue_id {
            assert!(
                !want.contains_key(id),
                "{id} listed by postqueue but unreadable for us: {}",
                e.reason
            );
        }
    }
    assert_eq!(got, want);
}

#[test]
fn scan_text_report_and_json_are_produced() {
    let out = mx(["scan"])
        .queue_dir(&sample_spool())
        .config_dir(defaults_config_dir())
        .output();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("Queues")
            && text.contains("Recipients (pending)")
            && text.contains("Defer reasons"),
        "{text}"
    );
    assert!(text.contains("deferred"));
}

#[test]
fn spool_unchanged_by_scan_and_cat() {
    let spool = sample_spool();
    let before = tree_fingerprint(&spool);
    let _ = run(&["scan", "--queue-dir", spool.to_str().unwrap()]);
    let _ = run(&["scan", "--json", "--queue-dir", spool.to_str().unwrap()]);
    for rel in sample_files().iter().take(5) {
        let _ = our_cat("-bh", rel);
        let _ = our_cat("-e", rel);
    }
    assert_eq!(before, tree_fingerprint(&spool));
}

#[test]
fn cat_by_queue_id() {
    let rel = sample_files()
        .into_iter()
        .find(|r| r.starts_with("deferred/"))
        .unwrap();
    let id = id_of(&rel);
    let out = mx(["cat", "-bh", "-q"])
        .queue_dir(&sample_spool())
        .arg(&id)
        .output();
    assert!(out.status.success());
    assert_eq!(out.stdout, our_cat("-bh", &rel));
}

/// Maildrop files have not met cleanup yet; cleanup strips Bcc: before delivery (the
/// sendmail -t sample that went through pickup has none). The export must not leak it.
#[test]
fn maildrop_bcc_is_not_exported() {
    let raw = std::fs::read(root().join("samples/expected/4jbhxp6l2cz1SW60.bh")).unwrap();
    assert!(
        String::from_utf8_lossy(&raw)
            .lines()
            .any(|l| l.starts_with("Bcc:")),
        "sample changed?"
    );
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("x");
    mx(["export", "--quiet", "--format", "eml"])
        .queue_dir(&sample_spool())
        .out(&out)
        .code(0);
    for e in std::fs::read_dir(out.join("messages")).unwrap() {
        let text = String::from_utf8_lossy(&std::fs::read(e.unwrap().path()).unwrap()).into_owned();
        let header = text.split("\n\n").next().unwrap();
        assert!(
            !header
                .lines()
                .any(|l| l.to_ascii_lowercase().starts_with("bcc:")),
            "{header}"
        );
    }
}

/// `--valid-recipients` flags recipients missing from the backup's own lists in `scan`
/// and the manifest; `--only-valid` leaves them out of the export.
#[test]
fn valid_recipient_lists() {
    let cfg = root().join("samples/config");
    let lists = [cfg.join("passwd-2ndmx"), cfg.join("aliases-2ndmx")];
    let spool = sample_spool();
    let valid: Vec<&str> = lists
        .iter()
        .flat_map(|l| ["--valid-recipients", l.to_str().unwrap()])
        .collect();
    let r = scan_report(
        &mx(["scan", "--json"])
            .queue_dir(&spool)
            .args(&valid)
            .output(),
    );
    let invalid: Vec<String> = r
        .recipients
        .iter()
        .filter(|s| s.valid == Some(false))
        .map(|s| s.address.display())
        .collect();
    assert!(
        invalid.iter().any(|a| a == "bounce-me@example.net"),
        "{invalid:?}"
    );
    assert!(
        r.recipients
            .iter()
            .any(|s| s.address.display() == "alice@example.com" && s.valid == Some(true))
    );
    let tmp = tempfile::tempdir().unwrap();
    let dest = tmp.path().join("x");
    mx(["export", "--quiet", "--format", "eml", "--only-valid"])
        .queue_dir(&spool)
        .out(&dest)
        .args(&valid)
        .code(0);
    let m = manifest(&dest);
    assert!(m.recipients.iter().all(|x| x.valid == Some(true)));
    assert!(
        !m.recipients
            .iter()
            .any(|x| invalid.contains(&x.address.display()))
    );
    assert_eq!(
        run(&[
            "scan",
            "--only-valid",
            "--queue-dir",
            spool.to_str().unwrap()
        ])
        .status
        .code(),
        Some(2)
    );
}
