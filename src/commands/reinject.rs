//! `mxsalvage reinject` (not implemented yet).

use anyhow::{Result, bail};

use mxsalvage::exit::Exit;

pub fn run(_a: crate::cli::ReinjectArgs) -> Result<Exit> {
    bail!("reinject is not implemented yet")
}
