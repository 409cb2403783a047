#!/usr/bin/python3
"""The first five minutes (spec benchmarks.md, issue 9): what a new user waits
for on a fresh clone, the packages already installed.

For each commit: `git clone` of this repository at that commit into a fresh
folder, then `make demo` (which checks the apt packages, configures, builds
what the demo needs and starts it), until the demo's SyncStalled alert fires
(a firing line in the demo's alerts.jsonl). Prints per commit:

  clone->binary   git clone + make's package check + configure + build
  binary->alert   `linkwatch demo` started -> SyncStalled firing
  total           the sum
  build CPU       user+sys CPU seconds of the make process tree up to the
                  binary (the build's work; on a busy machine wall time
                  grows, CPU time much less)

ccache is disabled (a new user has no cache). Several commits are measured
alternately, --rounds times each, so that a busy machine hurts all alike.
The apt step (installing the packages on a machine that lacks them) is not
part of this run: docs/performance.md reports it separately.

Usage: bench/first_run.py [--rounds 1] [--listen 127.0.0.1:0] COMMIT [COMMIT ...]
"""
import argparse
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)


def fired(alerts_file):
    try:
        with open(alerts_file) as f:
            for line in f:
                try:
                    n = json.loads(line)
                except ValueError:
                    continue
                for a in n.get("alerts", [n]):
                    labels = a.get("labels", {})
                    if labels.get("alertname") == "SyncStalled" and a.get("status") == "firing":
                        return True
    except FileNotFoundError:
        pass
    return False


def children_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def measure(commit, listen, timeout):
    work = tempfile.mkdtemp(prefix="lw-first-run-")
    clone = os.path.join(work, "linkwatch")
    env = dict(os.environ, CCACHE_DISABLE="1")
    try:
        t0 = time.monotonic()
        subprocess.run(["git", "clone", "-q", REPO, clone], check=True)
        subprocess.run(["git", "-C", clone, "checkout", "-q", commit], check=True)
        cpu0 = children_cpu()
        make = subprocess.Popen(
            ["make", "demo", f"DEMO_ARGS=--listen={listen}"], cwd=clone, env=env,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
        t_binary = None
        log = []

        def read():
            nonlocal t_binary
            for line in make.stdout:
                log.append(line)
                if t_binary is None and line.startswith("== running"):
                    t_binary = time.monotonic()

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        alerts = os.path.join(clone, "linkwatch-demo", "alerts.jsonl")
        t_alert = None
        while time.monotonic() - t0 < timeout:
            if make.poll() is not None:
                break
            if t_binary is not None and fired(alerts):
                t_alert = time.monotonic()
                break
            time.sleep(0.2)
        build_cpu = None
        os.killpg(make.pid, signal.SIGINT)
        try:
            make.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(make.pid, signal.SIGKILL)
            make.wait()
        reader.join(5)
        # The build's CPU: the make tree's children CPU once it ended,
        # minus the demo's share is not separable; the demo is idle-ish
        # (a few % of a core for ~40 s), so report it as an upper bound.
        build_cpu = children_cpu() - cpu0
        if t_binary is None or t_alert is None:
            sys.stderr.write("".join(log[-40:]))
            raise SystemExit(f"{commit}: no {'binary' if t_binary is None else 'alert'} "
                             f"within {timeout} s")
        return t_binary - t0, t_alert - t_binary, t_alert - t0, build_cpu
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("commits", nargs="+")
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--listen", default="127.0.0.1:0")
    ap.add_argument("--timeout", type=float, default=1800)
    args = ap.parse_args()
    results = {c: [] for c in args.commits}
    for r in range(args.rounds):
        for c in args.commits:
            res = measure(c, args.listen, args.timeout)
            results[c].append(res)
            print(f"round {r + 1} {c}: clone->binary {res[0]:.0f} s, binary->alert {res[1]:.0f} s, "
                  f"total {res[2]:.0f} s, build CPU <= {res[3]:.0f} s", flush=True)
    print(f"\n{'commit':<12} {'clone->binary':>14} {'binary->alert':>14} {'total':>8} "
          f"{'CPU (s)':>8}  (nproc {os.cpu_count()}, ccache off, packages installed)")
    for c, rs in results.items():
        best = min(rs, key=lambda x: x[2])
        print(f"{c:<12} {best[0]:>12.0f} s {best[1]:>12.0f} s {best[2]:>6.0f} s {best[3]:>8.0f}"
              f"  (best of {len(rs)})")


if __name__ == "__main__":
    main()
