"""Sync mode against the Dataverse emulator (issue 11, "Sync mode").

`linkwatch run` syncs the emulator's change-tracked `account` table (100,000
rows, served in pages of 5,000) into a lake. Then creates, updates and deletes
reach it through delta links; a revoked token is refreshed once; a 429 storm
slows the sync without an error; an expired delta token (0x80044352) is a
break that is logged, counted, recorded and paged (SyncBroken), and the full
resync converges. After each step the lake, as a reader rebuilds it, equals
the emulator's store value by value and version by version, and
`lake verify --path` passes. No secret reaches the log.
"""
import decimal
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import break_check  # noqa: E402
import harness  # noqa: E402
import lake_check  # noqa: E402
from test_dataverse_watch import Emulator  # noqa: E402

ROWS = 100000
SECRET = "dv-sync-s3cret-never-shown"
WEBHOOK_KEY = "wh-k3y-never-shown"


def store_rows(store):
    """{accountid: (row data, version)} of the emulator's live account rows."""
    con = sqlite3.connect("file:%s?mode=ro" % store, uri=True, timeout=30)
    try:
        return {i: (json.loads(d), v) for i, d, v in con.execute(
            "SELECT id, data, version FROM emu_row WHERE entity = 'account' AND deleted = 0")}
    finally:
        con.close()


def same_number(lake_text, value):
    if value is None:
        return lake_text == ""
    return lake_text != "" and decimal.Decimal(lake_text) == decimal.Decimal(str(value))


def differences(lake, store):
    """What differs between the lake (as a reader rebuilds it) and the store."""
    try:
        lake_rows = lake_check.current_rows(lake, "account")
    except (OSError, ValueError, KeyError, TypeError) as e:
        return ["lake unreadable: %s" % e]
    want = store_rows(store)
    problems = []
    for i in sorted(set(want) ^ set(lake_rows))[:10]:
        problems.append("Id %s: %s" % (i, "only in the lake" if i in lake_rows else "missing"))
    for i, (data, version) in want.items():
        r = lake_rows.get(i)
        if r is None:
            continue
        if (r["name"] != (data.get("name") or "") or int(r["versionnumber"]) != version
                or not same_number(r["numberofemployees"], data.get("numberofemployees"))
                or not same_number(r["revenue"], data.get("revenue"))
                or r["creditonhold"] != {True: "True", False: "False", None: ""}[
                    data.get("creditonhold")]):
            problems.append("Id %s: lake %r, store %r v%d" % (
                i, {k: r[k] for k in ("name", "numberofemployees", "revenue", "creditonhold",
                                      "versionnumber")}, data, version))
        if len(problems) > 10:
            break
    return problems


class DataverseSyncBase(harness.TempDirTest):
    rows = ROWS
    sync_interval = "300ms"
    source_extra = ""

    def setUp(self):
        super().setUp()
        self.store = os.path.join(self.dir, "emulator.db")
        self.emulator = Emulator(None, ["--store", self.store, "--demo-account-rows",
                                        str(self.rows)], secret=SECRET)
        self.defer(self.emulator.close)
        self.lake = os.path.join(self.dir, "lake")
        self.port = harness.free_port()
        self.cfg = self.write("linkwatch.yaml", """state_db: state.db
http: {listen: 127.0.0.1:%d}
%sprofiles:
  - name: crm
    source:
%s%s    destination: {type: lake, path: lake}
    sync_interval: %s
    tables: [account]
""" % (self.port, break_check.watch_config(), self.emulator.block(6), self.source_extra,
       self.sync_interval))
        self.agent = harness.Agent(self.cfg, env={"DV_SECRET": SECRET,
                                                  "WEBHOOK_KEY": WEBHOOK_KEY}).start()
        self.defer(self.agent.kill)
        self.state = harness.StateDb(os.path.join(self.dir, "state.db"))

    def wait_equal(self, what, timeout=300):
        last = []

        def equal():
            last[:] = differences(self.lake, self.store)
            return not last
        try:
            harness.wait_for(equal, timeout=timeout, interval=0.5, what=what)
        except AssertionError:
            self.fail("%s: the lake differs from the emulator's store:\n%s\n--- log tail:\n%s"
                      % (what, "\n".join(last[:12]), self.agent.output()[-3000:]))

    def control(self, path, body=None):
        return json.loads(self.emulator.control(path, body) or b"{}")

    def errors_counted(self):
        code, body = harness.http_get("http://127.0.0.1:%d/metrics" % self.port)
        self.assertEqual(code, 200)
        return sum(float(v) for labels, v in
                   re.findall(r'^linkwatch_sync_table_errors_total\{([^}]*)\} (\S+)$', body, re.M)
                   if 'entity="account"' in labels)

    def verify(self):
        rc, out, err = harness.run_cli("lake", "verify", "--path", self.lake)
        self.assertEqual(rc, 0, out + err)

    def assert_no_secret(self, secret):
        """Neither `secret` nor a bearer token in the log, the API, the metrics or the
        status page."""
        pages = {"log": self.agent.output()}
        for path in ("/api/v1/status", "/metrics", "/", "/api/v1/alerts"):
            code, body = harness.http_get("http://127.0.0.1:%d%s" % (self.port, path))
            self.assertEqual(code, 200, path)
            pages[path] = body
        for where, text in pages.items():
            self.assertNotIn(secret, text, where)
            self.assertNotIn("Bearer ", text, where)


class DataverseSyncTest(DataverseSyncBase):
    def test_initial_sync_changes_token_refresh_throttling_and_an_expired_delta_token(self):
        self.wait_equal("the initial sync of %d rows" % ROWS)
        self.assertEqual(self.state.query(
            "SELECT crmrecordcount, lakerecordcount FROM synapselinkprofileentitystate "
            "WHERE entityname = 'account'")[0], (ROWS, ROWS))
        # The choices' labels and the lookups' targets, from Dataverse's metadata.
        def metadata(name):
            with open(os.path.join(self.lake, "OptionsetMetadata", name)) as f:
                return f.read().splitlines()
        self.assertIn("account,industrycode,4,False,1033,Brokers",
                      metadata("OptionsetMetadata.csv"))
        self.assertIn("account,1,False,1033,Inactive", metadata("StateMetadata.csv"))
        self.assertIn("account,1,2,False,1033,Inactive", metadata("StatusMetadata.csv"))
        self.assertIn("account,primarycontactid,contact,contactid", metadata("TargetMetadata.csv"))
        counters = self.emulator.counters()
        # Pages of 5,000: 20 of them (21 when the last one is full), one metadata read.
        self.assertLessEqual(counters["entity_set_page"], ROWS // 5000 + 1)

        # Creates, updates and deletes through the delta link.
        ids = sorted(store_rows(self.store))
        self.control("entities/account/rows", [{"name": "new %d" % i, "numberofemployees": i,
                                                "revenue": 0.25 * i} for i in range(50)])
        self.control("entities/account/update", [{"accountid": i, "name": "renamed, \"%s\"" % i,
                                                  "creditonhold": True} for i in ids[:30]])
        self.control("entities/account/delete", ids[30:60])
        self.wait_equal("creates, updates and deletes")
        harness.wait_for(lambda: self.state.query(
            "SELECT crmrecordcount, lakerecordcount FROM synapselinkprofileentitystate "
            "WHERE entityname = 'account'")[0] == (ROWS + 20, ROWS + 20), what="counts")

        # A revoked token: refreshed once, the change arrives.
        tokens = self.emulator.counters()["token"]
        self.control("faults/revoke_tokens")
        self.control("entities/account/update", {"accountid": ids[100], "name": "after 401"})
        self.wait_equal("a change after the token was revoked")
        self.assertEqual(self.emulator.counters()["token"], tokens + 1)

        # A 429 storm slows the sync down without an error.
        self.control("faults/throttle", {"count": 5, "retry_after": 1})
        self.control("entities/account/update", {"accountid": ids[101], "name": "throttled"})
        self.wait_equal("a change during a 429 storm")
        self.assertGreaterEqual(self.emulator.counters()["faults"], 5)
        self.assertEqual(self.errors_counted(), 0, self.agent.output()[-3000:])
        self.verify()

        # An expired delta token: a break, then a full resync that converges.
        self.control("faults/expire_delta_tokens")
        self.control("entities/account/update", {"accountid": ids[102], "name": "after expiry"})
        self.control("entities/account/delete", ids[103])
        harness.wait_for(lambda: "the sync broke (delta_token_expired)" in self.agent.output(),
                         timeout=60, what="the break logged")
        break_check.wait_counted(self.port, "delta_token_expired", "account")
        break_check.wait_alerted(self.dir, "SyncBroken", "account")
        self.wait_equal("the resync after the delta token expired")
        self.assertIn("0x80044352", self.agent.output())
        self.assertIn(("delta_token_expired",), self.state.query(
            "SELECT reason FROM linkwatch_sync_break WHERE entity = 'account'"))
        self.verify()
        self.assert_no_secret(SECRET)


class DataverseWebhookTest(DataverseSyncBase):
    """Rounds an hour apart: only the webhook's poke can bring a change over sooner."""
    rows = 200
    sync_interval = "1h"
    source_extra = "      webhook_key: {env: WEBHOOK_KEY}\n"

    def webhook_results(self):
        code, body = harness.http_get("http://127.0.0.1:%d/metrics" % self.port)
        self.assertEqual(code, 200)
        return {labels: float(v) for labels, v in re.findall(
            r'^linkwatch_dataverse_webhook_requests_total\{([^}]*)\} (\S+)$', body, re.M)}

    def test_a_webhook_brings_a_change_to_the_lake_without_waiting_for_the_interval(self):
        self.wait_equal("the initial sync")
        hook = "http://127.0.0.1:%d/api/v1/dataverse/webhook/crm" % self.port
        ids = sorted(store_rows(self.store))
        for n, in_query in enumerate((False, True)):
            self.control("webhooks/clear")
            self.control("webhooks", {"url": hook, "key": WEBHOOK_KEY, "entity": "account",
                                      "key_in_query": in_query})
            self.control("entities/account/update", {"accountid": ids[n], "name": "pushed %d" % n})
            self.wait_equal("a change pushed by a webhook (key in %s)"
                            % ("?code=" if in_query else "the header"), timeout=120)
        self.control("entities/account/delete", ids[5])
        self.control("entities/account/rows", {"name": "created and pushed"})
        self.wait_equal("a delete and a create pushed", timeout=120)
        attempts = json.loads(urllib.request.urlopen(
            self.emulator.url + "/_emulator/webhooks/attempts", timeout=10).read())
        self.assertTrue(attempts)
        self.assertTrue(all(a["status"] == 202 for a in attempts), attempts)
        self.assertEqual(self.webhook_results().get('profile="crm",result="accepted"'),
                         len(attempts))

        # A wrong key is refused (401) and pokes nothing.
        self.control("webhooks/clear")
        self.control("webhooks", {"url": hook, "key": "wrong", "entity": "account"})
        self.control("entities/account/update", {"accountid": ids[9], "name": "not pushed"})
        harness.wait_for(lambda: self.webhook_results().get(
            'profile="crm",result="unauthorized"'), timeout=60, what="the refused call counted")
        self.assertNotEqual(lake_check.current_rows(self.lake, "account")[ids[9]]["name"],
                            "not pushed")
        self.assert_no_secret(WEBHOOK_KEY)
        self.assert_no_secret(SECRET)
        # The lake compared with the environment itself, row by row.
        self.control("entities/account/update", {"accountid": ids[9], "name": "pushed again"})
        self.control("webhooks/clear")
        self.control("webhooks", {"url": hook, "key": WEBHOOK_KEY, "entity": "account"})
        self.control("entities/account/update", {"accountid": ids[10], "name": "and again"})
        self.wait_equal("the last changes", timeout=120)
        os.environ.update({"DV_SECRET": SECRET, "WEBHOOK_KEY": WEBHOOK_KEY})
        try:
            rc, out, err = harness.run_cli("lake", "verify", "--config", self.cfg, "--profile",
                                           "crm")
        finally:
            for k in ("DV_SECRET", "WEBHOOK_KEY"):
                os.environ.pop(k, None)
        self.assertEqual(rc, 0, out + err)
        self.assertIn("source=same", out)


class ExampleConfigTest(harness.TempDirTest):
    """examples/dataverse-emulator.yaml does what its comments say: against the
    emulator (its ports swapped for free ones), `check-config` passes, the table
    syncs, a webhook brings a new row over, and the watch source reads the sync's
    state through the Web API."""

    def test_the_dataverse_emulator_example_runs_as_documented(self):
        example = os.path.join(harness.ROOT, "examples")
        shutil.copytree(os.path.join(example, "rules"), os.path.join(self.dir, "rules"))
        store = os.path.join(self.dir, "emulator.db")
        emulator = Emulator(os.path.join(self.dir, "dataverse-demo-state.db"),
                            ["--store", store, "--demo-account-rows", "500"], secret="secret")
        self.defer(emulator.close)
        port = harness.free_port()
        with open(os.path.join(example, "dataverse-emulator.yaml")) as f:
            text = f.read()
        self.assertIn("http://127.0.0.1:8766", text)
        text = text.replace("http://127.0.0.1:8766", emulator.url).replace(
            "127.0.0.1:9465", "127.0.0.1:%d" % port)
        cfg = self.write("dataverse-emulator.yaml", text)
        env = {"DATAVERSE_CLIENT_SECRET": "secret", "LINKWATCH_WEBHOOK_KEY": "demo-key"}
        p = subprocess.run([harness.BINARY, "check-config", "--config", cfg], capture_output=True,
                           text=True, timeout=60, env=dict(os.environ, **env))
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        agent = harness.Agent(cfg, env=env).start()
        self.defer(agent.kill)
        lake = os.path.join(self.dir, "dataverse-lake")

        def wait_equal(what):
            last = []

            def equal():
                last[:] = differences(lake, store)
                return not last
            try:
                harness.wait_for(equal, timeout=120, interval=0.5, what=what)
            except AssertionError:
                self.fail("%s: %s\n%s" % (what, last[:5], agent.output()[-2000:]))
        wait_equal("the initial sync")
        emulator.control("webhooks", {
            "url": "http://127.0.0.1:%d/api/v1/dataverse/webhook/crm" % port,
            "key": "demo-key", "entity": "account"})
        emulator.control("entities/account/rows", {"name": "Fabrikam"})
        wait_equal("the pushed row")  # sync_interval is 10m

        def watched():
            code, body = harness.http_get("http://127.0.0.1:%d/metrics" % port)
            return code == 200 and harness.metric(
                body, "linkwatch_entity_lake_records", source="emulator", profile="crm",
                entity="account") == 501
        harness.wait_for(watched, timeout=120, what="the sync's state read through the Web API")
        self.assertEqual(agent.stop(), 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
