//! Queue IDs and hashed queue paths (`global/mail_queue.c`, `global/mail_queue.h`).
//!
//! Owns: what counts as a queue file name, short vs long IDs, decoding a long ID's time,
//! and the hashed sub-directory Postfix expects a file in. Pure functions of strings.

/// The 52-character alphabet of long queue IDs (value = index).
const SAFE: &[u8; 52] = b"0123456789BCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxyz";

/// A name Postfix accepts as a queue file: 1–255 ASCII letters, digits or `_`.
/// Temporary names (`12345.6789`) and `*#FIX` leftovers are not.
pub fn is_queue_id(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && name.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_')
}

/// Position of the inode separator `z` in a long ID (last `z` with ≥10 characters before it).
fn long_separator(id: &str) -> Option<usize> {
    let z = id.rfind('z')?;
    (z >= 10).then_some(z)
}

fn base_decode(s: &str, radix: u64) -> Option<u64> {
    let mut v: u64 = 0;
    for c in s.bytes() {
        let d = SAFE.iter().position(|&a| a == c)? as u64;
        if d >= radix {
            return None;
        }
        v = v.checked_mul(radix)?.checked_add(d)?;
    }
    Some(v)
}

/// Decoded fields of a long queue ID: (seconds, microseconds, inode).
pub fn decode_long(id: &str) -> Option<(u64, u64, u64)> {
    let z = long_separator(id)?;
    let secs = base_decode(&id[..z - 4], 52)?;
    let usec = base_decode(&id[z - 4..z], 52)?;
    let inode = base_decode(&id[z + 1..], 51)?;
    Some((secs, usec, inode))
}

/// Whether `id` is a long queue ID.
pub fn is_long(id: &str) -> bool {
    decode_long(id).is_some()
}

/// The hash key of an ID: the ID itself (short), or the microseconds as 5 hex digits (long).
pub fn hash_key(id: &str) -> String {
    match decode_long(id) {
        Some((_, usec, _)) => format!("{usec:05X}"),
        None => id.to_string(),
    }
}

/// Hashed sub-directory for `id` at `depth` levels, e.g. `1/E` for depth 2.
pub fn hash_dirs(id: &str, depth: usize) -> Vec<String> {
    let key: Vec<char> = hash_key(id).chars().collect();
    (0..depth)
        .map(|i| {
            key.get(i)
                .map(|c| c.to_string())
                .unwrap_or_else(|| "_".to_string())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for (name, is_id) in [
            ("1E24012D687", true),
            ("4SVLCh0sf8z9HdB", true),
            ("12345.6789", false),
            ("1E24012D687#FIX", false),
            ("", false),
        ] {
            assert_eq!(is_queue_id(name), is_id, "{name:?}");
        }
    }

    #[test]
    fn long_ids() {
        assert_eq!(
            decode_long("3Pt2mN2VXxznjll"),
            Some((1300631508, 353025, 5536956))
        );
        assert_eq!(hash_key("4SVLCh0sf8z9HdB"), "1E240");
        assert_eq!(hash_dirs("4SVLCh0sf8z9HdB", 2), vec!["1", "E"]);
        assert_eq!(hash_dirs("1E24012D687", 1), vec!["1"]);
        assert!(!is_long("1E24012D687"));
    }
}
