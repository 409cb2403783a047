// linkwatch-dataverse-emulator: the Dataverse Web API emulator as a process,
// for scripts and Python integration tests (docs/dataverse-emulator.md).
// Prints "listening on http://127.0.0.1:<port>" as its first line, then
// serves until SIGINT or SIGTERM.
#include <signal.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <string>
#include <vector>

#include "tests/fakes/dataverse_emulator.h"

namespace {

using linkwatch::fakes::AttributeDef;
using linkwatch::fakes::AttributeType;
using linkwatch::fakes::EntityDef;

// A change-tracked `account` table with a few typed attributes.
EntityDef DemoAccount() {
  EntityDef e;
  e.logical_name = "account";
  e.entity_set_name = "accounts";
  e.primary_id = "accountid";
  e.primary_name = "name";
  e.change_tracking = true;
  auto add = [&](std::string name, AttributeType type) -> AttributeDef& {
    AttributeDef a;
    a.logical_name = std::move(name);
    a.type = type;
    e.attributes.push_back(std::move(a));
    return e.attributes.back();
  };
  add("accountid", AttributeType::kUniqueidentifier);
  add("name", AttributeType::kString).max_length = 160;
  add("accountnumber", AttributeType::kString).max_length = 20;
  add("description", AttributeType::kMemo).max_length = 2000;
  add("numberofemployees", AttributeType::kInteger);
  add("revenue", AttributeType::kMoney).precision = 2;
  add("creditonhold", AttributeType::kBoolean);
  add("industrycode", AttributeType::kPicklist).options = {
      {1, "Accounting"},
      {2, "Agriculture and Non-petrol Natural Resource Extraction"},
      {3, "Broadcasting Printing and Publishing"},
      {4, "Brokers"}};
  add("statecode", AttributeType::kState).options = {{0, "Active"}, {1, "Inactive"}};
  add("statuscode", AttributeType::kStatus).options = {{1, "Active", 0}, {2, "Inactive", 1}};
  add("primarycontactid", AttributeType::kLookup).targets = {"contact"};
  add("createdon", AttributeType::kDateTime);
  add("modifiedon", AttributeType::kDateTime);
  add("versionnumber", AttributeType::kBigInt);
  return e;
}

std::vector<nlohmann::json> DemoRows(int n) {
  std::vector<nlohmann::json> rows;
  rows.reserve(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    char id[40];
    std::snprintf(id, sizeof id, "00000000-0000-4000-8000-%012d", i + 1);
    rows.push_back({{"accountid", id},
                    {"name", "Account " + std::to_string(i + 1)},
                    {"accountnumber", "ACC-" + std::to_string(100000 + i)},
                    {"numberofemployees", (i * 37) % 5000},
                    {"revenue", (i % 1000) * 1000.5},
                    {"creditonhold", i % 7 == 0},
                    {"industrycode", 1 + i % 4},
                    {"statecode", 0},
                    {"statuscode", 1}});
  }
  return rows;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Dataverse Web API emulator (tests, demos): see docs/dataverse-emulator.md"};
  linkwatch::fakes::DataverseEmulatorOptions options;
  int demo_rows = -1;
  app.add_option("--port", options.port, "port on 127.0.0.1 (0: any free port)");
  app.add_option("--state-db", options.state_db, "state-store SQLite file for the six tables");
  app.add_option("--store", options.store, "the emulator's own SQLite store (default: in memory)");
  app.add_option("--tenant", options.tenant_id, "tenant id of the token endpoint");
  app.add_option("--client-id", options.client_id, "accepted client id");
  app.add_option("--client-secret", options.client_secret, "accepted client secret");
  app.add_option("--demo-account-rows", demo_rows,
                 "define a change-tracked `account` table with this many rows");
  CLI11_PARSE(app, argc, argv);

  // Every thread inherits the mask; the main thread waits for the signal.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  linkwatch::fakes::DataverseEmulator emulator(options);
  if (demo_rows >= 0) {
    if (auto s = emulator.DefineEntity(DemoAccount()); !s.ok()) {
      std::fprintf(stderr, "defining account: %s\n", s.message().c_str());
      return 1;
    }
    auto existing = emulator.RowCount("account");
    if (demo_rows > 0 && existing.ok() && *existing == 0) {
      if (auto s = emulator.BulkCreate("account", DemoRows(demo_rows)); !s.ok()) {
        std::fprintf(stderr, "creating accounts: %s\n", s.message().c_str());
        return 1;
      }
    }
  }
  std::printf("listening on %s\n", emulator.Url().c_str());
  std::fflush(stdout);
  int sig = 0;
  sigwait(&signals, &sig);
  std::printf("stopping (signal %d)\n", sig);
  std::fflush(stdout);
  emulator.Stop();
  return 0;
}
