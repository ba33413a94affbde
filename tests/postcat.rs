//! Integration tests: `cat` is postcat (issue 8, item 6).
//!
//! Against postcat's own expected outputs for its 7 flag sets (`postfix-src/postcat/
//! *.ref` in ../shared/peer-queues, times in America/New_York), against the reference
//! `postcat -e` / `-bh` of every file of every Postfix version in peer-queues (unpacked
//! into a temporary directory), and against the installed postcat with the options a
//! reader uses (`-o`, `-d`, `-v`, `-r`, `-s`) on every sample. Tests that need
//! ../shared skip cleanly when it is absent.

use std::path::Path;
use std::process::Command;

use crate::harness::{
    Mx, assert_same_as_postcat, live_postcat, mx, peer_queues as peer, peer_versions,
    sample_files_at_least, untar,
};
use crate::util::*;

/// `cat ARGS` run in `dir` with the time zone `tz`.
fn cat(dir: &Path, args: &[&str], tz: &str) -> Mx {
    mx(["cat"]).args(args).dir(dir).env("TZ", tz)
}

fn cat_in(dir: &Path, args: &[&str], tz: &str) -> std::process::Output {
    cat(dir, args, tz).output()
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
        let out = cat(dir, &args, "America/New_York").code(0);
        assert_same_as_postcat(
            &out.stdout,
            &want,
            &format!("cat {args:?} vs {name}_test.ref"),
        );
    }
}

/// Unpacks one version's queue.tar.gz into `dst/spool`.
fn unpack(tarball: &Path, dst: &Path) {
    untar(tarball, dst);
    std::fs::rename(dst.join("postfix"), dst.join("spool")).unwrap();
}

fn gunzip(p: &Path) -> Vec<u8> {
    let out = Command::new("gzip").arg("-dc").arg(p).output().unwrap();
    assert!(out.status.success());
    out.stdout
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
            let out = cat(tmp.path(), &["-e", &rel], "UTC").code(0);
            let want = std::fs::read(v.join(format!("reference/{id}.e.txt"))).unwrap();
            assert_same_as_postcat(&out.stdout, &want, &format!("{what} -e"));
            let out = cat_in(tmp.path(), &["-bh", &rel], "UTC");
            let gz = v.join(format!("reference/{id}.bh.gz"));
            let want = if gz.is_file() {
                gunzip(&gz)
            } else {
                std::fs::read(v.join(format!("reference/{id}.bh"))).unwrap()
            };
            assert_same_as_postcat(&out.stdout, &want, &format!("{what} -bh"));
            n += 1;
        }
    }
    assert!(n >= 100, "only {n} files compared");
}

/// Every sample message file, relative to the spool root.
fn all_sample_files() -> Vec<String> {
    sample_files_at_least(37)
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
    for rel in all_sample_files() {
        for flags in sets {
            let mut args: Vec<&str> = flags.to_vec();
            args.push(&rel);
            let Some(want) = live_postcat(&args).map(|o| o.stdout) else {
                return;
            };
            let ours = cat_in(&sample_spool(), &args, "UTC");
            assert_same_as_postcat(&ours.stdout, &want, &format!("cat {args:?}"));
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
                let want = live_postcat(&args).unwrap().stdout;
                let ours = cat_in(&sample_spool(), &args, "UTC");
                assert_same_as_postcat(&ours.stdout, &want, &format!("cat {args:?}"));
            }
        }
    }
}

#[test]
fn samples_equal_their_stored_verbose_listing() {
    let expected = root().join("samples/expected");
    for rel in all_sample_files() {
        let id = rel.rsplit('/').next().unwrap();
        let want = std::fs::read(expected.join(format!("{id}.vo"))).unwrap();
        let out = cat_in(&sample_spool(), &["-v", "-o", &rel], "UTC");
        assert_same_as_postcat(&out.stdout, &want, &format!("cat -v -o {rel}"));
    }
}

#[test]
fn standard_input_states_and_queue_id_hint() {
    let rel = "deferred/5/5129198E567";
    let file = sample_spool().join(rel);
    // No file: standard input, named "stdin" as postcat names it.
    let out = mx(["cat", "-e"]).stdin_file(&file).code(0);
    let by_path = cat_in(&sample_spool(), &["-e", rel], "UTC").stdout;
    assert_same_as_postcat(
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
    crate::harness::assert_ok(&out);
    assert_same_as_postcat(
        &out.stdout,
        &cat_in(&sample_spool(), &["-bh", rel], "UTC").stdout,
        "-q -c",
    );
}
