#!/usr/bin/env python3
"""kill -9 during imports, repeated: after each kill the store must hold no
error in sealed data, callrecd's next start must recover it by itself, every
call with stored audio must export, and an index rebuilt from the segments
alone must equal the recovered one.

usage: store_crash.py BUILD PCAP RUNS [SEED]"""
import json, os, random, signal, sqlite3, subprocess, sys, tempfile, time

build, pcap, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
if not os.path.exists(pcap):
    print("no %s: skipped" % pcap)
    sys.exit(77)
rng = random.Random(int(sys.argv[4]) if len(sys.argv) > 4 else 1)
callrecd, callrec = build + "/app/callrecd", build + "/app/callrec"
small = os.path.join(os.path.dirname(__file__), "..", "data", "sample-pcmu-dtmf.pcap")


def run(*a, ok=(0,)):
    p = subprocess.run(a, capture_output=True, text=True)
    if p.returncode not in ok:
        sys.exit("%s -> %d\n%s%s" % (" ".join(a), p.returncode, p.stdout, p.stderr))
    return p


def fsck(store):
    p = run(callrec, "fsck", "--store", store, "--json", ok=(0, 1))
    try:
        return json.loads(p.stdout), p.returncode
    except ValueError:
        sys.exit("fsck said: %s%s" % (p.stdout, p.stderr))


def table(db, sql):
    c = sqlite3.connect(db)
    try:
        return sorted(tuple(r) for r in c.execute(sql))
    finally:
        c.close()


QUERIES = {
    "calls": "SELECT * FROM calls",
    "streams": "SELECT uid,call_uid,src,sport,dst,dport,ssrc,side,pt,clock_rate,codec,packets,lost,"
    "out_of_order,duplicates,payload_bytes,max_jitter_ms,mean_jitter_ms,max_delta_ms,mos,first_ns,"
    "last_ns,rtcp_packets,is_srtp,dtmf,channels,ptmap,store_lost FROM streams",
    "chunks": "SELECT * FROM chunks",
    "losses": "SELECT stream_uid,packets,id FROM losses",
    "data segments": "SELECT rel,kind,state,bytes,first_ns,last_ns FROM segments WHERE kind=0",
    "meta segments": "SELECT rel,kind,state,bytes FROM segments WHERE kind=1",
}

# how long a whole import takes, to spread the kills over it
t0 = time.time()
with tempfile.TemporaryDirectory() as d:
    run(callrecd, "--quiet", "--pcap", pcap, "--store", d + "/s", "--workers", "1")
full = time.time() - t0
print("full import: %.2f s" % full)

totals = dict(kills=0, unsealed=0, torn_bytes=0, quarantined=0, exported=0, calls=0)
export_all = os.environ.get("EXPORT_ALL") == "1"
for i in range(runs):
    with tempfile.TemporaryDirectory() as d:
        store = d + "/s"
        delay = rng.uniform(0.02, full * 1.1)
        p = subprocess.Popen([callrecd, "--quiet", "--pcap", pcap, "--store", store, "--workers", "1"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        killed = p.poll() is None
        if killed:
            p.send_signal(signal.SIGKILL)
        p.wait()
        totals["kills"] += killed
        if not os.path.exists(store + "/index.sqlite"):
            continue  # killed before the store existed
        # 1. whatever the moment, sealed data has no error
        rep, rc = fsck(store)
        bad = {k: rep[k] for k in ("bad_blocks_sealed", "bad_headers", "bad_footers", "bad_chunks",
                                   "bad_records", "index_bad_chunks", "index_missing_files") if rep[k]}
        totals["unsealed"] += rep["unsealed"]
        totals["torn_bytes"] += rep["torn_bytes"]
        if bad:
            sys.exit("run %d (kill at %.3f s): errors in sealed data: %s\n%s" % (i, delay, bad, rep["messages"]))
        # 2. the next start recovers by itself
        run(callrecd, "--quiet", "--pcap", small, "--store", store, "--workers", "1")
        rep, rc = fsck(store)
        if rc != 0 or rep["unsealed"] != 0:
            sys.exit("run %d: after restart: %s" % (i, rep))
        totals["quarantined"] += 1 if os.path.isdir(store + "/quarantine") else 0
        # 3. every call with stored audio exports (a sample of them)
        db = store + "/index.sqlite"
        ids = [r[0] for r in table(db, "SELECT DISTINCT c.call_id FROM calls c JOIN chunks k ON "
                                        "k.call_uid=c.uid")]
        totals["calls"] += len(ids)
        for cid in ids if export_all else rng.sample(ids, min(len(ids), 3)):
            run(callrec, "export", "--store", store, "--call-id", cid, "--out", d + "/x.wav")
            totals["exported"] += 1
        # 4. the index rebuilt from segments alone equals the recovered one
        run(callrec, "fsck", "--store", store, "--rebuild-index", "--out", d + "/rebuilt.sqlite")
        for name, q in QUERIES.items():
            a, b = table(db, q), table(d + "/rebuilt.sqlite", q)
            if a != b:
                only_a = [x for x in a if x not in b][:3]
                only_b = [x for x in b if x not in a][:3]
                sys.exit("run %d (kill at %.3f s): rebuilt %s differ (%d vs %d rows)\nonly in index: %s\n"
                         "only in rebuilt: %s" % (i, delay, name, len(a), len(b), only_a, only_b))
    if (i + 1) % 10 == 0:
        print("%d runs: %s" % (i + 1, totals), flush=True)
print("store crash: %d runs, %s" % (runs, totals))
