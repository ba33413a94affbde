//! Content filters: spam and malware verdicts from the filters a mail server already
//! runs (rspamd, SpamAssassin's spamd, clamd), spoken to in their own protocols.
//!
//! Owns: [`verdict`] (the recorded outcome and where it files a message: a leaf every
//! consumer may read). In: message bytes. Out: a [`verdict::Verdict`] per message.
//! Fails: a filter that cannot be reached before the run is a refusal; one that fails
//! for one message makes that message "unscanned", never a silent pass.

pub mod verdict;
