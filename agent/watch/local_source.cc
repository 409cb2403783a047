#include "agent/watch/local_source.h"

#include <spdlog/spdlog.h>

#include <filesystem>

#include "agent/state/state_store.h"
#include "agent/watch/state_source_registry.h"

namespace linkwatch::watch {

LocalSource::LocalSource(std::string name, std::string path, bool state_store)
    : name_(std::move(name)), path_(std::move(path)), state_store_(state_store) {}

Status LocalSource::CheckReadable() const {
  std::error_code ec;
  if (state_store_ || !std::filesystem::exists(path_, ec)) return Status::Ok();
  return state::CheckSqliteFile(path_);
}

Status LocalSource::EnsureOpen() {
  if (db_) return Status::Ok();
  if (!std::filesystem::exists(path_)) {
    return Status::Error("state file " + path_ + " does not exist (deleted or moved away?)");
  }
  // Read-only: the watcher never writes a source and must not change a
  // foreign file's journal mode.
  auto db = state::Db::Open(path_, state::Db::Mode::kReadOnly);
  if (!db) return db.status();
  db_ = std::move(db).value();
  plan_ = {};
  return Status::Ok();
}

namespace {

std::optional<state::FileIdentity> FileAt(const std::string& path) {
  auto id = state::StatFile(path);
  if (!id.ok()) return std::nullopt;
  return *id;
}

}  // namespace

Result<std::shared_ptr<const state::Snapshot>> LocalSource::Poll() {
  if (db_) {
    if (auto s = db_->CheckFile(); !s.ok()) {
      spdlog::warn("watch source {}: {}; reopening the path", name_, s.message());
      db_.reset();
    }
  }
  auto snap = PollOpen();
  if (snap.ok()) {
    failed_ = false;
    failed_file_.reset();
  } else {
    db_.reset();
    failed_ = true;
    failed_file_ = FileAt(path_);
  }
  return snap;
}

void LocalSource::SetOwnWriter(VersionFn others_version) {
  if (state_store_) own_writer_ = std::move(others_version);
}

Result<std::shared_ptr<const state::Snapshot>> LocalSource::PollOpen() {
  if (auto s = EnsureOpen(); !s.ok()) return s;
  // Before the read: a commit by anyone else after this point changes it,
  // and the next Changed() polls.
  own_writer_version_ = own_writer_ ? own_writer_() : std::nullopt;
  // Read the version first: a commit landing during the read bumps it again
  // and the next Changed() sees it.
  auto version = db_->DataVersion();
  if (!version) return version.status();
  // One read transaction so the six tables are consistent with each other.
  if (auto s = db_->Exec("BEGIN"); !s.ok()) return s;
  auto snap = state::ReadSnapshot(*db_, &plan_);
  (void)db_->Exec("COMMIT");
  if (!snap) return snap.status().WithContext("polling " + path_);
  last_version_ = *version;
  return std::make_shared<const state::Snapshot>(std::move(snap).value());
}

bool LocalSource::Changed() {
  if (!db_) return failed_ && FileAt(path_) != failed_file_;
  // Deleted or replaced: poll now (Poll reopens or reports the file missing).
  if (!db_->CheckFile().ok()) return true;
  auto version = db_->DataVersion();
  if (!version.ok() || *version == last_version_) return false;
  // Read after our own version: if the own writer saw no other commit since
  // before the last poll, every commit since was its own, and the data this
  // source reads is as polled.
  if (own_writer_version_) {
    const std::optional<int64_t> others = own_writer_();
    if (others && *others == *own_writer_version_) {
      last_version_ = *version;
      return false;
    }
  }
  return true;
}

bool LocalSource::NotifyChanges(const std::function<void()>& wake) {
  if (watch_ && watch_->alive()) return true;
  watch_.reset();
  auto w = FileWatch::Start(path_, wake);
  if (!w) {
    if (!watch_failure_logged_) {
      spdlog::warn("watch source {}: {}; checking it for changes every few tens of ms instead",
                   name_, w.message());
      watch_failure_logged_ = true;
    }
    return false;
  }
  watch_ = std::move(w).value();
  watch_failure_logged_ = false;
  return true;
}

}  // namespace linkwatch::watch

namespace linkwatch::watch {

// The `local` watch source type (state_source_registry.cc): `path`, or the
// state store when the block has none.
std::unique_ptr<StateSource> MakeLocalSource(const YAML::Node& spec, const BlockContext& ctx) {
  if (!ctx.CheckKeys(spec, {})) return nullptr;
  const std::string path = ctx.path.empty() ? ctx.state_db : ctx.path;
  return std::make_unique<LocalSource>(ctx.name, path, path == ctx.state_db);
}

}  // namespace linkwatch::watch
