//! The one-page handout for each user of the generated IMAP server.
//!
//! Owns: the text a non-technical user needs to read their mail in the program they
//! already use: server, port, security, user name, where the password comes from, the
//! certificate fingerprint to compare (self-signed certificates), and short steps for
//! Thunderbird, Outlook, iPhone/iPad and Android. No password is ever in it. In: the
//! facts. Out: plain text (UTF-8, at most ~60 lines of ≤ 80 columns). Pure.

use std::fmt::Write;

/// What a handout says.
pub struct Facts<'a> {
    pub address: &'a str,
    pub server: &'a str,
    pub port: u16,
    pub messages: usize,
    /// Newest arrival, `YYYY-MM-DD HH:MM UTC`.
    pub newest: Option<&'a str>,
    /// SHA-256 fingerprint to compare, when the certificate is self-signed.
    pub fingerprint: Option<&'a str>,
}

/// The handout of one user: plain text, no password in it.
pub fn render(f: &Facts) -> String {
    let mut o = String::new();
    intro(&mut o, f);
    settings(&mut o, f);
    if let Some(fp) = f.fingerprint {
        certificate(&mut o, fp);
    }
    program_steps(&mut o, f.fingerprint.is_some());
    let _ = writeln!(o);
    let _ = writeln!(
        o,
        "Questions: ask your mail administrator. Never send your password by e-mail."
    );
    o
}

/// The title and what the account is (whose mail, how much, read-only).
fn intro(o: &mut String, f: &Facts) {
    let _ = writeln!(o, "Your mail while the mail server is down: how to read it");
    let _ = writeln!(o, "=======================================================");
    let _ = writeln!(o);
    let _ = writeln!(
        o,
        "The mail that arrived for {} while the mail server was down",
        f.address
    );
    let newest = f
        .newest
        .map(|n| format!(", the newest from {n}"))
        .unwrap_or_default();
    let _ = writeln!(o, "({} message(s){newest})", f.messages);
    let _ = writeln!(o, "can be read now in your usual mail program.");
    let _ = writeln!(
        o,
        "It is a read-only copy: you can read, search, print and save messages, but not\n\
         delete, move or flag them, and you cannot send mail with this account. When\n\
         the mail server is back, the same mail reaches your normal mailbox; then remove\n\
         this account from your program."
    );
    let _ = writeln!(o);
}

/// The account settings, one per line.
fn settings(o: &mut String, f: &Facts) {
    let _ = writeln!(o, "  Account type:     IMAP (incoming mail)");
    let _ = writeln!(o, "  Server:           {}", f.server);
    let _ = writeln!(o, "  Port:             {}", f.port);
    let _ = writeln!(
        o,
        "  Security:         SSL/TLS (not STARTTLS; also called \"implicit TLS\")"
    );
    let _ = writeln!(o, "  User name:        {}", f.address);
    let _ = writeln!(
        o,
        "  Password:         the one you were given for your mail archive (zip file)"
    );
    let _ = writeln!(o, "  Authentication:   normal password");
    let _ = writeln!(
        o,
        "  Outgoing (SMTP):  none. If your program insists, enter the same server; sending\n\
         \x20                   will not work from this account."
    );
    let _ = writeln!(o);
}

/// What to compare before accepting the server's own certificate.
fn certificate(o: &mut String, fp: &str) {
    let _ = writeln!(
        o,
        "Certificate: this server has its own certificate, so your program will warn\n\
         that it cannot verify it. Compare the SHA-256 fingerprint it shows with\n\
         \x20 {fp}\n\
         and accept the certificate (permanently) only if they are the same."
    );
    let _ = writeln!(o);
}

/// Short steps per mail program; `own` when the certificate is self-signed.
fn program_steps(o: &mut String, own: bool) {
    let _ = writeln!(
        o,
        "Thunderbird: Account Settings > Account Actions > Add Mail Account; enter your\n\
         \x20 name, the user name above as e-mail address and the password; click\n\
         \x20 \"Configure manually\", choose IMAP, the server, port and SSL/TLS above,\n\
         \x20 \"Normal password\"; Re-test, Done{}",
        if own {
            "; confirm the security exception."
        } else {
            "."
        }
    );
    let _ = writeln!(
        o,
        "Outlook (Windows): File > Add Account > Advanced options > \"Let me set up my\n\
         \x20 account manually\" > IMAP; incoming server and port as above, encryption\n\
         \x20 SSL/TLS{}",
        if own {
            "; accept the certificate warning after comparing the fingerprint."
        } else {
            "."
        }
    );
    let _ = writeln!(
        o,
        "iPhone/iPad: Settings > Mail > Accounts > Add Account > Other > Add Mail Account;\n\
         \x20 choose IMAP, enter the server as host name for incoming (and outgoing) mail,\n\
         \x20 the user name and password{}",
        if own {
            "; at \"Cannot Verify Server Identity\" tap Details,\n\
             \x20 compare the fingerprint, then Trust."
        } else {
            "."
        }
    );
    if own {
        let _ = writeln!(
            o,
            "Android: use Thunderbird for Android (K-9 Mail) or FairEmail: add an account,\n\
             \x20 manual setup, IMAP, server, port and SSL/TLS as above; they show the\n\
             \x20 certificate to accept. (The Gmail app does not accept a server's own\n\
             \x20 certificate.)"
        );
    } else {
        let _ = writeln!(
            o,
            "Android: in the Gmail app, Thunderbird for Android (K-9 Mail) or FairEmail:\n\
             \x20 add an account, \"Other\", personal IMAP, manual setup; server, port and\n\
             \x20 SSL/TLS as above."
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_page_without_password() {
        let t = render(&Facts {
            address: "alice@example.com",
            server: "mail.example.com",
            port: 993,
            messages: 13,
            newest: Some("2026-11-27 18:38 UTC"),
            fingerprint: Some("AB:CD"),
        });
        assert!(t.contains("Server:           mail.example.com"));
        assert!(t.contains("Port:             993"));
        assert!(t.contains("User name:        alice@example.com"));
        assert!(t.contains("AB:CD"));
        assert!(t.lines().count() <= 60, "{}", t.lines().count());
        assert!(t.lines().all(|l| l.chars().count() <= 82), "{t}");
        let t = render(&Facts {
            fingerprint: None,
            ..Facts {
                address: "a@x",
                server: "s",
                port: 1,
                messages: 0,
                newest: None,
                fingerprint: None,
            }
        });
        assert!(!t.to_lowercase().contains("fingerprint"), "{t}");
    }
}
