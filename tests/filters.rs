//! Integration tests: content filters (issue 20) with real daemons — a private rspamd,
//! clamd and spamd (tests/harness/filters.rs) and a real Postfix secondary's spool of
//! the test cases. No mocks but one: a listener that answers garbage.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use crate::harness::filters::{self, filters_available};
use crate::harness::{copy_tree, manifest, mx, stderr};
use mxsalvage::filter::verdict::{Verdict, VerdictKind};

/// The spool of [`filters::filter_mails`], made once per test run by a private Postfix
/// secondary and kept (spool and config directory) under the target directory; every
/// test only reads it.
fn fixture() -> &'static (PathBuf, PathBuf) {
    static F: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    F.get_or_init(|| {
        let base = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("filters-fixture");
        let _ = std::fs::remove_dir_all(&base);
        std::fs::create_dir_all(&base).unwrap();
        let sec = filters::filter_spool(&filters::filter_mails());
        let (spool, etc) = filters::spool_dirs(&sec);
        copy_tree(&spool, &base.join("spool"), false);
        copy_tree(&etc, &base.join("etc"), false);
        (base.join("spool"), base.join("etc"))
    })
}

/// `export --format eml --quiet` of the fixture into `out` with `extra` flags.
fn export(out: &Path, extra: &[&str]) -> crate::harness::Mx {
    let (spool, etc) = fixture();
    mx(["export", "--format", "eml", "--quiet"])
        .queue_dir(spool)
        .config_dir(etc)
        .out(out)
        .args(extra)
        .within(Duration::from_secs(300))
}

/// Each message's verdict by its case name (`Subject: filters NAME`).
fn verdicts(out: &Path) -> BTreeMap<String, Option<Verdict>> {
    manifest(out)
        .messages
        .into_iter()
        .map(|m| {
            let subject = m.subject.unwrap_or_default();
            let name = subject.trim_start_matches("filters ").to_string();
            (name, m.verdict)
        })
        .collect()
}

fn kind(v: &BTreeMap<String, Option<Verdict>>, name: &str) -> VerdictKind {
    v[name]
        .as_ref()
        .unwrap_or_else(|| panic!("{name}: no verdict"))
        .verdict
}

/// What every case must be judged, with either spam filter and clamd.
fn assert_cases(v: &BTreeMap<String, Option<Verdict>>, spam_filter: &str) {
    assert_eq!(v.len(), filters::filter_mails().len(), "{v:?}");
    for ham in [
        "ham",
        "harmless-zip",
        "harmless-forwarded",
        "big",
        "null-sender",
    ] {
        assert_eq!(kind(v, ham), VerdictKind::Ham, "{ham}: {:?}", v[ham]);
    }
    assert_eq!(kind(v, "gtube"), VerdictKind::Spam, "{:?}", v["gtube"]);
    for bad in [
        "eicar-attached",
        "eicar-zip",
        "eicar-forwarded",
        "eicar-spam",
    ] {
        let x = v[bad].as_ref().unwrap();
        assert_eq!(x.verdict, VerdictKind::Malware, "{bad}: {x:?}");
        let name = x.virus.as_ref().unwrap().virus.clone().unwrap();
        assert!(name.starts_with("Eicar-Test-Signature"), "{bad}: {name}");
    }
    // Spam as well as malware: both answers recorded, malware decides.
    let both = v["eicar-spam"].as_ref().unwrap();
    assert!(both.spam.as_ref().unwrap().is_spam, "{both:?}");
    let g = v["gtube"].as_ref().unwrap().spam.clone().unwrap();
    assert_eq!(g.filter, spam_filter);
    assert!(g.symbols.iter().any(|s| s == "GTUBE"), "{g:?}");
    assert!(
        g.at.ends_with('Z')
            && v["ham"]
                .as_ref()
                .unwrap()
                .virus
                .as_ref()
                .unwrap()
                .at
                .ends_with('Z')
    );
}

#[test]
fn rspamd_and_clamd_judge_every_case_and_the_manifest_records_it() {
    if !filters_available() {
        return;
    }
    let (rspamd, clamd) = (filters::rspamd(), filters::clamd(false, None));
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("out");
    export(
        &out,
        &["--spam-filter", &rspamd.url, "--virus-scan", &clamd.url],
    )
    .ok();
    let v = verdicts(&out);
    assert_cases(&v, "rspamd");
    let g = v["gtube"].as_ref().unwrap().spam.clone().unwrap();
    assert_eq!(g.action, "reject");
    let m = manifest(&out);
    assert_eq!(m.options.spam_filter.as_deref(), Some(rspamd.url.as_str()));
    assert_eq!(m.options.virus_scan.as_deref(), Some(clamd.url.as_str()));
}

#[test]
fn spamd_and_clamd_over_tcp_judge_every_case() {
    if !filters_available() {
        return;
    }
    let (spamd, clamd) = (filters::spamd(), filters::clamd(true, None));
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("out");
    export(
        &out,
        &["--spam-filter", &spamd.url, "--virus-scan", &clamd.url],
    )
    .ok();
    let v = verdicts(&out);
    assert_cases(&v, "spamd");
    assert_eq!(
        v["gtube"].as_ref().unwrap().spam.as_ref().unwrap().action,
        "spam"
    );
}

/// A filter asked for but not there: exit 2 before anything is written, one line that
/// says how to start it.
#[test]
fn an_unreachable_filter_is_refused_before_anything_is_written() {
    if !filters_available() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("out");
    let nowhere = format!("rspamd://127.0.0.1:{}", crate::harness::free_port());
    let o = export(&out, &["--spam-filter", &nowhere]).code(2);
    let e = stderr(&o);
    assert_eq!(e.lines().count(), 1, "{e}");
    assert!(
        e.contains("--spam-filter")
            && e.contains("start rspamd")
            && e.contains("nothing was written"),
        "{e}"
    );
    assert!(!out.exists());
    let sock = d.path().join("no-clamd.sock");
    let o = export(
        &out,
        &["--virus-scan", &format!("clamd://{}", sock.display())],
    )
    .code(2);
    assert!(stderr(&o).contains("start clamd"), "{}", stderr(&o));
    assert!(!out.exists());
}
