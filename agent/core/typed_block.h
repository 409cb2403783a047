// The seam between the config loader and the registries of the YAML `type`
// blocks: a profile's `source` and `destination`, and a `watch.sources`
// entry. The loader (config.h) reads what every block of a kind has (`type`,
// `path`, a watch source's `name`) and hands the block to the registry of its
// kind, whose factory for that type validates the rest with file:line:column
// problems. The registries live in the layers that build the objects
// (sync/source_registry.h, sync/destination_registry.h,
// watch/state_source_registry.h), so this layer knows no type names.
//
// TypeRegistry is the shape they share (notifiers/registry.h is the same for
// receivers): a factory per type, registered once at start; read-only and
// thread-safe to read afterwards.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "agent/core/problem.h"
#include "agent/core/status.h"

namespace YAML {
class Node;
}

namespace linkwatch {

class Problems;

// What a factory gets besides its own YAML mapping (a null node when the
// block was not written in YAML, e.g. a ProfileConfig built by a test).
struct BlockContext {
  std::string what;      // how messages name the block: "source", "watch source"
  std::string name;      // the profile's or the watch source's name
  std::string path;      // the block's `path`, resolved against base_dir; "" when absent
  std::string base_dir;  // the config file's folder: relative paths resolve here
  std::string state_db;  // the state store (resolved)
  Problems& problems;    // every problem found (file:line:column from the nodes)
  // Keys every block of this kind accepts besides the factory's own: those
  // the loader reads (type, path, name) and those blocks of any type were
  // accepted with before each type validated its own block.
  std::vector<std::string> common_keys;

  // CheckKeys (yaml_util.h) over `known` plus common_keys, naming the block
  // as `what`. A null node counts as an empty mapping.
  bool CheckKeys(const YAML::Node& spec, std::vector<std::string> known) const;
  // For types that need a `path`: adds "<what> needs a path" when the block
  // has none (a path of the wrong type was reported by the loader); false
  // without a usable path.
  bool NeedsPath(const YAML::Node& spec) const;
};

// A registry as the loader sees it.
class BlockTypes {
 public:
  virtual ~BlockTypes() = default;
  // The registered types, in registration order (as messages list them).
  virtual std::vector<std::string> Types() const = 0;
  virtual bool Has(std::string_view type) const = 0;
  // Validates a block of a registered type; problems go to ctx.problems.
  virtual void Check(std::string_view type, const YAML::Node& spec,
                     const BlockContext& ctx) const = 0;
};

// The registries ParseConfig validates blocks with. A null one accepts every
// type of its kind and leaves its blocks unchecked (the layer's own tests).
struct ConfigTypes {
  const BlockTypes* sources = nullptr;
  const BlockTypes* destinations = nullptr;
  const BlockTypes* watch_sources = nullptr;
};

// "a, b, c" (or "a or b" with `last` = " or ").
std::string JoinTypes(const std::vector<std::string>& types, std::string_view last = ", ");
// The messages of `problems`, joined with "; " (without file positions).
std::string ProblemMessages(const Problems& problems);

// Factories keyed by a YAML `type`. `Factory` is callable as
// factory(const YAML::Node& spec, const BlockContext& ctx) and returns what
// the kind builds (empty or null when the block has problems). A type
// registered with runs = false is validated but not run by this version:
// `run` refuses it with a clear message before starting.
template <typename Factory>
class TypeRegistry : public BlockTypes {
 public:
  void Register(std::string type, Factory factory, bool runs = true) {
    if (factories_.find(type) == factories_.end()) order_.push_back(type);
    factories_[std::move(type)] = Entry{std::move(factory), runs};
  }
  const Factory* Find(std::string_view type) const {
    auto it = factories_.find(type);
    return it == factories_.end() ? nullptr : &it->second.factory;
  }
  bool Runs(std::string_view type) const {
    auto it = factories_.find(type);
    return it != factories_.end() && it->second.runs;
  }
  // The types that run, in registration order.
  std::vector<std::string> Running() const {
    std::vector<std::string> out;
    for (const auto& t : order_) {
      if (Runs(t)) out.push_back(t);
    }
    return out;
  }

  // Runs the factory of `type` outside config loading (a sync worker opening
  // its source, the watcher building its sources): what it built, or an
  // error naming the problems when the type is not registered or the block
  // has problems (ctx.problems is where they are collected).
  template <typename Built = std::invoke_result_t<Factory, const YAML::Node&, const BlockContext&>>
  Result<Built> Build(std::string_view type, const YAML::Node& spec,
                      const BlockContext& ctx) const {
    const Factory* f = Find(type);
    if (f == nullptr) {
      return Status::Error(ctx.what + " type \"" + std::string(type) +
                           "\" is not one of: " + JoinTypes(order_));
    }
    Built built = (*f)(spec, ctx);
    if (!ctx.problems.empty() || !built) {
      return Status::Error(ctx.what + " of " + ctx.name + ": " +
                           (ctx.problems.empty() ? "invalid " + std::string(type) + " settings"
                                                 : ProblemMessages(ctx.problems)));
    }
    return built;
  }

  std::vector<std::string> Types() const override { return order_; }
  bool Has(std::string_view type) const override { return Find(type) != nullptr; }
  void Check(std::string_view type, const YAML::Node& spec,
             const BlockContext& ctx) const override {
    if (const Factory* f = Find(type)) (void)(*f)(spec, ctx);
  }

 private:
  struct Entry {
    Factory factory;
    bool runs = true;
  };
  std::map<std::string, Entry, std::less<>> factories_;
  std::vector<std::string> order_;
};

}  // namespace linkwatch
