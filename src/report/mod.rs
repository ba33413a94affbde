//! The report stage: what is in the queue, described, selected and listed.
//!
//! Owns: the message object every output shares ([`model`]: `MessageInfo` and the
//! recipients of scan --json and the manifest), the selection (`--recipient`,
//! `--domain`, `--id`, times, valid-recipient lists: [`select`]), the scan report
//! ([`scan`]: text and JSON, streamed) and Postfix's own listing formats ([`listing`]:
//! `mailq` and `postqueue -j` lines). In: loaded queue files from [`crate::queue`].
//! Out: structs and text for the command line and the export. Never writes a file;
//! fails only where the output stream fails.

pub mod listing;
pub mod model;
pub mod scan;
pub mod select;
