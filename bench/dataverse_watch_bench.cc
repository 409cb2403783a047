// The dataverse watch source's cost per poll (issue 11, "Performance"):
// 1,000 entity-state rows across 20 profiles (with their profile-entity,
// external-table and schedule rows), served by the Dataverse emulator over
// HTTP on loopback; one iteration is one DataverseStateSource::Poll(): six
// entity sets read through the Web API client, parsed as they stream and
// turned into a typed snapshot.
//   * requests/poll: HTTP requests the poll made (counters, exact);
//   * CPU time: this thread's CPU (the client side); the emulator answers
//     from its own threads and is not counted;
//   * Real time: the whole poll on loopback, emulator included.
// Beside it, BM_LocalPoll reads the same rows from the SQLite file (the local
// source), the floor for turning rows into a snapshot.
//
//   build/bench/dataverse_watch_bench
#include <benchmark/benchmark.h>

#include <filesystem>
#include <string>

#include "agent/state/db.h"
#include "agent/state/state_store.h"
#include "agent/watch/dataverse_source.h"
#include "agent/watch/local_source.h"
#include "tests/fakes/dataverse_emulator.h"

namespace linkwatch {
namespace {

constexpr int kProfiles = 20;
constexpr int kTablesPerProfile = 50;  // 1,000 entity rows

std::string Guid(int kind, int n) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%08x-0000-4000-8000-%012x", kind, n);
  return buf;
}

// A state file with the rows above; its path.
const std::string& StateFile() {
  static const std::string path = [] {
    const auto dir = std::filesystem::temp_directory_path() / "lw-dataverse-watch-bench";
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    const std::string p = (dir / "state.db").string();
    { auto store = state::StateStore::Open(p); }
    auto db = state::Db::Open(p);
    std::string sql = "BEGIN;";
    for (int p_i = 0; p_i < kProfiles; ++p_i) {
      const std::string profile = Guid(1, p_i);
      sql +=
          "INSERT INTO synapselinkprofile (synapselinkprofileid, name, profilestate, "
          "activationtime, datalakefolder) VALUES ('" +
          profile + "', 'profile" + std::to_string(p_i) + "', 1, '2026-12-01T00:00:00Z', 'lake/p" +
          std::to_string(p_i) + "');";
      sql +=
          "INSERT INTO synapselinkschedule (synapselinkscheduleid, profile, type, "
          "recurrenceinterval, recurrenceunit) VALUES ('" +
          Guid(5, p_i) + "', '" + profile + "', 1, 15, 1);";
      for (int t = 0; t < kTablesPerProfile; ++t) {
        const int n = p_i * kTablesPerProfile + t;
        const std::string entity = "table" + std::to_string(t);
        sql +=
            "INSERT INTO synapselinkprofileentity (synapselinkprofileentityid, entityname, "
            "profile, enabled, partitionstrategy) VALUES ('" +
            Guid(2, n) + "', '" + entity + "', '" + profile + "', 1, 0);";
        sql +=
            "INSERT INTO synapselinkprofileentitystate (synapselinkprofileentitystateid, "
            "entityname, profile, profileentity, syncstate, initialsyncstate, metadatastate, "
            "crmrecordcount, lakerecordcount, lastsynceddatatime, lastsyncedmetadatatime, "
            "additiontime, crmrecordcountmodifiedtime, lakerecordcountmodifiedtime, "
            "lastsynceddataversion) VALUES ('" +
            Guid(3, n) + "', '" + entity + "', '" + profile + "', '" + Guid(2, n) + "', 2, 4, 8, " +
            std::to_string(1000 + n) + ", " + std::to_string(1000 + n) +
            ", '2026-12-03T10:00:00Z', '2026-12-03T09:00:00Z', "
            "'2026-12-01T00:00:00Z', '2026-12-03T10:00:00Z', '2026-12-03T10:00:00Z', '" +
            std::to_string(900000 + n) + "');";
        sql +=
            "INSERT INTO synapselinkexternaltablestate (synapselinkexternaltablestateid, "
            "entityname, tablestate, lastsyncstate, recordcount, synapseworkspacename, "
            "lastsynchronizedon) VALUES ('" +
            Guid(4, n) + "', '" + entity + "', 1, 1, " + std::to_string(1000 + n) + ", 'profile" +
            std::to_string(p_i) + "', '2026-12-03T10:00:00Z');";
      }
    }
    sql += "COMMIT;";
    if (!db.ok() || !(*db)->Exec(sql).ok()) std::abort();
    return p;
  }();
  return path;
}

// The measured loop: one Poll per iteration.
void PollLoop(benchmark::State& st, watch::StateSource& source) {
  size_t rows = 0;
  for (auto _ : st) {
    auto snap = source.Poll();
    if (!snap.ok()) {
      st.SkipWithError(snap.message().c_str());
      break;
    }
    rows = (**snap)[state::TableId::kEntityState].rows.size();
  }
  st.counters["entity_rows"] = static_cast<double>(rows);
}

void BM_DataversePoll(benchmark::State& st) {
  fakes::DataverseEmulatorOptions o;
  o.state_db = StateFile();
  fakes::DataverseEmulator emulator(o);
  dataverse::WebApiSettings s;
  s.url = emulator.Url();
  s.entra.authority = emulator.Url();
  s.entra.tenant_id = o.tenant_id;
  s.entra.client_id = o.client_id;
  s.entra.client_secret = Secret::Plain(o.client_secret);
  watch::DataverseStateSource source("bench", watch::DataverseStateSource::WatchDefaults(s),
                                     SystemClock::Instance());
  if (!source.Poll().ok()) std::abort();  // the token, once
  const int64_t before = source.requests();
  PollLoop(st, source);
  st.counters["requests/poll"] =
      static_cast<double>(source.requests() - before) / static_cast<double>(st.iterations());
}
BENCHMARK(BM_DataversePoll)->Unit(benchmark::kMillisecond)->MinTime(3);

void BM_LocalPoll(benchmark::State& st) {
  watch::LocalSource source("bench", StateFile(), /*state_store=*/false);
  PollLoop(st, source);
}
BENCHMARK(BM_LocalPoll)->Unit(benchmark::kMillisecond)->MinTime(3);

}  // namespace
}  // namespace linkwatch

BENCHMARK_MAIN();
