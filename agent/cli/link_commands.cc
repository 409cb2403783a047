// The lifecycle commands of contract.md section 2 (declared in app.h):
// link, unlink, relink, tables add|remove. They write the state store
// directly (it decides what is linked); a running agent notices within a
// second. Exit codes: 0 ok, 1 runtime failure, 2 bad usage or input.
#include <fcntl.h>
#include <poll.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <set>

#include "agent/cli/app.h"
#include "agent/core/clock.h"
#include "agent/core/config.h"
#include "agent/core/env.h"
#include "agent/core/files.h"
#include "agent/core/problem.h"
#include "agent/state/schema.h"
#include "agent/state/state_store.h"
#include "agent/sync/destinations/lake_location.h"
#include "agent/sync/source_registry.h"
#include "agent/sync/state_rows.h"

namespace linkwatch {
namespace {

namespace fs = std::filesystem;

// What every lifecycle command starts from: the config, its profile and the
// open state store. `profile` is null for a profile the config no longer
// names but the state store has linked (only unlink works on those).
struct Context {
  Config config;
  const ProfileConfig* profile = nullptr;
  std::unique_ptr<state::StateStore> store;
  std::optional<sync::LinkedProfile> linked;
  // Where the profile's data is: the config's destination, or for a profile
  // no longer in the config the one recorded when it was linked.
  std::string destination;
  // The destination recorded when the profile was linked ("" if none).
  std::string linked_destination;
};

// Whether a command can work on a profile the config no longer names.
enum class NeedsConfig { kYes, kNo };

// Returns an exit code (!= 0) on failure.
int Load(const std::string& config_path, const std::string& profile, const char* command,
         Context& ctx, NeedsConfig needs = NeedsConfig::kYes) {
  try {
    ctx.config = LoadConfig(config_path, BuiltinConfigTypes());
  } catch (const InputError& e) {
    for (const auto& p : e.problems()) std::fprintf(stderr, "%s\n", p.ToString().c_str());
    return 2;
  }
  for (const auto& p : ctx.config.profiles) {
    if (p.name == profile) ctx.profile = &p;
  }
  std::error_code ec;
  if (ctx.profile == nullptr && !fs::exists(ctx.config.state_db, ec)) {
    // Not configured and nothing linked (the store is not created here).
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
  if (ctx.linked) {
    auto folder = sync::ReadDestinationFolder(ctx.store->db(), ctx.linked->id);
    if (!folder) {
      std::fprintf(stderr, "linkwatch %s: %s\n", command, folder.message().c_str());
      return 1;
    }
    ctx.linked_destination = *folder;
  }
  if (ctx.profile == nullptr) {
    // The state store decides what is linked (contract.md section 2): a
    // linked profile dropped from the config can still be unlinked.
    const bool linked_here = ctx.linked && ctx.linked->state != state::codes::kProfileDeleted;
    if (needs == NeedsConfig::kNo && ctx.linked) {
      ctx.destination = ctx.linked_destination;
      return 0;
    }
    std::fprintf(stderr, "linkwatch %s: no profile \"%s\" in %s%s\n", command, profile.c_str(),
                 config_path.c_str(),
                 linked_here ? ("; the state store has it linked: put it back into the config, "
                                "or stop it with linkwatch unlink --config " +
                                config_path + " --profile " + profile)
                                   .c_str()
                             : "");
    return 2;
  }
  ctx.destination = ctx.profile->destination_path;
  return 0;
}

double Now() { return ToEpochSeconds(SystemClock::Instance().Now()); }

int Fail(const char* command, const Status& s) {
  std::fprintf(stderr, "linkwatch %s: %s\n", command, s.message().c_str());
  return 1;
}

// Whether the profile's destination holds data of an earlier link.
bool HasData(const std::string& destination) {
  std::error_code ec;
  if (!fs::is_directory(destination, ec)) return false;
  return !fs::is_empty(destination, ec);
}

// A folder that `unlink --delete-data` or `relink --clear` may delete,
// checked before anything is changed (Check) and then deleted (Delete).
// The checks make sure the folder deleted is this profile's lake, wherever
// the configured path leads: a symlink is followed to the folder it names
// (deleting the link alone would leave the data and claim otherwise), and
// that folder must be the lake the profile was linked with, look like a
// linkwatch lake, and not hold the state store.
class LakeDeletion {
 public:
  // `destination`: the configured (or recorded) path; `linked`: the path
  // recorded at link time ("" if none); `state_db`: the state store.
  LakeDeletion(std::string destination, std::string linked, const Config& config,
               const std::string& profile)
      : destination_(std::move(destination)),
        linked_(std::move(linked)),
        state_db_(config.state_db) {
    for (const auto& p : config.profiles) {
      if (p.name != profile && !p.destination_path.empty()) {
        others_.emplace_back(p.name, p.destination_path);
      }
    }
  }
  ~LakeDeletion() {
    if (lock_fd_ >= 0) ::close(lock_fd_);
  }

  // Ok when there is nothing to delete (then exists() is false) or the
  // folder may be deleted; otherwise why not (nothing was changed).
  Status Check() {
    if (destination_.empty()) {
      return Status::Error(
          "the state store records no destination for this profile; nothing "
          "deleted");
    }
    std::error_code ec;
    const auto status = fs::symlink_status(destination_, ec);
    if (ec || !fs::exists(status)) return Status::Ok();  // nothing there
    real_ = fs::canonical(destination_, ec);
    if (ec) {
      // A dangling symlink: what it named is gone already.
      if (fs::is_symlink(status)) return Status::Ok();
      return Status::Error("cannot resolve " + destination_ + ": " + ec.message() +
                           "; nothing deleted");
    }
    exists_ = true;
    const std::string where = real_.string() == destination_
                                  ? destination_
                                  : destination_ + " (-> " + real_.string() + ")";
    if (!fs::is_directory(real_, ec)) {
      return Status::Error(where +
                           " is not a folder: only a lake folder is deleted (deleting a "
                           "warehouse's tables is not supported by this version); nothing "
                           "deleted");
    }
    if (!linked_.empty()) {
      const fs::path linked_real = RealPlace(linked_);
      if (linked_real != real_) {
        return Status::Error(
            where + " is not the lake this profile was linked with (" + linked_ +
            (linked_real == fs::path(linked_) ? "" : " -> " + linked_real.string()) +
            "); refusing to delete it; nothing deleted");
      }
    }
    // A symlink retargeted since the link could lead to another profile's lake.
    for (const auto& [name, path] : others_) {
      const fs::path other = RealPlace(path);
      if (PathContains(real_, other) || PathContains(other, real_)) {
        return Status::Error(where + " is (or shares a folder with) the destination of profile " +
                             name + " (" + path + "); refusing to delete it; nothing deleted");
      }
    }
    if (PathContains(real_, RealPlace(state_db_))) {
      return Status::Error(where + " holds the state store " + state_db_ +
                           "; refusing to delete it; nothing deleted");
    }
    if (!fs::is_empty(real_, ec) && !fs::exists(real_ / "model.json", ec) &&
        !fs::exists(real_ / sync::lake::kLakeLockFile, ec)) {
      return Status::Error(where + " holds neither model.json nor " + sync::lake::kLakeLockFile +
                           ": it does not look like a linkwatch lake; refusing to delete it; "
                           "nothing deleted");
    }
    return Status::Ok();
  }

  bool exists() const { return exists_; }

  // Deletes the lake once no process holds its lock (a running agent lets
  // go of an unlinked profile's lake within a second; waits up to
  // `wait`). With `keep_folder` the folder (and a symlink to it) stays,
  // emptied, so that the lake comes back where it was; otherwise the folder
  // goes, and a symlink naming it too. Returns what was deleted, in words.
  Result<std::string> Delete(bool keep_folder, std::chrono::seconds wait) {
    std::error_code ec;
    if (!exists_) {
      return "nothing to delete: " + destination_ + " does not exist" +
             (fs::is_symlink(fs::symlink_status(destination_, ec))
                  ? " (a symlink to a missing folder; left as it is)"
                  : "");
    }
    if (auto s = Lock(wait); !s.ok()) return s;
    if (keep_folder) {
      // Listed first: removing entries while iterating may skip some.
      std::vector<fs::path> entries;
      for (const auto& entry : fs::directory_iterator(real_, ec)) entries.push_back(entry.path());
      for (const auto& entry : entries) {
        if (ec) break;
        fs::remove_all(entry, ec);
      }
    } else {
      fs::remove_all(real_, ec);
    }
    if (ec) {
      return Status::Error("deleting " + real_.string() + " failed part way: " + ec.message() +
                           "; some of its files are left");
    }
    std::string what = keep_folder ? "the content of lake folder " + real_.string()
                                   : "lake folder " + real_.string();
    // A deleted lake must not come back after a power cut: the folder that
    // lost the entries is fsynced (env.h).
    if (auto s = Env::Default().SyncDir(keep_folder ? real_.string() : ParentDir(real_.string()));
        !s.ok()) {
      return Status::Error("deleted " + what + ", but " + s.message());
    }
    if (real_.string() != destination_) {
      if (!keep_folder && fs::is_symlink(fs::symlink_status(destination_, ec))) {
        fs::remove(destination_, ec);
        if (ec) {
          return Status::Error("deleted " + what + ", but not the symlink " + destination_ +
                               " naming it: " + ec.message());
        }
        what += " and the symlink " + destination_ + " naming it";
        if (auto s = Env::Default().SyncDir(ParentDir(destination_)); !s.ok()) {
          return Status::Error("deleted " + what + ", but " + s.message());
        }
      } else {
        what += " (reached through " + destination_ + ")";
      }
    }
    return what;
  }

 private:
  Status Lock(std::chrono::seconds wait) {
    const fs::path lock = real_ / sync::lake::kLakeLockFile;
    auto open_lock = [&] {
      lock_fd_ = ::open(lock.c_str(), O_RDWR | O_CLOEXEC);
      return lock_fd_ >= 0;
    };
    // No writer has opened the lake yet; an agent whose supervisor read the
    // profile just before the unlink creates the lock within its next pass
    // (a second): wait for the file to appear, no longer.
    if (!open_lock() && !WaitForFileEvent(real_, IN_CREATE, kAgentPassWait, open_lock)) {
      return Status::Ok();
    }
    // A running agent lets go of the lake (closing the lock) once it saw the
    // profile unlinked: each close of the file is a chance to take it.
    if (!WaitForFileEvent(lock, IN_CLOSE, wait,
                          [&] { return ::flock(lock_fd_, LOCK_EX | LOCK_NB) == 0; })) {
      return Status::Error("lake folder " + real_.string() +
                           " is still in use by a running linkwatch process (it holds " +
                           lock.string() + "); nothing deleted");
    }
    return Status::Ok();
  }

  // Checks `ready` now and again after each inotify event of `mask` on
  // `path`, until it holds (true) or `timeout` passes (false). The watch is
  // set before the first check, so no event between the two is missed.
  static bool WaitForFileEvent(const fs::path& path, uint32_t mask,
                               std::chrono::milliseconds timeout,
                               const std::function<bool()>& ready) {
    const int fd = ::inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
    const bool watching = fd >= 0 && ::inotify_add_watch(fd, path.c_str(), mask) >= 0;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    bool done = ready();
    while (!done && watching) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left <= std::chrono::milliseconds::zero()) break;
      struct pollfd p = {fd, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) break;  // timed out (or failed)
      char events[4096];
      while (::read(fd, events, sizeof events) > 0) {
      }
      done = ready();
    }
    if (fd >= 0) ::close(fd);
    return done;
  }

  // How long a running agent may take to notice a state change (its
  // supervisor re-reads the state store every second).
  static constexpr std::chrono::milliseconds kAgentPassWait{1500};

  std::string destination_, linked_, state_db_;
  std::vector<std::pair<std::string, std::string>> others_;  // (profile, destination)
  fs::path real_;
  bool exists_ = false;
  int lock_fd_ = -1;
};

// How long unlink/relink wait for a running agent to let go of the lake.
constexpr std::chrono::seconds kLakeReleaseWait{30};

const TableConfig* ConfiguredTable(const ProfileConfig& p, const std::string& name) {
  for (const auto& t : p.tables) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

}  // namespace

Status CheckSourceTables(const ProfileConfig& profile, const std::vector<std::string>& tables,
                         bool* unreadable) {
  const auto& sources = sync::SourceRegistry::Builtin();
  if (!sources.Runs(profile.source_type)) return Status::Ok();
  auto opener = sources.Opener(profile);
  if (!opener) return opener.status();
  auto source = (*opener)();
  if (!source) {
    // The reason every source gives when nothing is where its block points.
    if (source.status().reason() == "source_missing") {
      return Status::Error("profile " + profile.name + ": its source " + profile.source_path +
                           " does not exist");
    }
    if (unreadable) *unreadable = true;
    return source.status().WithContext("profile " + profile.name);
  }
  for (const auto& t : tables) {
    auto schema = (*source)->Describe(t);
    if (!schema) return schema.status().WithContext("profile " + profile.name);
  }
  return Status::Ok();
}

namespace {

// 0 when the source has `tables`, each tracked; otherwise says why and
// returns 2 (bad input: the table or the source named) or 1 (the source
// cannot be read now).
int RefuseUnsyncable(const char* command, const ProfileConfig& profile,
                     const std::vector<std::string>& tables) {
  bool unreadable = false;
  auto s = CheckSourceTables(profile, tables, &unreadable);
  if (s.ok()) return 0;
  std::fprintf(stderr, "linkwatch %s: %s\n", command, s.message().c_str());
  return unreadable ? 1 : 2;
}

std::vector<std::string> TableNames(const ProfileConfig& profile) {
  std::vector<std::string> names;
  for (const auto& t : profile.tables) names.push_back(t.name);
  return names;
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
  if (int rc = RefuseUnsyncable("link", *ctx.profile, TableNames(*ctx.profile))) return rc;
  state::Transaction tx(ctx.store->db());
  if (!tx.status().ok()) return Fail("link", tx.status());
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
  if (int rc = Load(config_path, profile, "unlink", ctx, NeedsConfig::kNo)) return rc;
  if (delete_data && confirm != profile) {
    std::fprintf(stderr,
                 "linkwatch unlink: --delete-data removes %s; repeat the profile name with "
                 "--confirm %s\n",
                 ctx.destination.c_str(), profile.c_str());
    return 2;
  }
  // Everything that could refuse the deletion is checked before the profile
  // is unlinked, so that a refusal changes nothing.
  LakeDeletion deletion(ctx.destination, ctx.linked_destination, ctx.config, profile);
  if (delete_data) {
    if (auto s = deletion.Check(); !s.ok()) return Fail("unlink --delete-data", s);
  }
  if (!ctx.linked || ctx.linked->state == state::codes::kProfileDeleted) {
    std::fprintf(stderr, "linkwatch unlink: profile %s is not linked\n", profile.c_str());
    if (!delete_data) return 1;
  } else if (auto s = sync::SetProfileState(ctx.store->db(), ctx.linked->id,
                                            state::codes::kProfileDeleted, Now());
             !s.ok()) {
    return Fail("unlink", s);
  } else {
    std::printf("unlinked profile %s (profilestate Deleted)%s\n", profile.c_str(),
                ctx.profile ? "" : "; it is no longer in the config");
  }
  if (delete_data) {
    auto deleted = deletion.Delete(/*keep_folder=*/false, kLakeReleaseWait);
    if (!deleted) return Fail("unlink --delete-data", deleted.status());
    std::printf("%s%s\n", deletion.exists() ? "deleted " : "", deleted->c_str());
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
  if (int rc = RefuseUnsyncable("relink", *ctx.profile, TableNames(*ctx.profile))) return rc;
  if (HasData(ctx.destination)) {
    if (!clear) {
      std::fprintf(stderr,
                   "linkwatch relink: %s still holds data of the earlier link; pass --clear to "
                   "delete it and sync again from scratch\n",
                   ctx.destination.c_str());
      return 1;
    }
    LakeDeletion deletion(ctx.destination, ctx.linked_destination, ctx.config, profile);
    if (auto s = deletion.Check(); !s.ok()) return Fail("relink --clear", s);
    // The folder stays (emptied), so the lake comes back where it was.
    auto deleted = deletion.Delete(/*keep_folder=*/true, kLakeReleaseWait);
    if (!deleted) return Fail("relink --clear", deleted.status());
    std::printf("deleted %s\n", deleted->c_str());
  }
  auto& db = ctx.store->db();
  state::Transaction tx(db);
  if (!tx.status().ok()) return Fail("relink", tx.status());
  const double now = Now();
  // The lake is the config's destination from now on.
  if (auto s = sync::SetDestinationFolder(db, *ctx.linked, ctx.destination, now); !s.ok()) {
    return Fail("relink", s);
  }
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
  if (add) {
    // Refused before anything is written: a name that cannot be a lake
    // folder, or a table the agent could never sync (it would retry forever).
    for (const auto& name : tables) {
      if (!IsTableName(name)) {
        std::fprintf(stderr, "linkwatch %s: %s\n", command, TableNameProblem(name).c_str());
        return 2;
      }
    }
    if (int rc = RefuseUnsyncable(command, *ctx.profile, tables)) return rc;
  }
  auto& db = ctx.store->db();
  state::Transaction tx(db);
  if (!tx.status().ok()) return Fail(command, tx.status());
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
