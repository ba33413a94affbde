//! `mxsalvage verify EXPORT_DIR`: check an export against its manifest.

use std::io::Write;

use anyhow::{Context, Result};

use super::export::Bar;
use crate::cli::args::VerifyArgs;
use mxsalvage::exit::Exit;
use mxsalvage::export::zip::parse_passwords;
use mxsalvage::verify::verify_with;

pub fn run(a: VerifyArgs) -> Result<Exit> {
    let passwords = match &a.zip_password_file {
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .with_context(|| format!("cannot read {}", p.display()))?;
            Some(parse_passwords(&text).map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?)
        }
        None => None,
    };
    // Progress on a terminal's stderr: reading every file back takes as long as writing.
    let progress = Bar::new(false);
    let rep = verify_with(&a.dir, passwords.as_ref(), &progress);
    if let Some(b) = &progress.0 {
        b.finish_and_clear();
    }
    let rep = rep?;
    let mut out = std::io::stdout().lock();
    if a.json {
        serde_json::to_writer_pretty(&mut out, &rep)?;
        writeln!(out)?;
    } else {
        for m in &rep.mismatches {
            writeln!(out, "MISMATCH {}: {}", m.path, m.reason)?;
        }
        for n in &rep.notes {
            writeln!(out, "note: {n}")?;
        }
        let unchecked = match rep.encrypted_unchecked {
            0 => String::new(),
            n => format!("; {n} encrypted zip(s) NOT checked inside (give --zip-password-file)"),
        };
        writeln!(
            out,
            "{}: {} message(s), {} file(s) checked, {} mismatch(es){unchecked}",
            if rep.ok() { "OK" } else { "FAILED" },
            rep.messages_checked,
            rep.files_checked,
            rep.mismatches.len()
        )?;
    }
    Ok(Exit::partial_if(!rep.ok()))
}
