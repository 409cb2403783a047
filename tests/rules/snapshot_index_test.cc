#include "rules/snapshot_index.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "tests/rules/test_snapshot.h"

namespace linkwatch::rules {
namespace {

using state::TableId;
using namespace testing;  // NOLINT

// The id of the joined row, or "" when there is none.
std::string JoinedId(const SnapshotIndex& index, Subject subject, size_t row, int slot) {
  const int32_t r = index.Joins(subject)[row][slot];
  if (r < 0) return "";
  return std::string(index.snapshot()[SlotTable(subject, slot)].rows[r][0].text());
}

state::Snapshot Sample(int profiles, int tables) {
  state::Snapshot s;
  for (int p = 0; p < profiles; ++p) {
    const std::string pid = "P-" + std::to_string(p), pname = "prof" + std::to_string(p);
    AddRow(s, TableId::kProfile,
           {{"synapselinkprofileid", T(pid)}, {"name", T(pname)}, {"profilestate", N(1)}});
    AddRow(s, TableId::kSchedule,
           {{"synapselinkscheduleid", T("S-" + pname)}, {"profile", T(pid)}, {"type", N(0)}});
    for (int t = 0; t < tables; ++t) {
      const std::string name = "table" + std::to_string(t);
      const std::string pe = "PE-" + std::to_string(p) + "-" + std::to_string(t);
      AddRow(s, TableId::kProfileEntity,
             {{"synapselinkprofileentityid", T(pe)}, {"profile", T(pid)}, {"entityname", T(name)}});
      AddRow(s, TableId::kEntityState,
             {{"synapselinkprofileentitystateid", T("ES-" + pe)},
              {"profile", T(pid)},
              {"profileentity", T(pe)},
              {"entityname", T(name)}});
      AddRow(s, TableId::kExternalTableState,
             {{"synapselinkexternaltablestateid", T("X-" + pe)},
              {"entityname", T(name)},
              {"synapseworkspacename", T(pname)},
              {"tablestate", N(1)}});
      AddRow(s, TableId::kSync,
             {{"linkwatch_syncid", T("SY-" + pe)},
              {"profile", T(pname)},
              {"entityname", T(name)},
              {"errorreason", T("round_failed")}});
    }
  }
  return s;
}

TEST(SnapshotIndexTest, JoinsAreTheSameWhateverTheRowOrder) {
  const state::Snapshot ordered = Sample(5, 40);
  state::Snapshot shuffled = ordered;
  std::mt19937 rng(7);
  for (auto& t : shuffled.tables) std::shuffle(t.rows.begin(), t.rows.end(), rng);
  for (Subject subject : {Subject::kEntity, Subject::kExternal}) {
    SnapshotIndex a(ordered), b(shuffled);
    a.PrepareJoins(subject, 0x3f);
    b.PrepareJoins(subject, 0x3f);
    // Map each subject row of `b` by id, then compare the joined ids.
    std::map<std::string, size_t> b_rows;
    for (size_t r = 0; r < b.RowCount(subject); ++r) b_rows[JoinedId(b, subject, r, kSlotSelf)] = r;
    ASSERT_EQ(a.RowCount(subject), b.RowCount(subject));
    for (size_t r = 0; r < a.RowCount(subject); ++r) {
      const size_t br = b_rows.at(JoinedId(a, subject, r, kSlotSelf));
      for (int slot = kSlotProfile; slot < kSlotCount; ++slot) {
        const std::string want = JoinedId(a, subject, r, slot);
        EXPECT_FALSE(want.empty()) << SubjectName(subject) << " row " << r << " slot " << slot;
        EXPECT_EQ(want, JoinedId(b, subject, br, slot)) << "slot " << slot;
      }
    }
  }
}

TEST(SnapshotIndexTest, JoinEdgeCases) {
  state::Snapshot s;
  AddRow(s, TableId::kProfile,
         {{"synapselinkprofileid", T("P-1")}, {"name", T("crm")}, {"profilestate", N(3)}});
  AddRow(s, TableId::kProfile,
         {{"synapselinkprofileid", T("P-2")}, {"name", T("crm")}, {"profilestate", N(1)}});
  // A per-table schedule wins over the profile's Snapshot schedule.
  AddRow(s, TableId::kSchedule,
         {{"synapselinkscheduleid", T("S-snap")}, {"profile", T("P-2")}, {"type", N(0)}});
  AddRow(s, TableId::kSchedule,
         {{"synapselinkscheduleid", T("S-own")},
          {"profile", T("P-2")},
          {"entityname", T("account")},
          {"type", N(1)}});
  // The profile entity is found by (profile, entityname) even when the
  // lookup points elsewhere, and by the lookup alone when nothing matches.
  AddRow(s, TableId::kProfileEntity,
         {{"synapselinkprofileentityid", T("PE-a")},
          {"profile", T("P-2")},
          {"entityname", T("Account")}});
  AddRow(s, TableId::kProfileEntity,
         {{"synapselinkprofileentityid", T("PE-other")},
          {"profile", T("P-9")},
          {"entityname", T("x")}});
  AddRow(s, TableId::kEntityState,
         {{"entityname", T("account")}, {"profile", T("p-2")}, {"profileentity", T("PE-other")}});
  AddRow(s, TableId::kEntityState,
         {{"entityname", T("contact")}, {"profile", T("P-2")}, {"profileentity", T("pe-other")}});
  // A Deleted external row loses to a live one of the same table.
  AddRow(s, TableId::kExternalTableState,
         {{"synapselinkexternaltablestateid", T("X-old")},
          {"entityname", T("account")},
          {"synapseworkspacename", T("crm")},
          {"tablestate", N(3)}});
  AddRow(s, TableId::kExternalTableState,
         {{"synapselinkexternaltablestateid", T("X-new")},
          {"entityname", T("ACCOUNT")},
          {"synapseworkspacename", T("crm")},
          {"tablestate", N(1)}});
  SnapshotIndex index(s);
  index.PrepareJoins(Subject::kEntity, 0x1f);
  index.PrepareJoins(Subject::kExternal, 0x1f);
  // Ids match case-insensitively.
  EXPECT_EQ(JoinedId(index, Subject::kEntity, 0, kSlotProfile), "P-2");
  EXPECT_EQ(JoinedId(index, Subject::kEntity, 0, kSlotEntity), "PE-a");
  EXPECT_EQ(JoinedId(index, Subject::kEntity, 1, kSlotEntity), "PE-other");
  EXPECT_EQ(JoinedId(index, Subject::kEntity, 0, kSlotExternal), "X-new");
  EXPECT_EQ(JoinedId(index, Subject::kEntity, 1, kSlotExternal), "");
  EXPECT_EQ(JoinedId(index, Subject::kEntity, 0, kSlotSchedule), "S-own");
  EXPECT_EQ(JoinedId(index, Subject::kEntity, 1, kSlotSchedule), "S-snap");
  // An external row finds the live profile of its workspace name.
  EXPECT_EQ(JoinedId(index, Subject::kExternal, 0, kSlotProfile), "P-2");
  EXPECT_EQ(JoinedId(index, Subject::kExternal, 1, kSlotEntity), "PE-a");
}

}  // namespace
}  // namespace linkwatch::rules
