#!/usr/bin/env python3
"""End-to-end check of callrecd against tshark, an independent analyser.

For one capture: import it with the real callrecd (--workers 1 and 2), list
calls with callrec --json, and compare with tshark on the same file:
  - every RTP stream `tshark -z rtp,streams` lists (heuristic RTP on) is listed
    by callrec with the same packet and lost counts, and max/mean jitter within
    0.1 ms;
  - the Call-IDs of INVITE dialogs and their from/to users agree;
  - the output is identical for 1 and 2 workers and on a repeated run.
Exit 0 when all hold, 1 otherwise (with the differences printed).
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

TOL_MS = 0.1


def tshark_streams(pcap):
    # T.38 off: once an SDP names a port image/udptl, tshark decodes the G.711
    # RTP that keeps flowing there as (malformed) T.38 and drops it from the
    # RTP analysis; a recorder must keep recording it (pcaps/SUMMARY.md, #12).
    out = subprocess.run(
        ["tshark", "-r", pcap, "-q", "--disable-protocol", "t38", "-o", "rtp.heuristic_rtp:TRUE",
         "-z", "rtp,streams"],
        capture_output=True, text=True, check=True).stdout
    streams = []
    for line in out.splitlines():
        m = re.match(r"\s*([\d.]+)\s+([\d.]+)\s+(\S+)\s+(\d+)\s+(\S+)\s+(\d+)\s+(0x[0-9A-Fa-f]+)\s+(.*)$", line)
        if not m:
            continue
        rest = m.group(8)
        # payload name may contain spaces; the numbers are at the end
        nums = re.search(r"(\d+)\s+(-?\d+)\s+\(([-\d.]+)%\)\s+([-\d.]+)\s+([-\d.]+)\s+([-\d.]+)\s+([-\d.]+)\s+([-\d.]+)\s+([-\d.]+)\s*(X?)\s*$", rest)
        if not nums:
            continue
        streams.append({
            "src": f"{m.group(3)}:{m.group(4)}", "dst": f"{m.group(5)}:{m.group(6)}",
            "ssrc": int(m.group(7), 16), "payload": rest[:nums.start()].strip(),
            "packets": int(nums.group(1)), "lost": int(nums.group(2)),
            "mean_jitter": float(nums.group(8)), "max_jitter": float(nums.group(9)),
        })
    return streams


def tshark_invites(pcap):
    out = subprocess.run(
        ["tshark", "-r", pcap, "-Y", 'sip.Method == "INVITE" && !sip.to.tag', "-T", "fields",
         "-e", "sip.Call-ID", "-e", "sip.from.user", "-e", "sip.to.user", "-e", "sip.to.addr"],
        capture_output=True, text=True, check=True).stdout
    calls = {}
    for line in out.splitlines():
        f = line.split("\t")
        if not f or not f[0]:
            continue
        cid = f[0]
        if cid not in calls:
            to_user = f[2] if len(f) > 2 and f[2] else ""
            if not to_user and len(f) > 3 and f[3].startswith("tel:"):
                to_user = f[3][4:]
            calls[cid] = {"from_user": f[1] if len(f) > 1 else "", "to_user": to_user}
    return calls


def tshark_states(pcap):
    """Call state per Call-ID from tshark's SIP fields, the way Wireshark's VoIP
    calls dialog classifies dialogs: a 2xx to INVITE then BYE = completed, a 2xx
    without BYE = answered (in call), CANCEL or 487 = cancelled, another final
    3xx-6xx (401/407 challenges excepted) = failed, else still in setup."""
    out = subprocess.run(
        ["tshark", "-r", pcap, "-Y", "sip", "-T", "fields", "-e", "sip.Call-ID", "-e", "sip.Method",
         "-e", "sip.Status-Code", "-e", "sip.CSeq.method"],
        capture_output=True, text=True, check=True).stdout
    st = {}
    for line in out.splitlines():
        f = (line.split("\t") + ["", "", "", ""])[:4]
        cid, meth, code, cseqm = f
        if not cid:
            continue
        d = st.setdefault(cid, {"invite": False, "ok": False, "bye": False, "cancel": False, "fail": False})
        if meth == "INVITE":
            d["invite"] = True
        elif meth == "BYE":
            d["bye"] = True
        elif meth == "CANCEL":
            d["cancel"] = True
        if code and cseqm == "INVITE":
            c = int(code.split(",")[0])
            if 200 <= c < 300:
                d["ok"] = True
            elif c == 487:
                d["cancel"] = True
            elif c >= 300 and c not in (401, 407):
                d["fail"] = True
    res = {}
    for cid, d in st.items():
        if not d["invite"]:
            continue
        if d["ok"]:
            res[cid] = "completed" if d["bye"] else "answered"
        elif d["cancel"]:
            res[cid] = "cancelled"
        elif d["fail"]:
            res[cid] = "failed"
        else:
            res[cid] = "active"
    return res


def run_callrec(build, pcap, workers, store):
    r = subprocess.run([os.path.join(build, "app", "callrecd"), "--pcap", pcap, "--store", store,
                        "--workers", str(workers), "--quiet"], capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"callrecd exit {r.returncode}: {r.stderr[-2000:]}")
    out = subprocess.run([os.path.join(build, "app", "callrec"), "calls", "--store", store, "--json"],
                         capture_output=True, text=True, check=True).stdout
    return [json.loads(l) for l in out.splitlines() if l.strip()]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("pcaps", nargs="+")
    a = ap.parse_args()
    failures = 0
    for pcap in a.pcaps:
        name = os.path.basename(pcap)
        errs = []
        with tempfile.TemporaryDirectory() as tmp:
            runs = {}
            for key, w in (("w1", 1), ("w2", 2), ("w1b", 1)):
                try:
                    runs[key] = run_callrec(a.build, pcap, w, os.path.join(tmp, key))
                except Exception as ex:  # noqa: BLE001
                    errs.append(str(ex))
            if errs:
                print(f"FAIL {name}: {'; '.join(errs)}")
                failures += 1
                continue
        calls = runs["w1"]
        if calls != runs["w2"]:
            errs.append("output differs between --workers 1 and --workers 2")
        if calls != runs["w1b"]:
            errs.append("output differs between two runs")
        ours = {}
        for c in calls:
            for s in c["streams"]:
                ours.setdefault((s["src"], s["dst"], s["ssrc"]), []).append(s)
        ts = tshark_streams(pcap)
        for t in ts:
            k = (t["src"], t["dst"], t["ssrc"])
            if k not in ours:
                errs.append(f"missing stream {k[0]}->{k[1]} ssrc 0x{k[2]:08X} ({t['packets']} pkts)")
                continue
            s = ours[k][0]
            if len(ours[k]) > 1:
                errs.append(f"stream {k} split into {len(ours[k])} records")
            if s["packets"] != t["packets"]:
                errs.append(f"{k}: packets {s['packets']} != tshark {t['packets']}")
            if s["lost"] != t["lost"]:
                errs.append(f"{k}: lost {s['lost']} != tshark {t['lost']}")
            if abs(s["max_jitter_ms"] - t["max_jitter"]) > TOL_MS:
                errs.append(f"{k}: max jitter {s['max_jitter_ms']} vs tshark {t['max_jitter']}")
            if abs(s["mean_jitter_ms"] - t["mean_jitter"]) > TOL_MS:
                errs.append(f"{k}: mean jitter {s['mean_jitter_ms']} vs tshark {t['mean_jitter']}")
        inv = tshark_invites(pcap)
        sig = {c["call_id"]: c for c in calls if c["state"] != "unsignalled"}
        for cid, u in inv.items():
            if cid not in sig:
                errs.append(f"missing call {cid}")
                continue
            if sig[cid]["from_user"] != u["from_user"] or sig[cid]["to_user"] != u["to_user"]:
                errs.append(f"call {cid}: users {sig[cid]['from_user']}/{sig[cid]['to_user']} vs tshark {u['from_user']}/{u['to_user']}")
        states = tshark_states(pcap)
        for cid, want in states.items():
            if cid in sig and cid in inv and sig[cid]["state"] != want:
                errs.append(f"call {cid}: state {sig[cid]['state']} vs {want} from tshark's SIP")
        for cid in sig:
            if cid not in inv:
                errs.append(f"extra call {cid} (tshark sees no initial INVITE)")
        status = "ok  " if not errs else "FAIL"
        print(f"{status} {name}: {len(ts)} tshark streams, {len(inv)} calls")
        for e in errs[:20]:
            print(f"     {e}")
        failures += bool(errs)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
