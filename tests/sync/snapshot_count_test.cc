// SnapshotCount: a count snapshot is trusted when it is seen to change; in
// between, the known drift is carried with the lake's changes.
#include "agent/sync/snapshot_count.h"

#include <gtest/gtest.h>

namespace linkwatch::sync {
namespace {

TEST(SnapshotCountTest, AnUnanchoredFirstSnapshotIsTakenAsItIs) {
  SnapshotCount c;
  EXPECT_EQ(c.Estimate(1000, 990), 1000);  // 10 rows of drift
  EXPECT_EQ(c.Estimate(1000, 1500), 1510) << "the same snapshot: the lake's 510 new rows";
  EXPECT_EQ(c.Estimate(1600, 1600), 1600) << "a new snapshot: drift 0 now";
}

TEST(SnapshotCountTest, AStaleSnapshotAfterAnInitialSyncDoesNotLookLikeDrift) {
  SnapshotCount c;
  c.Anchor(/*source=*/5000, /*lake=*/5000);  // the initial sync read 5000 rows
  // Dataverse's snapshot is from yesterday, before 2000 rows were created.
  EXPECT_EQ(c.Estimate(3000, 5000), 5000);
  EXPECT_EQ(c.Estimate(3000, 5100), 5100);
  // Today's snapshot shows 40 rows the lake does not have.
  EXPECT_EQ(c.Estimate(5140, 5100), 5140);
  EXPECT_EQ(c.Estimate(5140, 5200), 5240) << "the drift stays while the lake moves";
}

TEST(SnapshotCountTest, AStartCarriesTheDriftTheStateRowRecorded) {
  SnapshotCount c;
  c.Anchor(/*source=*/700, /*lake=*/690);
  EXPECT_EQ(c.Estimate(100, 690), 700);
  EXPECT_EQ(c.Estimate(100, 695), 705);
  EXPECT_EQ(c.Estimate(720, 700), 720);
}

TEST(SnapshotCountTest, AfterAResyncTheSnapshotSeenBeforeIsNotNew) {
  SnapshotCount c;
  EXPECT_EQ(c.Estimate(3000, 3000), 3000);
  // A break; the resync read 5000 rows while Dataverse refreshed its
  // snapshot to 3500 (taken hours ago): not trusted when first seen.
  c.Anchor(5000, 5000);
  EXPECT_EQ(c.Estimate(3500, 5000), 5000);
  EXPECT_EQ(c.Estimate(5010, 5000), 5010);
}

TEST(SnapshotCountTest, WithoutASnapshotTheKnownDriftIsCarried) {
  SnapshotCount c;
  EXPECT_FALSE(c.Carried(10).has_value()) << "nothing known";
  EXPECT_FALSE(c.anchored());
  c.Anchor(12, 10);
  EXPECT_TRUE(c.anchored());
  EXPECT_EQ(c.Carried(20), 22);
}

TEST(SnapshotCountTest, ALiveCountIsTakenEveryTimeItMoves) {
  SnapshotCount c;
  c.Anchor(3, 3);
  EXPECT_EQ(c.Estimate(3, 3), 3);
  EXPECT_EQ(c.Estimate(4, 4), 4);
  EXPECT_EQ(c.Estimate(2, 4), 2) << "two rows the lake still has: drift";
}

}  // namespace
}  // namespace linkwatch::sync
