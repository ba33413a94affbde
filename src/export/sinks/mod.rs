//! The sink registry: every export format, listed once.
//!
//! Owns: [`SINKS`] (the order in which sinks run for a message or a mailbox, in which
//! their locations appear in the manifest and their paragraphs in a zip's README), the
//! default `--format` list, and [`Formats`], a set of registered sinks parsed from format
//! names. Adding a format is: its own file implementing [`Sink`], one line in [`SINKS`]
//! (and in [`DEFAULT_FORMATS`] when it is on by default). In: format names. Out: sinks.
//! Fails only on an unknown format name.

pub mod eml;
pub mod html;
pub mod maildir;
pub mod mbox;
pub mod text;

use super::error::ExportError;
pub use super::sink::Formats;
use super::sink::{Dest, Message, Sink};

/// Every format, in the order they run and are listed.
pub static SINKS: &[&dyn Sink] = &[
    &mbox::Mbox,
    &maildir::Maildir,
    &eml::Eml,
    &text::Text,
    &html::Html,
];

/// The formats written when `--format` is not given (and `--zip` is not).
pub const DEFAULT_FORMATS: &str = "mbox,maildir,eml,text,html";

/// The formats inside each zip when `--zip-formats` is not given: what a person opens
/// — the HTML view (`index.html`: double-click, read in any browser, with each
/// message's attachments) and the `.eml` (opens in any mail program) — one copy of
/// each message, not four.
pub const DEFAULT_ZIP_FORMATS: &str = "html,eml";

/// The registry's side of [`Formats`]: the sets it makes from [`SINKS`] (the set itself,
/// what a sink reads of it, is in the contract).
impl Formats {
    /// Every registered format.
    pub fn all() -> Formats {
        Formats::from_bits(SINKS, (1u32 << SINKS.len()) - 1)
    }

    /// No format.
    pub fn none() -> Formats {
        Formats::from_bits(SINKS, 0)
    }

    /// Parses format names (comma lists allowed, case-insensitive; `none` adds nothing,
    /// `all` every registered format).
    pub fn parse<S: AsRef<str>>(list: &[S]) -> Result<Formats, String> {
        let mut f = Formats::default();
        for s in list {
            for s in s.as_ref().split(',') {
                let s = s.trim().to_ascii_lowercase();
                if s.is_empty() || s == "none" {
                    continue;
                }
                if s == "all" {
                    f = Formats::all();
                    continue;
                }
                match SINKS
                    .iter()
                    .position(|k| k.name() == s || k.aliases().contains(&s.as_str()))
                {
                    Some(i) => f = Formats::from_bits(SINKS, f.bits() | 1 << i),
                    None => {
                        let names: Vec<&str> = SINKS.iter().map(|k| k.name()).collect();
                        return Err(format!("unknown format {s:?} (use {})", names.join(", ")));
                    }
                }
            }
        }
        Ok(f)
    }

    /// The default formats.
    pub fn default_set() -> Formats {
        Formats::parse(&[DEFAULT_FORMATS]).expect("DEFAULT_FORMATS names registered sinks")
    }

    /// The default formats inside a zip.
    pub fn default_zip() -> Formats {
        Formats::parse(&[DEFAULT_ZIP_FORMATS]).expect("DEFAULT_ZIP_FORMATS names registered sinks")
    }
}

impl Default for Formats {
    fn default() -> Formats {
        Formats::none()
    }
}

/// Runs every per-message sink of `formats`, in registry order, into `dest`.
pub fn render_message(
    formats: Formats,
    m: &Message,
    dest: &mut dyn Dest,
) -> Result<(), ExportError> {
    formats.sinks().try_for_each(|s| s.message(m, dest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry() {
        assert!(SINKS.len() <= 32);
        let mut names: Vec<&str> = SINKS.iter().map(|s| s.name()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), SINKS.len(), "format names are unique");
        assert_eq!(
            Formats::parse(&["TXT, mbox"]).unwrap().names(),
            ["mbox", "text"]
        );
        assert!(
            Formats::parse(&["pdf"])
                .unwrap_err()
                .contains("use mbox, maildir")
        );
        assert_eq!(Formats::all().names().len(), SINKS.len());
        assert!(!Formats::default_set().is_empty());
        assert!(!Formats::default_zip().is_empty());
        assert!(Formats::parse(&["none"]).unwrap().is_empty());
        assert_eq!(Formats::parse(&["all"]).unwrap(), Formats::all());
        for s in SINKS {
            assert!(
                s.readme().ends_with("\n\n"),
                "{}: README paragraph ends in an empty line",
                s.name()
            );
        }
    }
}
