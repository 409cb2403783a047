#!/usr/bin/python3
"""Issue 7: the lake's values are the source's, for a reader that knows only
model.json. A small hostile source is synced by `linkwatch run`; the CSV is
read back with Python's csv module (and a scan that tells a quoted "" from an
empty field) and compared value by value: "" versus NULL versus an empty
blob, U+FFFD for invalid UTF-8, keys differing only in case kept apart, the Id
typed string unless the key is declared a GUID, plain decimals, fractional
seconds; rows that cannot be written are failed records, shown in
/api/v1/status, the state store and /metrics, and never in the lake."""
import csv
import io
import json
import os
import sqlite3
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import lake_check  # noqa: E402

UPPER = "09CB3942-AAAA-4BBB-8CCC-DDDDDDDDDDDD"
LOWER = UPPER.lower()
GOOD = "aaaaaaaa-2222-4333-8444-55555555555b"


def make_source(path):
    con = sqlite3.connect(path)
    con.executescript(
        "CREATE TABLE thing(thingid TEXT PRIMARY KEY, label TEXT, note TEXT, photo BLOB, "
        "  price DECIMAL(18,4), tiny NUMERIC, ratio REAL, modifiedon DATETIME, createdon TEXT);"
        "CREATE TABLE gthing(gid UUID PRIMARY KEY, label TEXT, createdon TEXT);")
    rows = [
        # empty string, NULL and an empty blob; a tiny negative decimal.
        ("r000", "", None, b"", -0.0001, 0.00001, 1e300,
         "2025-05-01T10:11:12.345Z", "2025-01-01T00:00:00.1234567Z"),
        # keys that differ only in case are two records in a TEXT key.
        (UPPER, "upper", "n", b"\x01\x02", 123456.789, 12, 0.1,
         "2025-05-01 10:11:12.1", "2025-02-01T00:00:00Z"),
        (LOWER, "lower", "n", None, 1e13, 0, -2.5,
         "9999-12-31T23:59:59.999999999Z", "2025-03-01T00:00:00Z"),
        # a datetime column holding text that is not a datetime: a failed record.
        ("bad-date", "x", None, None, 1, 1, 1, "someday", "2025-04-01T00:00:00Z"),
    ]
    con.executemany("INSERT INTO thing VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    # invalid UTF-8 in a TEXT value (the bytes are stored as they are).
    con.execute("INSERT INTO thing(thingid, label, createdon) VALUES "
                "('utf', CAST(X'6162FF6364' AS TEXT), '2025-06-01T00:00:00Z')")
    con.executemany("INSERT INTO gthing VALUES (?, ?, ?)", [
        (UPPER, "a", "2025-01-01T00:00:00Z"), (LOWER, "b", "2025-01-01T00:00:00Z"),
        ("r000", "c", "2025-01-01T00:00:00Z"), (GOOD, "d", "2025-01-01T00:00:00Z")])
    con.commit()
    con.close()


def fields(line):
    """The fields of one CSV record as (text, quoted): "" is ("", True), an
    empty field ("", False). Checked against the csv module's values."""
    out, i = [], 0
    while True:
        if i < len(line) and line[i] == '"':
            j, text = i + 1, []
            while True:
                if line[j] == '"':
                    if j + 1 < len(line) and line[j + 1] == '"':
                        text.append('"')
                        j += 2
                        continue
                    break
                text.append(line[j])
                j += 1
            out.append(("".join(text), True))
            i = j + 1
        else:
            j = i
            while j < len(line) and line[j] not in ",\r\n":
                j += 1
            out.append((line[i:j], False))
            i = j
        if i >= len(line) or line[i] != ",":
            return out
        i += 1


def read_entity(lake, name):
    """{Id: {attribute: (text, quoted)}} and the entity of model.json."""
    e = lake_check.entity(lake, name)
    names = [a["name"] for a in e["attributes"]]
    records = {}
    for p in e["partitions"]:
        with open(lake_check.location_path(lake, p["location"]), "rb") as f:
            text = f.read().decode("utf-8")  # strict: invalid UTF-8 fails here
        lines = [ln for ln in text.split("\n") if ln]
        for ln, values in zip(lines, csv.reader(io.StringIO(text))):
            scanned = fields(ln)
            assert [t for t, _ in scanned] == values, (ln, values)
            rec = dict(zip(names, scanned))
            assert rec["Id"][0] not in records, "duplicate Id %s" % rec["Id"][0]
            records[rec["Id"][0]] = rec
    return records, e


class SyncValuesTest(harness.TempDirTest):
    def test_hostile_values_read_back_as_the_source_holds_them(self):
        src = os.path.join(self.dir, "crm.db")
        make_source(src)
        rc, _, err = harness.run_cli("source", "enable-change-tracking", "--db", src,
                                     "--table", "thing", "--table", "gthing")
        self.assertEqual(rc, 0, err)
        port = harness.free_port()
        cfg = self.write("linkwatch.yaml",
                         "state_db: state.db\nhttp: {listen: 127.0.0.1:%d}\n"
                         "watch: {interval: 1s}\nprofiles:\n"
                         "  - name: crm\n"
                         "    source: {type: sqlite, path: crm.db}\n"
                         "    destination: {type: lake, path: lake}\n"
                         "    tables: [thing, gthing]\n" % port)
        state = harness.StateDb(os.path.join(self.dir, "state.db"))
        agent = harness.Agent(cfg).start()
        self.defer(agent.kill)
        harness.wait_for(lambda: harness.http_get("http://127.0.0.1:%d/readyz" % port)[0] == 200,
                         timeout=60, what="agent ready")
        lake = os.path.join(self.dir, "lake")

        def initial_done(t):
            rows = state.query("SELECT initialsyncstate FROM synapselinkprofileentitystate "
                               "WHERE entityname = ?", (t,))
            return rows and rows[0][0] == 4
        for t in ("thing", "gthing"):
            harness.wait_for(lambda: initial_done(t), timeout=120, what="initial sync of " + t)

        recs, e = read_entity(lake, "thing")
        types = {a["name"]: a["dataType"] for a in e["attributes"]}
        self.assertEqual(types["Id"], "string")
        self.assertEqual(types["price"], "decimal")
        # Empty string, NULL, empty blob.
        r0 = recs["r000"]
        self.assertEqual(r0["label"], ("", True))
        self.assertEqual(r0["note"], ("", False))
        self.assertEqual(r0["photo"], ("", True))
        # Plain decimals; shortest doubles.
        self.assertEqual(r0["price"][0], "-0.0001")
        self.assertEqual(r0["tiny"][0], "0.00001")
        self.assertEqual(r0["ratio"][0], "1e+300")
        self.assertEqual(recs[LOWER]["price"][0], "10000000000000")
        self.assertEqual(recs[UPPER]["price"][0], "123456.789")
        # Fractional seconds kept, createdon with seven digits, the 9999 limit.
        self.assertEqual(r0["modifiedon"][0], "2025-05-01T10:11:12.345Z")
        self.assertEqual(r0["createdon"][0], "2025-01-01T00:00:00.1234567+00:00")
        self.assertEqual(recs[UPPER]["modifiedon"][0], "2025-05-01T10:11:12.1Z")
        self.assertEqual(recs[LOWER]["modifiedon"][0], "9999-12-31T23:59:59.9999999Z")
        # Keys that differ only in case: two records, as the source holds them.
        self.assertEqual(recs[UPPER]["label"][0], "upper")
        self.assertEqual(recs[LOWER]["label"][0], "lower")
        # Invalid UTF-8: U+FFFD, counted.
        self.assertEqual(recs["utf"]["label"][0], "ab\ufffdcd")
        # A value that is not its column's type: a failed record, not in the lake.
        self.assertNotIn("bad-date", recs)
        self.assertEqual(len(recs), 4)

        grecs, ge = read_entity(lake, "gthing")
        self.assertEqual(ge["attributes"][0]["dataType"], "guid")
        # The two case forms of one GUID collide: neither is written; r000 is
        # not a GUID. Only the good one is in the lake.
        self.assertEqual(sorted(grecs), [GOOD])

        # Failed records: the state store, /api/v1/status, /metrics, status.
        failed = state.query("SELECT entity, id, reason FROM linkwatch_sync_failed_record "
                             "ORDER BY entity, id")
        self.assertEqual([(f[0], f[1]) for f in failed],
                         [("gthing", LOWER), ("gthing", "r000"), ("thing", "bad-date")], failed)
        self.assertIn("modifiedon", failed[2][2])
        self.assertNotIn("someday", failed[2][2])  # the reason never quotes the value

        def api_tables():
            status, body = harness.http_get("http://127.0.0.1:%d/api/v1/status" % port)
            return {t["table"]: t for t in json.loads(body)["tables"]} if status == 200 else {}
        harness.wait_for(lambda: [api_tables().get(t, {}).get("failedRecords")
                                  for t in ("gthing", "thing")] == [2, 1],
                         timeout=60, what="failed records in /api/v1/status")
        tables = api_tables()
        self.assertEqual(tables["thing"]["failedRecords"], 1)
        self.assertIn("modifiedon", tables["thing"]["failedRecordReason"])
        want = ['linkwatch_sync_failed_records_total{entity="thing",profile="crm"} 1',
                'linkwatch_sync_failed_records_total{entity="gthing",profile="crm"} 2',
                'linkwatch_sync_invalid_text_total{entity="thing",profile="crm"} 1',
                'linkwatch_sync_invalid_text_total{entity="gthing",profile="crm"} 0']
        harness.wait_for(lambda: all(w in harness.http_get("http://127.0.0.1:%d/metrics" % port)[1]
                                     for w in want), timeout=60, what="\n".join(want))
        # The counts do not lie: the lake has fewer records than the source.
        rows = state.query("SELECT crmrecordcount, lakerecordcount FROM "
                           "synapselinkprofileentitystate WHERE entityname = 'thing'")
        self.assertEqual(rows[0], (5, 4))

        # Fixing the row syncs it and forgets its failed record; a new key
        # that collides with a written one takes both out of the lake.
        con = sqlite3.connect(src, timeout=30)
        with con:
            con.execute("UPDATE thing SET modifiedon = '2025-07-01T00:00:00.5Z' "
                        "WHERE thingid = 'bad-date'")
            con.execute("INSERT INTO gthing VALUES (?, 'e', '2025-01-01T00:00:00Z')",
                        (GOOD.upper(),))
        con.close()

        def settled():
            f = state.query("SELECT entity, id FROM linkwatch_sync_failed_record ORDER BY 1, 2")
            return f == [("gthing", LOWER), ("gthing", GOOD), ("gthing", "r000")]
        harness.wait_for(settled, timeout=60, what="failed records follow the changes")
        recs, _ = read_entity(lake, "thing")
        self.assertEqual(recs["bad-date"]["modifiedon"][0], "2025-07-01T00:00:00.5Z")
        grecs, _ = read_entity(lake, "gthing")
        self.assertEqual(grecs, {})
        rc, out, err = harness.run_cli("status", "--config", cfg)
        self.assertEqual(rc, 0, err)
        self.assertIn("crm/gthing: 3 failed record(s)", out)
        self.assertIn("failed records", agent.output())
        self.assertEqual(agent.stop(), 0)


if __name__ == "__main__":
    unittest.main()
