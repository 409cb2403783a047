"""Helpers for linkwatch's integration tests.

Each test starts the real `build/linkwatch` binary on a temporary folder and
talks to it over loopback: a webhook receiver that records Alertmanager-v4
posts, plain SQL on the state store, HTTP to the agent's API. Runs under
Debian's /usr/bin/python3 (standard library + python3-yaml only).
"""
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BINARY = os.environ.get("LINKWATCH_BIN", os.path.join(ROOT, "build", "linkwatch"))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def percentile(values, p):
    """The nearest-rank p-th percentile of values (nan when empty)."""
    s = sorted(values)
    if not s:
        return float("nan")
    k = min(len(s) - 1, max(0, int(round(p / 100.0 * len(s) + 0.5)) - 1))
    return s[k]


def wait_for(predicate, timeout=30.0, interval=0.05, what="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("timed out after %.1fs waiting for %s" % (timeout, what))


class Receiver:
    """A webhook receiver on 127.0.0.1:<port> recording every POST.

    `status` (an int, or a callable returning one) scripts the answer.
    """

    def __init__(self, status=200):
        self.status = status
        self.posts = []  # (path, headers, parsed JSON body, arrival time, raw body)
        self.attempts = 0
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                with receiver.lock:
                    receiver.attempts += 1
                    code = receiver.status() if callable(receiver.status) else receiver.status
                    if 200 <= code < 300:
                        receiver.posts.append(
                            (self.path, dict(self.headers), json.loads(body), time.time(), body))
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.url = "http://127.0.0.1:%d/alerts" % self.port
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def bodies(self):
        with self.lock:
            return [p[2] for p in self.posts]

    def alerts(self, status=None):
        """Every alert of every post as (post status, alert) pairs."""
        out = []
        for body in self.bodies():
            for a in body["alerts"]:
                if status is None or a["status"] == status:
                    out.append(a)
        return out

    def has_alert(self, alertname, status, **labels):
        for a in self.alerts(status):
            if a["labels"].get("alertname") != alertname:
                continue
            if all(a["labels"].get(k) == v for k, v in labels.items()):
                return True
        return False

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class StateDb:
    """Plain-SQL access to the six tables, as any other tool would write them."""

    def __init__(self, path):
        self.path = path

    def execute(self, sql, params=()):
        con = sqlite3.connect(self.path, timeout=10)
        try:
            with con:
                con.execute(sql, params)
        finally:
            con.close()

    def script(self, sql):
        con = sqlite3.connect(self.path, timeout=10)
        try:
            con.executescript(sql)
            con.commit()
        finally:
            con.close()

    def query(self, sql, params=()):
        con = sqlite3.connect(self.path, timeout=10)
        try:
            return con.execute(sql, params).fetchall()
        finally:
            con.close()

    def add_profile(self, name, state=1):
        self.execute("INSERT INTO synapselinkprofile(name, profilestate, activationtime) "
                     "VALUES (?, ?, ?)", (name, state, iso(time.time())))

    def add_entity(self, profile, entity, syncstate=2, initial=4, synced=None, crm=100,
                   lake=100, append_only=0, added=None):
        now = time.time()
        self.execute(
            "INSERT INTO synapselinkprofileentity(entityname, profile, appendonlymode) "
            "SELECT ?, synapselinkprofileid, ? FROM synapselinkprofile WHERE name = ?",
            (entity, append_only, profile))
        self.execute(
            "INSERT INTO synapselinkprofileentitystate(entityname, profile, profileentity, "
            "syncstate, initialsyncstate, lastsynceddatatime, crmrecordcount, lakerecordcount, "
            "additiontime) SELECT ?, p.synapselinkprofileid, e.synapselinkprofileentityid, ?, ?, "
            "?, ?, ?, ? FROM synapselinkprofile p JOIN synapselinkprofileentity e ON "
            "e.profile = p.synapselinkprofileid AND e.entityname = ? WHERE p.name = ?",
            (entity, syncstate, initial, iso(synced if synced is not None else now), crm, lake,
             iso(added if added is not None else now), entity, profile))

    def set_entity(self, entity, **cols):
        sets = ", ".join("%s = ?" % k for k in cols)
        self.execute("UPDATE synapselinkprofileentitystate SET %s WHERE entityname = ?" % sets,
                     tuple(cols.values()) + (entity,))

    def set_profile(self, name, **cols):
        sets = ", ".join("%s = ?" % k for k in cols)
        self.execute("UPDATE synapselinkprofile SET %s WHERE name = ?" % sets,
                     tuple(cols.values()) + (name,))


class Agent:
    """`linkwatch run --config FILE` as a child process."""

    def __init__(self, config_path, env=None):
        self.config_path = config_path
        self.env = dict(os.environ, **(env or {}))
        self.proc = None
        self.log_path = config_path + ".log"

    def start(self):
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([BINARY, "run", "--config", self.config_path],
                                     stdout=self.log, stderr=subprocess.STDOUT, env=self.env)
        return self

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
        self._close_log()

    def _close_log(self):
        if getattr(self, "log", None) and not self.log.closed:
            self.log.close()

    def stop(self, timeout=20):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                raise
            finally:
                self._close_log()
        self._close_log()
        return self.proc.returncode if self.proc else None

    def output(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")


def http_get(url, timeout=5):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except OSError:
        return None, ""


def metric(text, name, **labels):
    """The value of one series in a /metrics answer (None when absent)."""
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$", line)
        if not m or m.group(1) != name:
            continue
        have = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(3) or ""))
        if all(have.get(k) == v for k, v in labels.items()):
            return float(m.group(4))
    return None


def run_cli(*args, timeout=60):
    p = subprocess.run([BINARY] + list(args), capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


class TempDirTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="lw_it_")
        self._lw_cleanups = []

    def tearDown(self):
        for c in reversed(self._lw_cleanups):
            try:
                c()
            except Exception:
                pass
        if os.environ.get("LW_KEEP_TMP"):
            print("kept", self.dir)
        else:
            shutil.rmtree(self.dir, ignore_errors=True)

    def defer(self, fn):
        self._lw_cleanups.append(fn)

    def write(self, name, text):
        path = os.path.join(self.dir, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)
        return path
