// The lifecycle commands of contract.md section 2 (declared in app.h):
// link, unlink, relink, tables add|remove. They write the state store
// directly (it decides what is linked); a running agent notices within a
// second. Exit codes: 0 ok, 1 runtime failure, 2 bad usage or input.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <set>
#include <thread>

#include "agent/app.h"
#include "agent/core/clock.h"
#include "agent/core/config.h"
#include "agent/core/problem.h"
#include "agent/state/schema.h"
#include "agent/state/state_store.h"
#include "agent/sync/state_rows.h"

namespace linkwatch {
namespace {

namespace fs = std::filesystem;

// What every lifecycle command starts from: the config, its profile and the
// open state store.
struct Context {
  Config config;
  const ProfileConfig* profile = nullptr;
  std::unique_ptr<state::StateStore> store;
  std::optional<sync::LinkedProfile> linked;
};

// Returns an exit code (!= 0) on failure.
int Load(const std::string& config_path, const std::string& profile, const char* command,
         Context& ctx) {
  try {
    ctx.config = LoadConfig(config_path);
  } catch (const InputError& e) {
    for (const auto& p : e.problems()) std::fprintf(stderr, "%s\n", p.ToString().c_str());
    return 2;
  }
  for (const auto& p : ctx.config.profiles) {
    if (p.name == profile) ctx.profile = &p;
  }
  if (ctx.profile == nullptr) {
    std::fprintf(stderr, "linkwatch %s: no profile \"%s\" in %s\n", command, profile.c_str(),
                 config_path.c_str());
    return 2;
  }
  auto store = state::StateStore::Open(ctx.config.state_db);
  if (!store) {
    std::fprintf(stderr, "linkwatch %s: %s\n", command, store.message().c_str());
    return 1;
  }
  ctx.store = std::move(store).value();
  auto linked = sync::ReadProfile(ctx.store->db(), profile);
  if (!linked) {
    std::fprintf(stderr, "linkwatch %s: %s\n", command, linked.message().c_str());
    return 1;
  }
  ctx.linked = std::move(linked).value();
  return 0;
}

double Now() { return ToEpochSeconds(SystemClock::Instance().Now()); }

int Fail(const char* command, const Status& s) {
  std::fprintf(stderr, "linkwatch %s: %s\n", command, s.message().c_str());
  return 1;
}

// Whether the profile's destination holds data of an earlier link.
bool HasData(const ProfileConfig& p) {
  std::error_code ec;
  if (!fs::is_directory(p.destination_path, ec)) return false;
  return !fs::is_empty(p.destination_path, ec);
}

Status DeleteData(const ProfileConfig& p) {
  std::error_code ec;
  fs::remove_all(p.destination_path, ec);
  if (ec) return Status::Error("cannot delete " + p.destination_path + ": " + ec.message());
  return Status::Ok();
}

const TableConfig* ConfiguredTable(const ProfileConfig& p, const std::string& name) {
  for (const auto& t : p.tables) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

}  // namespace

int LinkCommand(const std::string& config_path, const std::string& profile) {
  Context ctx;
  if (int rc = Load(config_path, profile, "link", ctx)) return rc;
  if (ctx.linked) {
    std::fprintf(stderr, "linkwatch link: profile %s is already linked (%s)%s\n", profile.c_str(),
                 ctx.linked->state == state::codes::kProfileDeleted ? "Deleted" : "linked",
                 ctx.linked->state == state::codes::kProfileDeleted
                     ? "; use `linkwatch relink` to link it again"
                     : "");
    return 1;
  }
  state::Transaction tx(ctx.store->db());
  auto linked = sync::LinkProfile(ctx.store->db(), *ctx.profile, Now());
  if (!linked) return Fail("link", linked.status());
  if (auto s = tx.Commit(); !s.ok()) return Fail("link", s);
  std::printf("linked profile %s with %zu tables; the initial sync starts with the running agent\n",
              profile.c_str(), linked->tables.size());
  return 0;
}

int UnlinkCommand(const std::string& config_path, const std::string& profile, bool delete_data,
                  const std::string& confirm) {
  Context ctx;
  if (int rc = Load(config_path, profile, "unlink", ctx)) return rc;
  if (delete_data && confirm != profile) {
    std::fprintf(stderr,
                 "linkwatch unlink: --delete-data removes %s; repeat the profile name with "
                 "--confirm %s\n",
                 ctx.profile->destination_path.c_str(), profile.c_str());
    return 2;
  }
  if (!ctx.linked || ctx.linked->state == state::codes::kProfileDeleted) {
    std::fprintf(stderr, "linkwatch unlink: profile %s is not linked\n", profile.c_str());
    if (!delete_data) return 1;
  } else if (auto s = sync::SetProfileState(ctx.store->db(), ctx.linked->id,
                                            state::codes::kProfileDeleted, Now());
             !s.ok()) {
    return Fail("unlink", s);
  } else {
    std::printf("unlinked profile %s (profilestate Deleted)\n", profile.c_str());
  }
  if (delete_data) {
    // A running agent stops the profile's workers within a second.
    std::this_thread::sleep_for(std::chrono::seconds(2));
    if (auto s = DeleteData(*ctx.profile); !s.ok()) return Fail("unlink", s);
    std::printf("deleted %s\n", ctx.profile->destination_path.c_str());
  }
  return 0;
}

int RelinkCommand(const std::string& config_path, const std::string& profile, bool clear) {
  Context ctx;
  if (int rc = Load(config_path, profile, "relink", ctx)) return rc;
  if (!ctx.linked) {
    std::fprintf(stderr, "linkwatch relink: profile %s was never linked; use `linkwatch link`\n",
                 profile.c_str());
    return 1;
  }
  if (ctx.linked->state != state::codes::kProfileDeleted) {
    std::fprintf(stderr, "linkwatch relink: profile %s is linked; unlink it first\n",
                 profile.c_str());
    return 1;
  }
  if (HasData(*ctx.profile)) {
    if (!clear) {
      std::fprintf(stderr,
                   "linkwatch relink: %s still holds data of the earlier link; pass --clear to "
                   "delete it and sync again from scratch\n",
                   ctx.profile->destination_path.c_str());
      return 1;
    }
    // A running agent lets go of an unlinked profile's lake within a second.
    std::this_thread::sleep_for(std::chrono::seconds(2));
    if (auto s = DeleteData(*ctx.profile); !s.ok()) return Fail("relink", s);
  }
  auto& db = ctx.store->db();
  state::Transaction tx(db);
  const double now = Now();
  // The same profile row, Active again, with the config's tables afresh.
  for (const auto& t : ctx.linked->tables) {
    if (auto s = sync::RemoveTable(db, t, now); !s.ok()) return Fail("relink", s);
  }
  for (const auto& t : ctx.profile->tables) {
    auto added = sync::AddTable(db, *ctx.linked, t, now);
    if (!added) return Fail("relink", added.status());
  }
  if (auto s = sync::SetProfileState(db, ctx.linked->id, state::codes::kProfileActive, now);
      !s.ok()) {
    return Fail("relink", s);
  }
  if (auto s = tx.Commit(); !s.ok()) return Fail("relink", s);
  std::printf("relinked profile %s with %zu tables\n", profile.c_str(), ctx.profile->tables.size());
  return 0;
}

int TablesCommand(const std::string& config_path, const std::string& profile, bool add,
                  const std::vector<std::string>& tables) {
  const char* command = add ? "tables add" : "tables remove";
  Context ctx;
  if (int rc = Load(config_path, profile, command, ctx)) return rc;
  if (!ctx.linked || ctx.linked->state == state::codes::kProfileDeleted) {
    std::fprintf(stderr, "linkwatch %s: profile %s is not linked\n", command, profile.c_str());
    return 1;
  }
  auto& db = ctx.store->db();
  state::Transaction tx(db);
  const double now = Now();
  std::set<std::string> seen;
  for (const auto& name : tables) {
    if (!seen.insert(name).second) continue;  // named twice
    const sync::LinkedTable* existing = nullptr;
    for (const auto& t : ctx.linked->tables) {
      if (t.entity == name) existing = &t;
    }
    if (add) {
      if (existing) {
        std::fprintf(stderr, "linkwatch %s: %s is already linked in %s\n", command, name.c_str(),
                     profile.c_str());
        return 1;
      }
      TableConfig tc;
      tc.name = name;
      if (const auto* configured = ConfiguredTable(*ctx.profile, name)) tc = *configured;
      auto added = sync::AddTable(db, *ctx.linked, tc, now);
      if (!added) return Fail(command, added.status());
    } else {
      if (!existing) {
        std::fprintf(stderr, "linkwatch %s: %s is not linked in %s\n", command, name.c_str(),
                     profile.c_str());
        return 1;
      }
      if (auto s = sync::RemoveTable(db, *existing, now); !s.ok()) return Fail(command, s);
    }
  }
  if (auto s = tx.Commit(); !s.ok()) return Fail(command, s);
  for (const auto& name : tables) {
    std::printf("%s %s %s\n", add ? "added" : "removed", name.c_str(),
                add ? "(its initial sync starts with the running agent)" : "(its lake files stay)");
  }
  return 0;
}

}  // namespace linkwatch
