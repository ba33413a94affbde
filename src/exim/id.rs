//! Exim message IDs: which names are Exim spool files, and where a split spool keeps them.
//!
//! Owns: the two ID forms (4.96 and before: `tttttt-pppppp-ff`, 16 characters; 4.97 and
//! after: `tttttt-ppppppppppp-ffff`, 23 characters; base 62 with dashes), the split-spool
//! subdirectory (the ID's 6th character) and the spool file names `ID-H`, `ID-D`,
//! `ID-J`. In: names. Out: yes/no, the ID. Fails: never.

/// Lengths of the ID's three parts, old form then new form.
const FORMS: [[usize; 3]; 2] = [[6, 6, 2], [6, 11, 4]];

/// Whether `s` is an Exim message ID of either form.
pub fn is_exim_id(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() == 3
        && FORMS.iter().any(|form| {
            parts
                .iter()
                .zip(form)
                .all(|(p, n)| p.len() == *n && p.bytes().all(|b| b.is_ascii_alphanumeric()))
        })
}

/// The subdirectory of `input/` a split spool keeps `id` in (its 6th character).
pub fn split_dir(id: &str) -> &str {
    id.get(5..6).unwrap_or("")
}

/// The message ID of a spool file named `ID-<kind>` (kind `H`, `D` or `J`).
pub fn id_of(name: &str, kind: char) -> Option<&str> {
    let id = name.strip_suffix(kind)?.strip_suffix('-')?;
    is_exim_id(id).then_some(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_forms() {
        assert!(is_exim_id("1xaZgW-0003TL-34"));
        assert!(is_exim_id("1xaZgW-000000003TL-0a3Z"));
        assert!(!is_exim_id("1xaZgW-0003TL-3"));
        assert!(!is_exim_id("1xaZgW-0003TL-34-H"));
        assert!(!is_exim_id("1xaZg!-0003TL-34"));
        assert_eq!(split_dir("1xaZgW-0003TL-34"), "W");
        assert_eq!(id_of("1xaZgW-0003TL-34-H", 'H'), Some("1xaZgW-0003TL-34"));
        assert_eq!(id_of("1xaZgW-0003TL-34-D", 'H'), None);
    }
}
