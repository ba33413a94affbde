#!/usr/bin/python3
"""scripts/bench-lib/genmail.py -- deterministic "realistic" mail for the mxsalvage
benchmark, and a fast parallel SMTP feeder (stdlib only).

    genmail.py feed --port PORT --messages N [--seed S] [--workers W] [--per-conn M]
        Generate messages 0..N-1 and send them over SMTP to 127.0.0.1:PORT, W worker
        processes, each with one SMTP session reused for M messages.  Prints one
        progress line per 1000 messages on stderr and a JSON summary on stdout.
    genmail.py show INDEX [--seed S]
        Print message INDEX (as sent, LF line ends) and its envelope on stderr.
    genmail.py stats --messages N [--seed S]
        Generate without sending; print what would be sent (sizes, kinds) as JSON.

Message i depends only on (seed, i): random.Random(seed * 1000003 + i).

Composition (by design; `benchtool.py composition` measures the real spool):
  - size: log-normal, median ~13 KB, clipped to 2-50 KB (the message as sent);
  - ~5.5% carry a base64 attachment (pdf/zip/jpeg/docx of random bytes), 100 KB-1 MB
    encoded, uniform; ~8% of the others carry a small one (5-30 KB);
  - body kinds: UTF-8 8bit, UTF-8 quoted-printable, UTF-8 base64, ISO-8859-1
    quoted-printable, ISO-2022-JP 7bit, Shift_JIS base64, multipart/alternative
    (text + HTML, UTF-8 QP), HTML-only (UTF-8 QP or ISO-8859-1 QP);
  - RFC 2047 encoded Subject and From display names where the text is not ASCII;
  - 1-6 recipients (mean ~1.5) drawn from user001..user200@example.com with Zipf-like
    popularity; senders from ~60 outside domains.
"""
import argparse, base64, json, math, multiprocessing as mp, quopri, random, smtplib, sys, time
from email.header import Header
from email.utils import formatdate

RCPT_COUNT = 200
BASE_DATE = 1795000000  # 2026-11-19 UTC; message i is "sent" BASE_DATE + 17*i

EN = """The quarterly figures are attached for your review before Thursday.
Could you please confirm the delivery address for the replacement parts?
We moved the meeting to the small conference room on the second floor.
Thanks again for your quick answer, it helped us a lot with the customer.
I have updated the spreadsheet with the latest numbers from the warehouse.
Please find below the minutes of yesterday's call with the supplier.
The invoice number is referenced in the subject line, as requested.
Let me know if anything is missing, I am in the office until six.
Our backup server will be offline on Saturday between two and four.
The new price list applies to all orders placed after the first of the month.
Reminder: the parking garage is closed for maintenance next week.
We are still waiting for the signed contract from the legal department.
The shipment left our warehouse this morning and should arrive on Monday.
Can we schedule a short call to go through the open points together?
I forwarded your request to the colleague who handles warranty claims.""".split("\n")

DE = """Anbei die Unterlagen für die Besprechung am Donnerstag.
Könnten Sie bitte die Lieferadresse für die Ersatzteile bestätigen?
Die Größe der Datei überschreitet leider das zulässige Maß.
Vielen Dank für Ihre schnelle Rückmeldung, sie hat uns sehr geholfen.
Wir haben die Preise für das nächste Quartal überarbeitet.
Bitte prüfen Sie die Rechnung, der Betrag scheint zu hoch zu sein.
Der Müllabfuhrtermin wurde wegen des Feiertags auf Freitag verschoben.
Grüße aus München und ein schönes Wochenende!
Die Straßenbahn fährt ab Montag wieder nach dem regulären Fahrplan.
Für Rückfragen stehe ich Ihnen jederzeit gern zur Verfügung.""".split("\n")

FR = """Veuillez trouver ci-joint le compte rendu de la réunion de mardi.
Pourriez-vous me confirmer la date de livraison prévue ?
Nous avons reçu votre commande et elle sera expédiée dès demain.
Merci beaucoup pour votre réponse rapide, c'était très utile.
Le garçon de l'hôtel a déposé les clés à la réception.
La facture numéro douze est toujours en attente de règlement.
Je vous prie d'agréer l'expression de mes salutations distinguées.
Les élèves visiteront le musée à côté de la cathédrale vendredi.
Voilà le document révisé, avec les corrections demandées.
Nous fêterons Noël au château avec toute l'équipe.""".split("\n")

JA = """会議の資料を添付いたしますので、ご確認ください。
お世話になっております。来週の打ち合わせの件でご連絡しました。
見積書を送付いたしますので、ご検討のほどよろしくお願いいたします。
先日はお忙しいところありがとうございました。
納品予定日は来月の十日となります。
ご不明な点がございましたら、お気軽にお問い合わせください。
本日の会議は午後三時から第二会議室で行います。
新しい価格表は来月一日から適用されます。
システムの保守作業のため、土曜日は停止いたします。
今後ともよろしくお願い申し上げます。""".split("\n")

SUBJECTS = {
    "en": ["Quarterly figures", "Re: delivery address", "Meeting moved", "Invoice 4711",
           "Fwd: price list", "Minutes of the supplier call", "Re: Re: open points",
           "Backup window on Saturday", "Your order has shipped", "Contract status"],
    "de": ["Unterlagen für Donnerstag", "Rückfrage zur Lieferung", "Preisänderung ab März",
           "AW: Größe der Datei", "Grüße aus München", "Rechnung prüfen"],
    "fr": ["Compte rendu de la réunion", "Re: date de livraison", "Facture numéro douze",
           "Voilà le document révisé", "Fêtes de fin d'année"],
    "ja": ["会議資料の送付", "見積書のご送付", "打ち合わせの件", "納品日のご連絡", "保守作業のお知らせ"],
}
NAMES = ["Anna Schmidt", "Jürgen Müller", "François Lefèvre", "Hélène Dubois", "John Smith",
         "Mary O'Neil", "山田 太郎", "佐藤 花子", "Søren Kierkegård", "Zoë Miller",
         "Ángel García", "Chloé Martin", "Petra Nováková", "Björn Åström", "Li Wei"]
DOMAINS = ["example.net", "example.org", "mail.example.de", "corp.example.fr",
           "example.co.jp", "lists.example.org", "billing.example.com.invalid"] + \
          ["partner%02d.example.net" % i for i in range(53)]
ATTACH = [("application/pdf", "report.pdf"), ("application/zip", "archive.zip"),
          ("image/jpeg", "photo.jpg"),
          ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", "Angebot.docx")]

# Body kinds: (name, weight)
KINDS = [("utf8-8bit", 22), ("utf8-qp", 14), ("utf8-b64", 6), ("latin1-qp", 14),
         ("iso2022jp-7bit", 7), ("sjis-b64", 5), ("alternative", 22), ("html-only", 10)]
KIND_NAMES = [k for k, _ in KINDS]
KIND_CUM = []
_c = 0
for _k, _w in KINDS:
    _c += _w
    KIND_CUM.append(_c)

RCPT_WEIGHTS = [1.0 / (r ** 0.8) for r in range(1, RCPT_COUNT + 1)]
RCPT_CUM = []
_c = 0.0
for _w in RCPT_WEIGHTS:
    _c += _w
    RCPT_CUM.append(_c)


def recipients(rng):
    u = rng.random()
    n = 1 if u < 0.66 else 2 if u < 0.89 else 3 if u < 0.96 else rng.randint(4, 6)
    got = []
    while len(got) < n:
        rank = rng.choices(range(RCPT_COUNT), cum_weights=RCPT_CUM)[0]
        user = PERM[rank]
        if user not in got:
            got.append(user)
    return ["user%03d@example.com" % u for u in got]


# popularity rank -> user number, fixed (independent of the message seed)
PERM = list(range(1, RCPT_COUNT + 1))
random.Random(424242).shuffle(PERM)


def text_of(rng, lang, nbytes, enc):
    """Lines of sentences in LANG until NBYTES bytes in encoding ENC."""
    pool = {"en": EN, "de": DE, "fr": FR, "ja": JA}[lang]
    out, size = [], 0
    while size < nbytes:
        k = rng.randint(2, 6)
        para = rng.choices(pool, k=k)
        for s in para:
            out.append(s)
            size += len(s.encode(enc)) + 1
        out.append("")
        size += 1
    return "\n".join(out) + "\n"


def hdr(s, charset):
    try:
        s.encode("ascii")
        return s
    except UnicodeEncodeError:
        return Header(s, charset).encode()


def qp(b):
    return quopri.encodestring(b)


def b64(b):
    return base64.encodebytes(b)


def html_of(text):
    paras = [p for p in text.split("\n\n") if p.strip()]
    body = "".join("<p>" + p.replace("&", "&amp;").replace("<", "&lt;").replace("\n", "<br>\n") + "</p>\n"
                   for p in paras)
    return ("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"></head>\n<body style=\"font-family: Arial\">\n"
            + body + "</body></html>\n")


def part(ctype, cte, payload, extra=b""):
    return (b"Content-Type: " + ctype.encode() + b"\nContent-Transfer-Encoding: " + cte.encode() + b"\n"
            + extra + b"\n" + payload)


def body_part(rng, kind, target):
    """(headers+body of a single MIME entity, lang, charset) of about TARGET bytes."""
    if kind == "utf8-8bit":
        lang = rng.choice(["de", "fr", "en", "ja"])
        t = text_of(rng, lang, target, "utf-8")
        return part('text/plain; charset="utf-8"', "8bit", t.encode()), lang, "utf-8"
    if kind == "utf8-qp":
        lang = rng.choice(["de", "fr", "ja"])
        raw = int(target / (2.2 if lang == "ja" else 1.1))
        t = text_of(rng, lang, raw, "utf-8")
        return part('text/plain; charset="utf-8"', "quoted-printable", qp(t.encode())), lang, "utf-8"
    if kind == "utf8-b64":
        lang = rng.choice(["de", "fr", "en", "ja"])
        t = text_of(rng, lang, int(target * 0.74), "utf-8")
        return part("text/plain; charset=UTF-8", "base64", b64(t.encode())), lang, "utf-8"
    if kind == "latin1-qp":
        lang = rng.choice(["de", "fr"])
        t = text_of(rng, lang, int(target / 1.06), "iso-8859-1")
        return part('text/plain; charset="iso-8859-1"', "quoted-printable", qp(t.encode("iso-8859-1"))), lang, "iso-8859-1"
    if kind == "iso2022jp-7bit":
        t = text_of(rng, "ja", int(target * 0.85), "iso-2022-jp")
        return part('text/plain; charset="ISO-2022-JP"', "7bit", t.encode("iso-2022-jp")), "ja", "iso-2022-jp"
    if kind == "sjis-b64":
        t = text_of(rng, "ja", int(target * 0.74), "shift_jis")
        return part("text/plain; charset=Shift_JIS", "base64", b64(t.encode("shift_jis"))), "ja", "shift_jis"
    if kind == "alternative":
        lang = rng.choice(["en", "de", "fr", "ja"])
        t = text_of(rng, lang, int(target * 0.3), "utf-8")
        bnd = "----=_Alt_%016x" % rng.getrandbits(64)
        p1 = part('text/plain; charset="utf-8"', "quoted-printable", qp(t.encode()))
        p2 = part('text/html; charset="utf-8"', "quoted-printable", qp(html_of(t).encode()))
        body = (b"This is a multi-part message in MIME format.\n\n--" + bnd.encode() + b"\n" + p1 +
                b"\n--" + bnd.encode() + b"\n" + p2 + b"\n--" + bnd.encode() + b"--\n")
        return (b'Content-Type: multipart/alternative; boundary="' + bnd.encode() + b'"\n\n' + body), lang, "utf-8"
    if kind == "html-only":
        if rng.random() < 0.5:
            lang = rng.choice(["en", "ja", "de"])
            t = text_of(rng, lang, int(target * 0.7), "utf-8")
            return part('text/html; charset="utf-8"', "quoted-printable", qp(html_of(t).encode())), lang, "utf-8"
        lang = rng.choice(["de", "fr"])
        t = text_of(rng, lang, int(target * 0.8), "iso-8859-1")
        h = html_of(t).replace('charset="utf-8"', 'charset="iso-8859-1"')
        return part('text/html; charset="iso-8859-1"', "quoted-printable", qp(h.encode("iso-8859-1"))), lang, "iso-8859-1"
    raise ValueError(kind)


def message(seed, i):
    """(sender, [recipients], bytes with LF line ends, info dict) of message I."""
    rng = random.Random(seed * 1000003 + i)
    # size of the text part(s): log-normal, median 13 KB, clipped 2-50 KB
    size = int(min(50000, max(2000, rng.lognormvariate(math.log(13000), 0.8))))
    kind = rng.choices(KIND_NAMES, cum_weights=KIND_CUM)[0]
    u = rng.random()
    att = None
    if u < 0.055:
        att = rng.randint(100_000, 1_000_000)
    elif u < 0.055 + 0.945 * 0.08:
        att = rng.randint(5_000, 30_000)
    hdr_and_sig = 700
    entity, lang, cs = body_part(rng, kind, max(600, size - hdr_and_sig))
    if att is not None:
        ctype, fname = rng.choice(ATTACH)
        raw = rng.randbytes(int(att * 0.75))
        bnd = "=_mixed_%016x" % rng.getrandbits(64)
        a = part('%s; name="%s"' % (ctype, fname), "base64", b64(raw),
                 ('Content-Disposition: attachment; filename="%s"\n' % fname).encode())
        entity = (b'Content-Type: multipart/mixed; boundary="' + bnd.encode() + b'"\n\n'
                  b"This is a multi-part message in MIME format.\n\n--" + bnd.encode() + b"\n" + entity +
                  b"\n--" + bnd.encode() + b"\n" + a + b"\n--" + bnd.encode() + b"--\n")
    name = rng.choice(NAMES)
    dom = rng.choice(DOMAINS)
    local = name.split()[0].lower().encode("ascii", "ignore").decode() or "user"
    sender = "%s.%d@%s" % (local, rng.randint(1, 99), dom)
    rcpts = recipients(rng)
    subj_lang = lang if rng.random() < 0.8 else "en"
    subject = rng.choice(SUBJECTS[subj_lang])
    hcs = cs if cs in ("utf-8", "iso-8859-1", "iso-2022-jp") else "utf-8"
    try:
        subject_h = hdr(subject, hcs)
    except UnicodeEncodeError:
        subject_h = hdr(subject, "utf-8")
    try:
        from_h = hdr(name, hcs)
    except UnicodeEncodeError:
        from_h = hdr(name, "utf-8")
    t = BASE_DATE + 17 * i
    mid = "<%08x.%d.%d@%s>" % (rng.getrandbits(32), seed, i, dom)
    h = [
        "Received: from [192.0.2.%d] (dsl-%d.example.net [192.0.2.%d])\n\tby mx.%s (Postfix) with ESMTPSA id %X\n\tfor <%s>; %s"
        % (rng.randint(1, 254), rng.randint(1000, 9999), rng.randint(1, 254), dom, rng.getrandbits(36), rcpts[0],
           formatdate(t - rng.randint(1, 90)).replace("-0000", "+0000")),
        "From: %s <%s>" % (from_h, sender),
        "To: " + ", ".join(rcpts),
        "Subject: " + subject_h,
        "Date: " + formatdate(t).replace("-0000", "+0000"),
        "Message-ID: " + mid,
        "MIME-Version: 1.0",
    ]
    if rng.random() < 0.3:
        h.append("In-Reply-To: <%08x@example.com>" % rng.getrandbits(32))
    if rng.random() < 0.4:
        h.append("X-Mailer: " + rng.choice(["Microsoft Outlook 16.0", "Apple Mail (2.3774)",
                                            "Thunderbird 128.4.0", "Roundcube Webmail/1.6.9"]))
    data = "\n".join(h).encode() + b"\n" + entity
    info = {"i": i, "kind": kind, "lang": lang, "charset": cs, "attachment": att, "rcpts": len(rcpts),
            "bytes": len(data)}
    return sender, rcpts, data, info


def worker(args):
    k, port, seed, n, workers, per_conn, q = args
    sent = errors = nbytes = 0
    conn = None
    used = 0
    for i in range(k, n, workers):
        sender, rcpts, data, info = message(seed, i)
        for attempt in range(5):
            try:
                if conn is None or used >= per_conn:
                    if conn is not None:
                        try:
                            conn.quit()
                        except Exception:
                            pass
                    conn = smtplib.SMTP("127.0.0.1", port, local_hostname="client%d.example.net" % k, timeout=120)
                    conn.ehlo()
                    used = 0
                refused = conn.sendmail(sender, rcpts, data)
                used += 1
                break
            except smtplib.SMTPRecipientsRefused as e:
                print("message %d: all recipients refused: %s" % (i, e), file=sys.stderr)
                errors += 1
                break
            except (smtplib.SMTPException, OSError) as e:
                print("message %d attempt %d: %s" % (i, attempt, e), file=sys.stderr)
                try:
                    conn.close()
                except Exception:
                    pass
                conn = None
                time.sleep(1 + attempt)
        else:
            errors += 1
            continue
        sent += 1
        nbytes += len(data)
        q.put(1)
    if conn is not None:
        try:
            conn.quit()
        except Exception:
            pass
    return sent, errors, nbytes


def cmd_feed(a):
    t0 = time.time()
    mgr = mp.Manager()
    q = mgr.Queue()
    jobs = [(k, a.port, a.seed, a.messages, a.workers, a.per_conn, q) for k in range(a.workers)]
    with mp.Pool(a.workers) as pool:
        res = pool.map_async(worker, jobs)
        done = 0
        while not res.ready() or not q.empty():
            try:
                q.get(timeout=0.5)
                done += 1
                if done % 1000 == 0:
                    el = time.time() - t0
                    print("[feed] %d/%d sent, %.0f s, %.0f msg/s" % (done, a.messages, el, done / el),
                          file=sys.stderr, flush=True)
            except Exception:
                pass
        out = res.get()
    sent = sum(r[0] for r in out)
    errors = sum(r[1] for r in out)
    nbytes = sum(r[2] for r in out)
    el = time.time() - t0
    print(json.dumps({"sent": sent, "errors": errors, "bytes": nbytes, "seconds": round(el, 1),
                      "messages_per_second": round(sent / el, 1) if el else None,
                      "workers": a.workers, "per_connection": a.per_conn, "seed": a.seed}))
    return 0 if errors == 0 else 1


def cmd_stats(a):
    from collections import Counter
    kinds, cs, sizes, rc, att = Counter(), Counter(), [], [], 0
    for i in range(a.messages):
        _, r, d, info = message(a.seed, i)
        kinds[info["kind"]] += 1
        cs[info["charset"]] += 1
        sizes.append(len(d))
        rc.append(len(r))
        att += info["attachment"] is not None and info["attachment"] >= 100_000
    sizes.sort()
    print(json.dumps({"messages": a.messages, "bytes": sum(sizes), "median": sizes[len(sizes) // 2],
                      "mean_rcpts": sum(rc) / len(rc), "large_attachments": att,
                      "kinds": kinds, "charsets": cs}, indent=1))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("feed")
    f.add_argument("--port", type=int, required=True)
    f.add_argument("--messages", type=int, required=True)
    f.add_argument("--seed", type=int, default=1)
    f.add_argument("--workers", type=int, default=4)
    f.add_argument("--per-conn", type=int, default=200)
    s = sub.add_parser("show")
    s.add_argument("index", type=int)
    s.add_argument("--seed", type=int, default=1)
    st = sub.add_parser("stats")
    st.add_argument("--messages", type=int, required=True)
    st.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    if a.cmd == "feed":
        return cmd_feed(a)
    if a.cmd == "show":
        sender, rcpts, data, info = message(a.seed, a.index)
        print("MAIL FROM:<%s> RCPT TO:%s %s" % (sender, rcpts, json.dumps(info)), file=sys.stderr)
        sys.stdout.buffer.write(data)
        return 0
    return cmd_stats(a)


if __name__ == "__main__":
    sys.exit(main())
