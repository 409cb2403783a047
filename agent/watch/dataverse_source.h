// DataverseStateSource: a real Azure Synapse Link's six state tables, read
// from a Dataverse environment over its Web API (dataverse-web-api.md
// "Watching a real Synapse Link"), so that the same rules watch it as watch
// linkwatch's own state store.
//
// A poll GETs the six entity sets with `$select` of the columns in
// state-tables.md, following nextLink pages: six requests while each table
// fits one page (5,000 rows), plus a token request about once an hour. Each
// row becomes the same typed cells the SQLite reader makes of the same
// values: lookups come back as `_<column>_value` and are mapped to the
// lookup column, datetimes are parsed, integers, choices and booleans read
// by the one rule (state::IntegerOfText), and a value that does not fit its
// column is null and listed as invalid, exactly as for a local file. A
// column the environment does not have (Dataverse answers "Could not find a
// property named ...") is left out of later polls, as a local file's missing
// column is.
//
// Any failure (token refused, DNS, a 5xx storm past the client's retries, a
// malformed page) fails the poll: the watcher marks the source down and
// SourceUnreachable fires; old rows are never kept as if current. The
// source cannot tell when the data changes (Changed() is false): it is
// polled every watch.interval, on a thread of its own (the factory wraps it
// in a BackgroundSource). Not thread-safe, Stop() aside: used by one thread
// at a time.
#pragma once

#include <array>
#include <memory>
#include <set>
#include <string>

#include "agent/core/clock.h"
#include "agent/dataverse/web_api_client.h"
#include "agent/state/schema.h"
#include "agent/watch/state_source.h"

namespace linkwatch::watch {

class DataverseStateSource final : public StateSource {
 public:
  DataverseStateSource(std::string name, dataverse::WebApiSettings settings, const Clock& clock);
  ~DataverseStateSource() override;

  const std::string& name() const override { return name_; }
  Result<std::shared_ptr<const state::Snapshot>> Poll() override;
  bool Changed() override { return false; }
  void Stop() override { client_->Stop(); }

  // HTTP requests made by the last poll, and by all polls (token requests
  // included).
  int64_t last_poll_requests() const { return last_poll_requests_; }
  int64_t requests() const { return client_->requests(); }

  // The watch source's client settings: its waits stay short, so that a
  // throttled or failing environment makes the source unreachable within a
  // poll or two rather than stalling the watcher for minutes.
  static dataverse::WebApiSettings WatchDefaults(dataverse::WebApiSettings settings);

 private:
  Status ReadTable(const state::TableDef& table, state::Snapshot& snap);
  std::string SelectOf(const state::TableDef& table) const;

  std::string name_;
  std::unique_ptr<dataverse::WebApiClient> client_;
  // Per table (AllTables order), columns the environment does not have.
  std::array<std::set<std::string, std::less<>>, state::kTableCount> missing_;
  int64_t last_poll_requests_ = 0;
};

}  // namespace linkwatch::watch
