#include "agent/watch/store_health.h"

#include <spdlog/spdlog.h>

#include "agent/state/db.h"
#include "agent/watch/watch_metrics.h"

namespace linkwatch::watch {

StoreHealth::StoreHealth(state::Db& db, WatchMetrics& metrics) : db_(db), metrics_(metrics) {
  metrics_.SetStoreUp(true);
}

void StoreHealth::Check() {
  const Status s = db_.CheckFile();
  if (s.ok()) {
    // A connection that once lost its file never gets it back (the inode
    // differs), so this only holds while nothing happened.
    return;
  }
  const std::string error = "state store lost: " + s.message() +
                            "; nothing is written to it any more (alerts are kept in memory); "
                            "restore the file and restart linkwatch";
  {
    std::lock_guard<std::mutex> lock(mu_);
    error_ = error;
  }
  metrics_.SetStoreUp(false);
  if (log_.Allow()) spdlog::error("{}", error);
}

bool StoreHealth::up() const {
  std::lock_guard<std::mutex> lock(mu_);
  return error_.empty();
}

std::string StoreHealth::error() const {
  std::lock_guard<std::mutex> lock(mu_);
  return error_;
}

}  // namespace linkwatch::watch
