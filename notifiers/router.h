// Router: Alertmanager's dispatcher for linkwatch's alerts. It matches alerts
// against the route tree of the config (`route:`: receiver, group_by,
// group_wait, group_interval, repeat_interval, matchers, continue, nested
// routes inheriting their parent's settings), keeps aggregation groups, and
// when a group is due creates notifications in the outbox. What each
// (receiver, group) was last sent is the notification log
// (linkwatch_nflog), written in the same transaction as the outbox rows, so a
// restart neither re-sends every firing group nor forgets repeat_interval.
//
// Silences and inhibition plug in as Muters, consulted when a group is
// flushed, before a notification is created (Alertmanager's mute stages).
//
// Not thread-safe: one thread (the watcher loop) calls Update, Flush,
// NextFlush and Replace. The Outbox it writes to is thread-safe.
#pragma once

#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "agent/core/clock.h"
#include "notifiers/matcher.h"
#include "rules/alert.h"

namespace YAML {
class Node;
}
namespace linkwatch {
class Problems;
}

namespace linkwatch::notifiers {

class Outbox;

struct RouteConfig {
  std::string receiver;
  std::vector<std::string> group_by;  // label names; empty = one group per route
  bool group_by_all = false;          // group_by: ['...']
  Millis group_wait{30 * 1000};
  Millis group_interval{5 * 60 * 1000};
  Millis repeat_interval{4 * 3600 * 1000};
  std::vector<Matcher> matchers;   // sorted, as Alertmanager sorts them
  bool continue_matching = false;  // `continue`
  std::vector<RouteConfig> routes;
};

// Parses `route:`. Children inherit receiver, group_by and the intervals from
// their parent. Problems (unknown keys with a suggestion, unknown receivers,
// bad matchers or durations) are added with file:line:column.
RouteConfig ParseRoute(const YAML::Node& route, const std::string& file,
                       const std::set<std::string>& receiver_names, Problems& problems);

// Decides whether an alert is muted now (silences, inhibit rules). Observe
// receives every alert the engine reports, before the router groups them, so
// an inhibitor can track the source alerts.
class Muter {
 public:
  virtual ~Muter() = default;
  virtual void Observe(const std::vector<Alert>& alerts) { (void)alerts; }
  virtual bool Muted(const Alert& alert, TimePoint now) const = 0;
};

class Router {
 public:
  // Reads the notification log through the outbox's connection.
  Router(RouteConfig route, Outbox& outbox, const Clock& clock, std::string external_url,
         std::map<std::string, bool> send_resolved_by_receiver);
  ~Router();

  // Called after every evaluation with every alert the engine knows (pending
  // and inactive ones are ignored). An alert the router holds that is no
  // longer reported is taken as resolved now.
  void Update(const std::vector<Alert>& alerts);

  // Flushes groups that are due: creates notifications in the outbox
  // (notification log updated in the same transaction). Returns fingerprints
  // of resolved alerts whose resolution has been queued to every route that
  // held them (the rule engine then forgets them).
  std::vector<std::string> Flush();

  // When Flush next has work (TimePoint::max() when there are no groups).
  TimePoint NextFlush() const;

  // SIGHUP reload: the alerts are regrouped under the new tree (new groups
  // wait group_wait; the notification log keeps them from re-sending).
  void Replace(RouteConfig route, std::map<std::string, bool> send_resolved_by_receiver);

  // Muters are consulted in order; an alert muted by any is not notified.
  void SetMuters(std::vector<std::shared_ptr<Muter>> muters);

  // The receivers of the routes an alert with these labels goes to, in
  // route order, without repeats (the API's receivers of an alert).
  std::vector<std::string> ReceiversFor(const LabelSet& labels) const;

  // The current groups, for the API and tests.
  struct GroupInfo {
    std::string receiver;
    std::string group_key;
    LabelSet labels;
    std::vector<std::string> fingerprints;
    TimePoint next_flush;
  };
  std::vector<GroupInfo> Groups() const;

 private:
  struct Node {
    const RouteConfig* cfg = nullptr;
    std::string key;  // Alertmanager's route key: {}/{severity="critical"}
    std::vector<int> children;
  };
  struct Group {
    int node = 0;
    std::string key;  // route key ":" group labels
    LabelSet labels;
    std::map<std::string, Alert> alerts;  // by fingerprint
    TimePoint next_flush;
    bool flushed = false;
  };
  struct LogEntry {
    std::set<std::string> firing;
    std::set<std::string> resolved;
    double sent_at = 0;
  };
  void Build(RouteConfig route);
  void Walk(const RouteConfig& cfg, const std::string& parent_key, bool root);
  void Match(int node, const LabelSet& labels, std::vector<int>& out) const;
  // Adds the alert to the groups of every matching route except `skip`.
  void Insert(const Alert& alert, TimePoint now, const std::set<int>& skip = {});
  void LoadLog();

  Outbox& outbox_;
  const Clock& clock_;
  std::string external_url_;
  std::map<std::string, bool> send_resolved_;
  std::vector<std::shared_ptr<Muter>> muters_;
  std::unique_ptr<RouteConfig> route_;
  std::vector<Node> nodes_;  // pre-order; nodes_[0] is the root
  std::map<std::pair<int, std::string>, Group> groups_;
  std::map<std::pair<std::string, std::string>, LogEntry> log_;  // (receiver, group key)
  // Resolved alerts already flushed from some routes' groups, by
  // fingerprint: not put back there while the engine still reports them.
  struct Done {
    double ends_at = 0;
    std::set<int> nodes;
  };
  std::map<std::string, Done> done_;
};

}  // namespace linkwatch::notifiers
