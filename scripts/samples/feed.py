#!/usr/bin/python3
"""scripts/samples/feed.py -- feeds the sample messages into the private secondary-MX
instance made by scripts/samples/instance.sh (stdlib only).

    feed.py PHASE --port 10025 --mport 10027 --conf DIR/etc --manifest FILE
    feed.py silent-listener PORT      (accepts TCP connections and never answers)

PHASE is one of: short, long, active, incoming, maildrop (see scripts/make-samples).
Every case message has "Subject: case NAME: ..." and "Message-ID: <case-NAME@samples.mxsalvage>".
A line of JSON per case (name, how, SMTP replies, queue id if known) is appended to the
manifest so that scripts/samples/describe.py can build samples/README.md.
"""
import argparse, base64, json, os, random, socket, subprocess, sys, time

DATE = "Mon, 27 Nov 2023 10:00:00 +0000"
NL = b"\r\n"


def msg(name, subject, headers=(), body=b"", frm="Sample Sender <sender@example.net>",
        to="alice@example.com", date=True, msgid=True):
    """Build a message (bytes, LF line ends; the SMTP client converts to CRLF)."""
    h = []
    if frm is not None:
        h.append(b"From: " + enc(frm))
    if to is not None:
        h.append(b"To: " + enc(to))
    h.append(b"Subject: case " + name.encode() + b": " + enc(subject))
    if date:
        h.append(b"Date: " + DATE.encode())
    if msgid:
        h.append(b"Message-ID: <case-" + name.encode() + b"@samples.mxsalvage>")
    for x in headers:
        h.append(enc(x))
    return b"\n".join(h) + b"\n\n" + enc(body)


def text_plain(charset, cte):
    """The MIME headers of a text/plain message in `charset`, sent as `cte`."""
    return ["MIME-Version: 1.0", "Content-Type: text/plain; charset=" + charset,
            "Content-Transfer-Encoding: " + cte]


def b_word(text, label, codec):
    """`text` as an RFC 2047 encoded word: encoded with `codec`, labelled `label`, base64."""
    return "=?" + label + "?B?" + base64.b64encode(text.encode(codec)).decode() + "?="


def enc(x):
    return x if isinstance(x, bytes) else x.encode("utf-8")


class SMTP:
    def __init__(self, port, helo="client.example.net"):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=60)
        self.f = self.s.makefile("rb")
        self.reply()
        self.cmd(b"EHLO " + helo.encode())

    def reply(self):
        lines = []
        while True:
            line = self.f.readline()
            if not line:
                raise RuntimeError("connection closed")
            lines.append(line.rstrip(b"\r\n"))
            if line[3:4] != b"-":
                break
        code = int(lines[0][:3])
        return code, b"\n".join(l[4:] for l in lines).decode("utf-8", "replace")

    def cmd(self, line):
        self.s.sendall(enc(line) + NL)
        return self.reply()

    def close(self):
        try:
            self.cmd(b"QUIT")
        except Exception:
            pass
        self.s.close()


def to_wire(data, raw=False):
    """LF -> CRLF (unless raw), then dot-stuff every line (after CRLF or bare LF)."""
    if not raw:
        data = data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    out = b"." + data if data.startswith(b".") else data
    out = out.replace(b"\n.", b"\n..")
    if not out.endswith(b"\r\n"):
        out += b"\r\n"
    return out + b".\r\n"


class Feeder:
    def __init__(self, args):
        self.args = args
        self.manifest = open(args.manifest, "a")

    def record(self, **kw):
        self.manifest.write(json.dumps(kw, ensure_ascii=False) + "\n")
        self.manifest.flush()
        print("case %-22s %s" % (kw["name"], kw.get("queue_id") or kw.get("result", "")), file=sys.stderr)

    def smtp(self, name, sender, rcpts, data, mail_params="", port=None, raw=False, note=""):
        """rcpts: list of 'addr' or ('addr', 'PARAMS')."""
        c = SMTP(port or self.args.port)
        replies = []
        code, text = c.cmd(b"MAIL FROM:<" + enc(sender) + b">" + (b" " + enc(mail_params) if mail_params else b""))
        replies.append(["MAIL", code, text])
        if code != 250:
            raise RuntimeError("%s: MAIL FROM refused: %s %s" % (name, code, text))
        ok = 0
        for r in rcpts:
            addr, params = (r, "") if isinstance(r, str) else r
            code, text = c.cmd(b"RCPT TO:<" + enc(addr) + b">" + (b" " + enc(params) if params else b""))
            replies.append(["RCPT " + addr + (" " + params if params else ""), code, text])
            ok += code in (250, 251)
        qid = None
        if ok:
            code, text = c.cmd(b"DATA")
            if code != 354:
                raise RuntimeError("%s: DATA refused: %s %s" % (name, code, text))
            c.s.sendall(to_wire(data, raw))
            code, text = c.reply()
            replies.append(["DATA", code, text])
            if code == 250 and "queued as " in text:
                qid = text.split("queued as ")[1].split()[0]
        c.close()
        self.record(name=name, how="smtp port %d" % (port or self.args.port), sender=sender,
                    mail_params=mail_params, replies=replies, queue_id=qid, note=note)
        return qid

    def sendmail(self, name, argv, data, user="nobody", note=""):
        cmd = ["/usr/sbin/sendmail", "-C", self.args.conf] + argv
        if user != "root":
            cmd = ["runuser", "-u", user, "--"] + cmd
        p = subprocess.run(cmd, input=data, capture_output=True, cwd="/")
        self.record(name=name, how="sendmail (as %s) %s" % (user, " ".join(argv)),
                    result="exit %d %s" % (p.returncode, p.stderr.decode(errors="replace").strip()),
                    queue_id=None, note=note)
        if p.returncode != 0:
            raise RuntimeError("sendmail failed for %s: %s" % (name, p.stderr))

    # ------------------------------------------------------------------ phases
    def phase_short(self):
        S = self.smtp
        S("multi-rcpt", "sender@example.net",
          ["alice@example.com", "bob@example.com", "nosuchuser@example.com", "carol@example.com",
           "staff-list@example.com"],
          msg("multi-rcpt", "several recipients, one unknown refused at RCPT",
              to="alice@example.com, bob@example.com, nosuchuser@example.com, carol@example.com",
              headers=["Cc: staff-list@example.com"],
              body="Four recipients were accepted; nosuchuser@example.com got 550 at RCPT time.\n"),
          note="nosuchuser@example.com refused with 550 5.1.1 (relay_recipient_maps)")
        S("partial-discard", "sender@example.net",
          ["alice@example.com", "delivered@example.com", "bob@example.com"],
          msg("partial-discard", "one recipient already delivered (discard), two pending",
              to="alice@example.com, delivered@example.com, bob@example.com",
              body="delivered@example.com is routed to discard: by transport_maps, so its\n"
                   "recipient record becomes D while the others stay R.\n"),
          note="delivered@example.com done (D) via discard:")
        S("partial-bounce", "bounce-me@example.net",
          ["carol@example.com", "gone@example.com"],
          msg("partial-bounce", "one recipient bounced permanently, one pending",
              frm="Bounce Me <bounce-me@example.net>", to="carol@example.com, gone@example.com",
              body="gone@example.com is routed to a primary that answers 550 -> D record and a bounce\n"
                   "notice to bounce-me@example.net (itself deferred, null sender).\n"),
          note="gone@example.com done (D): 550 from the fake primary; Postfix generated a bounce notice")
        S("null-sender", "", ["postmaster@example.com"],
          msg("null-sender", "null sender (MAIL FROM:<>) delivery status notification",
              frm="MAILER-DAEMON@mx.example.org (Mail Delivery System)", to="postmaster@example.com",
              headers=["MIME-Version: 1.0",
                       'Content-Type: multipart/report; report-type=delivery-status; boundary="rpt"'],
              body="--rpt\nContent-Type: text/plain\n\nYour message could not be delivered.\n\n"
                   "--rpt\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example.org\n\n"
                   "Final-Recipient: rfc822; someone@example.org\nAction: failed\nStatus: 5.1.1\n\n"
                   "--rpt--\n"))
        S("dsn-hdrs", "dsn-sender@example.net",
          [("alice@example.com", "NOTIFY=SUCCESS,FAILURE,DELAY ORCPT=rfc822;alice@example.com"),
           ("bob@example.com", "NOTIFY=NEVER"),
           ("carol@example.com", "ORCPT=rfc822;carol+2Bsales@example.com"),
           ("dave@example.com", "NOTIFY=DELAY ORCPT=rfc822;Dave.Original@example.com")],
          msg("dsn-hdrs", "DSN RET=HDRS, ENVID with xtext, NOTIFY and ORCPT",
              frm="dsn-sender@example.net", to="alice@example.com, bob@example.com, carol@example.com, dave@example.com",
              body="MAIL FROM ... RET=HDRS ENVID=QQ+2B314+3Dpi-case+20x\n"),
          mail_params="RET=HDRS ENVID=QQ+2B314+3Dpi-case+20x")
        S("dsn-full", "dsn-sender@example.net",
          [("erin@example.com", "NOTIFY=FAILURE"),
           ("frank@example.com", "NOTIFY=SUCCESS ORCPT=rfc822;frank@example.com")],
          msg("dsn-full", "DSN RET=FULL, plain ENVID",
              frm="dsn-sender@example.net", to="erin@example.com, frank@example.com",
              body="MAIL FROM ... RET=FULL ENVID=plain-envid-0001\n"),
          mail_params="RET=FULL ENVID=plain-envid-0001")
        S("8bitmime", "latin@example.net", ["grace@example.com"],
          msg("8bitmime", "8-bit ISO-8859-1 body with BODY=8BITMIME",
              to="grace@example.com",
              headers=text_plain("iso-8859-1", "8bit"),
              body="Gr\xfc\xdfe aus K\xf6ln, na\xefve caf\xe9, \xa9 2023, \xbd price.\n".encode("latin-1")),
          mail_params="BODY=8BITMIME")
        raw_body = (b"From: raw@example.net\r\nTo: heidi@example.com\r\n"
                    b"Subject: case rawbytes: bare CR, NUL, bare LF, invalid UTF-8\r\n"
                    b"Date: " + DATE.encode() + b"\r\nMessage-ID: <case-rawbytes@samples.mxsalvage>\r\n"
                    b"\r\n"
                    b"line with a bare CR here:\rafter the CR\r\n"
                    b"line with a NUL byte here:\x00after the NUL\r\n"
                    b"line ended by a bare LF\n"
                    b"invalid UTF-8: \xff\xfe \xc3\x28 and a tab:\there\r\n"
                    b"last line\r\n")
        S("rawbytes", "raw@example.net", ["heidi@example.com"], raw_body,
          mail_params="BODY=8BITMIME", raw=True,
          note="bare CR, NUL, bare LF, invalid UTF-8 sent raw over SMTP")
        S("smtputf8", "jörg@example.net", ["jörg@example.com", ("alice@example.com", "NOTIFY=FAILURE")],
          msg("smtputf8", "Grüße, Jörg — 日本語の件名 (SMTPUTF8)",
              frm="Jörg Müller <jörg@example.net>", to="jörg@example.com, alice@example.com",
              headers=text_plain("utf-8", "8bit"),
              body="UTF-8 sender, UTF-8 recipient local part, UTF-8 headers.\n"
                   "Grüße aus Zürich. こんにちは世界。\n"),
          mail_params="SMTPUTF8 BODY=8BITMIME")
        jp_text = "こんにちは。これは日本語のテストメールです。\n送信者: 山田太郎\n"
        jp_subj = "日本語の件名テスト"
        S("iso2022jp", "yamada@example.net", ["ivan@example.com"],
          msg("iso2022jp", b_word(jp_subj, "ISO-2022-JP", "iso2022_jp"),
              frm=b_word("山田太郎", "ISO-2022-JP", "iso2022_jp") + " <yamada@example.net>",
              to="ivan@example.com",
              headers=text_plain("ISO-2022-JP", "7bit"),
              body=jp_text.encode("iso2022_jp")))
        S("sjis", "yamada@example.net", ["ivan@example.com"],
          msg("sjis", b_word(jp_subj, "Shift_JIS", "shift_jis"),
              to="ivan@example.com",
              headers=text_plain("Shift_JIS", "8bit"),
              body=(jp_text + "表示、ソフト、能力 (0x5C second bytes)\n").encode("shift_jis")),
          mail_params="BODY=8BITMIME")
        S("eucjp", "yamada@example.net", ["ivan@example.com"],
          msg("eucjp", b_word(jp_subj, "EUC-JP", "euc_jp"),
              to="ivan@example.com",
              headers=text_plain("EUC-JP", "8bit"),
              body=jp_text.encode("euc_jp")),
          mail_params="BODY=8BITMIME")
        rnd = random.Random(20231127)
        pdf = (b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\nstream\n"
               + bytes(rnd.getrandbits(8) for _ in range(200 * 1024)) + b"\nendstream\n%%EOF\n")
        b64 = base64.encodebytes(pdf).decode()
        txt = base64.encodebytes("Résumé of the sample.\nZeile mit Ümlaut.\n".encode()).decode()
        S("attachments", "office@example.net", ["judy@example.com", "sales@example.com"],
          msg("attachments", "multipart/mixed with a 200 KB PDF and an RFC 2231 file name",
              frm="Office <office@example.net>", to="judy@example.com, sales@example.com",
              headers=["MIME-Version: 1.0", 'Content-Type: multipart/mixed; boundary="=_mix_1"'],
              body="This is a multi-part message in MIME format.\n\n"
                   "--=_mix_1\nContent-Type: text/plain; charset=us-ascii\n\nPlease find the report attached.\n\n"
                   "--=_mix_1\nContent-Type: application/pdf; name=\"report.pdf\"\n"
                   "Content-Transfer-Encoding: base64\nContent-Disposition: attachment; filename=\"report.pdf\"\n\n"
                   + b64 + "\n"
                   "--=_mix_1\nContent-Type: text/plain; charset=utf-8\n"
                   "Content-Transfer-Encoding: base64\n"
                   "Content-Disposition: attachment;\n filename*=UTF-8''r%C3%A9sum%C3%A9%20%E6%97%A5%E6%9C%AC.txt\n\n"
                   + txt + "\n--=_mix_1--\n"),
          note="~270 KB on disk; base64 lines are 76 characters")
        S("html-only", "news@example.net", ["alice@example.com"],
          msg("html-only", "HTML-only newsletter",
              frm="Newsletter <news@example.net>",
              headers=["MIME-Version: 1.0", "Content-Type: text/html; charset=utf-8",
                       "Content-Transfer-Encoding: quoted-printable"],
              body="<!DOCTYPE html>\n<html><head><title>News</title></head>\n"
                   "<body><h1>Monthly news</h1><p>Caf=C3=A9 opening =E2=80=94 see <a href=3D\"https://www.e=\nxample.org/\">here</a>.</p></body></html>\n"))
        inner = msg("nested-inner", "the forwarded original", frm="Original <orig@example.org>",
                    to="bob@example.com", body="Body of the inner message.\n").replace(
                        b"case-nested-inner", b"inner-of-nested-rfc822")
        S("nested-rfc822", "fwd@example.net", ["bob@example.com"],
          msg("nested-rfc822", "forwarded message as message/rfc822 attachment",
              to="bob@example.com",
              headers=["MIME-Version: 1.0", 'Content-Type: multipart/mixed; boundary="outer"'],
              body=b"--outer\nContent-Type: text/plain\n\nForwarded message below.\n\n"
                   b"--outer\nContent-Type: message/rfc822\nContent-Disposition: inline\n\n"
                   + inner + b"\n--outer--\n"))
        long_body = ("A line of 2047 bytes:\n" + "a" * 2047 + "\n"
                     "A line of 2048 bytes:\n" + "b" * 2048 + "\n"
                     "A line of 2049 bytes:\n" + "c" * 2049 + "\n"
                     "A line of 5000 bytes:\n" + ("0123456789" * 500) + "\n"
                     "From the desk of the sample generator (mbox would quote this)\n"
                     ">From an already quoted line\n"
                     ".\n"
                     "..two leading dots\n"
                     ".one leading dot\n"
                     "\n"
                     ".\n"
                     "end of long-lines case\n")
        S("long-lines", "longlines@example.net", ["bob@example.com"],
          msg("long-lines", "lines over 2048 bytes, From_ lines and dot lines",
              to="bob@example.com",
              headers=["X-Long-Header: " + "h" * 3000],
              body=long_body),
          note="L records; body lines 'From ', '>From ', '.', '..two', '.one'")
        S("mbox-from", "mboxer@example.net", ["carol@example.com"],
          b"From mboxer@example.net Mon Nov 27 10:00:00 2023\n" +
          msg("mbox-from", "content starts with an mbox From_ line", frm="mboxer@example.net",
              to="carol@example.com", body="smtpd turns the leading From_ line into X-Mailbox-Line:.\n"))
        S("no-headers", "bare@example.net", ["dave@example.com"],
          b"  indented first line: content without any header\nsecond line\n",
          note="content starts with whitespace: smtpd inserts an empty line first; no Subject/"
               "Message-ID in the submitted text (cleanup adds Message-ID/Date/From)")
        S("holdme", "sender@example.net", ["alice@example.com"],
          msg("holdme", "HOLDME put on hold by header_checks", body="Held before any delivery attempt.\n"),
          note="header_checks HOLD: hold/ and no defer log")
        S("postsuper-hold", "sender@example.net", ["bob@example.com", "carol@example.com"],
          msg("postsuper-hold", "later put on hold with postsuper -h", to="bob@example.com, carol@example.com",
              body="Deferred first, then held by the administrator.\n"),
          note="postsuper -h after the first attempt: hold/ with a defer log")
        S("duplicates", "dup@example.net",
          ["alice@example.com", "alice@example.com", "Alice@Example.COM",
           ("bob@example.com", "ORCPT=rfc822;bob@example.com"),
           ("bob@example.com", "ORCPT=rfc822;robert@example.com"),
           "bob@example.com"],
          msg("duplicates", "same recipient several times", to="alice@example.com, Alice@Example.COM, bob@example.com",
              body="RCPT alice twice + Alice@Example.COM; bob with two different ORCPTs and without.\n"))
        M = lambda *a, **k: self.smtp(*a, port=self.args.mport, **k)
        M("milter-edit", "orig-sender@example.net",
          ["alice@example.com", "dave@example.com", "bob@example.com"],
          msg("milter-edit", "MILTEREDIT add/change/delete header, chgfrom, addrcpt, delrcpt",
              frm="orig-sender@example.net", to="alice@example.com, dave@example.com, bob@example.com",
              headers=["X-Change-Me: original value", "X-Delete-Me: this header is deleted by the milter",
                       "X-Keep: kept"],
              body="The milter changed this message in the queue file (pointer records).\n"),
          note="milter: chgfrom milter-sender@example.org, addrcpt erin, delrcpt dave, headers edited")
        M("milter-body", "orig-sender@example.net", ["frank@example.com"],
          msg("milter-body", "MILTERBODY body replaced by the milter", to="frank@example.com",
              body="Original short body.\n"),
          note="milter replacebody: body region chained with pointers")
        M("milter-noop", "sender@example.net", ["grace@example.com"],
          msg("milter-noop", "through the milter port, not edited", to="grace@example.com",
              body="Only Postfix's dummy pointer/padding records, no edits.\n"),
          note="milter configured but no edits: dummy p/w records")
        self.sendmail("sendmail-t", ["-t", "-F", "Nobody Sample"],
                      msg("sendmail-t", "local sendmail -t, picked up (extracted recipients)",
                          frm=None, to="alice@example.com, Bob <bob@example.com>",
                          headers=["Cc: carol@example.com", "Bcc: staff-list@example.com"],
                          body="Submitted with sendmail -t while Postfix ran; recipients are in the\n"
                               "extracted section after the message content.\n"),
                      note="sendmail -t via pickup; Bcc removed; recipients extracted")
        self.sendmail("verify-probe", ["-bv", "hostmaster@example.com"], b"", user="root",
                      note="sendmail -bv: trace_flags probe + verification report mail")

    def phase_long(self):
        S = self.smtp
        S("longid-plain", "sender@example.net", ["alice@example.com"],
          msg("longid-plain", "after enable_long_queue_ids = yes", body="Long queue ID.\n"))
        S("longid-multi", "dsn-sender@example.net",
          [("bob@example.com", "NOTIFY=SUCCESS,FAILURE"), "carol@example.com", "info@example.com"],
          msg("longid-multi", "long queue ID, several recipients", to="bob@example.com, carol@example.com, info@example.com",
              body="Long queue ID with three recipients.\n"),
          mail_params="RET=HDRS ENVID=long+2Did")
        S("longid-hold", "sender@example.net", ["dave@example.com"],
          msg("longid-hold", "long queue ID, later postsuper -h", to="dave@example.com",
              body="Long queue ID in hold/ (not hashed).\n"))
        self.smtp("longid-milter", "orig-sender@example.net",
                  ["alice@example.com", "dave@example.com"],
                  msg("longid-milter", "MILTEREDIT with a long queue ID",
                      frm="orig-sender@example.net", to="alice@example.com, dave@example.com",
                      headers=["X-Change-Me: original value", "X-Delete-Me: gone"],
                      body="Milter-edited, long queue ID.\n"),
                  port=self.args.mport)

        self.smtp("partial-bounce-kept", "bounce-me@example.net", ["carol@example.com", "gone@example.com"],
                  msg("partial-bounce-kept", "bounced recipient, bounce notice not yet sent",
                      frm="bounce-me@example.net", to="carol@example.com, gone@example.com",
                      body="gone@example.com failed permanently (D); its bounce/ log is still on disk\n"
                           "because the notice could not be posted.\n"),
                  note="bounce/<id> log kept (bounce service could not post the notice)")

    def phase_active(self):
        self.smtp("active", "sender@example.net", ["hang@example.com", "alice@example.com"],
                  msg("active", "stuck in active/ (delivery in progress at shutdown)",
                      to="hang@example.com, alice@example.com",
                      body="hang@example.com goes to a server that never answers; Postfix was\n"
                           "stopped during that delivery, so the file stayed in active/.\n"),
                  note="stopped mid-delivery: file left in active/")

    def phase_incoming(self):
        self.smtp("incoming", "sender@example.net", ["bob@example.com"],
                  msg("incoming", "left in incoming/ (qmgr was not running)", to="bob@example.com",
                      body="The qmgr service was removed from master.cf before this arrived.\n"),
                  note="qmgr not running: file stayed in incoming/")

    def phase_maildrop(self):
        self.sendmail("maildrop-args",
                      ["-f", "nobody", "-N", "delay,failure", "-V", "envid-maildrop-1",
                       "-F", "Nobody Sample", "alice@example.com", "bob@example.com"],
                      msg("maildrop-args", "sendmail with recipient arguments, Postfix stopped",
                          frm=None, to="alice@example.com, bob@example.com",
                          body="Still in maildrop/: written by postdrop while Postfix was stopped.\n"),
                      note="postdrop file: no C record, no O records, unrewritten sender 'nobody'")
        self.sendmail("maildrop-t", ["-t", "-B", "8BITMIME"],
                      msg("maildrop-t", "sendmail -t in maildrop, 8-bit and a long line",
                          frm="Nobody <nobody@backup-mx.example.com>", to="carol@example.com",
                          headers=["Cc: dave@example.com, erin@example.com", "Bcc: frank@example.com",
                                   *text_plain("utf-8", "8bit")],
                          body="Recipients come from the headers (extracted section, after the content).\n"
                               "Ünïcödé line.\n" + "x" * 3000 + "\n"),
                      note="sendmail -t in maildrop: R records in the extracted section")
        self.sendmail("maildrop-nonl", ["grace@example.com"],
                      msg("maildrop-nonl", "no trailing newline", frm=None, date=False, to="grace@example.com",
                          body="the last line has no newline at the end").rstrip(b"\n"),
                      note="content ends with an L record (no final newline); no Date/From header")


def silent_listener(port):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port))
    s.listen(5)
    conns = []
    while True:
        c, _ = s.accept()
        conns.append(c)     # keep it open, never say anything


def fake_primary(port):
    """A primary MX that knows nobody: 550 5.1.1 to every RCPT."""
    import socketserver

    class H(socketserver.StreamRequestHandler):
        def handle(self):
            w = lambda x: self.wfile.write(x + b"\r\n")
            w(b"220 primary.example.com ESMTP fake primary (mxsalvage samples)")
            for line in self.rfile:
                cmd = line[:4].upper()
                if cmd in (b"EHLO", b"HELO"):
                    w(b"250 primary.example.com")
                elif cmd == b"RCPT":
                    w(b"550 5.1.1 <" + line.split(b"<", 1)[-1].split(b">")[0] + b">: Recipient address rejected: User unknown in local recipient table")
                elif cmd == b"QUIT":
                    w(b"221 2.0.0 Bye")
                    return
                elif cmd == b"DATA":
                    w(b"554 5.5.1 Error: no valid recipients")
                else:
                    w(b"250 2.0.0 Ok")

    socketserver.ThreadingTCPServer.allow_reuse_address = True
    socketserver.ThreadingTCPServer(("127.0.0.1", port), H).serve_forever()


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "fake-primary":
        fake_primary(int(sys.argv[2]))
        return
    if len(sys.argv) > 1 and sys.argv[1] == "silent-listener":
        silent_listener(int(sys.argv[2]))
        return
    ap = argparse.ArgumentParser()
    ap.add_argument("phase")
    ap.add_argument("--port", type=int, default=10025)
    ap.add_argument("--mport", type=int, default=10027)
    ap.add_argument("--conf", required=True)
    ap.add_argument("--manifest", required=True)
    a = ap.parse_args()
    f = Feeder(a)
    getattr(f, "phase_" + a.phase)()


if __name__ == "__main__":
    main()
