"""The lake read by a real consumer (DuckDB, tests/consumers/duckdb_lake.mjs)
and compared value by value with a SQLite source, as lake-format.md says each
value must read back.

The expected value of every source value is derived here from the spec, not
from linkwatch's code: text as UTF-8 with U+FFFD for each bad sequence
(Python's "replace" decoder follows the Unicode maximal-subpart practice),
BLOBs as base64 ("" for an empty one, never NULL), decimals at the declared
scale, doubles bit-exact (NaN, +-Infinity, -0.0), booleans, datetimes to the
100 ns tick the source had (7 digits at most), GUID keys in lower case.
"""
import base64
import datetime
import decimal
import json
import math
import os
import re
import sqlite3
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONSUMER = os.path.join(ROOT, "tests", "consumers", "duckdb_lake.mjs")
NODE_MODULES = os.environ.get("LINKWATCH_NODE_MODULES",
                              os.path.join(ROOT, "build", "consumers", "node_modules"))


def consumer_env():
    if not os.path.isdir(os.path.join(NODE_MODULES, "@duckdb", "node-api")):
        raise AssertionError(
            "@duckdb/node-api is not installed in %s: `make consumers` (part of `make test`) "
            "installs it" % NODE_MODULES)
    return dict(os.environ, LINKWATCH_NODE_MODULES=NODE_MODULES)


def read_lake(lake, entities=(), timeout=300):
    """One read of the lake by DuckDB: the parsed JSON document (see duckdb_lake.mjs)."""
    args = ["node", CONSUMER, "--lake", lake]
    for e in entities:
        args += ["--entity", e]
    p = subprocess.run(args, capture_output=True, text=True, timeout=timeout, env=consumer_env())
    lines = [l for l in p.stdout.splitlines() if l.strip()]
    if p.returncode == 2 or not lines:
        raise AssertionError("duckdb_lake.mjs failed (exit %d): %s" % (p.returncode, p.stderr))
    return json.loads(lines[-1])


def start_reader_loop(lake, entities, seconds, out, err):
    """A Node process reading the lake in a loop for `seconds`, writing one JSON line per
    read to the open file `out` (a pipe would fill up while the test is busy writing)."""
    args = ["node", CONSUMER, "--lake", lake, "--seconds", str(seconds)]
    for e in entities:
        args += ["--entity", e]
    return subprocess.Popen(args, stdout=out, stderr=err, env=consumer_env())


# --- expected values -------------------------------------------------------------------------

_ISO = re.compile(r"^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?"
                  r"(Z|[+-]00:00)?$")
_EPOCH = datetime.datetime(1970, 1, 1)


def _ticks(text):
    """ISO-8601 text (UTC) as (whole seconds 'YYYY-MM-DDTHH:MM:SS', 100 ns ticks)."""
    m = _ISO.match(text)
    if not m:
        raise ValueError("not an ISO datetime: %r" % text)
    frac = (m.group(7) or "")[:7].ljust(7, "0")  # more than 7 digits: truncated, never rounded up
    whole = "%s-%s-%sT%s:%s:%s" % m.groups()[:6]
    return whole, int(frac)


def _ticks_of_unix(seconds):
    if isinstance(seconds, int):
        whole, ticks = seconds, 0
    else:  # REAL Unix seconds: microseconds are what a double holds
        us = round(seconds * 1e6)
        whole, ticks = us // 1000000, (us % 1000000) * 10
    t = _EPOCH + datetime.timedelta(seconds=whole)
    return t.strftime("%Y-%m-%dT%H:%M:%S").rjust(19, "0"), ticks


def expected_value(cdm_type, sqlite_type, value, scale=10):
    """What a reader must get for a source value (sqlite_type from typeof()), in the form
    normalise_read() gives DuckDB's values; None for NULL."""
    if value is None:
        return None
    if sqlite_type == "blob":
        return base64.b64encode(value).decode()  # lake-format.md: BLOB as base64
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if cdm_type == "string":
        return value if isinstance(value, str) else str(value)
    if cdm_type == "guid":
        return value.lower()
    if cdm_type in ("int64", "int32"):
        return int(value)
    if cdm_type == "double":
        return ("double", float(value))
    if cdm_type == "decimal":
        d = decimal.Decimal(repr(value) if isinstance(value, float) else str(value))
        with decimal.localcontext() as ctx:
            ctx.prec = 100  # DECIMAL(38, s) holds more digits than the default 28
            return d.quantize(decimal.Decimal(1).scaleb(-scale), rounding=decimal.ROUND_HALF_EVEN)
    if cdm_type == "boolean":
        if isinstance(value, (int, float)):
            return value != 0
        return {"true": True, "false": False, "1": True, "0": False}[value.lower()]
    if cdm_type == "dateTime":
        if isinstance(value, (int, float)):
            return _ticks_of_unix(value)
        try:
            return _ticks(value)
        except ValueError:
            return _ticks_of_unix(float(value))  # Unix seconds held as text
    raise AssertionError("no expectation for dataType %s" % cdm_type)


def normalise_read(cdm_type, text):
    """DuckDB's rendering of a typed value, in the form expected_value() gives."""
    if text is None:
        return None
    if cdm_type in ("string", "guid"):
        return text
    if cdm_type in ("int64", "int32"):
        return int(text)
    if cdm_type == "double":
        return ("double", float(text))
    if cdm_type == "decimal":
        return decimal.Decimal(text)
    if cdm_type == "boolean":
        return {"true": True, "false": False}[text]
    if cdm_type == "dateTime":
        return _ticks(text)
    raise AssertionError("no reading of dataType %s" % cdm_type)


def same(a, b):
    if isinstance(a, tuple) and a and a[0] == "double" and isinstance(b, tuple):
        x, y = a[1], b[1]
        if math.isnan(x) or math.isnan(y):
            return math.isnan(x) and math.isnan(y)
        return x == y and math.copysign(1, x) == math.copysign(1, y)
    return a == b


def decimal_scale(attr):
    for t in attr.get("cdm:traits", []) or []:
        if t.get("traitReference") == "is.dataFormat.numeric.shaped":
            for a in t.get("arguments", []):
                if a.get("name") == "scale":
                    return int(a["value"])
    return None


def source_rows(db, table, key):
    """(columns, [(row, change-log version)]): row maps column -> (typeof, value)."""
    con = sqlite3.connect(db, timeout=30)
    con.text_factory = bytes  # text that is not valid UTF-8 must reach us as it is
    try:
        cols = [r[1].decode() if isinstance(r[1], bytes) else r[1]
                for r in con.execute('PRAGMA table_info("%s")' % table)]
        sel = ", ".join('typeof("%s"), "%s"' % (c, c) for c in cols)
        out = []
        for r in con.execute('SELECT %s, coalesce((SELECT max(seq) FROM _linkwatch_changes l '
                             'WHERE l.tbl = ? AND l.id = t."%s"), 0) FROM "%s" t'
                             % (sel, key, table), (table,)):
            row = {}
            for i, c in enumerate(cols):
                t = r[2 * i].decode()
                row[c] = (t, r[2 * i + 1])
            out.append((row, r[-1]))
        return cols, out
    finally:
        con.close()


def compare_entity(read, model_entity, db, table, key, key_type, failed_keys=(),
                   skip_columns=(), limit=40):
    """Differences between what DuckDB read of `table` and the source, as a list of
    messages naming table and record (empty when every value matches)."""
    problems = []
    attrs = model_entity["attributes"]
    names = [a["name"] for a in attrs]
    types = {a["name"]: a["dataType"] for a in attrs}
    scales = {a["name"]: decimal_scale(a) for a in attrs}
    cols, src = source_rows(db, table, key)
    got = {}
    for row in read["rows"]:
        rec = dict(zip(names, row))
        got[rec["Id"]] = rec
    want = {}
    for row, version in src:
        t, v = row[key]
        source_key = v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)
        if source_key in failed_keys:
            continue
        want[str(expected_value(key_type, t, v))] = (row, version)
    for k in sorted(set(want) - set(got)):
        problems.append("%s: record %r is in the source but not read from the lake" % (table, k))
    for k in sorted(set(got) - set(want)):
        problems.append("%s: record %r read from the lake is not in the source" % (table, k))
    for k in sorted(set(want) & set(got)):
        row, version = want[k]
        rec = got[k]
        for c in cols:
            if c in skip_columns:
                continue
            if c not in types:
                problems.append("%s: source column %s is not an attribute in model.json"
                                % (table, c))
                continue
            t, v = row[c]
            exp = expected_value(types[c], t, v, scales.get(c) if scales.get(c) is not None
                                 else 10)
            try:
                val = normalise_read(types[c], rec.get(c))
            except Exception as e:  # noqa: BLE001 - reported as a difference
                val = "unreadable %r (%s)" % (rec.get(c), e)
            if not same(exp, val):
                problems.append("%s: record %r column %s: read %r, the source holds %r (%s %r)"
                                % (table, k, c, val, exp, t, v))
        if not read.get("appendOnly"):
            if rec.get("versionnumber") is None or int(rec["versionnumber"]) != version:
                problems.append("%s: record %r versionnumber %r, the source's change %d"
                                % (table, k, rec.get("versionnumber"), version))
        if len(problems) > limit:
            problems.append("... (stopped after %d differences)" % limit)
            break
    return problems
