#!/usr/bin/python3
"""A real consumer in the suite (issue 7, "Must show"): a SQLite source of
hostile values is synced by `linkwatch run`, DuckDB reads the lake knowing
only model.json (tests/consumers/duckdb_lake.mjs), and every value of every
record is compared with the source as lake-format.md says it must read back.
Then `lake verify`, with and without the source, must call the lake
consistent. The same comparison runs on the demo's lake."""
import json
import os
import sqlite3
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import lake_check  # noqa: E402
import lake_consumer  # noqa: E402

# Text of every awkward class: empty, blank, the word NULL, CSV syntax, line
# ends of each kind, surrounding white space, tabs, non-ASCII, 4-byte UTF-8.
TEXTS = ["", " ", "NULL", "null", '"', '""', "a,b", 'say "hi"', "line1\nline2", "cr\ronly",
         "crlf\r\nend", "  lead and trail  ", "\ttab\t", "é ü ß", "日本語", "😀 𝄞",
         "comma, \"quote\" and\nnewline", ",", "\\", "'"]
# Bytes that are not UTF-8, of several shapes: a lone continuation byte, a
# truncated sequence, an overlong encoding, a surrogate encoded in UTF-8, 0xFF.
BAD_UTF8 = [b"ab\xffcd", b"x\x80y", b"trunc\xe6\x97", b"over\xc0\xaflong", b"sur\xed\xa0\x80rogate",
            b"\xf0\x9f\x98", b"\xfe\xff", b"ok \xe2\x82\xac then \xe2\x82"]
BLOBS = [b"", b"\x00", b"\xff\xfe\xfd", b"plain ascii", "é".encode(), b"\x00\x01,\"\r\n"]
GUIDS = ["09CB3942-AAAA-4BBB-8CCC-000000000001", "1b4e28ba-2fa1-11d2-883f-0016d3cca427",
         "6F9619FF-8B86-D011-B42D-00C04FC964FF", "00000000-0000-0000-0000-000000000000",
         "FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF"]
# A case variant of GUIDS[0] (would collide with it: a failed record) and a
# value that is no GUID (a failed record too).
GUID_CASE_TWIN = "09cb3942-aaaa-4bbb-8ccc-000000000001"
NOT_A_GUID = "r000"
DATES = ["2019-01-01T00:00:00Z", "2020-02-29T12:34:56.789Z", "2021-06-30T23:59:59.123456Z",
         "2022-12-31T23:59:59.1234567Z", "2023-07-04T01:02:03.0000001Z",
         "2024-03-10T10:00:00.5Z", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59.999999Z",
         "2024-05-05T05:05:05.100Z"]
DOUBLES = [float("nan"), float("inf"), float("-inf"), -0.0, 5e-324, 1.7976931348623157e308,
           0.1, -2.5, 1e-300, 123456789.123456789, 0.0]
# Decimals as SQLite holds them (NUMERIC affinity: INTEGER, or REAL of at most
# 15 significant digits here, so that the double's shortest form and its exact
# binary value round alike to the declared scale).
DECIMALS = ["0.0001", "-0.0001", "1234567890123456789", "-98765.4321", "42", "0", "1E-7",
            "0.3333333333333333", "-1", "3.14159265358979", "-9223372036854775808"]
INT64 = [9223372036854775807, -9223372036854775808, 0, -1, 1]


def make_source(path):
    con = sqlite3.connect(path)
    con.executescript(
        # In place, partitioned by year; a TEXT key with case variants and keys
        # that only look like GUIDs (not declared GUID: kept as they are).
        "CREATE TABLE item(id TEXT PRIMARY KEY, label TEXT, note TEXT, data BLOB,"
        "  amount DECIMAL(18,4), big NUMERIC, ratio REAL, qty INTEGER, flag BOOLEAN,"
        "  seen DATETIME, stamp TIMESTAMP, createdon TEXT, modifiedon TEXT);"
        # In place, partitioned by month; integer (and negative) keys.
        "CREATE TABLE nums(n INTEGER PRIMARY KEY, i64 INTEGER, d DOUBLE, dec NUMERIC(38,10),"
        "  flag BOOLEAN, at DATETIME, createdon INTEGER);"
        # A key declared as a GUID type.
        "CREATE TABLE gtable(gid UNIQUEIDENTIFIER PRIMARY KEY, val TEXT, createdon TEXT);"
        # Append only (config), by year.
        "CREATE TABLE evlog(eid INTEGER PRIMARY KEY, msg TEXT, payload BLOB, amount DECIMAL(10,2),"
        "  createdon TEXT);")
    rows = []
    keys = ["r000", "r001", "Abc", "ABC", "abc", GUIDS[0], GUIDS[0].lower(), " sp ", "k,comma",
            'k"quote', "é", "😀", "1", "-1", "line\nkey"]
    texts = TEXTS + [None]
    for i, k in enumerate(keys + ["t%03d" % j for j in range(40)]):
        label = texts[i % len(texts)]
        note = None if i % 3 == 0 else ("" if i % 3 == 1 else BAD_UTF8[i % len(BAD_UTF8)])
        data = None if i % 7 == 6 else BLOBS[i % len(BLOBS)]
        rows.append((k, label, note, data, [None, "0.0001", "-12.5", "1234567890.5678", 7][i % 5],
                     DECIMALS[i % len(DECIMALS)], DOUBLES[i % len(DOUBLES)], INT64[i % len(INT64)],
                     [0, 1, "true", "false", None][i % 5], DATES[i % len(DATES)],
                     [1700000000, 1700000000.25, "1700000001", None][i % 4],
                     "%04d-%02d-15T08:00:00.%s" % (2019 + i % 6, 1 + i % 12,
                                                    ["0Z", "123Z", "123456Z", "1234567Z"][i % 4]),
                     DATES[(i + 3) % len(DATES)]))
    con.executemany("INSERT INTO item VALUES (?, ?, CAST(? AS TEXT), ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [(r[0], r[1], r[2]) + r[3:] for r in rows])
    con.executemany("INSERT INTO nums VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [(n, INT64[j % len(INT64)], DOUBLES[j % len(DOUBLES)],
                      DECIMALS[j % len(DECIMALS)], [1, 0, "true"][j % 3],
                      DATES[j % len(DATES)], 1546300800 + j * 2592000)
                     for j, n in enumerate([-9223372036854775808, -5, -1, 0, 1, 2, 3, 10, 99,
                                            9223372036854775807] + list(range(100, 130)))])
    con.executemany("INSERT INTO gtable VALUES (?, ?, ?)",
                    [(g, "v%d" % j, "202%d-01-01T00:00:00Z" % (j % 5))
                     for j, g in enumerate(GUIDS + [GUID_CASE_TWIN, NOT_A_GUID])])
    con.executemany("INSERT INTO evlog VALUES (?, CAST(? AS TEXT), ?, ?, ?)",
                    [(j, TEXTS[j % len(TEXTS)] if j % 5 else BAD_UTF8[j % len(BAD_UTF8)],
                      BLOBS[j % len(BLOBS)], ["0.01", "-0.5", "99999999.99", "3", None][j % 5],
                      "202%d-06-01T00:00:00Z" % (j % 5)) for j in range(30)])
    con.commit()
    con.close()


def change_source(path):
    """Updates (one moving a record to another year, one NULL -> '' and back),
    deletes and inserts in every table."""
    con = sqlite3.connect(path, timeout=30)
    with con:
        con.execute("UPDATE item SET createdon = '2025-12-31T23:59:59.9999999Z', label = '' "
                    "WHERE id = 'r001'")
        con.execute("UPDATE item SET note = NULL, label = NULL WHERE id = 'Abc'")
        con.execute("UPDATE item SET note = '', data = X'' WHERE id = 'ABC'")
        con.execute("DELETE FROM item WHERE id IN ('t000', 't001')")
        con.execute("INSERT INTO item(id, label, createdon) VALUES ('new', 'x\r\ny', "
                    "'2026-01-01T00:00:00Z')")
        con.execute("UPDATE nums SET createdon = createdon + 86400 * 40, d = -0.0 WHERE n = 3")
        con.execute("DELETE FROM nums WHERE n = 100")
        con.execute("UPDATE evlog SET msg = 'edited' WHERE eid = 3")
        con.execute("DELETE FROM evlog WHERE eid = 4")
        con.execute("INSERT INTO evlog VALUES (100, '', X'', '1.5', '2026-02-02T00:00:00Z')")
    con.close()


def add_columns(path):
    """Columns added with a DEFAULT after the initial sync (both modes), then
    one change per table so that there is progress to wait for."""
    con = sqlite3.connect(path, timeout=30)
    with con:
        for t in ("item", "evlog"):
            con.execute("ALTER TABLE %s ADD COLUMN extra INTEGER DEFAULT 7" % t)
            con.execute("ALTER TABLE %s ADD COLUMN extra_text TEXT DEFAULT 'dflt'" % t)
        con.execute("UPDATE item SET extra = 8, extra_text = '' WHERE id = 'r000'")
        con.execute("UPDATE evlog SET extra = NULL WHERE eid = 5")
    con.close()


TABLES = {  # table: (key column, expected Id dataType)
    "item": ("id", "string"),
    "nums": ("n", "string"),
    "gtable": ("gid", "guid"),
    "evlog": ("eid", "string"),
}
EXPECTED_TYPES = {
    "item": {"label": "string", "note": "string", "data": "string", "amount": "decimal",
             "big": "decimal", "ratio": "double", "qty": "int64", "flag": "boolean",
             "seen": "dateTime", "stamp": "dateTime", "createdon": "dateTime",
             "modifiedon": "dateTime", "extra": "int64", "extra_text": "string"},
    "nums": {"i64": "int64", "d": "double", "dec": "decimal", "flag": "boolean",
             "at": "dateTime", "createdon": "dateTime"},
    "gtable": {"val": "string", "createdon": "dateTime"},
    "evlog": {"msg": "string", "payload": "string", "amount": "decimal", "createdon": "dateTime",
              "extra": "int64", "extra_text": "string"},
}


def failed_count(table_status):
    """The failed-record count of a table in /api/v1/status (the field's exact name is the
    writer's; any field named failed*, as a number or an object with a count)."""
    for k, v in table_status.items():
        if "failed" in k.lower():
            if isinstance(v, int):
                return v
            if isinstance(v, dict):
                for kk in ("count", "records", "total"):
                    if isinstance(v.get(kk), int):
                        return v[kk]
            if isinstance(v, list):
                return len(v)
    return None


class ConsumerItselfTest(harness.TempDirTest):
    """The consumer reads a lake written here by hand as lake-format.md says (so that its
    own behaviour is pinned down before it judges linkwatch's lakes)."""

    def lake(self, entities, files):
        lake = os.path.join(self.dir, "lake")
        for path, text in files.items():
            full = os.path.join(lake, path)
            os.makedirs(os.path.dirname(full), exist_ok=True)
            with open(full, "wb") as f:
                f.write(text.encode() if isinstance(text, str) else text)
        with open(os.path.join(lake, "model.json"), "w") as f:
            json.dump({"name": "cdm", "version": "1.0", "entities": entities}, f)
        return lake

    def entity(self, name, attrs, partitions, append_only=False, appended=()):
        def attr(a):
            n, t = a
            out = {"name": n, "dataType": t}
            if t == "decimal":
                out["cdm:traits"] = [{"traitReference": "is.dataFormat.numeric.shaped",
                                      "arguments": [{"name": "precision", "value": 10},
                                                    {"name": "scale", "value": 2}]}]
            return out
        e = {"$type": "LocalEntity", "name": name,
             "attributes": [attr(a) for a in [("Id", "string"), ("SinkCreatedOn", "dateTime"),
                                              ("SinkModifiedOn", "dateTime")] + attrs
                            + [("versionnumber", "int64"), ("IsDelete", "boolean")]
                            + list(appended)],
             "partitions": [{"name": p, "location": "file://" + os.path.join(self.dir, "lake",
                                                                             name, p + ".csv")
                             .replace(" ", "%20")} for p in partitions]}
        if append_only:
            e["annotations"] = [{"name": "linkwatch:AppendOnly", "value": "true"}]
        return e

    def test_reads_as_documented(self):
        sink = "6/28/2021 4:34:35 PM,6/28/2021 4:34:35 PM"
        lake = self.lake(
            [self.entity("t", [("s", "string"), ("d", "decimal"), ("at", "dateTime")],
                         ["2023", "2024", "2025"], appended=[("x", "int64")]),
             self.entity("a", [("s", "string")], ["2024"], append_only=True)],
            {"t/2023.csv": 'r1,%s,"",1.50,2024-01-02T03:04:05.1234567Z,2,,7\r\n'
                           # written before column x was appended: shorter
                           'r2,%s,,,0001-01-01T00:00:00Z,3,\r\n' % (sink, sink),
             # A moved record listed twice: the higher versionnumber wins.
             "t/2024.csv": 'r1,%s,"old",1,2024-01-01T00:00:00Z,1,\r\n'
                           '"r,3",%s,"a ""q""\r\nb",-0.01,2024-05-05T05:05:05Z,5,,\r\n'
                           % (sink, sink),
             "t/2025.csv": "",  # emptied, still listed
             # LF line ends, and a bare CR inside a quoted field.
             "a/2024.csv": 'k1,%s,one,1,\nk1,%s,"t\rwo",2,\nk2,%s,x,3,\nk2,%s,,4,True\n'
                           % (sink, sink, sink, sink)})
        read = lake_consumer.read_lake(lake, ["t", "a"])
        self.assertTrue(read["ok"], read.get("error"))
        self.assertEqual(read["problems"], [])
        t = read["entities"]["t"]
        self.assertEqual(t["duckdbTypes"], ["VARCHAR", "TIMESTAMP_NS", "TIMESTAMP_NS", "VARCHAR",
                                            "DECIMAL(10,2)", "TIMESTAMP_NS", "BIGINT", "BOOLEAN",
                                            "BIGINT"])
        rows = {r[0]: r for r in t["rows"]}
        self.assertEqual(sorted(rows), ["r,3", "r1", "r2"])
        self.assertEqual(t["duplicateIds"], 1)
        self.assertEqual(rows["r1"][3:], ["", "1.50", "2024-01-02 03:04:05.1234567", "2", None,
                                          "7"])
        self.assertEqual(rows["r2"][3:], [None, None, "0001-01-01 00:00:00", "3", None, None])
        self.assertEqual(rows["r,3"][3:5], ['a "q"\r\nb', "-0.01"])
        self.assertEqual(rows["r1"][1], "2021-06-28 16:34:35")
        a = read["entities"]["a"]
        self.assertEqual([(r[0], r[3]) for r in a["rows"]], [("k1", "t\rwo")])

        # Exponent notation, a relative location, no decimal trait: refused or reported.
        model_path = os.path.join(lake, "model.json")
        with open(model_path) as f:
            model = json.load(f)
        model["entities"][0]["partitions"][2]["location"] = "t/2025.csv"
        del model["entities"][0]["attributes"][4]["cdm:traits"]
        with open(model_path, "w") as f:
            json.dump(model, f)
        with open(os.path.join(lake, "a", "2024.csv"), "ab") as f:
            f.write(b"k3,,,\xff,5,\n")
        with open(os.path.join(lake, "t", "2024.csv"), "a") as f:
            f.write("r4,%s,,-1e-04,,6,\r\n" % sink)
        read = lake_consumer.read_lake(lake, ["t", "a"])
        self.assertFalse(read["ok"])
        self.assertIn("t.d: not a plain decimal: -1e-04", read["entities"]["t"]["error"])
        self.assertIn("a", read["entities"])
        self.assertIn("error", read["entities"]["a"])  # invalid UTF-8: DuckDB refuses the file
        self.assertEqual(read["problems"],
                         ['entity t: partition 2025: location "t/2025.csv" is not an absolute URI',
                          "entity t: decimal attribute d has no is.dataFormat.numeric.shaped "
                          "trait"])


class LakeConsumerTest(harness.TempDirTest):
    def caught_up(self, table, db):
        state = harness.StateDb(os.path.join(self.dir, "state.db"))
        try:
            done = state.query("SELECT initialsyncstate FROM synapselinkprofileentitystate "
                               "WHERE entityname = ?", (table,))
            rows = state.query("SELECT CAST(cursor AS INTEGER) FROM linkwatch_sync_cursor "
                               "WHERE entity = ?", (table,))
        except sqlite3.OperationalError:  # the agent has not created its tables yet
            return False
        # Initial sync Completed (4), and every change since read.
        return (bool(done) and done[0][0] == 4 and bool(rows)
                and rows[0][0] >= lake_check.table_head(db, table))

    def model(self, lake):
        with open(os.path.join(lake, "model.json")) as f:
            return {e["name"]: e for e in json.load(f)["entities"]}

    def wait_synced(self, src, lake, want_attrs=()):
        def done():
            if not all(self.caught_up(t, src) for t in TABLES):
                return False
            try:
                model = self.model(lake)
            except (OSError, ValueError):
                return False
            return all(a in [x["name"] for x in model.get(t, {}).get("attributes", [])]
                       for t, a in want_attrs)
        harness.wait_for(done, timeout=240, interval=0.2, what="every table synced")

    @staticmethod
    def gtable_failed(read):
        """The source keys of gtable that must be failed records: the non-GUID value, and
        of the two case forms of one GUID either one (the other written) or both (neither
        written: the spec only forbids merging them)."""
        live = {r[0] for r in read["entities"]["gtable"]["rows"]}
        if GUIDS[0].lower() not in live:
            return (GUIDS[0], GUID_CASE_TWIN, NOT_A_GUID)
        # One is written; which one the values tell (compare_entity checks them).
        row = [r for r in read["entities"]["gtable"]["rows"] if r[0] == GUIDS[0].lower()][0]
        names = read["entities"]["gtable"]["attributes"]
        written = dict(zip(names, row)).get("val")
        twin_val = "v%d" % len(GUIDS)  # GUID_CASE_TWIN's val (inserted right after GUIDS)
        return (GUIDS[0] if written == twin_val else GUID_CASE_TWIN, NOT_A_GUID)

    def check_values(self, src, lake, phase):
        model = self.model(lake)
        read = lake_consumer.read_lake(lake, list(TABLES))
        problems = list(read.get("problems", []))
        if not read["ok"]:
            problems.append("DuckDB could not read the lake: %s" % read.get("error"))
        for t, (key, key_type) in TABLES.items():
            e = model[t]
            types = {a["name"]: a["dataType"] for a in e["attributes"]}
            if types.get("Id") != key_type:
                problems.append("%s: Id dataType %r, expected %r" % (t, types.get("Id"), key_type))
            for c, want in EXPECTED_TYPES[t].items():
                if c in types and types[c] != want:
                    problems.append("%s: %s dataType %r, expected %r" % (t, c, types[c], want))
            # (A decimal without its precision/scale trait is among the consumer's problems.)
            if "rows" not in read.get("entities", {}).get(t, {}):
                continue  # unreadable: reported above
            failed = ()
            if t == "gtable":
                failed = self.gtable_failed(read)
            problems += lake_consumer.compare_entity(read["entities"][t], e, src, t, key,
                                                     key_type, failed_keys=failed)
        self.assertEqual(problems, [], "%s: %d differences:\n%s"
                         % (phase, len(problems), "\n".join(problems)))

    def verify(self, lake, src, failed=0, config=None):
        """`lake verify` calls the lake consistent. With `--source` alone it cannot know of
        the `failed` records, so it reports them (only them) as missing; with `--config
        --profile` it reads them from the state store, so the lake is consistent and the
        table's source comparison counts them as failed."""
        rc, out, err = harness.run_cli("lake", "verify", "--path", lake, timeout=300)
        self.assertEqual(rc, 0, "lake verify: exit %d\n%s%s" % (rc, out, err))
        rc, out, err = harness.run_cli("lake", "verify", "--path", lake, "--source", src,
                                       "--json", timeout=300)
        report = json.loads(out) if out.strip().startswith("{") else {"problems": [out + err]}
        missing = [p for p in report["problems"] if "not in the lake" in p
                   or "not live in the lake" in p]
        self.assertEqual((rc, len(report["problems"]), len(missing)),
                         (1 if failed else 0, failed, failed),
                         "lake verify --source: exit %d\n%s" % (rc, "\n".join(report["problems"])))
        if config is None:
            return
        rc, out, err = harness.run_cli("lake", "verify", "--config", config, "--profile", "p",
                                       "--json", timeout=300)
        report = json.loads(out) if out.strip().startswith("{") else {"problems": [out + err]}
        self.assertEqual(rc, 0, "lake verify --config --profile: exit %d\n%s"
                         % (rc, "\n".join(report["problems"])))
        counted = sum((t.get("source") or {}).get("failedRecords", 0) for t in report["tables"])
        self.assertEqual(counted, failed, json.dumps(report["tables"]))

    def test_hostile_values_read_back_as_the_source_holds_them(self):
        src = os.path.join(self.dir, "src.db")
        make_source(src)
        rc, _, err = harness.run_cli("source", "enable-change-tracking", "--db", src,
                                     *sum((["--table", t] for t in TABLES), []))
        self.assertEqual(rc, 0, err)
        port = harness.free_port()
        cfg = self.write("linkwatch.yaml",
                         "state_db: state.db\nhttp: {listen: 127.0.0.1:%d}\n"
                         "watch: {interval: 1s}\nprofiles:\n"
                         "  - name: p\n    source: {type: sqlite, path: src.db}\n"
                         "    destination: {type: lake, path: lake}\n"
                         "    sync_interval: 1s\n"
                         "    tables: [item, {name: nums, partition: month}, gtable,\n"
                         "             {name: evlog, append_only: true}]\n" % port)
        agent = harness.Agent(cfg).start()
        self.defer(agent.kill)
        lake = os.path.join(self.dir, "lake")
        self.wait_synced(src, lake)
        self.check_values(src, lake, "after the initial sync")

        change_source(src)
        self.wait_synced(src, lake)
        self.check_values(src, lake, "after updates, moves and deletes")

        add_columns(src)
        self.wait_synced(src, lake, [("item", "extra_text"), ("evlog", "extra_text")])
        self.check_values(src, lake, "after ADD COLUMN ... DEFAULT")

        # The failed records (GUID case twin, non-GUID value) are listed.
        def gstatus():
            code, body = harness.http_get("http://127.0.0.1:%d/api/v1/status" % port)
            if code != 200:
                return None
            for t in json.loads(body).get("tables", []):
                if t.get("table") == "gtable":
                    return t
            return None
        status = harness.wait_for(gstatus, what="gtable in /api/v1/status")
        failed_keys = self.gtable_failed(lake_consumer.read_lake(lake, ["gtable"]))
        failed = len(failed_keys)  # source rows left out
        # The agent counts failed records per lake Id: two case forms of a GUID are one.
        self.assertEqual(failed_count(status), len({k.lower() for k in failed_keys}),
                         "gtable's failed records in /api/v1/status: %s" % json.dumps(status))
        self.assertEqual(agent.stop(), 0)
        self.verify(lake, src, failed=failed, config=cfg)

    def test_demo_lake_reads_back_as_its_source(self):
        d = os.path.join(self.dir, "demo")
        p = harness.subprocess.run(
            [harness.BINARY, "demo", "--dir", d, "--duration", "8", "--listen",
             "127.0.0.1:%d" % harness.free_port()], capture_output=True, text=True, timeout=300)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        lake, src = os.path.join(d, "lake"), os.path.join(d, "crm.db")
        model = self.model(lake)
        tables = [t for t in ("account", "contact", "opportunity") if t in model]
        self.assertEqual(len(tables), 3, sorted(model))
        read = lake_consumer.read_lake(lake, tables)
        problems = list(read.get("problems", []))
        if not read["ok"]:
            problems.append("DuckDB could not read the lake: %s" % read.get("error"))
        for t in tables:
            if "rows" not in read.get("entities", {}).get(t, {}):
                continue
            key = {"account": "accountid", "contact": "contactid",
                   "opportunity": "opportunityid"}[t]
            id_type = {a["name"]: a["dataType"] for a in model[t]["attributes"]}["Id"]
            problems += lake_consumer.compare_entity(read["entities"][t], model[t], src, t, key,
                                                     id_type)
        self.assertEqual(problems, [], "demo: %d differences:\n%s"
                         % (len(problems), "\n".join(problems)))
        self.verify(lake, src)


if __name__ == "__main__":
    unittest.main()
