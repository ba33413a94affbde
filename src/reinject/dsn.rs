//! Delivery status notifications (RFC 3464) for pairs that end `failed`, the way
//! Postfix's bounce service reports them (src/bounce/bounce_notify_util.c and
//! bounce_notify_service.c in the Postfix source were read for the format; nothing
//! is copied).
//!
//! Owns: who is owed a DSN ([`owed`]: the sender unless NOTIFY excludes FAILURE; the
//! postmaster, whatever NOTIFY says, for mail with the null sender — never a DSN to
//! the null sender, which would loop).
//! Pure: in the envelope data, out a decision.

use crate::bytes::Bytes;

/// Who is told that a pair failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owed {
    /// The original sender.
    Sender(Bytes),
    /// The postmaster: the message has the null sender (a bounce itself).
    Postmaster,
    /// Nobody: the sender asked not to be told (NOTIFY=NEVER, or a NOTIFY list
    /// without FAILURE). The reason is in the string.
    Nobody(String),
}

/// Who is owed a DSN for a failed pair of a message from `sender` whose recipient had
/// `notify` (`NEVER` or a comma list; `None`: not given, which means FAILURE and
/// DELAY by RFC 3461 4.1).
pub fn owed(sender: &[u8], notify: Option<&str>) -> Owed {
    if sender.is_empty() {
        return Owed::Postmaster;
    }
    match notify {
        Some(n) if n.eq_ignore_ascii_case("NEVER") => Owed::Nobody("NOTIFY=NEVER".into()),
        Some(n)
            if !n
                .split(',')
                .any(|w| w.trim().eq_ignore_ascii_case("FAILURE")) =>
        {
            Owed::Nobody(format!("NOTIFY={n} (no FAILURE)"))
        }
        _ => Owed::Sender(Bytes(sender.to_vec())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn who_is_owed() {
        assert_eq!(owed(b"a@x", None), Owed::Sender(Bytes(b"a@x".to_vec())));
        assert_eq!(
            owed(b"a@x", Some("SUCCESS,FAILURE")),
            Owed::Sender(Bytes(b"a@x".to_vec()))
        );
        assert!(matches!(owed(b"a@x", Some("NEVER")), Owed::Nobody(_)));
        assert!(matches!(owed(b"a@x", Some("DELAY")), Owed::Nobody(_)));
        assert_eq!(owed(b"", Some("NEVER")), Owed::Postmaster);
        assert_eq!(owed(b"", None), Owed::Postmaster);
    }
}
