//! The passwd-file of the generated Dovecot configuration.
//!
//! Owns: hashing each password as `{SHA512-CRYPT}$6$rounds=N$salt$hash` (salt from the
//! system's random source; no plaintext is ever written), which user names a
//! passwd-file can hold, escaping a mail location for a passwd-file extra field, and
//! one line per user (`user:{hash}:uid:gid::home::userdb_mail=…`). In: addresses,
//! passwords, paths. Out: text. Fails with a message when the random source fails.

use ring::rand::{SecureRandom, SystemRandom};
use sha_crypt::{Sha512Params, sha512_crypt_b64};

/// SHA-512-crypt rounds: about 50 ms per login with glibc, far slower to brute-force
/// than the 5,000 default.
pub const ROUNDS: usize = 100_000;

const SALT_CHARS: &[u8] = b"./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// `{SHA512-CRYPT}$6$rounds=N$<16 random salt chars>$<hash>`.
pub fn hash(password: &str) -> Result<String, String> {
    let mut raw = [0u8; 16];
    SystemRandom::new()
        .fill(&mut raw)
        .map_err(|_| "the system's random source failed".to_string())?;
    let salt: String = raw
        .iter()
        .map(|b| SALT_CHARS[(*b as usize) % SALT_CHARS.len()] as char)
        .collect();
    hash_with_salt(password, &salt, ROUNDS)
}

fn hash_with_salt(password: &str, salt: &str, rounds: usize) -> Result<String, String> {
    let params = Sha512Params::new(rounds).map_err(|e| format!("{e:?}"))?;
    let h = sha512_crypt_b64(password.as_bytes(), salt.as_bytes(), &params)
        .map_err(|e| format!("{e:?}"))?;
    Ok(format!("{{SHA512-CRYPT}}$6$rounds={rounds}${salt}${h}"))
}

/// Why an address cannot be a user name in a passwd-file (and so an IMAP login), or
/// `None` when it can.
pub fn unusable_user(address: &str) -> Option<&'static str> {
    if address.is_empty() {
        Some("the address is empty")
    } else if address.contains(':') {
        Some("the address contains ':', which a Dovecot passwd-file cannot hold")
    } else if address.starts_with('#') {
        Some("the address starts with '#', which a Dovecot passwd-file reads as a comment")
    } else if address.chars().any(char::is_control) {
        Some("the address contains control characters")
    } else if address.trim() != address {
        Some("the address starts or ends with white space")
    } else {
        None
    }
}

/// A mail location as a passwd-file extra field value: `%` is Dovecot's variable
/// marker (`%%`), `:` separates location parameters (`::`). White space cannot be
/// held at all (`None`).
pub fn escape_location_part(s: &str) -> Option<String> {
    if s.chars().any(char::is_whitespace) {
        return None;
    }
    Some(s.replace('%', "%%").replace(':', "::"))
}

/// One passwd-file line.
pub fn line(user: &str, hash: &str, uid: u32, gid: u32, home: &str, mail: &str) -> String {
    format!("{user}:{hash}:{uid}:{gid}::{home}::userdb_mail={mail}\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drepper_test_vector() {
        // From Ulrich Drepper's SHA-crypt specification.
        let h = hash_with_salt("Hello world!", "saltstringsaltst", 10_000).unwrap();
        assert_eq!(
            h,
            "{SHA512-CRYPT}$6$rounds=10000$saltstringsaltst$OW1/O6BYHV6BcXZu8QVeXbDWra3Oeqh0sbHbbMCVNSnCM/UrjmM0Dp8vOuZeHBy/YTBmSK6H9qs/y3RnOaw5v."
        );
    }

    #[test]
    fn random_salts_differ() {
        let a = hash("pw").unwrap();
        let b = hash("pw").unwrap();
        assert_ne!(a, b);
        assert!(a.starts_with("{SHA512-CRYPT}$6$rounds=100000$"));
        let salt = a.split('$').nth(3).unwrap();
        assert_eq!(salt.len(), 16);
    }

    #[test]
    fn user_names() {
        assert_eq!(unusable_user("alice@example.com"), None);
        assert_eq!(unusable_user("jörg@example.com"), None);
        assert!(unusable_user("\"a:b\"@example.com").is_some());
        assert!(unusable_user("#x@example.com").is_some());
        assert!(unusable_user("a\nb@x").is_some());
        assert!(unusable_user(" a@x").is_some());
        assert_eq!(
            escape_location_part("/srv/x/a%b:c").unwrap(),
            "/srv/x/a%%b::c"
        );
        assert!(escape_location_part("/srv/a b").is_none());
    }
}
