"""An independent Python reader of a linkwatch lake, for integration tests.

Reads model.json and the CSV partitions the way a consumer would (Python's
csv module, not linkwatch's code) and compares them with a change-tracked
SQLite source: in place, the same Ids with the same versionnumber; append
only, the state rebuilt from the change rows (highest versionnumber per Id,
deletes dropped) equal to the source.
"""
import csv
import io
import json
import os
import sqlite3
import urllib.parse


def read_model(lake):
    with open(os.path.join(lake, "model.json")) as f:
        return json.load(f)


def entity(lake, name):
    for e in read_model(lake)["entities"]:
        if e["name"] == name:
            return e
    return None


def location_path(lake, location):
    """The file a partition location names: an absolute file: URI (what
    linkwatch writes, lake-format.md) or, in older lakes, a path relative to
    the lake folder."""
    if location.startswith("file://"):
        parsed = urllib.parse.urlsplit(location)
        assert parsed.netloc in ("", "localhost"), location
        return urllib.parse.unquote(parsed.path)
    assert "://" not in location, location
    return os.path.join(lake, location)


def read_table(lake, name):
    """(rows, append_only): rows as dicts keyed by attribute name."""
    e = entity(lake, name)
    if e is None:
        return [], False
    names = [a["name"] for a in e["attributes"]]
    append_only = any(a.get("name") == "linkwatch:AppendOnly" and a.get("value") == "true"
                      for a in e.get("annotations", []))
    rows = []
    for p in e["partitions"]:
        with open(location_path(lake, p["location"]), newline="", encoding="utf-8") as f:
            text = f.read()
        assert text == "" or text.endswith("\n"), "%s ends mid-record" % p["location"]
        for rec in csv.reader(io.StringIO(text)):
            row = dict(zip(names, rec + [""] * (len(names) - len(rec))))
            rows.append(row)
    return rows, append_only


def lake_state(lake, name):
    """{Id: versionnumber} of live records, and a list of problems."""
    rows, append_only = read_table(lake, name)
    problems = []
    if not append_only:
        state = {}
        for r in rows:
            if r["Id"] in state:
                problems.append("duplicate Id %s" % r["Id"])
            state[r["Id"]] = int(r["versionnumber"])
        return state, problems
    latest = {}
    seen = set()
    for r in rows:
        key = (r["Id"], r["versionnumber"])
        if key in seen:
            problems.append("duplicate change row %s v%s" % key)
        seen.add(key)
        v = int(r["versionnumber"])
        if r["Id"] not in latest or v > latest[r["Id"]][0]:
            latest[r["Id"]] = (v, r["IsDelete"] == "True")
    return {i: v for i, (v, deleted) in latest.items() if not deleted}, problems


def current_rows(lake, name):
    """{Id: row} of live records as a reader rebuilds them: in place, the
    rows as they are; append only, per Id the row with the highest
    versionnumber, deletes dropped."""
    rows, append_only = read_table(lake, name)
    latest = {}
    for r in rows:
        if r["Id"] not in latest or int(r["versionnumber"]) > int(latest[r["Id"]]["versionnumber"]):
            latest[r["Id"]] = r
    return {i: r for i, r in latest.items() if r["IsDelete"] != "True"}


def source_state(db, table, key):
    """{Id: version} of the source table (version 0 if untouched since tracking began)."""
    con = sqlite3.connect(db, timeout=30)
    try:
        rows = con.execute(
            'SELECT t."%s", coalesce(l.seq, 0) FROM "%s" t LEFT JOIN _linkwatch_changes l '
            'ON l.tbl = ? AND l.id = t."%s" WHERE t."%s" IS NOT NULL'
            % (key, table, key, key), (table,)).fetchall()
        declared = [r[2] for r in con.execute('PRAGMA table_info("%s")' % table)
                    if r[1].lower() == key.lower()][0]
    finally:
        con.close()
    # lake-format.md: a key declared as a GUID type in lower case, any other
    # key exactly as the source holds it.
    guid = declared.strip().upper() in ("GUID", "UUID", "UNIQUEIDENTIFIER")
    return {k.lower() if guid and isinstance(k, str) else str(k): v for k, v in rows}


def source_head(db):
    con = sqlite3.connect(db, timeout=30)
    try:
        return con.execute("SELECT seq FROM _linkwatch_clock").fetchone()[0]
    finally:
        con.close()


def table_head(db, table):
    """The sequence of the table's latest change (0 if none)."""
    con = sqlite3.connect(db, timeout=30)
    try:
        return con.execute("SELECT coalesce(max(seq), 0) FROM _linkwatch_changes WHERE tbl = ?",
                           (table,)).fetchone()[0]
    finally:
        con.close()


def compare(lake, db, table, key):
    """A list of differences between the lake and the source (empty when equal)."""
    got, problems = lake_state(lake, table)
    want = source_state(db, table, key)
    for i in sorted(set(want) - set(got))[:5]:
        problems.append("%s: Id %s missing in the lake" % (table, i))
    for i in sorted(set(got) - set(want))[:5]:
        problems.append("%s: Id %s in the lake but not in the source" % (table, i))
    for i in sorted(set(got) & set(want)):
        if got[i] != want[i]:
            problems.append("%s: Id %s version %s in the lake, %s in the source"
                            % (table, i, got[i], want[i]))
            if len(problems) > 10:
                break
    return problems
