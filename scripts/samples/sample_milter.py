#!/usr/bin/python3
# scripts/samples/sample_milter.py -- sample milter for the mxsalvage sample queue.
# Run with Debian's /usr/bin/python3 (needs the python3-milter package):
#     /usr/bin/python3 scripts/samples/sample_milter.py inet:10026@127.0.0.1
# Edits only messages whose Subject contains a trigger word, so that cleanup(8)
# rewrites the queue file in place (pointer records, padding, cancelled recipients):
#   MILTEREDIT  add a header, change a header (chgheader), delete a header, change the
#               sender (chgfrom), add a recipient (addrcpt), delete a recipient (delrcpt:
#               dave@example.com)
#   MILTERBODY  replace the body (replacebody) with a longer one and add a header
# Other messages pass unchanged (but still get Postfix's dummy pointer records).
import sys
import Milter

class SampleMilter(Milter.Base):
    def __init__(self):
        self.subject = ""
        self.rcpts = []

    def envfrom(self, mailfrom, *params):
        self.subject = ""
        self.rcpts = []
        return Milter.CONTINUE

    def envrcpt(self, to, *params):
        self.rcpts.append(to)
        return Milter.CONTINUE

    def header(self, name, value):
        if name.lower() == "subject":
            self.subject = value
        return Milter.CONTINUE

    def eom(self):
        if "MILTEREDIT" in self.subject:
            self.addheader("X-Sample-Milter", "added by scripts/samples/sample_milter.py")
            self.chgheader("X-Change-Me", 1, "changed by the milter (was: original value)")
            self.chgheader("X-Delete-Me", 1, "")          # empty value = delete
            self.chgfrom("<milter-sender@example.org>")
            self.addrcpt("<erin@example.com>")
            for r in self.rcpts:
                if r.strip("<>").lower() == "dave@example.com":
                    self.delrcpt(r)
        elif "MILTERBODY" in self.subject:
            self.addheader("X-Sample-Milter", "body replaced by scripts/samples/sample_milter.py")
            body = b"".join(b"Replaced body line %03d: the milter rewrote this body.\r\n" % i
                            for i in range(1, 61))
            self.replacebody(body)
        return Milter.ACCEPT

def main():
    sock = sys.argv[1] if len(sys.argv) > 1 else "inet:10026@127.0.0.1"
    Milter.factory = SampleMilter
    Milter.set_flags(Milter.ADDHDRS | Milter.CHGHDRS | Milter.CHGBODY |
                     Milter.ADDRCPT | Milter.DELRCPT | Milter.CHGFROM)
    sys.stdout.write("sample milter listening on %s\n" % sock)
    sys.stdout.flush()
    Milter.runmilter("mxsamples", sock, 240)

if __name__ == "__main__":
    main()
