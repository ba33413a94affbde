//! `export --update` on an OUT someone tampered with (r4): planted symbolic links,
//! manifest paths leading outside, special files — refused before anything is read or
//! written, naming the entry; nothing outside OUT is ever written or zipped. Also an
//! update after a first export killed half-way (it takes the options the first run
//! left behind).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::{copy_tree, export, manifest, put_raw, simple};
use crate::util::*;

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

fn go(spool: &Path, out: &Path, extra: &[&str]) -> std::process::Output {
    let mut a = vec![
        "--queue-dir",
        spool.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    a.extend_from_slice(extra);
    export(&a)
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
    let v = run(&["verify", out.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&v.stdout);
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
    std::fs::write(&secret, "root:x\n").unwrap();
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
    // A listed file replaced by a link to a file with the same content: still a mismatch.
    let m = manifest(&out);
    let f = &m.recipients[0].files[0];
    let p = out.join(&f.path);
    let copy = tmp.path().join("copy");
    std::fs::rename(&p, &copy).unwrap();
    std::os::unix::fs::symlink(&copy, &p).unwrap();
    let v = run(&["verify", out.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&v.stdout);
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
    let v = run(&["verify", out.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&v.stdout);
    assert_eq!(v.status.code(), Some(1), "{text}");
    assert!(text.contains("not a path inside the export"), "{text}");
}
