//! Lossless JSON for bytes that are usually, but not always, UTF-8.
//!
//! Owns: [`Bytes`], serialised as a plain JSON string when the bytes are valid UTF-8 and
//! as `{"base64": "..."}` otherwise, so envelope addresses and header bytes survive a
//! round trip through JSON unchanged. Pure.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Bytes(pub Vec<u8>);

impl Bytes {
    /// Text for display: UTF-8 as is, other bytes replaced.
    pub fn display(&self) -> String {
        String::from_utf8_lossy(&self.0).into_owned()
    }
}

impl From<&[u8]> for Bytes {
    fn from(b: &[u8]) -> Self {
        Bytes(b.to_vec())
    }
}

impl From<Vec<u8>> for Bytes {
    fn from(b: Vec<u8>) -> Self {
        Bytes(b)
    }
}

#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum Repr {
    Text(String),
    Raw { base64: String },
}

impl Serialize for Bytes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match std::str::from_utf8(&self.0) {
            Ok(t) => Repr::Text(t.to_string()).serialize(s),
            Err(_) => Repr::Raw {
                base64: STANDARD.encode(&self.0),
            }
            .serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for Bytes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Repr::deserialize(d)? {
            Repr::Text(t) => Ok(Bytes(t.into_bytes())),
            Repr::Raw { base64 } => STANDARD
                .decode(base64)
                .map(Bytes)
                .map_err(serde::de::Error::custom),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        for b in [
            &b"user@example.com"[..],
            &b"j\xf6rg@example.de"[..],
            "jörg@example.de".as_bytes(),
        ] {
            let j = serde_json::to_string(&Bytes(b.to_vec())).unwrap();
            let back: Bytes = serde_json::from_str(&j).unwrap();
            assert_eq!(back.0, b);
        }
        assert_eq!(
            serde_json::to_string(&Bytes(b"\xff".to_vec())).unwrap(),
            r#"{"base64":"/w=="}"#
        );
    }
}
