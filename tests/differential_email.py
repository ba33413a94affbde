#!/usr/bin/env python3
"""The other decoder of the differential test (tests/differential.rs): Python's `email`.

Reads a batch of messages on stdin, each as `<length>\\n<bytes>`, parses each with
`email.parser.BytesParser(policy=email.policy.default)` and prints one JSON line per
message: {"leaves": [[name, size, sha256], ...]} — every leaf part (recursing into
multiparts and attached messages) with the file name the sender gave (or null) and its
decoded content: text/* parts as text (`get_content()`, line ends as LF, UTF-8), other
parts as bytes (`get_payload(decode=True)`) — or {"error": "..."} when Python fails.
One process for the whole batch; Python standard library only.
"""

import email.parser
import email.policy
import hashlib
import json
import sys


def leaf(part):
    name = part.get_filename()
    if part.get_content_maintype() == "text":
        try:
            s = part.get_content()
        except Exception:
            s = (part.get_payload(decode=True) or b"").decode("utf-8", "replace")
        data = s.replace("\r\n", "\n").encode("utf-8", "surrogatepass")
    else:
        data = part.get_payload(decode=True) or b""
    return [name, len(data), hashlib.sha256(data).hexdigest()]


def leaves(msg):
    out = []
    for part in msg.walk():
        if part.is_multipart():
            continue
        out.append(leaf(part))
    return out


def main():
    parser = email.parser.BytesParser(policy=email.policy.default)
    src = sys.stdin.buffer
    out = sys.stdout
    while True:
        line = src.readline()
        if not line:
            break
        raw = src.read(int(line))
        try:
            r = {"leaves": leaves(parser.parsebytes(raw))}
        except Exception as e:  # a parser crash is a difference too
            r = {"error": "%s: %s" % (type(e).__name__, e)}
        out.write(json.dumps(r) + "\n")


if __name__ == "__main__":
    main()
