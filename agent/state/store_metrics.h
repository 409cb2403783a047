// StoreWriteErrors: linkwatch_state_store_write_errors_total{operation}, the
// writes to the state store that failed (locked, deleted file, I/O). Each
// component that writes the store (rules: alert_state, notifiers: outbox,
// sync: sync) holds one for its operation, built on the prometheus::Registry
// it is given; the family is registered once per registry (prometheus-cpp
// merges same-named families) with every operation at 0 from the start, so
// that rate() and absence alerts work.
//
// Thread-safe (prometheus-cpp counters are).
#pragma once

#include <string_view>

namespace prometheus {
class Counter;
class Registry;
}  // namespace prometheus

namespace linkwatch::state {

class StoreWriteErrors {
 public:
  // `operation`: alert_state, outbox or sync.
  StoreWriteErrors(prometheus::Registry& registry, std::string_view operation);
  void Count();

 private:
  prometheus::Counter& counter_;
};

}  // namespace linkwatch::state
