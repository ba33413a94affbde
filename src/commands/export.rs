//! `mxsalvage export` (not implemented yet).

use anyhow::{Result, bail};

use mxsalvage::exit::Exit;

pub fn run(_a: crate::cli::ExportArgs) -> Result<Exit> {
    bail!("export is not implemented yet")
}
