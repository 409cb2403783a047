#include "notifiers/route.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>

#include "agent/core/problem.h"
#include "agent/core/yaml_util.h"

namespace linkwatch::notifiers {
namespace {

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

RouteTree::RouteTree(RouteConfig root) : root_(std::make_unique<RouteConfig>(std::move(root))) {
  Walk(*root_, "", true);
}

void RouteTree::Walk(const RouteConfig& cfg, const std::string& parent_key, bool root) {
  const int index = static_cast<int>(nodes_.size());
  nodes_.push_back(Node{&cfg, (root ? "" : parent_key + "/") + FormatMatchers(cfg.matchers), {}});
  const std::string key = nodes_[index].key;
  for (const auto& child : cfg.routes) {
    nodes_[index].children.push_back(static_cast<int>(nodes_.size()));
    Walk(child, key, false);
  }
}

std::vector<int> RouteTree::Match(const LabelSet& labels) const {
  std::vector<int> out;
  Match(0, labels, out);
  return out;
}

void RouteTree::Match(int node, const LabelSet& labels, std::vector<int>& out) const {
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

std::vector<std::string> RouteTree::ReceiversFor(const LabelSet& labels) const {
  std::vector<std::string> out;
  for (int node : Match(labels)) {
    const std::string& r = nodes_[node].cfg->receiver;
    if (std::find(out.begin(), out.end(), r) == out.end()) out.push_back(r);
  }
  return out;
}

LabelSet RouteTree::GroupLabels(const RouteConfig& route, const LabelSet& labels) {
  if (route.group_by_all) return labels;
  LabelSet out;
  for (const auto& name : route.group_by) {
    if (auto it = labels.find(name); it != labels.end()) out.insert(*it);
  }
  return out;
}

Millis RouteTree::MaxRepeatInterval() const { return MaxRepeat(*root_); }

}  // namespace linkwatch::notifiers
