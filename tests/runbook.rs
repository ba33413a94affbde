//! Integration test: docs/runbook.md followed as an administrator follows it — every
//! console block, tagged or not, top to bottom in the order written, on one machine
//! state (one sandbox; `/srv/` is its `srv/`), each command on what the earlier ones
//! left (issue 16, item 3). The servers are the ones the tagged blocks' own tests use:
//! a private Dovecot with mail users for "Import into a Dovecot server", a private one
//! configured as Debian's stock one (system accounts) for its system-users recipe, the
//! system's Dovecot on a free loopback port for "Let users read their mail now", a private
//! Postfix primary (where `sales@` has left) and a private secondary holding the sample
//! queue files for sections 7–9. Skips (with a note) without root, Postfix or Dovecot,
//! unless `CI` is set.

/// The whole runbook, in order, on one state.
#[test]
fn runbook_in_order_on_one_state() {
    if !crate::dovecot::available() || !crate::reinject::servers_available(false) {
        return;
    }
    // Import into a Dovecot server: a server that works, with alice and bob.
    let vmail = crate::dovecot::ensure_account("vmail");
    let mail = crate::dovecot::MailServer::new(&["alice@example.com", "bob@example.com"], vmail);
    // Sections 7–9: the primary, and the backup's queue for `postsuper -d`.
    let primary = crate::harness::Postfix::primary();
    primary.access("sales@example.com 550 5.1.1 User unknown\n");
    let sec = crate::reinject::secondary_with_samples();
    let mut env = crate::dovecot::doc_env();
    let conf = mail.conf().display().to_string();
    env.substitute_in(
        "dovecot-import",
        "doveadm import ",
        &format!("doveadm -c {conf} import "),
    )
    .substitute_in(
        "dovecot-import",
        "doveadm mailbox status ",
        &format!("doveadm -c {conf} mailbox status "),
    );
    // The same import on Debian's stock Dovecot: system accounts read their own mail.
    let (alice, bob) = (
        crate::dovecot::SystemUser::new("alice"),
        crate::dovecot::SystemUser::new("bob"),
    );
    let stock = crate::dovecot::stock_server(&[("alice", &alice), ("bob", &bob)]);
    let stock_conf = stock.conf().display().to_string();
    env.substitute_in(
        "dovecot-import-system",
        "doveadm ",
        &format!("doveadm -c {stock_conf} "),
    );
    // Let users read their mail now: a free port instead of 10993.
    let port = crate::harness::free_port();
    env.substitute_in("dovecot-imap", "10993", &port.to_string());
    let _stop = crate::dovecot::Running {
        conf: env.srv().join("salvage-imap/dovecot.conf"),
    };
    // What the runbook shows ← what the private Postfix instances give.
    let p = primary.port;
    for (shown, real) in [
        (
            "192.0.2.10:2525 (addresses 192.0.2.10)".to_string(),
            format!("127.0.0.2:{p} (addresses 127.0.0.2)"),
        ),
        (
            "mx1.example.com:2525 (addresses 192.0.2.10)".into(),
            format!("127.0.0.1:{p} (addresses 127.0.0.1)"),
        ),
        (
            "host mx1.example.com, addresses 192.0.2.10, port 2525".into(),
            format!("host 127.0.0.1, addresses 127.0.0.1, port {p}"),
        ),
        ("192.0.2.10:2525".into(), format!("127.0.0.2:{p}")),
        ("mx1.example.com:2525".into(), format!("127.0.0.1:{p}")),
        (
            "postsuper -d -".into(),
            format!("MAIL_CONFIG={}/etc postsuper -d -", sec.d()),
        ),
    ] {
        env.substitute_in("primary", &shown, &real);
    }
    crate::docs::run_in_order("docs/runbook.md", &env);
}
