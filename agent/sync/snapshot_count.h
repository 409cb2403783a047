// crmrecordcount from a source whose row count is a snapshot of unknown age
// (Dataverse's RetrieveTotalRecordCount: "from a snapshot within the last 24
// hours"). Compared as it is with the lake's count of now, a busy table's
// day of creates and deletes would look like drift (CountDrift) until the
// next snapshot. So a snapshot is trusted only when it is seen to change (it
// was just taken): its difference from the lake then is the drift, carried
// forward with the lake's own changes until the next one. A snapshot first
// seen after a start or a resync may be a day old: the last known drift (the
// state row's counts, the rows the resync read) is carried instead.
// "The lake" is its rows plus the table's failed records (rows of the source
// the lake could not take), so that failed records show as drift.
// docs/sync.md "Counts".
#pragma once

#include <cstdint>
#include <optional>

namespace linkwatch::sync {

class SnapshotCount {
 public:
  // A known difference between the source and the lake: the state row's
  // counts after a start, or the rows an initial sync read and the lake's.
  // The snapshot seen before it is not taken as new when seen again.
  void Anchor(int64_t source, int64_t lake) {
    drift_ = source - lake;
    last_.reset();
  }
  bool anchored() const { return drift_.has_value(); }

  // The count to record, given a snapshot read now and the lake's rows now.
  int64_t Estimate(int64_t snapshot, int64_t lake) {
    const bool fresh = last_.has_value() && *last_ != snapshot;
    const bool first = !last_.has_value();
    last_ = snapshot;
    if (fresh || (first && !drift_)) drift_ = snapshot - lake;
    return lake + *drift_;
  }
  // The count when no snapshot can be read now: the known drift, carried.
  std::optional<int64_t> Carried(int64_t lake) const {
    if (!drift_) return std::nullopt;
    return lake + *drift_;
  }

 private:
  std::optional<int64_t> last_;   // the snapshot value seen last
  std::optional<int64_t> drift_;  // source minus lake, as last known
};

}  // namespace linkwatch::sync
