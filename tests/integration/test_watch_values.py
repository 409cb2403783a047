"""Hostile values in the state tables (issue 7, points 13, 15 and 17): numbers at
the limits of int64 and beyond, text in number columns, a non-integer choice, an
unknown choice code, unparseable and far-future datetimes. With a running agent,
/api/v1/status, /metrics and `status --json` agree value for value; nothing is
coerced; each bad value is warned about once over many polls and counted at
every poll; the notification and poll counters exist at 0 from the start."""
import json
import os
import re
import shutil
import subprocess
import unittest

from harness import Agent, StateDb, TempDirTest, free_port, http_get, run_cli, wait_for

PROMTOOL = shutil.which("promtool")
ENTITY_STATE = "synapselinkprofileentitystate"


def samples(text, name):
    """{frozenset(labels.items()): value} of the metric `name`."""
    out = {}
    for line in text.splitlines():
        m = re.match(r'^%s\{(.*)\} (\S+)$' % re.escape(name), line)
        if m:
            labels = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(1)))
            out[frozenset(labels.items())] = float(m.group(2))
    return out


def value(text, name, **labels):
    for key, v in samples(text, name).items():
        if all((k, val) in key for k, val in labels.items()):
            return v
    return None


class WatchValuesTest(TempDirTest):
    def setUp(self):
        super().setUp()
        self.port = free_port()
        self.config = self.write("linkwatch.yaml", """
state_db: state.db
http: {listen: 127.0.0.1:%d}
watch: {interval: 1s}
receivers:
  - name: jsonl
    file: {path: alerts.jsonl}
route: {receiver: jsonl}
""" % self.port)
        self.url = "http://127.0.0.1:%d" % self.port

    def get(self, path):
        code, text = http_get(self.url + path)
        self.assertEqual(code, 200, path)
        return text

    def test_hostile_values_read_the_same_everywhere_and_are_warned_once(self):
        agent = Agent(self.config).start()
        self.defer(agent.stop)
        wait_for(lambda: http_get(self.url + "/readyz")[0] == 200, timeout=60, what="ready")

        # Counters exist at 0 before any event.
        metrics = self.get("/metrics")
        self.assertEqual(value(metrics, "linkwatch_notifications_total", receiver="jsonl",
                               integration="file"), 0)
        for reason in ["clientError", "serverError", "authError", "rateLimited", "timeout",
                       "template", "other"]:
            self.assertEqual(value(metrics, "linkwatch_notifications_failed_total",
                                   receiver="jsonl", reason=reason), 0, reason)
        for reason in ["clientError", "authError", "expired"]:
            self.assertEqual(value(metrics, "linkwatch_notifications_dead_total",
                                   receiver="jsonl", reason=reason), 0, reason)
        self.assertIsNotNone(value(metrics, "linkwatch_watch_poll_errors_total", source="local"))

        db = StateDb(os.path.join(self.dir, "state.db"))
        db.add_profile("crm")
        for name in ["max", "huge", "text", "unknown"]:
            db.add_entity("crm", name)
        db.set_entity("max", lakerecordcount=9223372036854775807,
                      crmrecordcount=-9223372036854775808, syncstate=4)
        db.set_entity("huge", lakerecordcount=1e308, crmrecordcount=9.3e18, syncstate=2.5,
                      lastsynceddatatime="yesterday")
        db.set_entity("text", lakerecordcount="abc", crmrecordcount="12abc",
                      syncstate="InProgress",
                      lastsynceddatatime="9999-12-31T23:59:59.999999999Z")
        db.set_entity("unknown", syncstate=3, lakerecordcount=7, crmrecordcount=7)
        ids = dict(db.query("SELECT entityname, %sid FROM %s" % (ENTITY_STATE, ENTITY_STATE)))

        def tables():
            # Each row was written in its own commit and "unknown" last: once
            # its code shows, the agent has read every row's final values.
            status = json.loads(self.get("/api/v1/status"))
            rows = {t["table"]: t for t in status["tables"]}
            done = len(rows) == 4 and rows["unknown"]["syncStatus"] == "3"
            return rows if done else None

        rows = wait_for(tables, timeout=60, what="the final rows in /api/v1/status")
        # Exact int64 values, not -9223372036854775808 for both.
        self.assertEqual(rows["max"]["count"], 9223372036854775807)
        self.assertEqual(rows["max"]["sourceCount"], -9223372036854775808)
        self.assertEqual(rows["max"]["syncStatus"], "Completed")
        # Out of range, text, a non-integer choice: null, never coerced.
        for name in ["huge", "text"]:
            self.assertIsNone(rows[name]["count"], name)
            self.assertIsNone(rows[name]["sourceCount"], name)
            self.assertEqual(rows[name]["syncStatus"], "", name)
        self.assertIsNone(rows["huge"]["lastSyncedOn"])
        self.assertEqual(rows["text"]["lastSyncedOn"], "9999-12-31T23:59:59.999Z")
        self.assertEqual(rows["unknown"]["syncStatus"], "3")

        # /metrics says the same.
        metrics = self.get("/metrics")
        state = samples(metrics, "linkwatch_entity_sync_state")
        states = {dict(k)["entity"]: dict(k)["state"] for k in state}
        self.assertEqual(states, {"max": "Completed", "unknown": "3"})
        lake = {dict(k)["entity"]: v for k, v in
                samples(metrics, "linkwatch_entity_lake_records").items()}
        self.assertEqual(lake, {"max": 9223372036854775807.0, "unknown": 7.0})
        source = {dict(k)["entity"]: v for k, v in
                  samples(metrics, "linkwatch_entity_source_records").items()}
        self.assertEqual(source, {"max": -9223372036854775808.0, "unknown": 7.0})
        synced = {dict(k)["entity"] for k in
                  samples(metrics, "linkwatch_entity_last_synced_timestamp_seconds")}
        self.assertNotIn("huge", synced)
        self.assertIn("text", synced)
        if PROMTOOL:
            check = subprocess.run([PROMTOOL, "check", "metrics"], input=metrics,
                                   capture_output=True, text=True)
            self.assertEqual(check.returncode, 0, check.stdout + check.stderr)
            self.assertEqual((check.stdout + check.stderr).strip(), "")

        # The status page too (it renders the API's values).
        page = self.get("/")
        self.assertIn("9223372036854775807", page)
        self.assertIn("9999-12-31T23:59:59.999Z", page)
        self.assertNotIn("10000-01-01", page)

        # `status --json` agrees with the API.
        code, out, err = run_cli("status", "--config", self.config, "--json")
        self.assertEqual(code, 0, out + err)
        cli = {t["table"]: t for t in json.loads(out)}
        for name in rows:
            for field in ["count", "sourceCount", "syncStatus", "lastSyncedOn"]:
                self.assertEqual(cli[name][field], rows[name][field], (name, field))
        self.assertIn("warning: %s.crmrecordcount of row %s: not a number: \"12abc\""
                      % (ENTITY_STATE, ids["text"]), err)

        # Many polls later: one warning per bad value, and every read counted.
        def polls():
            return value(self.get("/metrics"), "linkwatch_watch_polls_total", source="local")

        first = polls()
        wait_for(lambda: polls() >= first + 5, timeout=60, what="five more polls")
        bad = {("huge", "lakerecordcount"), ("huge", "crmrecordcount"), ("huge", "syncstate"),
               ("huge", "lastsynceddatatime"), ("text", "lakerecordcount"),
               ("text", "crmrecordcount"), ("text", "syncstate")}
        log = agent.output()
        for entity, column in sorted(bad):
            needle = "%s.%s of row %s:" % (ENTITY_STATE, column, ids[entity])
            self.assertEqual(log.count(needle), 1, "%s\n%s" % (needle, log[-3000:]))
        self.assertEqual(log.count("(read as null)"), len(bad), log[-3000:])
        metrics = self.get("/metrics")
        counted = value(metrics, "linkwatch_watch_invalid_values_total", source="local",
                        table=ENTITY_STATE, column="syncstate")
        self.assertGreaterEqual(counted, 2 * 6)  # two bad rows, at least six polls

        # A changed value is warned about once more; the old one is forgotten.
        db.set_entity("text", lakerecordcount="abd")
        needle = "%s.lakerecordcount of row %s: not a number: \"abd\"" % (ENTITY_STATE,
                                                                             ids["text"])
        wait_for(lambda: needle in agent.output(), timeout=60, what="warning for the new value")
        first = polls()
        wait_for(lambda: polls() >= first + 3, timeout=60, what="three more polls")
        self.assertEqual(agent.output().count(needle), 1)
        self.assertEqual(agent.stop(), 0)


if __name__ == "__main__":
    unittest.main()
