#include "notifiers/router.h"

#include <spdlog/spdlog.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "agent/core/problem.h"
#include "agent/core/yaml_util.h"
#include "agent/state/db.h"
#include "notifiers/notification.h"
#include "notifiers/outbox.h"

namespace linkwatch::notifiers {
namespace {

// Notification log entries older than this (and older than every
// repeat_interval) are dropped when the router starts (Alertmanager keeps
// its log for 120h by default).
constexpr Duration kLogRetention = std::chrono::hours(120);
// A flush whose outbox write failed is tried again this much later.
constexpr Duration kRetryFailedFlush = std::chrono::seconds(1);

bool IsLabelName(const std::string& s) {
  if (s.empty() || !(std::isalpha(static_cast<unsigned char>(s[0])) || s[0] == '_')) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
  });
}

void ParseNode(const YAML::Node& node, const RouteConfig* parent,
               const std::set<std::string>& receivers, Problems& p, RouteConfig& out) {
  const bool root = parent == nullptr;
  const std::string what = root ? "route" : "nested route";
  if (parent != nullptr) {
    out.receiver = parent->receiver;
    out.group_by = parent->group_by;
    out.group_by_all = parent->group_by_all;
    out.group_wait = parent->group_wait;
    out.group_interval = parent->group_interval;
    out.repeat_interval = parent->repeat_interval;
  }
  if (!CheckKeys(node,
                 {"receiver", "group_by", "group_wait", "group_interval", "repeat_interval",
                  "matchers", "continue", "routes"},
                 p, what)) {
    return;
  }
  if (const auto& r = node["receiver"]) {
    if (auto name = GetString(r, p, what + " receiver")) {
      if (!receivers.count(*name)) {
        std::string msg = "unknown receiver \"" + *name + "\"";
        std::string near =
            NearestKey(*name, std::vector<std::string>(receivers.begin(), receivers.end()));
        if (!near.empty()) msg += " (did you mean \"" + near + "\"?)";
        p.Add(r, msg);
      }
      out.receiver = *name;
    }
  } else if (root) {
    p.Add(node, "route needs a receiver");
  }
  if (const auto& g = node["group_by"]) {
    auto names = GetStringList(g, p, what + " group_by");
    out.group_by.clear();
    out.group_by_all = false;
    std::set<std::string> seen;
    for (size_t i = 0; i < names.size(); ++i) {
      const std::string& n = names[i];
      if (n == "...") {
        if (names.size() > 1) {
          p.Add(g, "group_by: '...' (all labels) cannot be combined with other labels");
        }
        out.group_by_all = true;
      } else if (!IsLabelName(n)) {
        p.Add(g[i], "group_by: invalid label name \"" + n + "\"");
      } else if (!seen.insert(n).second) {
        p.Add(g[i], "group_by: duplicate label \"" + n + "\"");
      } else {
        out.group_by.push_back(n);
      }
    }
    if (out.group_by_all) out.group_by.clear();
  }
  auto duration = [&](const char* key, Millis& target, bool zero_ok) {
    if (const auto& d = node[key]) {
      if (auto v = GetDuration(d, p, what + " " + key)) {
        if (v->count() < 0 || (!zero_ok && v->count() == 0)) {
          p.Add(d, std::string(key) + (zero_ok ? " must not be negative" : " must be above 0"));
        } else {
          target = *v;
        }
      }
    }
  };
  duration("group_wait", out.group_wait, true);
  duration("group_interval", out.group_interval, false);
  duration("repeat_interval", out.repeat_interval, false);
  if (const auto& m = node["matchers"]) {
    if (root) p.Add(m, "the root route must not have matchers (it matches every alert)");
    if (!m.IsSequence()) {
      p.Add(m, what + " matchers must be a list of strings such as 'severity=\"critical\"'");
    } else {
      for (const auto& item : m) {
        auto text = GetString(item, p, what + " matcher");
        if (!text) continue;
        auto parsed = ParseMatchers(*text);
        if (!parsed.ok()) {
          p.Add(item, parsed.message());
          continue;
        }
        for (auto& one : *parsed) out.matchers.push_back(std::move(one));
      }
      std::sort(out.matchers.begin(), out.matchers.end());
    }
  }
  if (const auto& c = node["continue"]) {
    if (root) p.Add(c, "the root route cannot have continue");
    if (auto b = GetBool(c, p, what + " continue")) out.continue_matching = *b;
  }
  if (const auto& rs = node["routes"]) {
    if (!rs.IsSequence()) {
      p.Add(rs, what + " routes must be a list");
    } else {
      for (const auto& child : rs) {
        RouteConfig sub;
        ParseNode(child, &out, receivers, p, sub);
        out.routes.push_back(std::move(sub));
      }
    }
  }
}

bool Subset(const std::set<std::string>& sub, const std::set<std::string>& of) {
  return std::includes(of.begin(), of.end(), sub.begin(), sub.end());
}

std::string ToJsonArray(const std::set<std::string>& s) { return nlohmann::json(s).dump(); }

std::set<std::string> FromJsonArray(const std::string& text) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  std::set<std::string> out;
  if (!j.is_array()) return out;
  for (const auto& v : j) {
    if (v.is_string()) out.insert(v.get<std::string>());
  }
  return out;
}

Millis MaxRepeat(const RouteConfig& r) {
  Millis m = r.repeat_interval;
  for (const auto& c : r.routes) m = std::max(m, MaxRepeat(c));
  return m;
}

}  // namespace

RouteConfig ParseRoute(const YAML::Node& route, const std::string& file,
                       const std::set<std::string>& receiver_names, Problems& problems) {
  Problems local(file);
  RouteConfig root;
  if (!route || route.IsNull()) {
    if (route) {
      local.Add(route, "route needs a receiver");
    } else {
      local.Add(0, 0, "route is missing");
    }
  } else {
    ParseNode(route, nullptr, receiver_names, local, root);
  }
  problems.Append(local.list());
  return root;
}

Router::Router(RouteConfig route, Outbox& outbox, const Clock& clock, std::string external_url,
               std::map<std::string, bool> send_resolved_by_receiver)
    : outbox_(outbox),
      clock_(clock),
      external_url_(std::move(external_url)),
      send_resolved_(std::move(send_resolved_by_receiver)) {
  Build(std::move(route));
  LoadLog();
}

Router::~Router() = default;

void Router::Build(RouteConfig route) {
  route_ = std::make_unique<RouteConfig>(std::move(route));
  nodes_.clear();
  Walk(*route_, "", true);
}

void Router::Walk(const RouteConfig& cfg, const std::string& parent_key, bool root) {
  const int index = static_cast<int>(nodes_.size());
  nodes_.push_back(Node{&cfg, (root ? "" : parent_key + "/") + FormatMatchers(cfg.matchers), {}});
  const std::string key = nodes_[index].key;
  for (const auto& child : cfg.routes) {
    nodes_[index].children.push_back(static_cast<int>(nodes_.size()));
    Walk(child, key, false);
  }
}

void Router::LoadLog() {
  const double cutoff =
      ToEpochSeconds(clock_.Now() - std::max<Duration>(kLogRetention, MaxRepeat(*route_)));
  Status s = outbox_.WithDb([&](state::Db& db) -> Status {
    auto prune = db.Prepare("DELETE FROM linkwatch_nflog WHERE sent_at < ?");
    if (!prune.ok()) return prune.status();
    if (auto st = prune->Bind(1, cutoff).Run(); !st.ok()) return st;
    auto st =
        db.Prepare("SELECT receiver, group_key, firing, resolved, sent_at FROM linkwatch_nflog");
    if (!st.ok()) return st.status();
    while (st->Step()) {
      LogEntry e;
      e.firing = FromJsonArray(st->Text(2));
      e.resolved = FromJsonArray(st->Text(3));
      e.sent_at = st->Real(4);
      log_[{st->Text(0), st->Text(1)}] = std::move(e);
    }
    return st->status();
  });
  if (!s.ok()) {
    // Degrade: without the log, groups notify as if new.
    spdlog::error("router: reading the notification log: {}", s.message());
  }
}

void Router::SetMuters(std::vector<std::shared_ptr<Muter>> muters) { muters_ = std::move(muters); }

void Router::Match(int node, const LabelSet& labels, std::vector<int>& out) const {
  const Node& n = nodes_[node];
  if (!MatchAll(n.cfg->matchers, labels)) return;
  const size_t before = out.size();
  for (int child : n.children) {
    const size_t had = out.size();
    Match(child, labels, out);
    if (out.size() != had && !nodes_[child].cfg->continue_matching) break;
  }
  if (out.size() == before) out.push_back(node);
}

void Router::Insert(const Alert& alert, TimePoint now, const std::set<int>& skip) {
  std::vector<int> matched;
  Match(0, alert.labels, matched);
  for (int node : matched) {
    if (skip.count(node)) continue;
    const RouteConfig& cfg = *nodes_[node].cfg;
    LabelSet group_labels;
    if (cfg.group_by_all) {
      group_labels = alert.labels;
    } else {
      for (const auto& name : cfg.group_by) {
        if (auto it = alert.labels.find(name); it != alert.labels.end()) {
          group_labels.insert(*it);
        }
      }
    }
    std::string key = nodes_[node].key + ":" + FormatLabelSet(group_labels);
    auto [it, fresh] = groups_.try_emplace({node, key});
    Group& g = it->second;
    if (fresh) {
      g.node = node;
      g.key = std::move(key);
      g.labels = std::move(group_labels);
      g.next_flush = now + cfg.group_wait;
    }
    // Alertmanager: an alert that has been firing for longer than group_wait
    // (e.g. across a restart) makes a group that never flushed flush now.
    if (!g.flushed && alert.starts_at > 0 &&
        FromEpochSeconds(alert.starts_at) + cfg.group_wait <= now) {
      g.next_flush = std::min(g.next_flush, now);
    }
    g.alerts[alert.fingerprint] = alert;
  }
}

void Router::Update(const std::vector<Alert>& alerts) {
  for (const auto& m : muters_) m->Observe(alerts);
  const TimePoint now = clock_.Now();
  std::set<std::string> reported;
  std::map<std::string, Done> still_done;
  for (const Alert& a : alerts) {
    if (a.state != AlertState::kFiring && a.state != AlertState::kResolved) continue;
    reported.insert(a.fingerprint);
    auto d = done_.find(a.fingerprint);
    if (a.state == AlertState::kResolved && d != done_.end() && d->second.ends_at == a.ends_at) {
      // Its resolution was already queued by some routes (all of them if the
      // engine has not yet forgotten it): only the others get it.
      still_done.insert(*d);
      Insert(a, now, d->second.nodes);
      continue;
    }
    Insert(a, now);
  }
  done_ = std::move(still_done);
  // Alerts the engine no longer knows (rule removed on reload): resolved now.
  const double now_s = ToEpochSeconds(now);
  for (auto& [id, g] : groups_) {
    for (auto& [fp, a] : g.alerts) {
      if (reported.count(fp) || a.state != AlertState::kFiring) continue;
      a.state = AlertState::kResolved;
      a.ends_at = now_s;
    }
  }
}

std::vector<std::string> Router::Flush() {
  const TimePoint now = clock_.Now();
  const double now_s = ToEpochSeconds(now);
  struct Due {
    Group* group;
    std::optional<LogEntry> log;  // new log entry, if the group needed an update
  };
  std::vector<Due> due;
  std::vector<Notification> batch;
  for (auto& [id, g] : groups_) {
    if (g.next_flush > now) continue;
    const RouteConfig& cfg = *nodes_[g.node].cfg;
    const std::string& receiver = cfg.receiver;
    auto sr = send_resolved_.find(receiver);
    const bool send_resolved = sr == send_resolved_.end() || sr->second;

    std::vector<const Alert*> firing, resolved;
    std::set<std::string> firing_fps, resolved_fps;
    for (const auto& [fp, a] : g.alerts) {
      bool muted = false;
      for (const auto& m : muters_) muted = muted || m->Muted(a, now);
      if (muted) continue;
      if (a.state == AlertState::kFiring) {
        firing.push_back(&a);
        firing_fps.insert(fp);
      } else {
        resolved.push_back(&a);
        resolved_fps.insert(fp);
      }
    }
    // Alertmanager's DedupStage.needsUpdate.
    bool needs = false;
    auto entry = log_.find({receiver, g.key});
    if (entry == log_.end()) {
      needs = !firing.empty();
    } else if (!Subset(firing_fps, entry->second.firing)) {
      needs = true;
    } else if (firing.empty()) {
      needs = !entry->second.firing.empty();
    } else if (send_resolved && !Subset(resolved_fps, entry->second.resolved)) {
      needs = true;
    } else {
      needs = now - FromEpochSeconds(entry->second.sent_at) >= cfg.repeat_interval;
    }
    Due d{&g, std::nullopt};
    if (needs) {
      d.log = LogEntry{firing_fps, resolved_fps, now_s};
      Notification n;
      n.receiver = receiver;
      n.group_key = g.key;
      n.group_labels = g.labels;
      n.created_at = now_s;
      n.external_url = external_url_;
      for (const Alert* a : firing) n.alerts.push_back(*a);
      if (send_resolved) {
        for (const Alert* a : resolved) n.alerts.push_back(*a);
      }
      std::sort(n.alerts.begin(), n.alerts.end(),
                [](const Alert& x, const Alert& y) { return x.labels < y.labels; });
      // With send_resolved false and nothing firing there is nothing to send,
      // but the log still records that the group was handled.
      if (!n.alerts.empty()) batch.push_back(std::move(n));
    }
    due.push_back(std::move(d));
  }
  if (due.empty()) return {};

  bool any_log = false;
  for (const auto& d : due) any_log = any_log || d.log.has_value();
  if (any_log || !batch.empty()) {
    Status s = outbox_.Enqueue(batch, [&](state::Db& db) -> Status {
      state::Statement* st = db.Cached(
          "INSERT OR REPLACE INTO linkwatch_nflog (receiver, group_key, firing, resolved, "
          "sent_at) VALUES (?, ?, ?, ?, ?)");
      if (st == nullptr) return Status::Error("router: " + db.LastError());
      for (const auto& d : due) {
        if (!d.log) continue;
        const std::string& receiver = nodes_[d.group->node].cfg->receiver;
        if (auto r = st->Bind(1, receiver)
                         .Bind(2, d.group->key)
                         .Bind(3, ToJsonArray(d.log->firing))
                         .Bind(4, ToJsonArray(d.log->resolved))
                         .Bind(5, d.log->sent_at)
                         .Run();
            !r.ok()) {
          return r.WithContext("router: writing the notification log");
        }
      }
      return Status::Ok();
    });
    if (!s.ok()) {
      spdlog::error("router: queueing notifications: {}", s.message());
      for (auto& d : due) d.group->next_flush = now + kRetryFailedFlush;
      return {};
    }
  }

  // Committed: record the log, drop notified resolved alerts, re-arm timers.
  std::set<std::string> dropped;
  for (auto& d : due) {
    Group& g = *d.group;
    const RouteConfig& cfg = *nodes_[g.node].cfg;
    if (d.log) log_[{cfg.receiver, g.key}] = std::move(*d.log);
    for (auto it = g.alerts.begin(); it != g.alerts.end();) {
      if (it->second.state == AlertState::kResolved) {
        dropped.insert(it->first);
        Done& done = done_[it->first];
        if (done.ends_at != it->second.ends_at) done = Done{it->second.ends_at, {}};
        done.nodes.insert(g.node);
        it = g.alerts.erase(it);
      } else {
        ++it;
      }
    }
    g.flushed = true;
    g.next_flush = now + cfg.group_interval;
  }
  for (auto it = groups_.begin(); it != groups_.end();) {
    it = it->second.alerts.empty() ? groups_.erase(it) : std::next(it);
  }
  // Forget only what no group holds any more (another route may still wait).
  std::vector<std::string> forget;
  for (const auto& fp : dropped) {
    bool held = false;
    for (const auto& [id, g] : groups_) held = held || g.alerts.count(fp) > 0;
    if (!held) forget.push_back(fp);
  }
  return forget;
}

TimePoint Router::NextFlush() const {
  TimePoint next = TimePoint::max();
  for (const auto& [id, g] : groups_) next = std::min(next, g.next_flush);
  return next;
}

void Router::Replace(RouteConfig route, std::map<std::string, bool> send_resolved_by_receiver) {
  std::map<std::string, Alert> held;
  for (const auto& [id, g] : groups_) {
    for (const auto& [fp, a] : g.alerts) held[fp] = a;
  }
  groups_.clear();
  done_.clear();  // route indices change
  Build(std::move(route));
  send_resolved_ = std::move(send_resolved_by_receiver);
  const TimePoint now = clock_.Now();
  for (const auto& [fp, a] : held) Insert(a, now);
}

std::vector<std::string> Router::ReceiversFor(const LabelSet& labels) const {
  std::vector<int> matched;
  Match(0, labels, matched);
  std::vector<std::string> out;
  for (int node : matched) {
    const std::string& r = nodes_[node].cfg->receiver;
    if (std::find(out.begin(), out.end(), r) == out.end()) out.push_back(r);
  }
  return out;
}

std::vector<Router::GroupInfo> Router::Groups() const {
  std::vector<GroupInfo> out;
  for (const auto& [id, g] : groups_) {
    GroupInfo info{nodes_[g.node].cfg->receiver, g.key, g.labels, {}, g.next_flush};
    for (const auto& [fp, a] : g.alerts) info.fingerprints.push_back(fp);
    out.push_back(std::move(info));
  }
  return out;
}

}  // namespace linkwatch::notifiers
