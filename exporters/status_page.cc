#include "exporters/status_page.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "agent/core/time_format.h"

namespace linkwatch {
namespace {

constexpr const char* kStyle = R"CSS(
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2rem;color:#1f2328}
h1{font-size:1.4rem;margin:0 0 .2rem} h2{font-size:1.1rem;margin:1.6rem 0 .5rem}
.sub{color:#59636e;font-size:.9rem}
table{border-collapse:collapse;width:100%;font-size:.9rem}
th,td{text-align:left;padding:.35rem .6rem;border-bottom:1px solid #d1d9e0}
th{background:#f6f8fa;font-weight:600} td.num{text-align:right;font-variant-numeric:tabular-nums} td.error{color:#b42318;max-width:28em}
.badge{display:inline-block;padding:0 .5rem;border-radius:1rem;font-size:.8rem;font-weight:600}
.ok{background:#dafbe1;color:#116329}.bad{background:#ffebe9;color:#a40e26}
.warn{background:#fff8c5;color:#7d4e00}.muted{background:#eff2f5;color:#59636e}
.empty{color:#59636e;font-style:italic}
)CSS";

std::string Str(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return "";
  if (it->is_string()) return it->get<std::string>();
  return it->dump();
}

std::string Badge(const std::string& text, const std::string& cls) {
  return "<span class=\"badge " + cls + "\">" + HtmlEscape(text) + "</span>";
}

std::string SyncClass(const std::string& state) {
  if (state == "InProgress" || state == "Completed" || state == "Active" || state == "Created") {
    return "ok";
  }
  if (state == "CompletedWithFailures" || state == "Error" || state == "Failed" ||
      state == "Aborted" || state == "Suspended") {
    return "bad";
  }
  if (state.empty()) return "muted";
  return "warn";
}

std::string Age(const std::string& iso, double now) {
  auto t = ParseDateTime(iso);
  if (!t) return "";
  return " <span class=\"sub\">(" + HtmlEscape(FormatDurationSeconds(now - *t)) + " ago)</span>";
}

// A table's last break (docs/sync.md "Breaks"): its reason, when it was
// detected, and whether the repair resync committed.
std::string LastBreak(const nlohmann::json& table) {
  auto it = table.find("lastBreak");
  if (it == table.end() || !it->is_object()) return "";
  const std::string repaired = Str(*it, "repairedAt");
  return Badge(Str(*it, "reason"), repaired.empty() ? "bad" : "warn") + " " +
         HtmlEscape(Str(*it, "at")) + "<br>" + HtmlEscape(Str(*it, "message")) + "<br>" +
         (repaired.empty() ? std::string("resyncing the table")
                           : "repaired by a resync at " + HtmlEscape(repaired));
}

}  // namespace

std::string HtmlEscape(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string RenderStatusPage(const nlohmann::json& status, const std::vector<Alert>& alerts,
                             double now) {
  std::string h;
  h.reserve(16384);
  h += "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
       "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
       "<meta http-equiv=\"refresh\" content=\"5\"><title>linkwatch</title><style>";
  h += kStyle;
  h += "</style></head><body><h1>linkwatch</h1><div class=\"sub\">" +
       HtmlEscape(FormatDateTime(now)) +
       " &middot; <a href=\"metrics\">metrics</a> &middot; <a href=\"api/v1/status\">status "
       "JSON</a> &middot; <a href=\"api/v1/alerts\">alerts JSON</a></div>";

  // Alerts: firing first, then pending.
  std::vector<const Alert*> shown;
  for (const auto& a : alerts) {
    if (a.state == AlertState::kFiring || a.state == AlertState::kPending) shown.push_back(&a);
  }
  std::stable_sort(shown.begin(), shown.end(), [](const Alert* a, const Alert* b) {
    return a->state == AlertState::kFiring && b->state != AlertState::kFiring;
  });
  h += "<h2 id=\"alerts\">Alerts</h2>";
  if (shown.empty()) {
    h += "<p class=\"empty\">Nothing is firing.</p>";
  } else {
    h +=
        "<table><tr><th>State</th><th>Alert</th><th>Labels</th><th>Summary</th><th>Since</th></tr>";
    for (const Alert* a : shown) {
      const bool firing = a->state == AlertState::kFiring;
      std::string labels;
      for (const auto& [k, v] : a->labels) {
        if (k == "alertname") continue;
        labels += HtmlEscape(k) + "=" + HtmlEscape(v) + " ";
      }
      auto summary = a->annotations.find("summary");
      const double since = firing ? a->starts_at : a->active_at;
      h += "<tr id=\"alert-" + HtmlEscape(a->fingerprint) + "\"><td>" +
           Badge(firing ? "firing" : "pending", firing ? "bad" : "warn") + "</td><td>" +
           HtmlEscape(a->labels.count("alertname") ? a->labels.at("alertname") : "") + "</td><td>" +
           labels + "</td><td>" +
           (summary != a->annotations.end() ? HtmlEscape(summary->second) : "") + "</td><td>" +
           HtmlEscape(FormatDateTime(since)) + "</td></tr>";
    }
    h += "</table>";
  }

  h += "<h2 id=\"tables\">Tables</h2>";
  const auto& tables = status.contains("tables") ? status["tables"] : nlohmann::json::array();
  if (tables.empty()) {
    h += "<p class=\"empty\">No linked tables in the watched state stores yet.</p>";
  } else {
    h += "<table><tr><th>Source</th><th>Profile</th><th>Table</th><th>Sync status</th>"
         "<th>Initial sync</th><th>Last synced on</th><th>Count</th><th>Append only</th>"
         "<th>Partition strategy</th><th>Last sync error</th><th>Last break</th></tr>";
    for (const auto& t : tables) {
      const std::string sync = Str(t, "syncStatus"), initial = Str(t, "initialSync");
      const std::string last = Str(t, "lastSyncedOn");
      h += "<tr><td>" + HtmlEscape(Str(t, "source")) + "</td><td>" + HtmlEscape(Str(t, "profile")) +
           "</td><td>" + HtmlEscape(Str(t, "table")) + "</td><td>" +
           Badge(sync.empty() ? "unknown" : sync, SyncClass(sync)) + "</td><td>" +
           Badge(initial.empty() ? "unknown" : initial, SyncClass(initial)) + "</td><td>" +
           HtmlEscape(last) + (last.empty() ? "" : Age(last, now)) + "</td><td class=\"num\">" +
           HtmlEscape(Str(t, "count")) + "</td><td>" +
           (t.value("appendOnly", false) ? "Yes" : "No") + "</td><td>" +
           HtmlEscape(Str(t, "partitionStrategy")) + "</td><td class=\"error\">" +
           (Str(t, "errorReason").empty() || Str(t, "lastError").empty()
                ? std::string()
                : Badge(Str(t, "errorReason"), "bad") + " ") +
           HtmlEscape(Str(t, "lastError")) +
           (t.value("failedRecords", 0LL) > 0
                ? (Str(t, "lastError").empty() ? "" : "<br>") +
                      HtmlEscape(std::to_string(t.value("failedRecords", 0LL)) +
                                 " failed record(s): " + Str(t, "failedRecordReason"))
                : std::string()) +
           "</td><td>" + LastBreak(t) + "</td></tr>";
    }
    h += "</table>";
  }

  h += "<h2 id=\"sources\">Watch sources</h2><table><tr><th>Source</th><th>State</th>"
       "<th>Last poll</th><th>Last error</th></tr>";
  if (status.contains("sources")) {
    for (const auto& s : status["sources"]) {
      const bool up = s.value("up", false);
      h += "<tr><td>" + HtmlEscape(Str(s, "name")) + "</td><td>" +
           Badge(up ? "up" : "down", up ? "ok" : "bad") + "</td><td>" +
           HtmlEscape(Str(s, "lastPoll")) + "</td><td>" + HtmlEscape(Str(s, "lastError")) +
           "</td></tr>";
    }
  }
  h += "</table>";

  h += "<h2 id=\"receivers\">Receivers</h2>";
  const auto& receivers =
      status.contains("receivers") ? status["receivers"] : nlohmann::json::array();
  if (receivers.empty()) {
    h += "<p class=\"empty\">No receivers configured.</p>";
  } else {
    h += "<table><tr><th>Receiver</th><th>Integration</th><th>Outbox</th><th>Dead letters</th>"
         "<th>Last error</th></tr>";
    for (const auto& r : receivers) {
      const long long pending = r.value("pending", 0LL), dead = r.value("dead", 0LL);
      const std::string when = Str(r, "lastErrorAt");
      h += "<tr><td>" + HtmlEscape(Str(r, "name")) + "</td><td>" +
           HtmlEscape(Str(r, "integration")) + "</td><td class=\"num\">" +
           Badge(std::to_string(pending) + " pending", pending > 0 ? "warn" : "ok") +
           "</td><td class=\"num\">" +
           (dead > 0 ? Badge(std::to_string(dead) + " dead", "bad") : std::string("0")) +
           "</td><td class=\"error\">" + HtmlEscape(Str(r, "lastError")) +
           (when.empty() ? "" : " (" + HtmlEscape(when) + ")") + "</td></tr>";
    }
    h += "</table>";
  }

  h += "<h2 id=\"silences\">Silences</h2>";
  const auto& silences = status.contains("silences") ? status["silences"] : nlohmann::json::array();
  if (silences.empty()) {
    h += "<p class=\"empty\">None.</p>";
  } else {
    h += "<table><tr><th>State</th><th>Matchers</th><th>Starts</th><th>Ends</th>"
         "<th>Created by</th><th>Comment</th></tr>";
    for (const auto& s : silences) {
      std::string matchers;
      for (const auto& m : s.value("matchers", nlohmann::json::array())) {
        const bool regex = m.value("isRegex", false), equal = m.value("isEqual", true);
        const char* op = equal ? (regex ? "=~" : "=") : (regex ? "!~" : "!=");
        matchers +=
            HtmlEscape(Str(m, "name")) + op + "&quot;" + HtmlEscape(Str(m, "value")) + "&quot; ";
      }
      const std::string state = s.contains("status") ? Str(s["status"], "state") : "";
      h += "<tr id=\"silence-" + HtmlEscape(Str(s, "id")) + "\"><td>" +
           Badge(state, state == "active" ? "ok" : "warn") + "</td><td>" + matchers + "</td><td>" +
           HtmlEscape(Str(s, "startsAt")) + "</td><td>" + HtmlEscape(Str(s, "endsAt")) +
           "</td><td>" + HtmlEscape(Str(s, "createdBy")) + "</td><td>" +
           HtmlEscape(Str(s, "comment")) + "</td></tr>";
    }
    h += "</table>";
  }
  h += "</body></html>";
  return h;
}

}  // namespace linkwatch
