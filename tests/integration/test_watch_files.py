"""A watcher that never goes blind (issue 7 points 10, 11, 14, 16), with a running agent:
watched files swapped or deleted under it, its own state store deleted, a reload with
invalid rules, and a store locked by another writer. Every wait is on a condition with a
generous overall timeout (the machine may be busy); the checks that matter compare counts
of polls, never wall-clock sleeps."""
import json
import os
import sys
import shutil
import sqlite3
import tempfile
import threading
import time
import unittest
import urllib.request

from harness import metric, Agent, Receiver, TempDirTest, free_port, http_get, wait_for

TOKEN = "s3cret-token"
INTERVAL = 0.5  # watch.interval in seconds

RULES = """groups:
  - name: g
    rules:
      - alert: InitialSyncFailed
        expr: initialsyncstate == "CompletedWithFailures"
        labels: {severity: critical}
"""

CONFIG = """
state_db: state.db
http: {listen: 127.0.0.1:%(port)d, api_token: %(token)s}
watch:
  interval: 500ms
  source_unreachable_for: 1s
  rule_files: [rules.yaml]
  sources:
    - {name: local, type: local}
    - {name: ext, type: local, path: watched.db}
receivers: [{name: hooks, webhook: {url: %(url)s}}]
route: {receiver: hooks, group_wait: 0s, group_interval: 500ms, repeat_interval: 1h}
"""


def write_state_file(path, rows):
    """A foreign state file: entity-state rows (entityname, initialsyncstate)."""
    con = sqlite3.connect(path)
    try:
        con.execute("CREATE TABLE synapselinkprofileentitystate "
                    "(synapselinkprofileentitystateid TEXT, entityname TEXT, "
                    "initialsyncstate INTEGER)")
        con.executemany("INSERT INTO synapselinkprofileentitystate VALUES (?, ?, ?)",
                        [("id-%s" % e, e, s) for e, s in rows])
        con.commit()
    finally:
        con.close()




class WatchFilesTest(TempDirTest):
    def setUp(self):
        super().setUp()
        self.receiver = Receiver()
        self.defer(self.receiver.close)
        self.port = free_port()
        self.base = "http://127.0.0.1:%d" % self.port
        self.write("rules.yaml", RULES)
        self.watched = os.path.join(self.dir, "watched.db")
        write_state_file(self.watched, [("a", 4)])
        self.config = self.write("linkwatch.yaml", CONFIG % {
            "port": self.port, "token": TOKEN, "url": self.receiver.url})
        self.agent = Agent(self.config).start()
        self.defer(self.agent.kill)
        wait_for(lambda: http_get(self.base + "/readyz")[0] == 200, timeout=60, what="ready")

    def metrics(self):
        return http_get(self.base + "/metrics")[1]

    def polls(self, source):
        return metric(self.metrics(), "linkwatch_watch_polls_total", source=source) or 0

    def status(self):
        return json.loads(http_get(self.base + "/api/v1/status")[1])

    def source(self, name):
        return [s for s in self.status()["sources"] if s["name"] == name][0]

    def firing(self, alertname, **labels):
        return self.receiver.has_alert(alertname, "firing", **labels)

    def within_polls(self, predicate, polls, what):
        """Waits for predicate; asserts it held before `polls` more polls of ext."""
        start, t0 = self.polls("ext"), time.time()
        wait_for(predicate, timeout=60, what=what)
        took = self.polls("ext") - start
        print("\n%s: %d polls, %.2fs" % (what, took, time.time() - t0), file=sys.stderr)
        self.assertLessEqual(took, polls + 1, "%s took too many polls" % what)

    def post_reload(self):
        req = urllib.request.Request(self.base + "/-/reload", data=b"", method="POST",
                                     headers={"Authorization": "Bearer " + TOKEN})
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    # --- point 10 -----------------------------------------------------------------------------
    def test_swapped_file_is_reopened_by_mv_and_by_rm_then_cp(self):
        new = os.path.join(self.dir, "new.db")
        write_state_file(new, [("b", 8)])
        os.rename(new, self.watched)
        self.within_polls(lambda: self.firing("InitialSyncFailed", entity="b", source="ext"), 2,
                          "alert from the file moved in place")

        write_state_file(new, [("c", 8)])
        os.remove(self.watched)
        shutil.copy(new, self.watched)
        self.within_polls(lambda: self.firing("InitialSyncFailed", entity="c", source="ext"), 2,
                          "alert from the file copied in place")
        self.assertTrue(self.source("ext")["up"])
        # The agent holds no deleted file open.
        fds = "/proc/%d/fd" % self.agent.proc.pid
        links = []
        for f in os.listdir(fds):
            try:
                links.append(os.readlink(os.path.join(fds, f)))
            except FileNotFoundError:  # closed since the listing (a request, a poll)
                pass
        self.assertFalse([l for l in links if "watched.db" in l and l.endswith("(deleted)")],
                         links)

    def test_deleted_watched_file_fires_source_unreachable(self):
        os.remove(self.watched)
        wait_for(lambda: not self.source("ext")["up"], timeout=60, what="ext down")
        self.assertIn("does not exist", self.source("ext")["lastError"])
        wait_for(lambda: self.firing("SourceUnreachable", source="ext"), timeout=60,
                 what="SourceUnreachable notified")

    # --- point 11 -----------------------------------------------------------------------------
    def deleted_store_copy(self):
        """The unlinked state.db the agent may still hold, with its WAL, copied for reading."""
        pid = self.agent.proc.pid
        out = tempfile.mkdtemp(prefix="lw_deleted_")
        self.defer(lambda: shutil.rmtree(out, ignore_errors=True))
        fds = "/proc/%d/fd" % pid
        for f in os.listdir(fds):
            try:
                target = os.readlink(os.path.join(fds, f))
            except OSError:
                continue
            if target == os.path.join(self.dir, "state.db") + " (deleted)":
                shutil.copy(os.path.join(fds, f), os.path.join(out, "copy.db"))
                break
        else:
            return None
        wal = os.path.join(self.dir, "state.db-wal")
        if os.path.exists(wal):
            shutil.copy(wal, os.path.join(out, "copy.db-wal"))
        return os.path.join(out, "copy.db")

    def test_deleted_state_store_fails_readiness_and_is_never_written(self):
        os.remove(os.path.join(self.dir, "state.db"))
        self.within_polls(lambda: http_get(self.base + "/readyz")[0] == 503, 2,
                          "readyz 503 after state.db was deleted")
        code, body = http_get(self.base + "/readyz")
        self.assertIn("state store lost", body)
        store = self.status()["stateStore"]
        self.assertFalse(store["up"])
        self.assertIn("deleted", store["error"])
        wait_for(lambda: metric(self.metrics(), "linkwatch_state_store_up") == 0, timeout=60,
                 what="state_store_up 0")
        # The local source reads the store: it is unreachable.
        wait_for(lambda: not self.source("local")["up"], timeout=60, what="local down")

        # A new alert: its state and its notification must not go into the deleted file.
        new = os.path.join(self.dir, "new.db")
        write_state_file(new, [("z", 8)])
        os.rename(new, self.watched)
        wait_for(lambda: any(a["labels"].get("entity") == "z" for a in json.loads(
            http_get(self.base + "/api/v1/alerts")[1])), timeout=60, what="alert z in the API")
        wait_for(lambda: (metric(self.metrics(), "linkwatch_state_store_write_errors_total",
                                 operation="alert_state") or 0) > 0
                 and (metric(self.metrics(), "linkwatch_state_store_write_errors_total",
                             operation="outbox") or 0) > 0,
                 timeout=60, what="refused writes counted")
        copy = self.deleted_store_copy()
        self.assertIsNotNone(copy, "the deleted state.db is not open any more?")
        con = sqlite3.connect(copy)
        try:
            alerts = [r[0] for r in con.execute("SELECT labels FROM linkwatch_alert")]
            outbox = [r[0] for r in con.execute("SELECT payload FROM linkwatch_outbox")]
        finally:
            con.close()
        self.assertFalse([a for a in alerts if '"z"' in a], alerts)
        self.assertFalse([p for p in outbox if '"z"' in p], outbox)
        self.assertIn("state store lost", self.agent.output())
        # Logged once, not on every round.
        self.assertLessEqual(self.agent.output().count("state store lost"), 2)

    # --- point 14 -----------------------------------------------------------------------------
    def test_reload_answers_500_with_the_error_then_200(self):
        m = self.metrics()
        self.assertEqual(metric(m, "linkwatch_config_last_reload_successful"), 1)
        started = metric(m, "linkwatch_config_last_reload_success_timestamp_seconds")
        self.assertGreater(started, 0)

        self.write("rules.yaml", RULES.replace("CompletedWithFailures", "Exploded"))
        code, body = self.post_reload()
        self.assertEqual(code, 500, body)
        self.assertIn("rules.yaml:5:", json.loads(body)["error"])
        self.assertEqual(metric(self.metrics(), "linkwatch_config_last_reload_successful"), 0)
        self.assertEqual(
            metric(self.metrics(), "linkwatch_config_last_reload_success_timestamp_seconds"),
            started)

        self.write("rules.yaml", RULES.replace("InitialSyncFailed", "Renamed"))
        code, body = self.post_reload()
        self.assertEqual(code, 200, body)
        self.assertEqual(metric(self.metrics(), "linkwatch_config_last_reload_successful"), 1)
        self.assertGreaterEqual(
            metric(self.metrics(), "linkwatch_config_last_reload_success_timestamp_seconds"),
            started)
        new = os.path.join(self.dir, "new.db")
        write_state_file(new, [("r", 8)])
        os.rename(new, self.watched)
        wait_for(lambda: self.firing("Renamed", entity="r"), timeout=60, what="new rule in use")

    # --- point 16 -----------------------------------------------------------------------------
    def test_locked_store_does_not_stretch_polls(self):
        held = threading.Event()
        release = threading.Event()
        hold_for = 4.0

        def hold_lock():
            con = sqlite3.connect(os.path.join(self.dir, "state.db"), timeout=30,
                                  isolation_level=None)
            try:
                con.execute("BEGIN IMMEDIATE")
                con.execute("DELETE FROM linkwatch_nflog WHERE 0")
                held.set()
                release.wait(60)
                con.execute("ROLLBACK")
            finally:
                con.close()

        holder = threading.Thread(target=hold_lock, daemon=True)
        holder.start()
        self.assertTrue(held.wait(30), "could not take the write lock")
        t0 = time.time()
        polls0 = self.polls("ext")
        # A change that needs the store: the alert's state and its notification.
        new = os.path.join(self.dir, "new.db")
        write_state_file(new, [("locked", 8)])
        os.rename(new, self.watched)
        wait_for(lambda: (metric(self.metrics(), "linkwatch_state_store_write_errors_total",
                                 operation="alert_state") or 0) >= 2,
                 timeout=60, what="failed alert-state writes counted")
        while time.time() - t0 < hold_for:  # the scenario: another writer holds the store
            time.sleep(0.1)
        polls = self.polls("ext") - polls0
        elapsed = time.time() - t0
        release.set()
        holder.join(30)
        print("\nlocked store: %d polls of ext in %.1fs (interval %.1fs)" % (polls, elapsed, INTERVAL),
              file=sys.stderr)
        # With a 5 s busy timeout per write this was one poll in 5 s; the interval is 0.5 s.
        self.assertGreaterEqual(polls, int(elapsed / INTERVAL / 2),
                                "%d polls in %.1fs while the store was locked" % (polls, elapsed))
        self.assertGreater(metric(self.metrics(), "linkwatch_state_store_write_errors_total",
                                  operation="outbox") or 0, 0)
        # Nothing was lost: once the lock is gone the alert is notified.
        wait_for(lambda: self.firing("InitialSyncFailed", entity="locked"), timeout=60,
                 what="alert notified after the lock")

    def test_crash_while_the_store_is_locked_loses_no_alert(self):
        held = threading.Event()
        release = threading.Event()

        def hold_lock():
            con = sqlite3.connect(os.path.join(self.dir, "state.db"), timeout=30,
                                  isolation_level=None)
            try:
                con.execute("BEGIN IMMEDIATE")
                con.execute("DELETE FROM linkwatch_nflog WHERE 0")
                held.set()
                release.wait(120)
                con.execute("ROLLBACK")
            finally:
                con.close()

        holder = threading.Thread(target=hold_lock, daemon=True)
        holder.start()
        self.assertTrue(held.wait(30), "could not take the write lock")
        new = os.path.join(self.dir, "new.db")
        write_state_file(new, [("crashed", 8)])
        os.rename(new, self.watched)
        wait_for(lambda: any(a["labels"].get("entity") == "crashed" and a["state"] == "firing"
                             for a in json.loads(http_get(self.base + "/api/v1/alerts")[1])),
                 timeout=60, what="alert firing in memory while the store is locked")
        wait_for(lambda: (metric(self.metrics(), "linkwatch_state_store_write_errors_total",
                                 operation="outbox") or 0) > 0,
                 timeout=60, what="its notification could not be queued")
        self.agent.kill()  # crash before anything reached the store
        release.set()
        holder.join(30)
        self.assertFalse(self.firing("InitialSyncFailed", entity="crashed"))
        self.agent = Agent(self.config).start()
        self.defer(self.agent.kill)
        wait_for(lambda: self.firing("InitialSyncFailed", entity="crashed"), timeout=60,
                 what="alert notified after the restart")


if __name__ == "__main__":
    unittest.main()
