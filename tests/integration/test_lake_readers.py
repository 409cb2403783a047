#!/usr/bin/python3
"""Readers during in-place batches (issue 7, point 9; lake-format.md "Two
modes"): a writer commits updates every 50 ms, some moving records between
years (createdon changes) and some emptying a year's partition, while DuckDB
(tests/consumers/duckdb_lake.mjs, in a loop, in its own Node process) reads
the lake through model.json. No read may fail or meet a missing file, none may
miss a record that was live throughout, and a record seen twice must come
out right when the reader keeps the copy with the higher versionnumber."""
import json
import os
import random
import sqlite3
import sys
import threading
import time
import unittest
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import lake_check  # noqa: E402
import lake_consumer  # noqa: E402

RECORDS = 150      # spread over 2019..2024
FLIPPERS = 4       # records that all sit in 2018 or all in 2025: one of the two years empties
READ_SECONDS = float(os.environ.get("LW_READ_SECONDS", "40"))


def year_of(y, i):
    return "%04d-%02d-01T00:00:00Z" % (y, 1 + i % 12)


class LakeReadersTest(harness.TempDirTest):
    def test_readers_never_miss_a_record_during_in_place_batches(self):
        src = os.path.join(self.dir, "src.db")
        con = sqlite3.connect(src)
        con.execute("CREATE TABLE mover(id TEXT PRIMARY KEY, val INTEGER, createdon TEXT)")
        rng = random.Random(7)
        ids = [str(uuid.UUID(int=rng.getrandbits(128))) for _ in range(RECORDS + FLIPPERS)]
        flippers = ids[RECORDS:]
        rows = [(k, 0, year_of(2019 + i % 6, i)) for i, k in enumerate(ids[:RECORDS])]
        rows += [(k, 0, year_of(2018, i)) for i, k in enumerate(flippers)]
        con.executemany("INSERT INTO mover VALUES (?, ?, ?)", rows)
        con.commit()
        con.close()
        rc, _, err = harness.run_cli("source", "enable-change-tracking", "--db", src,
                                     "--table", "mover")
        self.assertEqual(rc, 0, err)
        # (id, version) -> (val, createdon) of every committed state; version 0 = untouched.
        history = {(k, 0): (0, c) for k, _, c in rows}

        port = harness.free_port()
        cfg = self.write("linkwatch.yaml",
                         "state_db: state.db\nhttp: {listen: 127.0.0.1:%d}\n"
                         "watch: {interval: 1s}\nprofiles:\n"
                         "  - name: p\n    source: {type: sqlite, path: src.db}\n"
                         "    destination: {type: lake, path: lake}\n"
                         "    sync_interval: 100ms\n    tables: [mover]\n" % port)
        agent = harness.Agent(cfg).start()
        self.defer(agent.kill)
        lake = os.path.join(self.dir, "lake")
        state = harness.StateDb(os.path.join(self.dir, "state.db"))

        def caught_up():
            try:
                done = state.query("SELECT initialsyncstate FROM synapselinkprofileentitystate "
                                   "WHERE entityname = 'mover'")
                r = state.query("SELECT CAST(cursor AS INTEGER) FROM linkwatch_sync_cursor "
                                "WHERE entity = 'mover'")
            except sqlite3.OperationalError:
                return False
            return (bool(done) and done[0][0] == 4 and bool(r)
                    and r[0][0] >= lake_check.table_head(src, "mover"))
        harness.wait_for(caught_up, timeout=120, interval=0.2, what="initial sync of mover")

        stop = threading.Event()
        commits = [0]
        writer_error = []

        def writer():
            wcon = sqlite3.connect(src, timeout=30)
            vals = {k: 0 for k in ids}
            flip_year = 2018
            try:
                while not stop.is_set():
                    n = commits[0]
                    changed = rng.sample(ids[:RECORDS], 3)
                    with wcon:
                        for j, k in enumerate(changed):
                            vals[k] += 1
                            if j == 0:  # a move to another year
                                wcon.execute("UPDATE mover SET val = ?, createdon = ? WHERE id = ?",
                                             (vals[k], year_of(2019 + rng.randrange(6), n), k))
                            else:
                                wcon.execute("UPDATE mover SET val = ? WHERE id = ?", (vals[k], k))
                        if n % 10 == 9:  # every flipper leaves its year: that partition empties
                            flip_year = 2025 if flip_year == 2018 else 2018
                            for i, k in enumerate(flippers):
                                vals[k] += 1
                                wcon.execute("UPDATE mover SET val = ?, createdon = ? WHERE id = ?",
                                             (vals[k], year_of(flip_year, i), k))
                                changed.append(k)
                    q = ",".join("?" * len(changed))
                    for k, v, c, seq in wcon.execute(
                            "SELECT t.id, t.val, t.createdon, l.seq FROM mover t JOIN "
                            "_linkwatch_changes l ON l.tbl = 'mover' AND l.id = t.id "
                            "WHERE t.id IN (%s)" % q, changed):
                        history[(k, seq)] = (v, c)
                    commits[0] += 1
                    stop.wait(0.05)
            except Exception as e:  # noqa: BLE001 - reported by the test
                writer_error.append(repr(e))
            finally:
                wcon.close()

        out_path = os.path.join(self.dir, "reads.jsonl")
        with open(out_path, "w") as out, open(out_path + ".err", "w") as err:
            reader = lake_consumer.start_reader_loop(lake, ["mover"], READ_SECONDS, out, err)
            self.defer(lambda: reader.poll() is None and reader.kill())
            w = threading.Thread(target=writer, daemon=True)
            w.start()
            try:
                reader.wait(timeout=READ_SECONDS + 300)
            finally:
                stop.set()
                w.join(30)
        self.assertEqual(writer_error, [])

        reads = failed = missing_file = with_duplicates = wrong = missed = wrong_copy = 0
        problems = []
        with open(out_path) as f:
            for line in f:
                doc = json.loads(line)
                reads += 1
                if not doc["ok"]:
                    failed += 1
                    err = doc.get("error") or ""
                    missing_file += "No files found" in err or "No such file" in err
                    problems.append("read %d failed: %s" % (reads, doc.get("error")))
                    continue
                e = doc["entities"]["mover"]
                if e["duplicateIds"]:
                    with_duplicates += 1
                names = e["attributes"]
                seen = {}
                bad = []
                for row in e["rows"]:
                    rec = dict(zip(names, row))
                    seen[rec["Id"]] = rec
                    h = history.get((rec["Id"], int(rec["versionnumber"])))
                    if h is None:
                        bad.append("Id %s versionnumber %s is no committed version"
                                   % (rec["Id"], rec["versionnumber"]))
                    elif (int(rec["val"]) != h[0] or lake_consumer.normalise_read(
                            "dateTime", rec["createdon"])[0][:4] != h[1][:4]):
                        bad.append("Id %s versionnumber %s: val %s createdon %s, committed %r"
                                   % (rec["Id"], rec["versionnumber"], rec["val"],
                                      rec["createdon"], h))
                missing = [k for k in ids if k not in seen]
                wrong_copy += bool(bad)
                if missing:
                    missed += 1
                    bad.append("%d records live throughout are missing, e.g. %s"
                               % (len(missing), missing[0]))
                if bad:
                    wrong += 1
                    problems.append("read %d: %s" % (reads, "; ".join(bad[:3])))
        print("\nlake readers: %d reads during %d commits: %d failed (%d met a missing file), "
              "%d wrong (%d missed a live record, %d kept a copy that was never committed), "
              "%d saw a record twice (allowed when the higher versionnumber was right)"
              % (reads, commits[0], failed, missing_file, wrong, missed, wrong_copy,
                 with_duplicates), flush=True)
        self.assertGreater(reads, 0)
        self.assertGreater(commits[0], 0)
        self.assertEqual(problems, [], "%d of %d reads failed or were wrong:\n%s"
                         % (failed + wrong, reads, "\n".join(problems[:20])))
        # Once the agent has caught up, the lake at rest is consistent and equals the source.
        harness.wait_for(caught_up, timeout=120, interval=0.2, what="mover caught up")
        self.assertEqual(agent.stop(), 0)
        rc, out, _ = harness.run_cli("lake", "verify", "--path", lake, "--source", src,
                                     timeout=300)
        self.assertEqual(rc, 0, out)


if __name__ == "__main__":
    unittest.main()
