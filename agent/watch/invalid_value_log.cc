#include "agent/watch/invalid_value_log.h"

#include <spdlog/spdlog.h>

#include "agent/watch/watch_metrics.h"

namespace linkwatch::watch {

std::vector<std::string> InvalidValueLog::Report(const std::string& source,
                                                 const std::vector<state::InvalidValue>& values,
                                                 WatchMetrics& metrics) {
  PerSource& ps = sources_[source];
  total_ -= ps.seen.size();
  // Rebuilt from this poll alone: what it does not read any more is forgotten.
  std::unordered_set<std::string> now;
  std::vector<std::string> logged;
  size_t unlogged = 0;
  for (const auto& v : values) {
    metrics.CountInvalidValue(source, std::string(state::Table(v.table).name), v.column);
    std::string key = std::string(state::Table(v.table).name);
    key.append(1, '\0').append(v.row_id).append(1, '\0').append(v.column).append(1, '\0');
    key.append(v.value);
    if (now.count(key)) continue;  // the same row twice (no primary key in a foreign file)
    if (ps.seen.count(key)) {
      now.insert(std::move(key));
      continue;
    }
    if (total_ + now.size() >= capacity_) {
      ++unlogged;
      continue;
    }
    now.insert(std::move(key));
    logged.push_back("watch source " + source + ": " + v.ToString());
    spdlog::warn("{}", logged.back());
  }
  if (unlogged > 0 && !ps.overflow_warned) {
    logged.push_back("watch source " + source + ": " + std::to_string(unlogged) +
                     " more invalid values are not logged one by one (they are counted in "
                     "linkwatch_watch_invalid_values_total)");
    spdlog::warn("{}", logged.back());
  }
  ps.overflow_warned = unlogged > 0;
  ps.seen = std::move(now);
  total_ += ps.seen.size();
  return logged;
}

}  // namespace linkwatch::watch
