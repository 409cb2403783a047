#include "agent/state/store_metrics.h"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/registry.h>

#include <string>

namespace linkwatch::state {
namespace {

prometheus::Counter& Child(prometheus::Registry& registry, std::string_view operation) {
  auto& family =
      prometheus::BuildCounter()
          .Name("linkwatch_state_store_write_errors_total")
          .Help("Failed writes to the state store (locked, deleted file, I/O), by operation.")
          .Register(registry);
  for (const char* op : {"alert_state", "outbox", "sync"}) family.Add({{"operation", op}});
  return family.Add({{"operation", std::string(operation)}});
}

}  // namespace

StoreWriteErrors::StoreWriteErrors(prometheus::Registry& registry, std::string_view operation)
    : counter_(Child(registry, operation)) {}

void StoreWriteErrors::Count() { counter_.Increment(); }

}  // namespace linkwatch::state
