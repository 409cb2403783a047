// The `dataverse` source: tables of a Dataverse environment read through its
// Web API with change tracking (dataverse-web-api.md "Change tracking").
//
// * Describe reads the table's EntityDefinitions metadata: the primary id
//   attribute is the key, attribute types map to the lake's types (Lookup,
//   Owner and Customer travel as `_x_value` and are written under their
//   logical name), `versionnumber` is each row's version rather than a
//   column. A table whose ChangeTrackingEnabled is false is refused by name.
// * ReadAll is a change-tracking read (`Prefer: odata.track-changes`) of
//   every page; ReadChanges GETs the stored delta link. Rows of a page are
//   handed to the engine only once the page was read whole, so a page cut
//   short and read again never delivers a row twice. `$deletedEntity` rows
//   are deletes. A delta read that goes on past `limit` rows stops at a
//   page boundary: the cursor is then the next page's link.
// * The cursor is "dataverse:<max version>:<issued>:<link>": the delta (or
//   next page) link, used unchanged, the highest versionnumber seen (a
//   delete's version, which Dataverse does not send, is one more than it:
//   newer than every earlier change of the row) and when the link was
//   issued. A delta read that finds nothing keeps the cursor (no state
//   write) until it is a day old; then it takes the new link, so an idle
//   table's token does not age out of Dataverse's retention.
// * An expired delta token (0x80044352) is a break (`delta_token_expired`):
//   the engine forgets the cursor and syncs the table again in full, as
//   Synapse Link does. A cursor of another environment or source type is a
//   break too (`source_replaced`).
// * RowCount is RetrieveTotalRecordCount (crmrecordcount).
//
// Used by one thread at a time (a Source); owns its Web API client.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "agent/core/clock.h"
#include "agent/core/config.h"
#include "agent/core/secret.h"
#include "agent/dataverse/web_api_client.h"
#include "agent/sync/source.h"

namespace linkwatch::sync {

class DataverseSource final : public Source {
 public:
  DataverseSource(dataverse::WebApiSettings settings, const Clock& clock);
  ~DataverseSource() override;

  Result<TableSchema> Describe(const std::string& table) override;
  Result<int64_t> RowCount(const TableSchema& table) override;
  Result<Cursor> ReadAll(const TableSchema& table, const RowCallback& row) override;
  Result<Cursor> ReadChanges(const TableSchema& table, const Cursor& after, size_t limit,
                             const RowCallback& row) override;
  // One delta read of a single row.
  Result<bool> ChangesWaiting(const TableSchema& table, const Cursor& after) override;
  // Keys are uniqueidentifiers: two case forms are one key in Dataverse.
  Result<bool> MayHaveKeyTwins(const TableSchema& table) override;
  Result<int64_t> CountKeys(const TableSchema& table, std::span<const StoredValue> keys) override;
  // An environment has no change clock of its own outside its tables: an
  // error.
  Result<Cursor> Head() override;
  // Moves when the metadata of a table described so far changed (checked
  // every kSchemaCheck: one request per table).
  Result<int64_t> SchemaVersion() override;
  Status LogChangeOfEveryRow(const TableSchema& table) override;

  void Cancel() override { client_->Stop(); }
  bool CountIsSnapshot() const override { return true; }  // RetrieveTotalRecordCount

  Status CheckFile() override { return Status::Ok(); }
  Status CheckChain(const std::string& table, const std::string& consumer,
                    const Cursor& committed) override;
  // Nothing to record: Dataverse keeps its change tracking itself.
  Status Checkpoint(const TableSchema&, const std::string&, const Cursor&) override {
    return Status::Ok();
  }

  static constexpr Duration kSchemaCheck = std::chrono::minutes(10);
  // An idle table's delta link is renewed after this.
  static constexpr Duration kRenewCursor = std::chrono::hours(24);

  // The parts of a cursor this source wrote; nullopt for any other string.
  struct CursorParts {
    int64_t max_version = 0;
    double issued = 0;  // epoch seconds
    std::string link;
  };
  static std::optional<CursorParts> ParseCursor(const Cursor& cursor);
  static Cursor MakeCursor(const CursorParts& parts);

  const dataverse::WebApiClient& client() const { return *client_; }

 private:
  // What Describe learned of a table beyond its schema. Rows are read by
  // the columns of the TableSchema a read is given (the engine's), never by
  // a cached list that could differ from it.
  struct Table {
    std::string entity_set;
    bool has_versionnumber = false;
    std::string signature;  // the columns, types and labels, to see the metadata move
  };
  struct Described {
    TableSchema schema;
    Table table;
  };
  // The tables' metadata as every connection to one environment knows it:
  // the engine lends a profile's connections to its tables' steps in turn,
  // so SchemaVersion must mean the same on all of them.
  struct Shared;
  static std::shared_ptr<Shared> SharedFor(const std::string& api_base);
  Result<Described> Fetch(const std::string& table);
  Result<Table> Known(const TableSchema& schema);
  // Reads `target` page by page, handing each page's rows over once it was
  // read whole; `max_version` is raised by every version seen.
  Result<dataverse::ODataPageEnd> Read(const TableSchema& schema, const std::string& target,
                                       size_t limit, int64_t& max_version, bool initial,
                                       const RowCallback& row);

  std::unique_ptr<dataverse::WebApiClient> client_;
  const Clock& clock_;
  std::shared_ptr<Shared> shared_;
};

// The `webhook_key` of a profile's dataverse source block (a secret); empty
// when the block has none (webhooks are refused) or cannot be read.
Secret DataverseWebhookKey(const ProfileConfig& profile);

}  // namespace linkwatch::sync
