"""Each kind of mistake in a config, rule or rule-test file gives exit code 2
and a file:line:column message naming where it is."""
import os
import re
import sqlite3
import unittest

from harness import ROOT, TempDirTest, run_cli

GOOD_RULES = """groups:
  - name: g
    rules:
      - alert: A
        expr: syncstate == "InProgress"
"""


class CliErrorTest(TempDirTest):
    def assertProblem(self, args, path, line, message, column=None):
        code, out, err = run_cli(*args)
        text = out + err
        self.assertEqual(code, 2, "exit code for %s\n%s" % (args, text))
        pattern = re.escape(path) + r":%d:(\d+): .*%s" % (line, re.escape(message))
        m = re.search(pattern, text)
        self.assertTrue(m, "expected %s:%d:<col>: ...%s... in:\n%s" % (path, line, message, text))
        if column is not None:
            self.assertEqual(int(m.group(1)), column, text)
        return text

    # --- config ---------------------------------------------------------------------------
    def config(self, text):
        return self.write("linkwatch.yaml", text)

    def test_config_unknown_key(self):
        p = self.config("state_db: s.db\nwatch:\n  intervall: 5s\n")
        self.assertProblem(["check-config", "--config", p], p, 3, 'did you mean "interval"', 3)

    def test_config_bad_duration(self):
        p = self.config("state_db: s.db\nwatch:\n  interval: 5 minutes\n")
        self.assertProblem(["check-config", "--config", p], p, 3, "invalid duration", 13)

    def test_config_yaml_syntax(self):
        p = self.config("state_db: s.db\nwatch: [1, 2\n")
        self.assertProblem(["check-config", "--config", p], p, 3, "YAML syntax error")

    def test_config_unset_secret(self):
        p = self.config("state_db: s.db\nreceivers:\n  - name: h\n    webhook:\n"
                        "      url: {env: LW_SURELY_UNSET_VAR}\nroute: {receiver: h}\n")
        self.assertProblem(["check-config", "--config", p], p, 5, "LW_SURELY_UNSET_VAR")

    def test_config_unset_secret_is_reported_once(self):
        # Issue 7 point 17: not also "unknown receiver" at each route naming it.
        p = self.config("state_db: s.db\nreceivers:\n  - name: h\n    webhook:\n"
                        "      url: {env: LW_SURELY_UNSET_VAR}\nroute:\n  receiver: h\n"
                        "  routes:\n    - {matchers: ['a=\"b\"'], receiver: h}\n")
        text = self.assertProblem(["check-config", "--config", p], p, 5, "LW_SURELY_UNSET_VAR")
        self.assertNotIn("unknown receiver", text)
        self.assertEqual(len(re.findall(re.escape(p) + r":\d+", text)), 1, text)

    def test_config_route_to_unknown_receiver(self):
        p = self.config("state_db: s.db\nreceivers:\n  - name: h\n    log: {}\n"
                        "route:\n  receiver: nobody\n")
        self.assertProblem(["check-config", "--config", p], p, 6, "nobody")

    def test_config_unknown_integration(self):
        p = self.config("state_db: s.db\nreceivers:\n  - name: h\n    pager: {}\n"
                        "route: {receiver: h}\n")
        self.assertProblem(["check-config", "--config", p], p, 4, "pager")

    def test_config_reports_rule_file_problems_too(self):
        rules = self.write("rules/bad.yaml", GOOD_RULES.replace('"InProgress"', '"Running"'))
        p = self.config("state_db: s.db\nwatch: {rule_files: [rules/*.yaml]}\n")
        self.assertProblem(["check-config", "--config", p], rules, 5, "Running")

    # Issue 7 point 12: check-config refuses what run refuses, at the key's position, and run
    # reports it the same way (exit 2).
    def assertBothRefuse(self, text, line, message, column=None):
        p = self.config(text)
        self.assertProblem(["check-config", "--config", p], p, line, message, column)
        self.assertProblem(["run", "--config", p], p, line, message, column)

    def test_config_listen_port_not_a_number(self):
        self.assertBothRefuse('state_db: s.db\nhttp:\n  listen: "127.0.0.1:abc"\n', 3,
                              "port must be 0-65535", 11)

    def test_config_listen_port_and_host_out_of_range(self):
        self.assertBothRefuse('state_db: s.db\nhttp:\n  listen: "999.1.1.1:99999"\n', 3,
                              "port must be 0-65535", 11)
        self.assertBothRefuse('state_db: s.db\nhttp:\n  listen: "999.1.1.1:9464"\n', 3,
                              "not a valid IPv4 address", 11)

    def test_config_state_db_not_a_database(self):
        with open(os.path.join(self.dir, "corrupt.db"), "wb") as f:
            f.write(b"this is not a SQLite file, " * 40)
        self.assertBothRefuse("watch: {interval: 1s}\nstate_db: corrupt.db\n", 2,
                              "file is not a database", 11)
        with open(os.path.join(self.dir, "corrupt.db"), "rb") as f:
            self.assertTrue(f.read().startswith(b"this is not"), "check-config changed the file")

    def test_config_state_db_in_missing_folder(self):
        self.assertBothRefuse("state_db: nowhere/s.db\n", 1, "does not exist", 11)

    def test_check_config_never_creates_the_state_db(self):
        p = self.config("state_db: s.db\n")
        code, out, err = run_cli("check-config", "--config", p)
        self.assertEqual(code, 0, out + err)
        self.assertFalse(os.path.exists(os.path.join(self.dir, "s.db")))

    def test_config_watched_file_not_a_database(self):
        with open(os.path.join(self.dir, "other.db"), "wb") as f:
            f.write(b"garbage " * 200)
        self.assertBothRefuse("state_db: s.db\nwatch:\n  sources:\n"
                              "    - {name: other, type: local, path: other.db}\n", 4,
                              "file is not a database")

    # Issue 8 point 11b: one lake written as `lake` and `lake/`, or reached through a symlink,
    # was taken for two destinations.
    def two_profiles(self, a, b):
        return ("state_db: s.db\nprofiles:\n"
                "  - {name: a, source: {type: sqlite, path: a.db}, destination: {type: lake, "
                "path: %s}, tables: [t]}\n"
                "  - {name: b, source: {type: sqlite, path: b.db}, destination: {type: lake, "
                "path: %s}, tables: [t]}\n" % (a, b))

    def test_config_one_lake_written_two_ways(self):
        lake = os.path.join(self.dir, "lake")
        self.assertBothRefuse(self.two_profiles("lake", "lake/"), 4,
                              "profile b: destination %s is already the destination of another "
                              "profile, a" % lake)
        self.assertBothRefuse(self.two_profiles("lake", "./x/../lake"), 4,
                              "is already the destination of another profile, a")

    def test_config_one_lake_reached_through_a_symlink(self):
        real = os.path.join(self.dir, "disk", "lake")
        os.makedirs(real)
        os.symlink(os.path.join(self.dir, "disk"), os.path.join(self.dir, "mnt"))
        self.assertBothRefuse(self.two_profiles("disk/lake", "mnt/lake/"), 4,
                              "profile b: destination %s (%s) is already the destination of "
                              "another profile, a" % (os.path.join(self.dir, "mnt", "lake"), real))
        # One lake inside another is refused too; siblings are fine.
        self.assertBothRefuse(self.two_profiles("disk", "mnt/lake"), 4,
                              "lies inside the destination of profile a")
        p = self.config(self.two_profiles("disk/lake", "disk/lake2"))
        code, out, err = run_cli("check-config", "--config", p)
        self.assertEqual(code, 0, out + err)

    # Issue 8 point 11d: a locked state store gave "database is locked" without naming the file.
    def test_locked_state_store_error_names_the_file(self):
        src = os.path.join(self.dir, "src.db")
        con = sqlite3.connect(src)
        con.execute("CREATE TABLE t(tid INTEGER PRIMARY KEY, name TEXT)")
        con.execute("CREATE TABLE u(uid INTEGER PRIMARY KEY, name TEXT)")
        con.commit()
        con.close()
        code, out, err = run_cli("source", "enable-change-tracking", "--db", src, "--table", "t",
                                 "--table", "u")
        self.assertEqual(code, 0, out + err)
        p = self.config("state_db: state.db\nprofiles:\n"
                        "  - {name: a, source: {type: sqlite, path: src.db}, "
                        "destination: {type: lake, path: lake-a}, tables: [t]}\n"
                        "  - {name: b, source: {type: sqlite, path: src.db}, "
                        "destination: {type: lake, path: lake-b}, tables: [t]}\n")
        code, out, err = run_cli("link", "--config", p, "--profile", "a")
        self.assertEqual(code, 0, out + err)
        state_db = os.path.join(self.dir, "state.db")
        holder = sqlite3.connect(state_db, isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")
        try:
            for args in (["tables", "add", "--config", p, "--profile", "a", "u"],
                         ["unlink", "--config", p, "--profile", "a"],
                         ["link", "--config", p, "--profile", "b"]):
                code, out, err = run_cli(*args)
                self.assertEqual(code, 1, "%s: %s" % (args, out + err))
                self.assertIn("%s: database is locked" % state_db, err, args)
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        # Nothing was half done: once the lock is gone the same commands work.
        code, out, err = run_cli("tables", "add", "--config", p, "--profile", "a", "u")
        self.assertEqual(code, 0, out + err)

    def test_good_config_is_ok(self):
        self.write("rules/ok.yaml", GOOD_RULES)
        p = self.config("state_db: s.db\nwatch: {rule_files: [rules/*.yaml]}\n"
                        "receivers: [{name: c, log: {}}]\nroute: {receiver: c}\n")
        code, out, err = run_cli("check-config", "--config", p)
        self.assertEqual(code, 0, out + err)
        self.assertIn("ok", out)

    # --- rule files ---------------------------------------------------------------------------
    def rules(self, text):
        return self.write("rules.yaml", text)

    def test_rule_unknown_column(self):
        p = self.rules(GOOD_RULES.replace("syncstate ==", "syncstat =="))
        self.assertProblem(["rules", "check", p], p, 5, "syncstat", 15)

    def test_rule_unknown_choice_label(self):
        p = self.rules(GOOD_RULES.replace('"InProgress"', '"Running"'))
        self.assertProblem(["rules", "check", p], p, 5, "Running")

    def test_rule_type_error(self):
        p = self.rules(GOOD_RULES.replace('syncstate == "InProgress"',
                                          "age(lastsynceddatatime) > 900"))
        self.assertProblem(["rules", "check", p], p, 5, "duration")

    def test_rule_syntax_error(self):
        p = self.rules(GOOD_RULES.replace('syncstate == "InProgress"', "syncstate == (1"))
        self.assertProblem(["rules", "check", p], p, 5, "")

    def test_rule_bad_for(self):
        p = self.rules(GOOD_RULES + "        for: 5 minutes\n")
        self.assertProblem(["rules", "check", p], p, 6, "invalid duration", 14)

    def test_rule_unknown_key(self):
        p = self.rules(GOOD_RULES + "        labelz: {a: b}\n")
        self.assertProblem(["rules", "check", p], p, 6, 'did you mean "labels"', 9)

    def test_rules_check_refuses_a_directory(self):
        # Issue 7 point 17: "ok: 0 rules" for a directory hid every rule in it.
        self.rules(GOOD_RULES)
        code, out, err = run_cli("rules", "check", self.dir)
        self.assertEqual(code, 2, out + err)
        self.assertIn(self.dir + ": is a directory", out + err)

    def test_duplicate_config_key(self):
        p = self.config("state_db: s.db\nwatch:\n  interval: 5s\n  interval: 10s\n")
        self.assertProblem(["check-config", "--config", p], p, 4, 'duplicate key "interval"', 3)

    def test_good_rules_are_ok(self):
        p = self.rules(GOOD_RULES)
        code, out, err = run_cli("rules", "check", p)
        self.assertEqual(code, 0, out + err)

    # --- rule-test files ------------------------------------------------------------------------
    def rule_test(self, body):
        self.write("r.yaml", GOOD_RULES)
        return self.write("r.test.yaml", "rule_files: [r.yaml]\ntests:\n" + body)

    def test_rule_test_at_not_multiple_of_interval(self):
        p = self.rule_test("  - name: t\n    interval: 1m\n    states:\n      - at: 90s\n"
                           "        synapselinkprofile: [{name: crm}]\n")
        self.assertProblem(["rules", "test", p], p, 6, "interval")

    def test_rule_test_unknown_table(self):
        p = self.rule_test("  - name: t\n    interval: 1m\n    states:\n      - at: 0m\n"
                           "        synapselinkprofiles: [{name: crm}]\n")
        self.assertProblem(["rules", "test", p], p, 7, "synapselinkprofiles")

    def test_rule_test_unknown_column(self):
        p = self.rule_test("  - name: t\n    interval: 1m\n    states:\n      - at: 0m\n"
                           "        synapselinkprofile: [{nam: crm}]\n")
        self.assertProblem(["rules", "test", p], p, 7, "nam")

    def test_rule_test_missing_rule_file(self):
        p = self.write("x.test.yaml", "rule_files: [nope.yaml]\ntests: []\n")
        self.assertProblem(["rules", "test", p], p, 1, "nope.yaml")


class ShippedRulesTest(TempDirTest):
    def test_example_rule_tests_pass(self):
        path = os.path.join(ROOT, "examples", "rules", "synapse-link.test.yaml")
        code, out, err = run_cli("rules", "test", path)
        self.assertEqual(code, 0, out + err)
        self.assertNotIn("FAIL", out)

    def test_example_rules_check(self):
        path = os.path.join(ROOT, "examples", "rules", "synapse-link.yaml")
        code, out, err = run_cli("rules", "check", path)
        self.assertEqual(code, 0, out + err)

    def test_wrong_expectation_fails_with_diff(self):
        rules = os.path.join(ROOT, "examples", "rules", "synapse-link.yaml")
        p = self.write("wrong.test.yaml", """rule_files: [%s]
tests:
  - name: expects the wrong severity
    start: 2026-01-01T00:00:00Z
    interval: 1m
    states:
      - at: 0m
        synapselinkprofile: [{name: crm, profilestate: Active}]
        synapselinkprofileentitystate:
          - {profile: crm, entityname: account, syncstate: InProgress, initialsyncstate: Completed,
             lastsynceddatatime: 2026-01-01T00:00:00Z, crmrecordcount: 10, lakerecordcount: 10}
    alerts:
      - at: 21m
        firing:
          - {alertname: SyncStalled, labels: {profile: crm, entity: account, severity: warning}}
""" % rules)
        code, out, err = run_cli("rules", "test", p)
        self.assertEqual(code, 1, out + err)
        text = out + err
        self.assertIn("FAIL", text)
        self.assertIn("expects the wrong severity", text)
        self.assertRegex(text, r"-.*severity=\"?warning")
        self.assertRegex(text, r"\+.*severity=\"?critical")


if __name__ == "__main__":
    unittest.main()
