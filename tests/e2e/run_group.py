#!/usr/bin/env python3
"""Expand capture globs under shared/ and run compare_tshark.py on them.
Exit 77 (meson: skipped) when shared/ or tshark is not there."""
import glob
import os
import shutil
import subprocess
import sys

args = sys.argv[1:]
build = args[args.index("--build") + 1]
shared = args[args.index("--shared") + 1]
globs = args[args.index("--shared") + 2:]
if not os.path.isdir(shared) or shutil.which("tshark") is None:
    print("shared captures or tshark missing: skipped")
    sys.exit(77)
files = sorted(f for g in globs for f in glob.glob(os.path.join(shared, g)))
if not files:
    print("no capture matched", globs)
    sys.exit(1)
here = os.path.dirname(os.path.abspath(__file__))
sys.exit(subprocess.call([sys.executable, os.path.join(here, "compare_tshark.py"), "--build", build] + files))
