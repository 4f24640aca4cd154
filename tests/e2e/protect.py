#!/usr/bin/env python3
"""Protection of recordings, end to end with the real binaries:
- key files: made 0600; callrecd refuses a loose or malformed key file and a
  missing one, with a message and no crash;
- encryption at rest: callrecd imports the captures into an encrypted,
  signed store and into a plain one; every byte of every file of the
  encrypted store is scanned for the SIP/SDP text tshark sees in the
  captures (Call-IDs, URIs, SDP lines, user agents) and for any 8-byte run
  of any RTP payload (runs of one repeated byte left out: padding has them);
  the same scan must find them in the plain store (so the scan can fail);
- exports of every call are byte-identical with and without encryption;
  without a key, or with another key, export fails with a clear message;
- fsck passes with the key, and without it checks blocks by CRC only;
- verify passes on the untouched store, and tamper_verify finds every one
  of N random tamperings (bit flips, truncations, deletions, reorderings,
  additions of segments and manifest lines) and every edited index row;
- rotation to a new master key leaves every call exportable with the new
  key alone (identical audio), the old key opens nothing, verify passes;
- retention deletes segments with a signed deletion entry (verify passes)
  and destroys their keys; the audit log names every export, show,
  rotation and retention run, and an edited audit line is found.

usage: protect.py BUILD SHARED TAMPER_N"""
import hashlib, json, os, re, shutil, sqlite3, stat, subprocess, sys, tempfile

build, shared, tamper_n = sys.argv[1], sys.argv[2], int(sys.argv[3])
callrecd, callrec = build + "/app/callrecd", build + "/app/callrec"
tamper = build + "/tests/tamper_verify"
here = os.path.dirname(os.path.abspath(__file__))
caps = [os.path.join(here, "..", "data", "sample-pcmu-dtmf.pcap"),
        os.path.join(here, "..", "data", "sample-pcma-cn-siptcp.pcap")]
for extra in ("bs_3calls.pcap", "bs_g722.pcap"):
    p = os.path.join(shared, "realcalls", extra)
    if os.path.exists(p):
        caps.append(p)
fails = []


def run(*a, ok=(0,), env=None):
    p = subprocess.run(a, capture_output=True, text=True, env=env)
    if p.returncode not in ok:
        sys.exit("%s -> %d\n%s%s" % (" ".join(a), p.returncode, p.stdout, p.stderr))
    return p


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        fails.append(what)


tmp = tempfile.mkdtemp(prefix="cr-protect-")
mk, mk2, sk = tmp + "/master.key", tmp + "/master2.key", tmp + "/sign.key"
run(callrec, "keys", "new", "--out", mk)
run(callrec, "keys", "new", "--out", mk2)
run(callrec, "keys", "new-signing", "--out", sk)
check(stat.S_IMODE(os.stat(mk).st_mode) == 0o600 and stat.S_IMODE(os.stat(sk).st_mode) == 0o600,
      "key files are made 0600")
p = run(callrec, "keys", "new", "--out", mk, ok=(1,))
check("File exists" in p.stderr, "keys new never writes over a key file")

# refusals: loose permissions, malformed, missing
loose = tmp + "/loose.key"
shutil.copy(mk, loose)
os.chmod(loose, 0o644)
p = run(callrecd, "--pcap", caps[0], "--store", tmp + "/refused", "--key-file", loose, "--quiet",
        ok=(2,))
check("chmod 600" in p.stderr and not os.path.exists(tmp + "/refused/segments"),
      "callrecd refuses a key file others can read: " + p.stderr.strip()[:100])
secret = open(mk).read().split()[-1]
check(secret not in p.stderr and secret not in p.stdout, "the key never appears in messages")
bad = tmp + "/bad.key"
with open(bad, "w") as f:
    f.write("callrec-key-v1 nothex\n")
os.chmod(bad, 0o600)
p = run(callrecd, "--pcap", caps[0], "--store", tmp + "/refused", "--key-file", bad, "--quiet",
        ok=(2,))
check("line 1" in p.stderr, "a malformed key file is refused: " + p.stderr.strip()[:100])
p = run(callrecd, "--pcap", caps[0], "--store", tmp + "/refused", "--key-file", tmp + "/none",
        "--quiet", ok=(2,))
check("No such file" in p.stderr, "a missing key file is refused: " + p.stderr.strip()[:100])

# the same captures into a plain and an encrypted, signed store
plain, enc = tmp + "/plain", tmp + "/enc"
for c in caps:
    run(callrecd, "--pcap", c, "--store", plain, "--quiet")
    run(callrecd, "--pcap", c, "--store", enc, "--key-file", mk, "--sign-key", sk, "--quiet")


def files_of(d):
    for root, _, names in os.walk(d):
        for n in names:
            yield os.path.join(root, n)


def blob_of(d):
    return b"\0".join(open(p, "rb").read() for p in files_of(d))


# what tshark sees in the captures
needles = set()
payload_grams = set()
for c in caps:
    out = run("tshark", "-r", c, "-o", "rtp.heuristic_rtp:TRUE", "-Y", "sip", "-T", "fields",
              "-E", "separator=\t", "-e", "sip.Call-ID", "-e", "sip.from.addr", "-e", "sip.to.addr",
              "-e", "sip.User-Agent", "-e", "sdp.owner", "-e", "sdp.connection_info",
              "-e", "sdp.media", "-e", "sip.Request-Line").stdout
    for line in out.splitlines():
        for v in line.split("\t"):
            for x in v.split(","):
                if len(x) >= 8:
                    needles.add(x.encode())
    out = run("tshark", "-r", c, "-o", "rtp.heuristic_rtp:TRUE", "-Y", "rtp", "-T", "fields",
              "-e", "rtp.payload").stdout
    for line in out.splitlines():
        b = bytes.fromhex(line.replace(":", "").strip())
        for i in range(0, len(b) - 7):
            g = b[i:i + 8]
            if g.count(g[0]) != 8:
                payload_grams.add(g)
needles |= {b"INVITE sip:", b"v=0\r\n", b"m=audio ", b"c=IN IP4 "}
print("scan: %d SIP/SDP strings, %d distinct 8-byte payload runs" % (len(needles), len(payload_grams)))


def scan(d):
    blob = blob_of(d)
    text = [n for n in needles if n in blob]
    grams = set(blob[i:i + 8] for i in range(len(blob) - 7))
    runs = len(payload_grams & grams)
    return text, runs


t_plain, r_plain = scan(plain)
check(len(t_plain) > 0 and r_plain > 1000,
      "the scan finds SIP/SDP text (%d) and payload runs (%d) in the plain store" % (len(t_plain), r_plain))
t_enc, r_enc = scan(enc)
check(not t_enc, "no SIP/SDP text in the encrypted store (found: %s)" % [x[:40] for x in t_enc[:5]])
check(r_enc == 0, "no 8-byte payload run in the encrypted store (found %d)" % r_enc)

# exports: identical with and without encryption
def jlines(text):
    return [json.loads(l) for l in text.splitlines() if l.strip()]


calls = jlines(run(callrec, "calls", "--store", plain, "--json").stdout)
ids = [c["call_id"] for c in calls if not c["call_id"].startswith("rtp:")]
check(len(ids) >= 3, "%d calls to export" % len(ids))


def export_all(store, keyargs, tag):
    out = {}
    for i, cid in enumerate(ids):
        o = "%s/%s-%d.wav" % (tmp, tag, i)
        p = run(callrec, "export", "--store", store, "--call-id", cid, "--out", o, *keyargs, ok=(0, 1))
        out[cid] = hashlib.sha256(open(o, "rb").read()).hexdigest() if p.returncode == 0 else p.stderr
    return out


ref = export_all(plain, [], "plain")
exported = [c for c in ids if not ref[c].startswith("callrec")]
got = export_all(enc, ["--key-file", mk], "enc")
same = sum(1 for c in exported if got[c] == ref[c])
check(same == len(exported) and len(exported) >= 3,
      "exports identical with encryption: %d of %d calls" % (same, len(exported)))
p = run(callrec, "export", "--store", enc, "--call-id", ids[0], "--out", tmp + "/x.wav", ok=(1,))
check("encrypted" in p.stderr and "--key-file" in p.stderr, "no key: " + p.stderr.strip()[:100])
p = run(callrec, "export", "--store", enc, "--call-id", ids[0], "--out", tmp + "/x.wav",
        "--key-file", mk2, ok=(1,))
check("no key given" in p.stderr, "another key: " + p.stderr.strip()[:120])
env = dict(os.environ, CALLREC_KEY_COMMAND="cat " + mk)
p = run(callrec, "export", "--store", enc, "--call-id", exported[0], "--out", tmp + "/kms.wav", env=env)
check(hashlib.sha256(open(tmp + "/kms.wav", "rb").read()).hexdigest() == ref[exported[0]],
      "the KMS hook (CALLREC_KEY_COMMAND) opens the store")
p = run(callrec, "calls", "--store", enc, "--key-file", mk, "--json")
shown = [c["call_id"] for c in jlines(p.stdout) if not c["call_id"].startswith("rtp:")]
check(sorted(shown) == sorted(ids), "calls lists the real Call-IDs with the key")
run(callrec, "show", "--store", enc, "--call-id", ids[0], "--key-file", mk)

# fsck with and without the key
fj = json.loads(run(callrec, "fsck", "--store", enc, "--key-file", mk, "--json").stdout)
check(fj["ok"] and fj["encrypted"] == fj["segments"] and fj["locked"] == 0 and fj["chunks"] > 0,
      "fsck with the key: %d segments encrypted, %d chunks checked" % (fj["encrypted"], fj["chunks"]))
fj = json.loads(run(callrec, "fsck", "--store", enc, "--json").stdout)
check(fj["ok"] and fj["locked"] == fj["segments"] and fj["bad_blocks"] == 0,
      "fsck without the key: every block checked by CRC, contents locked")

# verify and tampering
p = run(callrec, "verify", "--store", enc, "--pubkey", sk + ".pub", "--key-file", mk)
check("verified" in p.stdout, "verify passes on the untouched store")
work = tmp + "/tamper"
shutil.copytree(enc, work)
p = run(tamper, work, sk + ".pub", mk, str(tamper_n), "7", ok=(0, 1))
print(p.stdout.strip())
print(p.stderr.strip()[:2000])
m = re.search(r"file tamperings: (\d+) .* detected (\d+), missed (\d+)", p.stdout)
check(m and int(m.group(1)) == tamper_n and int(m.group(3)) == 0,
      "every file tampering found by verify (%s)" % (m.group(0) if m else p.stdout))
m = re.search(r"index edits: (\d+), detected (\d+), missed (\d+)", p.stdout)
check(m and int(m.group(3)) == 0 and int(m.group(1)) > 5, "every index row edit found by verify")
p = run(callrec, "verify", "--store", enc, "--pubkey", tmp + "/nokey.pub", ok=(2,))
wrong = tmp + "/other.key"
run(callrec, "keys", "new-signing", "--out", wrong)
p = run(callrec, "verify", "--store", enc, "--pubkey", wrong + ".pub", ok=(1,))
check("signature" in p.stdout, "a manifest verified with another public key fails")

# rotation
p = run(callrec, "keys", "rotate", "--store", enc, "--key-file", mk2, "--key-file", mk)
check(" 0 failed" in p.stdout, "rotate: " + p.stdout.strip())
got2 = export_all(enc, ["--key-file", mk2], "rot")
same = sum(1 for c in exported if got2[c] == ref[c])
check(same == len(exported), "after rotation every call exports with the new key alone: %d of %d"
      % (same, len(exported)))
p = run(callrec, "export", "--store", enc, "--call-id", exported[0], "--out", tmp + "/y.wav",
        "--key-file", mk, ok=(1,))
check(p.returncode == 1, "after rotation the old key opens nothing")
p = run(callrec, "verify", "--store", enc, "--pubkey", sk + ".pub", "--key-file", mk2)
check("verified" in p.stdout, "verify passes after rotation")

# retention: signed deletions, keys destroyed
p = run(callrec, "retention", "--store", enc, "--now", "2099-01-01", "--key-file", mk2, ok=(1,))
check("--sign-key" in p.stderr, "retention on a signed store needs the signing key")
run(callrec, "retention", "--store", enc, "--now", "2099-01-01", "--key-file", mk2, "--sign-key", sk)
left = [f for f in files_of(enc + "/segments") if f.endswith(".seg")]
check(len(left) == 0, "retention deleted every segment (%d left)" % len(left))
p = run(callrec, "verify", "--store", enc, "--pubkey", sk + ".pub", "--key-file", mk2)
check("verified" in p.stdout and "deleted by retention" in p.stdout.replace("segments sealed", ""),
      "verify after retention: " + p.stdout.splitlines()[0])

# audit
p = run(callrec, "audit", "--store", enc, "--json")
acts = [json.loads(l)["action"] for l in p.stdout.splitlines()]
for a in ("export", "show", "keys-rotate", "retention"):
    check(a in acts, "audit log has %s (%d lines)" % (a, len(acts)))
alog = open(enc + "/audit.log").read()
check(not any(cid in alog for cid in ids), "the audit log holds no Call-ID in clear")
with open(enc + "/audit.log", "w") as f:
    f.write(alog.replace("export", "exp0rt", 1))
p = run(callrec, "audit", "--store", enc, ok=(1,))
check("hash chain" in p.stderr, "an edited audit line is found: " + p.stderr.strip()[:80])

shutil.rmtree(tmp)
if fails:
    sys.exit("%d check(s) failed" % len(fails))
print("all checks passed")
