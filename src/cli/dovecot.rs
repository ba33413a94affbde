//! `mxsalvage dovecot --from EXPORT_DIR --zip-password-file FILE --listen ADDR:PORT
//! --out CONF_DIR`: writes a read-only IMAPS configuration for the system's Dovecot
//! (library: [`mxsalvage::dovecot`]) and prints what was written (never that it is
//! served: nothing serves before Dovecot is started), the certificate's fingerprint
//! and how to start and stop it. Exit 0 when every mailbox became a user,
//! 1 when some were skipped (each listed with the reason), 2 when nothing was written.

use std::io::Write;
use std::net::{SocketAddr, ToSocketAddrs};

use anyhow::{Context, Result, anyhow, bail};

use crate::cli::args::DovecotArgs;
use mxsalvage::dovecot::{Request, TlsChoice, generate};
use mxsalvage::exit::Exit;
use mxsalvage::export::zip::parse_passwords;

fn listen_addr(s: &str) -> Result<SocketAddr> {
    if let Ok(a) = s.parse::<SocketAddr>() {
        return Ok(a);
    }
    let mut it = s.to_socket_addrs().map_err(|e| {
        anyhow!("--listen {s:?}: {e} (give ADDR:PORT, e.g. 0.0.0.0:10993 or [::]:10993)")
    })?;
    it.next()
        .ok_or_else(|| anyhow!("--listen {s:?}: no address (give ADDR:PORT)"))
}

pub fn run(a: DovecotArgs) -> Result<Exit> {
    let listen = listen_addr(&a.listen)?;
    if listen.port() == 0 {
        bail!(
            "--listen {}: give a port (e.g. 10993; 993 only if the system's Dovecot does not use it)",
            a.listen
        );
    }
    let text = std::fs::read_to_string(&a.zip_password_file)
        .with_context(|| format!("cannot read {}", a.zip_password_file.display()))?;
    let passwords =
        parse_passwords(&text).map_err(|e| anyhow!("{}: {e}", a.zip_password_file.display()))?;
    let tls = match (&a.tls_cert, &a.tls_key) {
        (Some(c), Some(k)) => TlsChoice::Given {
            cert: c.clone(),
            key: k.clone(),
        },
        _ => TlsChoice::Generate,
    };
    let o = generate(&Request {
        export: &a.from,
        conf_dir: &a.out,
        listen,
        server: a.hostname.clone(),
        tls,
        passwords: &passwords,
    })?;
    let mut out = std::io::stdout().lock();
    let conf = o.conf.display();
    // Nothing serves yet: this writes a configuration; Dovecot serves it once started
    // (or, when it already runs with CONF_DIR, once reloaded).
    writeln!(
        out,
        "mxsalvage dovecot: {} user(s) of {} configured ({}) for read-only IMAPS on {} (server name {}), mail read as {}",
        o.users.len(),
        o.export.display(),
        if o.running {
            "Dovecot serves the previous configuration until reloaded"
        } else {
            "not served until Dovecot is started"
        },
        o.listen,
        o.server,
        o.reader.spec()
    )?;
    writeln!(out, "configuration: {conf}")?;
    writeln!(
        out,
        "certificate:   {} ({})",
        o.cert.display(),
        if o.generated_cert {
            "self-signed, made by mxsalvage"
        } else {
            "given"
        }
    )?;
    writeln!(out, "SHA-256 fingerprint: {}", o.fingerprint)?;
    writeln!(
        out,
        "handouts:      {}/handouts/ (one page per user; the password is the zip password)",
        o.conf_dir.display()
    )?;
    for s in &o.skipped {
        writeln!(out, "skipped {}: {}", s.address, s.reason)?;
    }
    if o.running {
        writeln!(
            out,
            "Dovecot runs with this configuration: apply it with `doveadm -c {conf} reload`"
        )?;
    } else {
        writeln!(out, "start: dovecot -c {conf}")?;
    }
    writeln!(out, "stop:  doveadm -c {conf} stop")?;
    drop(out);
    for w in &o.warnings {
        eprintln!("mxsalvage: warning: {w}");
    }
    Ok(Exit::partial_if(!o.skipped.is_empty()))
}
