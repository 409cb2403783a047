#!/usr/bin/python3
"""The dataverse sync source against the Dataverse emulator (issue 11, "Performance").

  initial  --rows account rows (the emulator's demo table: 13 attributes) from
           the emulator into a lake through `linkwatch run`: agent start ->
           initialsyncstate Completed; rows/s and the requests the emulator
           served (pages, metadata, count, token). In the same run the floor:
           the same pages fetched with the `curl` command in a loop (a token,
           then each page with the same Prefer headers, following
           @odata.nextLink), bodies written to a file and nothing else done.
  webhook  on the synced table, with `sync_interval: 60s` and a webhook
           registered in the emulator: --changes updates one after another,
           each timed from the emulator's commit (the control call returns) to
           the round that brought it committed (linkwatch_sync_cursor moved:
           the lake's partition files are replaced before the cursor is
           stored); p50/p99/max.

Usage: bench/dataverse_sync.py [--rows 100000] [--changes 100]
                               [--binary build/linkwatch] [--emulator ...]
"""
import argparse
import json
import os
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
import harness  # noqa: E402
from test_dataverse_watch import Emulator  # noqa: E402

SECRET = "bench-secret"
KEY = "bench-webhook-key"


def control(emulator, path, body=None):
    return json.loads(emulator.control(path, body) or b"{}")


def curl_floor(url, rows, page_size, workdir):
    """Seconds and pages to fetch the table's pages with the curl command."""
    token_out = subprocess.run(
        ["curl", "-s", "-X", "POST", url + "/tenant/oauth2/v2.0/token", "-d",
         "grant_type=client_credentials&client_id=linkwatch&client_secret=%s&scope=%s/.default"
         % (SECRET, url)], check=True, capture_output=True).stdout
    token = json.loads(token_out)["access_token"]
    target = url + "/api/data/v9.2/accounts?$select=accountid,name,accountnumber,description," \
        "numberofemployees,revenue,creditonhold,industrycode,statecode,statuscode," \
        "_primarycontactid_value,createdon,modifiedon,versionnumber"
    body = os.path.join(workdir, "page.json")
    pages = 0
    start = time.monotonic()
    while target:
        subprocess.run(["curl", "-s", "-g", "-o", body, "-H", "Authorization: Bearer " + token,
                        "-H", "Accept: application/json", "-H", "OData-MaxVersion: 4.0",
                        "-H", "OData-Version: 4.0", "-H",
                        "Prefer: odata.maxpagesize=%d,odata.track-changes" % page_size, target],
                       check=True)
        pages += 1
        with open(body, "rb") as f:
            f.seek(max(0, os.path.getsize(body) - 4096))
            m = re.search(rb'"@odata\.nextLink":"([^"]+)"', f.read())
        target = m.group(1).decode() if m else None
    return time.monotonic() - start, pages


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=100000)
    ap.add_argument("--changes", type=int, default=100)
    ap.add_argument("--binary", default=os.path.join(ROOT, "build", "linkwatch"))
    args = ap.parse_args()
    os.environ["LINKWATCH_BIN"] = args.binary
    root = tempfile.mkdtemp(prefix="lw-dv-bench-")
    emulator = Emulator(None, ["--store", os.path.join(root, "emulator.db"),
                               "--demo-account-rows", str(args.rows)], secret=SECRET)
    agent = None
    try:
        port = harness.free_port()
        cfg = os.path.join(root, "linkwatch.yaml")
        with open(cfg, "w") as f:
            f.write("""state_db: state.db
http: {listen: 127.0.0.1:%d}
profiles:
  - name: crm
    source:
%s      webhook_key: %s
    destination: {type: lake, path: lake}
    sync_interval: 60s
    snapshot_interval: 24h
    tables: [account]
""" % (port, emulator.block(6, SECRET), KEY))
        state = harness.StateDb(os.path.join(root, "state.db"))
        control(emulator, "counters/reset")
        start = time.monotonic()
        agent = harness.Agent(cfg).start()

        def completed():
            try:
                return state.query("SELECT initialsyncstate FROM synapselinkprofileentitystate "
                                   "WHERE entityname = 'account'") == [(4,)]
            except Exception:  # noqa: BLE001 - not created yet
                return False
        harness.wait_for(completed, timeout=600, interval=0.02, what="initial sync")
        took = time.monotonic() - start
        counters = emulator.counters()
        print("initial sync, %d rows: %.2f s from agent start, %.0f rows/s" %
              (args.rows, took, args.rows / took))
        print("  requests: %d total (token %d, pages %d, metadata %d, count %d)" % (
            counters["total"] - counters["control"], counters["token"],
            counters["entity_set_page"], counters["metadata"], counters["count_function"]))
        floor, pages = curl_floor(emulator.url, args.rows, 5000, root)
        print("  floor, curl in a loop over the same %d pages: %.2f s (%.0f rows/s); "
              "linkwatch / curl = %.2f" % (pages, floor, args.rows / floor, took / floor))

        # Webhook push: change -> committed, rounds 60 s apart.
        control(emulator, "webhooks", {"url": "http://127.0.0.1:%d/api/v1/dataverse/webhook/crm"
                                       % port, "key": KEY, "entity": "account"})
        ids = [r[0] for r in sqlite3.connect(os.path.join(root, "emulator.db")).execute(
            "SELECT id FROM emu_row WHERE entity = 'account' AND deleted = 0 LIMIT ?",
            (args.changes,))]

        def cursor():
            rows = state.query("SELECT cursor FROM linkwatch_sync_cursor")
            return rows[0][0] if rows else None
        latencies = []
        for n, i in enumerate(ids):
            before = cursor()
            t0 = time.monotonic()
            control(emulator, "entities/account/update", {"accountid": i, "name": "pushed %d" % n})
            harness.wait_for(lambda: cursor() != before, timeout=120, interval=0.002,
                             what="change %d committed" % n)
            latencies.append(time.monotonic() - t0)
        latencies.sort()
        p99 = latencies[max(0, int(round(0.99 * len(latencies))) - 1)]
        print("webhook push, sync_interval 60s, %d changes on the %d-row table: change -> "
              "committed p50 %.0f ms, p99 %.0f ms, max %.0f ms" % (
                  len(latencies), args.rows, 1000 * statistics.median(latencies), 1000 * p99,
                  1000 * latencies[-1]))
    finally:
        if agent:
            agent.stop()
        emulator.close()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
