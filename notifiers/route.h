// Route: Alertmanager's routing tree (`route:` in the config): a receiver,
// group_by, group_wait, group_interval, repeat_interval, matchers, continue
// and nested routes that inherit their parent's settings. ParseRoute reads
// and checks it; RouteTree answers which routes (and so receivers) an alert
// goes to, and gives each route Alertmanager's key ({}/{severity="critical"}).
// The first seam of the notifier pipeline: route, then the dispatcher
// (router.h) groups, the notification log (nflog.h) deduplicates, the
// inhibitor and silencer (inhibitor.h, silences.h) mute.
//
// RouteConfig is a value; a RouteTree is immutable after construction and
// thread-safe to read.
#pragma once

#include <memory>
#include <set>
#include <string>
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

class RouteTree {
 public:
  struct Node {
    const RouteConfig* cfg = nullptr;
    std::string key;  // Alertmanager's route key: {}/{severity="critical"}
    std::vector<int> children;
  };

  explicit RouteTree(RouteConfig root);

  // The routes an alert with `labels` goes to (node indexes, in tree order):
  // the deepest matching routes, siblings after a match only with continue.
  std::vector<int> Match(const LabelSet& labels) const;
  // Their receivers, in order, without repeats.
  std::vector<std::string> ReceiversFor(const LabelSet& labels) const;
  const Node& node(int index) const { return nodes_[index]; }
  // The group labels of an alert under a route (group_by, or all labels).
  static LabelSet GroupLabels(const RouteConfig& route, const LabelSet& labels);
  // The longest repeat_interval of any route.
  Millis MaxRepeatInterval() const;

 private:
  void Walk(const RouteConfig& cfg, const std::string& parent_key, bool root);
  void Match(int node, const LabelSet& labels, std::vector<int>& out) const;

  std::unique_ptr<RouteConfig> root_;
  std::vector<Node> nodes_;  // pre-order; nodes_[0] is the root
};

}  // namespace linkwatch::notifiers
