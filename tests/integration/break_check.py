"""What an operator sees of a sync break or failure (docs/sync.md "Breaks"),
shared by the integration tests of breaks: the agent runs the shipped default
rules (examples/rules/synapse-link.yaml) with a `file` receiver, and a test
asserts that a table's break was counted in
linkwatch_sync_table_errors_total{reason} and paged through SyncBroken or
SyncFailed, whether or not the repair was faster than the watcher's poll.
"""
import json
import os
import re

import harness

SHIPPED_RULES = os.path.join(harness.ROOT, "examples", "rules", "synapse-link.yaml")
ALERTS_FILE = "alerts.jsonl"


def watch_config():
    """The config's watch, receivers and route (YAML text, relative to the config's folder):
    the shipped rules every second, every notification to alerts.jsonl."""
    return """watch:
  interval: 1s
  rule_files: [%s]
receivers:
  - name: jsonl
    file: {path: %s}
route:
  receiver: jsonl
  group_by: [alertname, profile, entity]
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 4h
""" % (SHIPPED_RULES, ALERTS_FILE)


def notified(folder):
    """Every alert of every notification written to alerts.jsonl so far."""
    path = os.path.join(folder, ALERTS_FILE)
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [a for line in f if line.strip() for a in json.loads(line)["alerts"]]


def wait_alerted(folder, alertname, entity, text=None, timeout=120):
    """Waits for a firing `alertname` for `entity` (whose summary holds `text`, if given)."""
    def fired():
        return [a for a in notified(folder)
                if a["labels"]["alertname"] == alertname and a["status"] == "firing"
                and a["labels"].get("entity") == entity
                and (text is None or text in a["annotations"].get("summary", ""))]
    return harness.wait_for(fired, timeout=timeout,
                            what="%s for %s in %s" % (alertname, entity, ALERTS_FILE))


def counted(port, reason, entity=None):
    """linkwatch_sync_table_errors_total for `reason` (summed over tables, or `entity`'s)."""
    code, body = harness.http_get("http://127.0.0.1:%d/metrics" % port)
    if code != 200:
        return 0.0
    total = 0.0
    for labels, value in re.findall(r'^linkwatch_sync_table_errors_total\{([^}]*)\} (\S+)$',
                                    body, re.M):
        if 'reason="%s"' % reason in labels and (
                entity is None or 'entity="%s"' % entity in labels):
            total += float(value)
    return total


def wait_counted(port, reason, entity=None, timeout=60):
    return harness.wait_for(lambda: counted(port, reason, entity) or None, timeout=timeout,
                            what="linkwatch_sync_table_errors_total{reason=%s, entity=%s}"
                            % (reason, entity))
