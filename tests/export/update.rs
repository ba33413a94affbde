//! `export --update` on an OUT someone tampered with (r4): planted symbolic links,
//! manifest paths leading outside, special files — refused before anything is read or
//! written, naming the entry; nothing outside OUT is ever written or zipped. Also an
//! update after a first export killed half-way (it takes the options the first run
//! left behind).

use std::path::{Path, PathBuf};
use std::process::{Child, Output};

use super::{copy_tree, export_spool as go, manifest, put_raw, simple};
use crate::harness::{Tmpfs, deferred_copies, mx, s, scratch, stderr, stdout, write_mode};
use crate::util::*;

/// `verify OUT`.
fn verify(out: &Path) -> Output {
    mx(["verify"]).arg(out).output()
}

/// `verify` on an export that did not finish: exit 2 and one line saying so and how to
/// finish it (`--update`), nothing on standard output.
fn assert_unfinished(out: &Path) {
    let v = verify(out);
    let verr = stderr(&v);
    assert_eq!(v.status.code(), Some(2), "{verr}");
    assert!(v.stdout.is_empty(), "{}", stdout(&v));
    assert_eq!(verr.lines().count(), 1, "{verr}");
    assert!(
        verr.contains("did not finish") && verr.contains("--update"),
        "{verr}"
    );
}

/// Waits until the export into `out` has written 20 archive copies (or ended).
fn wait_half_way(child: &mut Child, out: &Path) {
    let started = std::time::Instant::now();
    loop {
        let n = std::fs::read_dir(out.join("messages")).map_or(0, |d| d.count());
        if n >= 20 || child.try_wait().unwrap().is_some() {
            break;
        }
        assert!(
            started.elapsed().as_secs() < 120,
            "the export never started"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// A tmpfs of `size`; `None` (skip) where mounting is not allowed, except under CI.
fn small_fs(size: &str) -> Option<Tmpfs> {
    let fs = Tmpfs::mount(size);
    if fs.is_none() {
        assert!(std::env::var_os("CI").is_none(), "CI can mount a tmpfs");
    }
    fs
}

const SHAPE: &[&str] = &["--zip", "--format", "all", "--zip-formats", "all"];

struct Fixture {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    spool: PathBuf,
    /// A finished export of the samples (never updated: copied for each case).
    base: PathBuf,
}

fn fixture() -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().to_path_buf();
    let spool = root.join("spool");
    copy_tree(&sample_spool(), &spool);
    let base = root.join("base");
    let o = go(&spool, &base, SHAPE);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // A new message for three mailboxes, so the update touches their bundles.
    put_raw(
        &spool,
        "9ZZZZ98E777",
        &simple("9ZZZZ98E777", 1_795_900_000, b"bob@example.com"),
    );
    Fixture {
        _tmp: tmp,
        root,
        spool,
        base,
    }
}

/// Runs `--update` on a copy of the base export changed by `plant`, and checks it is
/// refused (exit 2, one line naming `names`), leaving `outside` and the spool as they
/// were.
fn refused(f: &Fixture, case: &str, names: &[&str], plant: impl FnOnce(&Path, &Path)) {
    let out = f.root.join(format!("out-{case}"));
    let outside = f.root.join(format!("outside-{case}"));
    copy_tree(&f.base, &out);
    std::fs::create_dir(&outside).unwrap();
    std::fs::write(outside.join("secret"), "root:$6$not-for-users\n").unwrap();
    plant(&out, &outside);
    let (before, spool_before) = (tree_fingerprint(&outside), tree_fingerprint(&f.spool));
    let o = go(&f.spool, &out, &["--update"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{case}: {err}");
    assert_eq!(err.lines().count(), 1, "{case}: one line: {err}");
    for n in names {
        assert!(err.contains(n), "{case}: names {n}: {err}");
    }
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(
        tree_fingerprint(&outside),
        before,
        "{case}: outside OUT changed"
    );
    assert_eq!(tree_fingerprint(&f.spool), spool_before);
    // Nothing of the secret in any zip.
    for z in std::fs::read_dir(out.join("recipients")).unwrap().flatten() {
        if z.path().extension().is_some_and(|e| e == "zip") {
            let data = std::fs::read(z.path()).unwrap();
            assert!(!data.windows(9).any(|w| w == b"not-for-u"), "{case}");
        }
    }
}

fn edit_manifest(out: &Path, f: impl FnOnce(&mut serde_json::Value)) {
    let p = out.join("manifest.json");
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
    f(&mut v);
    std::fs::write(&p, serde_json::to_vec_pretty(&v).unwrap()).unwrap();
}

fn recipient<'a>(v: &'a mut serde_json::Value, addr: &str) -> &'a mut serde_json::Value {
    v["recipients"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|r| r["address"] == addr)
        .unwrap()
}

#[test]
fn update_never_leaves_out() {
    let f = fixture();
    // r4: a bundle directory swapped for a link to a directory outside.
    refused(
        &f,
        "dirlink",
        &["recipients/bob@example.com", "symbolic link"],
        |out, outside| {
            let bob = out.join("recipients/bob@example.com");
            std::fs::rename(&bob, outside.join("bobdir")).unwrap();
            std::os::unix::fs::symlink(outside.join("bobdir"), &bob).unwrap();
        },
    );
    // r4: a message file swapped for a link to a secret (it must never be zipped).
    refused(
        &f,
        "filelink",
        &["recipients/carol@example.com/eml/", "symbolic link"],
        |out, outside| {
            let eml = out.join("recipients/carol@example.com/eml");
            let first = std::fs::read_dir(&eml)
                .unwrap()
                .next()
                .unwrap()
                .unwrap()
                .path();
            std::fs::remove_file(&first).unwrap();
            std::os::unix::fs::symlink(outside.join("secret"), &first).unwrap();
        },
    );
    // The archive copies' directory swapped for a link.
    refused(
        &f,
        "messageslink",
        &["messages", "symbolic link"],
        |out, outside| {
            std::fs::rename(out.join("messages"), outside.join("m")).unwrap();
            std::os::unix::fs::symlink(outside.join("m"), out.join("messages")).unwrap();
        },
    );
    // r4: paths from the manifest: an absolute store, a bundle dir with `..`, a file
    // path and a zip path outside the bundle.
    refused(&f, "store", &["manifest.json", "store"], |out, outside| {
        let s = outside.join("abs-store.eml");
        edit_manifest(out, |v| {
            v["messages"][0]["store"] = s.to_str().unwrap().into()
        });
    });
    refused(
        &f,
        "dotdot",
        &["alice@example.com", "dir", "../../"],
        |out, _| {
            edit_manifest(out, |v| {
                let r = recipient(v, "alice@example.com");
                r["dir"] = "../../outside-dotdot/alice-dir".into();
                r["messages"].as_array_mut().unwrap().pop();
            })
        },
    );
    refused(&f, "filepath", &["bob@example.com", "file"], |out, _| {
        edit_manifest(out, |v| {
            recipient(v, "bob@example.com")["files"][0]["path"] =
                "recipients/alice@example.com/mail.mbox".into();
        })
    });
    refused(&f, "zippath", &["bob@example.com", "zip"], |out, _| {
        edit_manifest(out, |v| {
            recipient(v, "bob@example.com")["zip"] = "recipients/../../x.zip".into();
        })
    });
    // Things an export never writes: a FIFO (it would hang a reader), a directory among
    // the archive copies, a stray file among the bundles.
    refused(
        &f,
        "fifo",
        &["messages/zz.eml", "special file"],
        |out, _| {
            let st = std::process::Command::new("mkfifo")
                .arg(out.join("messages/zz.eml"))
                .status()
                .unwrap();
            assert!(st.success());
        },
    );
    refused(&f, "msgdir", &["messages/sub", "directory"], |out, _| {
        std::fs::create_dir(out.join("messages/sub")).unwrap();
    });
    refused(&f, "stray", &["recipients/notes.txt", "file"], |out, _| {
        std::fs::write(out.join("recipients/notes.txt"), "x").unwrap();
    });

    // The untampered export updates, and verifies.
    let out = f.root.join("out-clean");
    copy_tree(&f.base, &out);
    std::fs::write(
        out.join("notes.txt"),
        "the admin's own file, beside the export",
    )
    .unwrap();
    let o = go(&f.spool, &out, &["--update"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let m = manifest(&out);
    assert!(m.messages.iter().any(|x| x.info.queue_id == "9ZZZZ98E777"));
    let text = stdout(&verify(&out));
    assert!(text.contains("notes.txt"), "{text}");
}

/// `verify` never follows a link in the export nor a manifest path outside it.
#[test]
fn verify_never_leaves_the_export() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let o = go(&sample_spool(), &out, &["--format", "eml"]);
    assert!(o.status.success());
    let secret = tmp.path().join("secret");
    write_mode(&secret, "root:x\n", 0o600);
    // A listed file replaced by a link to a file with the same content: still a mismatch.
    let m = manifest(&out);
    let f = &m.recipients[0].files[0];
    let p = out.join(&f.path);
    let copy = tmp.path().join("copy");
    std::fs::rename(&p, &copy).unwrap();
    std::os::unix::fs::symlink(&copy, &p).unwrap();
    let v = verify(&out);
    let text = stdout(&v);
    assert_eq!(v.status.code(), Some(1), "{text}");
    assert!(
        text.contains(&f.path) && text.contains("symbolic link"),
        "{text}"
    );
    std::fs::remove_file(&p).unwrap();
    std::fs::rename(&copy, &p).unwrap();
    // A manifest path outside the export: named, not opened.
    edit_manifest(&out, |v| {
        v["messages"][0]["store"] = secret.to_str().unwrap().into();
    });
    let v = verify(&out);
    let text = stdout(&v);
    assert_eq!(v.status.code(), Some(1), "{text}");
    assert!(text.contains("not a path inside the export"), "{text}");
}

/// A spool of `n` copies of the sample's deferred queue files under fresh queue IDs.
fn copies_spool(dst: &Path, n: usize) {
    deferred_copies(dst, n, |i| format!("C{:05X}{:04X}", i, i % 7), false);
}

/// A first export killed (SIGKILL) half-way leaves a manifest that lists nothing and
/// records the options; `--update` without them finishes the export in the same shape.
#[test]
fn update_after_a_killed_first_export_keeps_its_options() {
    let (tmp, spool, _) = scratch();
    copies_spool(&spool, 1500);
    let out = tmp.path().join("out");
    let shape = [
        "--format",
        "eml",
        "--zip",
        "--zip-formats",
        "text",
        "--jobs",
        "1",
    ];
    let mut child = mx(["export", "--config-dir", defaults_config_dir(), "--quiet"])
        .queue_dir(&spool)
        .out(&out)
        .args(shape)
        .spawn();
    wait_half_way(&mut child, &out);
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let m = manifest(&out);
    if m.complete {
        eprintln!("note: the first export finished before it could be killed");
        return;
    }
    assert!(m.messages.is_empty() && m.recipients.is_empty());
    assert_eq!(m.options.formats, ["eml"]);
    assert_eq!(m.options.zip_formats, ["text"]);
    // Neither verify nor anyone else takes it for a finished export: verify says so in
    // one line, with how to finish it (exit 2: there is nothing to verify yet).
    assert_unfinished(&out);
    // reinject does not mistake it for an export with nothing to send.
    let r = run(&["reinject", "--from", s(&out), "--to", "127.0.0.1:9"]);
    let err = stderr(&r);
    assert_eq!(r.status.code(), Some(2), "{err}");
    assert!(
        err.contains("interrupted") && err.contains("--update"),
        "{err}"
    );

    let o = go(&spool, &out, &["--update"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let m = manifest(&out);
    assert!(m.complete);
    assert_eq!(m.messages.len(), 1500);
    assert_eq!(m.options.formats, ["eml"]);
    assert!(m.options.zip);
    assert_eq!(m.options.zip_formats, ["text"]);
    for r in &m.recipients {
        assert!(r.output("mbox").is_none() && r.output("eml").is_some());
        assert!(r.zip_entries.iter().any(|e| e.path.ends_with(".txt")));
        assert!(!r.zip_entries.iter().any(|e| e.path.ends_with(".eml")));
    }
    crate::harness::assert_ok(&verify(&out));
}

/// A full disk while zips are written: one line naming the path, not the zip crate's
/// `ZipWriter::drop` debug output, and no temporary zip left. Needs root (mount).
#[test]
fn full_disk_during_zips_is_one_quiet_line() {
    for size in ["500k", "600k", "700k", "800k"] {
        let Some(fs) = small_fs(size) else {
            return;
        };
        let out = fs.dir.join("x");
        // Past the space check (which would refuse first): the disk fills while writing.
        let o = go(&sample_spool(), &out, &["--zip", "--no-space-check"]);
        let tmps = std::fs::read_dir(out.join("recipients"))
            .map(|d| {
                d.flatten()
                    .filter(|e| {
                        e.file_name()
                            .to_string_lossy()
                            .ends_with(".zip.mxsalvage-tmp")
                    })
                    .count()
            })
            .unwrap_or(0);
        drop(fs);
        let err = String::from_utf8_lossy(&o.stderr);
        if o.status.success() {
            continue;
        }
        assert_eq!(o.status.code(), Some(2), "{size}: {err}");
        assert!(!err.contains("ZipWriter"), "{size}: {err}");
        assert_eq!(err.lines().count(), 1, "{size}: {err}");
        assert!(err.contains("No space left on device"), "{size}: {err}");
        assert!(err.starts_with("mxsalvage: "), "{size}: {err}");
        assert_eq!(tmps, 0, "{size}: temporary zips left");
    }
}

/// A disk that fills up mid-export (past the space check) stops the run: exit 2 (fatal:
/// the README's 1 means "every failure listed, everything else done"), one line naming
/// the path and saying how to finish (`--update`), a manifest that says the export is
/// unfinished (and why, when that still fits), and `verify` saying so in one line.
/// Needs root (mount).
#[test]
fn full_disk_stop_is_fatal_and_says_how_to_finish() {
    let Some(fs) = small_fs("1500k") else {
        return;
    };
    let out = fs.dir.join("out");
    let o = go(
        &sample_spool(),
        &out,
        &["--format", "all", "--zip", "--no-space-check"],
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("No space left on device"), "{err}");
    assert!(err.contains("--update"), "{err}");
    let m = manifest(&out);
    assert!(!m.complete);
    assert!(mxsalvage::verify::unfinished(&m).is_some());
    if let Some(why) = &m.stopped {
        assert!(why.contains("No space left on device"), "{why}");
    }
    assert_unfinished(&out);
}

/// Ctrl-C (SIGINT) half-way through an export: one line saying how to finish it
/// (`--update`), the process ended by the signal as a shell expects; `verify` then says
/// in one line that the export did not finish (exit 2), not thousands of mismatches;
/// `--update` finishes it and `verify` passes.
#[test]
fn ctrl_c_says_how_to_finish_and_verify_says_unfinished() {
    use std::os::unix::process::ExitStatusExt;
    let (tmp, spool, _) = scratch();
    copies_spool(&spool, 1500);
    let out = tmp.path().join("out");
    let mut child = mx(["export", "--config-dir", defaults_config_dir()])
        .queue_dir(&spool)
        .out(&out)
        .args(["--format", "eml", "--jobs", "1"])
        .spawn();
    wait_half_way(&mut child, &out);
    let pid = child.id().to_string();
    let st = std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap();
    assert!(st.success());
    let o = child.wait_with_output().unwrap();
    if o.status.success() {
        eprintln!("note: the export finished before it could be interrupted");
        return;
    }
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.signal(), Some(2), "{:?} {err}", o.status);
    let lines: Vec<&str> = err
        .lines()
        .filter(|l| !l.contains("file modes look"))
        .collect();
    assert_eq!(lines.len(), 1, "{err}");
    assert!(
        lines[0].starts_with("mxsalvage: interrupted") && lines[0].contains("with --update"),
        "{err}"
    );
    assert_unfinished(&out);
    let o = go(&spool, &out, &["--update"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    crate::harness::assert_ok(&verify(&out));
}
