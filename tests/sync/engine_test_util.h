// Shared scaffolding of the SyncEngine tests (engine_test, engine_break_test,
// engine_power_cut_test): a fresh folder per test, a one-table SQLite-source
// to lake profile, one value of the state store, and a wait on a condition
// while the engine works on its own threads.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <string>
#include <thread>

#include "agent/core/config.h"
#include "agent/state/db.h"

namespace linkwatch::sync::testing {

// <tmp>/<prefix>_<pid>_<test name>, created empty.
inline std::filesystem::path FreshTestDir(const std::string& prefix) {
  std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
  std::replace(name.begin(), name.end(), '/', '_');
  const auto dir = std::filesystem::temp_directory_path() /
                   (prefix + "_" + std::to_string(::getpid()) + "_" + name);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

// Profile "crm": the SQLite file `source` into the lake `lake`, table `table`,
// a round every 100 ms.
inline ProfileConfig LakeProfile(const std::string& source, const std::string& lake,
                                 TableConfig table) {
  ProfileConfig profile;
  profile.name = "crm";
  profile.source_type = "sqlite";
  profile.source_path = source;
  profile.destination_type = "lake";
  profile.destination_path = lake;
  profile.sync_interval = Millis(100);
  profile.tables = {std::move(table)};
  return profile;
}

// One value (a fresh read-only connection): "" for null or no row.
inline std::string QueryOne(const std::string& db_path, const std::string& sql) {
  auto db = state::Db::Open(db_path, state::Db::Mode::kReadOnly);
  if (!db.ok()) return "<no db>";
  auto st = (*db)->Prepare(sql);
  if (!st.ok()) return "<" + st.message() + ">";
  if (!st->Step() || st->IsNull(0)) return "";
  return st->Text(0);
}

// Polls `predicate` (the engine's threads make progress on their own) for
// up to a minute.
template <typename F>
bool WaitFor(F predicate) {
  for (int i = 0; i < 1200 && !predicate(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return predicate();
}

}  // namespace linkwatch::sync::testing
