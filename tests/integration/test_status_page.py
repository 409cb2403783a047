"""The status page (`GET /`) in a real browser: headless Chromium.

`linkwatch run` watches a state store in which one table stalls until
SyncStalled fires; Chromium (Debian's package, /usr/bin/chromium) then loads
http://127.0.0.1:PORT/, dumps the DOM it built and takes a screenshot. The DOM
must show the firing alert with the stalled table and its profile, the Tables
and Watch sources sections, and never the config's api_token.

Chromium gets a hard time limit, is confined to loopback (--host-resolver-rules
plus background networking off) and runs on a throw-away profile and HOME.
"""
import json
import os
import signal
import struct
import subprocess
import time
import unittest
import urllib.request
from html.parser import HTMLParser

from harness import Agent, StateDb, TempDirTest, free_port, http_get, iso, wait_for

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_TIMEOUT = 60  # seconds for one Chromium run; a hang fails the test
API_TOKEN = "lw-page-token-9c41e7d2b58a"

RULES = """
groups:
  - name: synapse-link
    rules:
      - alert: SyncStalled
        expr: profile.profilestate == "Active" and syncstate == "InProgress" and age(lastsynceddatatime) > 15m
        for: 1s
        labels: {severity: critical}
        annotations:
          summary: "{{ entityname }} in {{ profile }} has not synced for {{ age(lastsynceddatatime) }}"
"""

# Headless, as root, without a GPU or a big /dev/shm, and with nothing that
# talks to the network on its own: every host name but 127.0.0.1 fails to
# resolve, so the page under test is the only thing Chromium can reach.
CHROMIUM_FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--disable-domain-reliability",
    "--disable-client-side-phishing-detection",
    "--disable-features=Translate,OptimizationHints,MediaRouter,AutofillServerCommunication",
    "--metrics-recording-only",
    "--mute-audio",
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
]


class PageParser(HTMLParser):
    """Collects the title, the <h2> sections and, per section, each table row's cell texts."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.title = ""
        self.charset = None
        self.sections = {}  # h2 id -> {"heading": text, "rows": [[cell text, ...]], "text": str}
        self.order = []
        self._section = None
        self._in = None  # "title" | "h2" | "cell"
        self._row = None
        self._cell = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "meta" and "charset" in attrs:
            self.charset = attrs["charset"]
        elif tag == "title":
            self._in = "title"
        elif tag == "h2":
            self._section = attrs.get("id", "")
            self.sections[self._section] = {"heading": "", "rows": [], "text": ""}
            self.order.append(self._section)
            self._in = "h2"
        elif tag == "tr" and self._section is not None:
            self._row = []
            self.sections[self._section]["rows"].append(self._row)
        elif tag in ("td", "th") and self._row is not None:
            self._cell = ""
            self._in = "cell"

    def handle_endtag(self, tag):
        if tag in ("title", "h2"):
            self._in = None
        elif tag in ("td", "th") and self._cell is not None:
            self._row.append(" ".join(self._cell.split()))
            self._cell = None
            self._in = None
        elif tag == "tr":
            self._row = None

    def handle_data(self, data):
        if self._in == "title":
            self.title += data
        elif self._in == "h2":
            self.sections[self._section]["heading"] += data
        elif self._in == "cell":
            self._cell += data
        if self._section is not None and self._in != "h2":
            self.sections[self._section]["text"] += data


def png_size(path):
    """(width, height) from a PNG's IHDR chunk; fails on anything not a PNG."""
    with open(path, "rb") as f:
        head = f.read(24)
    if len(head) < 24 or head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        raise AssertionError("%s is not a PNG (starts %r)" % (path, head[:16]))
    return struct.unpack(">II", head[16:24])


class StatusPageInChromiumTest(TempDirTest):
    def setUp(self):
        if not os.path.exists(CHROMIUM):
            raise unittest.SkipTest(
                "%s is absent (Debian package 'chromium'; `make test-deps` installs it)" % CHROMIUM)
        super().setUp()
        self.browsers = []
        self.defer(self._kill_browsers)

    # --- Chromium -------------------------------------------------------------------------------

    def _kill_browsers(self):
        for proc in self.browsers:
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait(10)

    def chromium(self, name, *args):
        """Runs Chromium once in its own process group; returns its stdout (bytes)."""
        home = os.path.join(self.dir, "chromium-" + name)
        os.makedirs(home)
        env = dict(os.environ, HOME=home, XDG_CONFIG_HOME=os.path.join(home, ".config"),
                   XDG_CACHE_HOME=os.path.join(home, ".cache"), TMPDIR=home)
        cmd = [CHROMIUM] + CHROMIUM_FLAGS + ["--user-data-dir=" + os.path.join(home, "profile")]
        cmd += list(args)
        err_path = os.path.join(home, "stderr.log")
        with open(err_path, "wb") as err:
            proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err,
                                    stdin=subprocess.DEVNULL, env=env, start_new_session=True)
            self.browsers.append(proc)
            timed_out = False
            try:
                out, _ = proc.communicate(timeout=CHROMIUM_TIMEOUT)
            except subprocess.TimeoutExpired:
                timed_out = True
                os.killpg(proc.pid, signal.SIGKILL)
                proc.communicate()
        if timed_out:
            self.fail("Chromium (%s) did not finish within %ss; stderr tail:\n%s"
                      % (name, CHROMIUM_TIMEOUT, self._tail(err_path)))
        # The launcher script exec's the browser, which may leave helpers behind.
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.assertEqual(proc.returncode, 0, "Chromium (%s) exited %s; stderr tail:\n%s"
                         % (name, proc.returncode, self._tail(err_path)))
        return out

    @staticmethod
    def _tail(path, lines=25):
        """The last lines of Chromium's stderr, less its D-Bus noise (no bus in a container)."""
        with open(path, "rb") as f:
            text = f.read().decode("utf-8", "replace").splitlines()
        return "\n".join([l for l in text if "dbus/" not in l][-lines:])

    # --- the agent ------------------------------------------------------------------------------

    def start_agent(self):
        self.port = free_port()
        self.write("rules/synapse.yaml", RULES)
        self.config = self.write("linkwatch.yaml", """
state_db: state.db
http: {listen: 127.0.0.1:%d, api_token: %s}
watch:
  interval: 1s
  rule_files: [rules/*.yaml]
receivers:
  - name: console
    log: {}
route:
  receiver: console
  group_by: [alertname, profile, entity]
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 4h
""" % (self.port, API_TOKEN))
        self.agent = Agent(self.config).start()
        self.defer(self.agent.kill)  # after stop() below (cleanups run last-first)
        self.defer(self.agent.stop)
        self.base = "http://127.0.0.1:%d/" % self.port
        wait_for(lambda: http_get(self.base + "readyz")[0] == 200, what="readyz")
        self.db = StateDb(os.path.join(self.dir, "state.db"))

    def firing(self):
        code, text = http_get(self.base + "api/v1/alerts")
        if code != 200:
            return None
        for a in json.loads(text):
            labels = a.get("labels", {})
            if (a.get("state") == "firing" and labels.get("alertname") == "SyncStalled"
                    and labels.get("entity") == "account" and labels.get("profile") == "crm"):
                return a
        return None

    # --- the test -------------------------------------------------------------------------------

    def test_status_page_renders_firing_alert_tables_and_sources(self):
        started = time.time()
        self.start_agent()
        self.db.add_profile("crm")
        for table in ("account", "contact", "opportunity"):
            self.db.add_entity("crm", table)
        # account stalls: its last sync is an hour old.
        self.db.set_entity("account", lastsynceddatatime=iso(time.time() - 3600))
        alert = wait_for(self.firing, timeout=30, what="SyncStalled firing in /api/v1/alerts")

        with urllib.request.urlopen(self.base, timeout=5) as r:
            self.assertEqual(r.status, 200)
            self.assertEqual(r.headers.get("Content-Type"), "text/html; charset=utf-8")

        # 1. The DOM Chromium built from the page.
        dom_bytes = self.chromium("dom", "--dump-dom", self.base)
        dom = dom_bytes.decode("utf-8")  # strict: Chromium serializes UTF-8
        self.assertNotIn("\ufffd", dom, "replacement characters: the page decoded wrongly")
        self.assertNotIn(API_TOKEN, dom, "the api_token leaked into the status page")
        page = PageParser()
        page.feed(dom)
        page.close()
        self.assertEqual(page.title, "linkwatch")
        self.assertEqual((page.charset or "").lower(), "utf-8")
        for sid, heading in (("alerts", "Alerts"), ("tables", "Tables"),
                             ("sources", "Watch sources"), ("silences", "Silences")):
            self.assertIn(sid, page.sections, "section #%s missing; sections: %s"
                          % (sid, page.order))
            self.assertEqual(page.sections[sid]["heading"].strip(), heading)

        # Alerts: a firing SyncStalled row for crm/account with its summary.
        rows = page.sections["alerts"]["rows"]
        self.assertEqual(rows[0][:2], ["State", "Alert"], rows)
        stalled = [r for r in rows[1:] if len(r) >= 4 and r[1] == "SyncStalled"]
        self.assertEqual(len(stalled), 1, rows)
        state, _, labels, summary = stalled[0][:4]
        self.assertEqual(state, "firing")
        self.assertIn("entity=account", labels.split())
        self.assertIn("profile=crm", labels.split())
        self.assertIn("severity=critical", labels.split())
        self.assertIn("account in crm has not synced for 1h", summary)
        self.assertIn('id="alert-%s"' % alert["fingerprint"], dom)

        # Tables: one row per linked table, account among them under profile crm.
        rows = page.sections["tables"]["rows"]
        self.assertEqual(rows[0][:4], ["Source", "Profile", "Table", "Sync status"], rows)
        by_table = {r[2]: r for r in rows[1:] if len(r) >= 9}
        self.assertEqual(sorted(by_table), ["account", "contact", "opportunity"], rows)
        self.assertEqual(by_table["account"][:4], ["local", "crm", "account", "InProgress"])
        self.assertIn("ago)", by_table["account"][5])  # last synced on, with its age

        # Watch sources: the local state store, up.
        rows = page.sections["sources"]["rows"]
        self.assertEqual(rows[0], ["Source", "State", "Last poll", "Last error"], rows)
        self.assertIn(["local", "up"], [r[:2] for r in rows[1:]], rows)

        # 2. A screenshot: a real PNG of the window's size with some content.
        shot = os.path.join(self.dir, "page.png")
        self.chromium("shot", "--screenshot=" + shot, "--window-size=1280,900",
                      "--hide-scrollbars", self.base)
        self.assertTrue(os.path.isfile(shot), "no screenshot written")
        self.assertEqual(png_size(shot), (1280, 900))
        self.assertGreater(os.path.getsize(shot), 8 * 1024, "screenshot suspiciously small")
        if os.environ.get("LW_SCREENSHOT_TO"):
            with open(shot, "rb") as src, open(os.environ["LW_SCREENSHOT_TO"], "wb") as dst:
                dst.write(src.read())

        self.assertNotIn(API_TOKEN, self.agent.output())
        self.assertEqual(self.agent.stop(), 0)
        self.assertLess(time.time() - started, 60)


if __name__ == "__main__":
    unittest.main()
