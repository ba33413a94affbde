//! `mxsalvage verify` (not implemented yet).

use anyhow::{Result, bail};

use mxsalvage::exit::Exit;

pub fn run(_a: crate::cli::VerifyArgs) -> Result<Exit> {
    bail!("verify is not implemented yet")
}
