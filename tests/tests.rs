//! All integration tests, compiled into one test binary (one module per topic).
//! Tests that need real Postfix, Dovecot, unzip or 7z find them installed by `.ci/run`.

mod harness;
mod util;

mod cli;
mod differential;
mod docs;
mod dovecot;
mod exim;
mod export;
mod faults;
mod filing;
mod filters;
mod listing;
mod maildrop;
mod memory;
mod merge;
mod modes;
mod postcat;
mod reader;
mod reinject;
mod reinject_hostile;
mod runbook;
mod spool_args;
mod spool_safety;
mod verify;
mod viewer;
