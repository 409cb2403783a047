// DataverseEmulator: a local stand-in for one Dataverse environment and its
// Entra ID token endpoint, speaking the Web API as dataverse-web-api.md
// describes it (and Dataverse's real answer shapes and error codes), so that
// the dataverse watch and sync sources are tested without the internet.
//
// It serves, on 127.0.0.1 (port 0 by default; read it back with port()):
// * POST /{tenant}/oauth2/v2.0/token (client credentials; tokens remembered,
//   expire after token_lifetime, can be revoked);
// * the six Synapse Link state tables, read fresh on every request from a
//   state-store SQLite file (Options::state_db, SetStateDb), with $select,
//   lookups as `_x_value` and paging through @odata.nextLink;
// * change-tracked business tables the test defines (DefineEntity) and
//   fills (Create, Update, Delete, BulkCreate), kept in the emulator's own
//   SQLite store with a change log: track-changes reads, delta links,
//   $deletedEntity rows, expired delta tokens;
// * EntityDefinitions metadata and option sets, RetrieveTotalRecordCount;
// * webhook POSTs (RemoteExecutionContext) on every change, sent from its
//   own thread, retried once after 502/503/504;
// * fault switches (429, 5xx, revoked tokens, refused tokens, expired delta
//   tokens, malformed and truncated answers, slow answers), each counting
//   down over the next data requests;
// * a control API under /_emulator/ (no auth; JSON in and out) for the
//   standalone binary and Python tests, one endpoint per method below:
//     GET  counters | health | webhooks/attempts
//     POST counters/reset, state_db {"path"}, entities {EntityDef as JSON},
//          entities/<name>/rows [rows] | update [rows with ids] |
//          delete [ids], webhooks {"url","key","entity","key_in_query"},
//          webhooks/clear, faults/throttle {"count","retry_after"},
//          faults/server_error {"count","status"}, faults/revoke_tokens,
//          faults/refuse_token {"count"}, faults/expire_delta_tokens,
//          faults/malformed {"count"}, faults/truncated {"count"},
//          faults/slow {"ms","body_pause_ms"}, faults/clear
//   (docs/dataverse-emulator.md has the details).
//
// Owns its listener, one thread per connection, and the webhook sender;
// the destructor stops them all. Thread-safe: tests define data, change rows
// and switch faults while the code under test polls.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "agent/core/status.h"

namespace linkwatch::fakes {

// Dataverse attribute types (AttributeMetadata.AttributeType).
enum class AttributeType {
  kString,
  kMemo,
  kInteger,
  kBigInt,
  kDecimal,
  kDouble,
  kMoney,
  kBoolean,
  kDateTime,
  kUniqueidentifier,
  kLookup,
  kPicklist,
  kState,
  kStatus,
};

struct OptionDef {
  int value = 0;
  std::string label;
  int state = -1;  // a Status option: the State it belongs to (StatusOptionMetadata.State)
};

struct AttributeDef {
  std::string logical_name;
  AttributeType type = AttributeType::kString;
  int max_length = 0;                // String/Memo; 0: 100 for String, 2000 for Memo
  int precision = 2;                 // Decimal/Double/Money
  std::vector<std::string> targets;  // Lookup: the referenced entities
  std::vector<OptionDef> options;    // Picklist/State/Status
};

// A business table. The primary id attribute (Uniqueidentifier) is added to
// `attributes` when missing. When the entity has attributes named
// `versionnumber`, `createdon` or `modifiedon`, the emulator fills them on
// every write (unless the row gives createdon/modifiedon itself).
struct EntityDef {
  std::string logical_name;     // "account"
  std::string entity_set_name;  // "accounts"; "" = logical_name + "s"
  std::string primary_id;       // "accountid"; "" = logical_name + "id"
  std::string primary_name;     // "name"; may be ""
  bool change_tracking = true;  // ChangeTrackingEnabled
  std::vector<AttributeDef> attributes;
};

struct DataverseEmulatorOptions {
  std::string state_db;  // state-store file with the six tables; "" = none yet
  std::string store;     // the emulator's own SQLite file; "" = in memory
  std::string tenant_id = "tenant";
  std::string client_id = "linkwatch";
  std::string client_secret = "secret";
  std::chrono::seconds token_lifetime{3599};
  int port = 0;  // 0: any free port
  // Delta tokens older than this answer 0x80044352 (Dataverse keeps 90 days).
  std::chrono::seconds delta_token_retention{std::chrono::hours(24 * 90)};
  std::chrono::milliseconds webhook_retry_delay{1000};  // Dataverse waits 60 s
  std::chrono::milliseconds webhook_timeout{5000};
  // x-ms-dynamics-organization of webhook calls.
  std::string organization = "emulator.crm.dynamics.com";
};

// Requests served, by kind (every request counts once in `total`, whatever
// its answer).
struct EmulatorCounters {
  int64_t token = 0;            // POST .../oauth2/v2.0/token
  int64_t entity_set_page = 0;  // a page of a state table or business table (initial reads)
  int64_t delta_page = 0;       // a page of a delta read ($deltatoken, or its nextLink)
  int64_t metadata = 0;         // EntityDefinitions...
  int64_t count_function = 0;   // RetrieveTotalRecordCount
  int64_t control = 0;          // /_emulator/...
  int64_t other = 0;            // anything else (404s)
  int64_t faults = 0;           // answers replaced by a fault switch (401s not included)
  int64_t total = 0;
};

struct WebhookDef {
  std::string url;
  std::string key;
  std::string entity;         // logical name; "" = every entity
  bool key_in_query = false;  // key in `?code=` instead of the x-linkwatch-key header
};

// One POST of one webhook call (the retry is a second attempt).
struct WebhookAttempt {
  int webhook = 0;      // AddWebhook's id
  std::string message;  // Create, Update, Delete
  std::string entity;
  std::string id;
  std::string correlation_id;
  int attempt = 1;  // 1, or 2 for the retry
  int status = 0;   // HTTP status; 0 when the POST failed (error says why)
  std::string error;
};

class DataverseEmulator {
 public:
  // Binds and starts serving; aborts (a test fake) when it cannot bind or
  // open its store.
  explicit DataverseEmulator(DataverseEmulatorOptions options = {});
  ~DataverseEmulator();
  DataverseEmulator(const DataverseEmulator&) = delete;
  DataverseEmulator& operator=(const DataverseEmulator&) = delete;

  int port() const;
  // "http://127.0.0.1:<port>": both the environment URL and the authority.
  std::string Url() const;
  // Url() + "/api/data/v9.2/"
  std::string ApiBase() const;
  // Points the six state tables at another file ("" = none).
  void SetStateDb(std::string path);

  // Business tables. Rows are JSON objects of attribute values by logical
  // name (a lookup `x` may also be given as `_x_value`); values are stored
  // as given, not type-checked, so a test can feed odd values. A missing
  // primary id is generated; Create returns it.
  Status DefineEntity(EntityDef def);
  Result<std::string> Create(const std::string& entity, nlohmann::json row);
  // Merges `changes` into the row.
  Status Update(const std::string& entity, const std::string& id, const nlohmann::json& changes);
  Status Delete(const std::string& entity, const std::string& id);
  // One transaction, one change-log version per row; 100,000 rows take well
  // under a second.
  Status BulkCreate(const std::string& entity, const std::vector<nlohmann::json>& rows);
  Result<int64_t> RowCount(const std::string& entity);
  int64_t CurrentVersion() const;  // the last change's version

  // Fault switches: each counts down over the next data requests (the token
  // endpoint and /_emulator/ excluded).
  void Throttle(int n, int retry_after_s = 1);  // 429 + Retry-After, 0x80072322
  void ServerError(int n, int status = 503);    // 5xx with error JSON
  void RevokeTokens();                          // every token issued so far: 401
  void RefuseToken(int n);                      // token endpoint: 401 invalid_client
  void ExpireDeltaTokens();                     // every delta token so far: 0x80044352
  void Malformed(int n);                        // 200 with a body that is not JSON
  void Truncated(int n);  // 200, full Content-Length, half the body, then close
  // Every data answer waits `delay`; with `body_pause`, its body goes out in
  // 1 KiB pieces with that pause between them. Zero turns either off.
  void Slow(std::chrono::milliseconds delay,
            std::chrono::milliseconds body_pause = std::chrono::milliseconds(0));
  void ClearFaults();

  EmulatorCounters Counters() const;
  void ResetCounters();

  // Returns the webhook's id (1, 2, ...).
  int AddWebhook(WebhookDef webhook);
  void RemoveWebhooks();
  std::vector<WebhookAttempt> WebhookAttempts() const;
  // Waits (in real time) until at least n attempts finished.
  bool WaitForWebhookAttempts(size_t n,
                              std::chrono::milliseconds timeout = std::chrono::seconds(5)) const;

  // Closes the listener and every connection, stops the webhook sender;
  // idempotent (the destructor calls it).
  void Stop();

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace linkwatch::fakes
