//! Integration tests: `cat` is postcat (issue 8, item 6).
//!
//! Against postcat's own expected outputs for its 7 flag sets (`postfix-src/postcat/
//! *.ref` in ../shared/peer-queues, times in America/New_York), against the reference
//! `postcat -e` / `-bh` of every file of every Postfix version in peer-queues (unpacked
//! into a temporary directory), and against the installed postcat with the options a
//! reader uses (`-o`, `-d`, `-v`, `-r`, `-s`) on every sample. Tests that need
//! ../shared skip cleanly when it is absent.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::util::*;

fn peer() -> Option<PathBuf> {
    let p = root().join("../shared/peer-queues");
    if p.is_dir() {
        Some(p)
    } else {
        eprintln!("note: ../shared/peer-queues absent; test skipped");
        None
    }
}

fn cat_in(dir: &Path, args: &[&str], tz: &str) -> std::process::Output {
    Command::new(bin())
        .current_dir(dir)
        .arg("cat")
        .args(args)
        .env("TZ", tz)
        .output()
        .unwrap()
}

fn same(ours: &[u8], want: &[u8], what: &str) {
    assert!(
        ours == want,
        "{what}: differs\n--- ours\n{}\n--- postcat\n{}",
        String::from_utf8_lossy(ours),
        String::from_utf8_lossy(want)
    );
}

#[test]
fn equals_postcats_own_expected_outputs() {
    let Some(peer) = peer() else { return };
    let src = peer.join("external/postfix-src/postcat");
    // As postcat's Makefile runs it: the file and an empty main.cf in one directory.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::copy(src.join("test-queue-file"), dir.join("test-queue-file")).unwrap();
    std::fs::write(dir.join("main.cf"), "").unwrap();
    let sets: &[(&str, &[&str])] = &[
        ("default", &[]),
        ("default", &["-ebhc."]),
        ("e", &["-ec."]),
        ("b", &["-bc."]),
        ("h", &["-hc."]),
        ("eb", &["-ebc."]),
        ("eh", &["-ehc."]),
        ("bh", &["-bhc."]),
    ];
    for (name, flags) in sets {
        let want = std::fs::read(src.join(format!("{name}_test.ref"))).unwrap();
        let mut args: Vec<&str> = flags.to_vec();
        args.push("test-queue-file");
        let out = cat_in(dir, &args, "America/New_York");
        assert_eq!(
            out.status.code(),
            Some(0),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        same(
            &out.stdout,
            &want,
            &format!("cat {args:?} vs {name}_test.ref"),
        );
    }
}

/// Unpacks one version's queue.tar.gz into `dst/spool`.
fn unpack(tarball: &Path, dst: &Path) {
    let st = Command::new("tar")
        .arg("xzf")
        .arg(tarball)
        .arg("-C")
        .arg(dst)
        .status()
        .unwrap();
    assert!(st.success());
    std::fs::rename(dst.join("postfix"), dst.join("spool")).unwrap();
}

fn gunzip(p: &Path) -> Vec<u8> {
    let out = Command::new("gzip").arg("-dc").arg(p).output().unwrap();
    assert!(out.status.success());
    out.stdout
}

/// Every version directory of peer-queues (`versions/V`, `versions/V/long-ids`).
pub fn peer_versions(peer: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut vs: Vec<PathBuf> = std::fs::read_dir(peer.join("versions"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    vs.sort();
    for v in vs {
        if v.join("queue.tar.gz").is_file() {
            out.push(v.clone());
        }
        if v.join("long-ids/queue.tar.gz").is_file() {
            out.push(v.join("long-ids"));
        }
    }
    assert!(out.len() >= 8, "{out:?}");
    out
}

#[test]
fn equals_every_peer_versions_reference_output() {
    let Some(peer) = peer() else { return };
    let mut n = 0;
    for v in peer_versions(&peer) {
        let tmp = tempfile::tempdir().unwrap();
        unpack(&v.join("queue.tar.gz"), tmp.path());
        let cases = std::fs::read_to_string(v.join("cases.tsv")).unwrap();
        for line in cases.lines().skip(1) {
            let f: Vec<&str> = line.split('\t').collect();
            let (id, case, path) = (f[0], f[1], f[4]);
            let rel = format!("spool/{path}");
            let what = format!("{} {id} ({case})", v.display());
            let out = cat_in(tmp.path(), &["-e", &rel], "UTC");
            assert_eq!(
                out.status.code(),
                Some(0),
                "{what}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let want = std::fs::read(v.join(format!("reference/{id}.e.txt"))).unwrap();
            same(&out.stdout, &want, &format!("{what} -e"));
            let out = cat_in(tmp.path(), &["-bh", &rel], "UTC");
            let gz = v.join(format!("reference/{id}.bh.gz"));
            let want = if gz.is_file() {
                gunzip(&gz)
            } else {
                std::fs::read(v.join(format!("reference/{id}.bh"))).unwrap()
            };
            same(&out.stdout, &want, &format!("{what} -bh"));
            n += 1;
        }
    }
    assert!(n >= 100, "only {n} files compared");
}

/// The installed postcat, run like the samples' expected outputs were made.
fn live_postcat(args: &[&str]) -> Option<Vec<u8>> {
    if !have("postcat") {
        assert!(
            std::env::var_os("CI").is_none(),
            "postcat must be installed in CI"
        );
        eprintln!("note: postcat not installed; differential test skipped");
        return None;
    }
    let cfg = tempfile::tempdir().unwrap();
    let main_cf = cfg.path().join("main.cf");
    std::fs::write(
        &main_cf,
        "myhostname = mx.example.com\nmydomain = example.com\n",
    )
    .unwrap();
    let old = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    std::fs::File::options()
        .write(true)
        .open(&main_cf)
        .unwrap()
        .set_modified(old)
        .unwrap();
    let out = Command::new("postcat")
        .arg("-c")
        .arg(cfg.path())
        .args(args)
        .current_dir(sample_spool())
        .env("TZ", "UTC")
        .output()
        .unwrap();
    Some(out.stdout)
}

fn sample_files() -> Vec<String> {
    let mut out = Vec::new();
    for q in ["maildrop", "incoming", "active", "deferred", "hold"] {
        for p in crate::spool_safety::files_under(&sample_spool().join(q)) {
            out.push(
                p.strip_prefix(sample_spool())
                    .unwrap()
                    .to_string_lossy()
                    .into_owned(),
            );
        }
    }
    assert!(out.len() >= 37);
    out
}

/// The offset of the first record of a type, from our own `-v -o` listing.
fn offset_of(rel: &str, marker: &str) -> Option<String> {
    let out = cat_in(&sample_spool(), &["-v", "-o", rel], "UTC");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find(|l| l.contains(marker))
        .and_then(|l| l.split_whitespace().next().map(str::to_string))
}

#[test]
fn reader_options_equal_the_installed_postcat() {
    let sets: &[&[&str]] = &[
        &["-o"],
        &["-d", "-e"],
        &["-v"],
        &["-v", "-o"],
        &["-r", "-v", "-o"],
        &["-r"],
        &["-b", "-o"],
        &["-h", "-d"],
        &["-e", "-b", "-v"],
    ];
    for rel in sample_files() {
        for flags in sets {
            let mut args: Vec<&str> = flags.to_vec();
            args.push(&rel);
            let Some(want) = live_postcat(&args) else {
                return;
            };
            let ours = cat_in(&sample_spool(), &args, "UTC");
            same(&ours.stdout, &want, &format!("cat {args:?}"));
        }
        // -s: start at the message content marker, and at the extracted marker.
        for marker in ["*** MESSAGE CONTENTS", "*** HEADER EXTRACTED"] {
            let off = offset_of(&rel, marker).expect("marker offset");
            for flags in [
                &["-s", off.as_str()][..],
                &["-e", "-o", "-s", off.as_str()][..],
            ] {
                let mut args: Vec<&str> = flags.to_vec();
                args.push(&rel);
                let want = live_postcat(&args).unwrap();
                let ours = cat_in(&sample_spool(), &args, "UTC");
                same(&ours.stdout, &want, &format!("cat {args:?}"));
            }
        }
    }
}

#[test]
fn samples_equal_their_stored_verbose_listing() {
    let expected = root().join("samples/expected");
    for rel in sample_files() {
        let id = rel.rsplit('/').next().unwrap();
        let want = std::fs::read(expected.join(format!("{id}.vo"))).unwrap();
        let out = cat_in(&sample_spool(), &["-v", "-o", &rel], "UTC");
        same(&out.stdout, &want, &format!("cat -v -o {rel}"));
    }
}

#[test]
fn standard_input_states_and_queue_id_hint() {
    let rel = "deferred/5/5129198E567";
    let file = sample_spool().join(rel);
    // No file: standard input, named "stdin" as postcat names it.
    let out = Command::new(bin())
        .args(["cat", "-e"])
        .env("TZ", "UTC")
        .stdin(std::fs::File::open(&file).unwrap())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let by_path = cat_in(&sample_spool(), &["-e", rel], "UTC").stdout;
    same(
        &out.stdout,
        &String::from_utf8_lossy(&by_path)
            .replace(rel, "stdin")
            .into_bytes(),
        "stdin",
    );
    // The recipient states are behind a flag, after postcat's output.
    let out = cat_in(&sample_spool(), &["-e", "--states", rel], "UTC");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with(&*String::from_utf8_lossy(&by_path)));
    let tail = &text[by_path.len()..];
    assert!(
        tail.starts_with(&format!("*** RECIPIENT STATES {rel} ***\n")),
        "{tail}"
    );
    assert!(
        tail.contains("cancelled: dave@example.com (offset "),
        "{tail}"
    );
    assert!(
        tail.contains("pending: erin@example.com (offset "),
        "{tail}"
    );
    // A queue ID given as a path: say -q.
    let out = cat_in(&sample_spool(), &["-bh", "5129198E567"], "UTC");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("use `mxsalvage cat -q 5129198E567`"), "{err}");
    // -c names the configuration directory; queue_directory comes from its main.cf.
    let cfg = tempfile::tempdir().unwrap();
    std::fs::write(
        cfg.path().join("main.cf"),
        format!("queue_directory = {}\n", sample_spool().display()),
    )
    .unwrap();
    let out = Command::new(bin())
        .args(["cat", "-bh", "-q", "-c"])
        .arg(cfg.path())
        .arg("5129198E567")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    same(
        &out.stdout,
        &cat_in(&sample_spool(), &["-bh", rel], "UTC").stdout,
        "-q -c",
    );
}
