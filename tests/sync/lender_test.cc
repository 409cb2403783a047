// Lender: connections come back to be lent again, and once the engine stops
// (CancelLent) every connection lent, now or later, is cancelled.
#include "agent/sync/lender.h"

#include <gtest/gtest.h>

namespace linkwatch::sync {
namespace {

struct Conn {
  int id = 0;
  bool cancelled = false;
  void Cancel() { cancelled = true; }
};

struct Uncancellable {};  // the state store's connections have no Cancel

class LenderTest : public ::testing::Test {
 protected:
  Lender<Conn> lender_{[this]() -> Result<std::unique_ptr<Conn>> {
    auto c = std::make_unique<Conn>();
    c->id = ++opened_;
    return c;
  }};
  int opened_ = 0;
};

TEST_F(LenderTest, AReturnedConnectionIsLentAgainBeforeANewOneOpens) {
  auto a = lender_.Borrow();
  ASSERT_TRUE(a.ok());
  auto b = lender_.Borrow();
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(opened_, 2);
  lender_.Return(std::move(*a));
  auto again = lender_.Borrow();
  ASSERT_TRUE(again.ok());
  EXPECT_EQ((*again)->id, 1);
  EXPECT_EQ(opened_, 2);
}

TEST_F(LenderTest, CancelReachesTheConnectionsLentNowAndEveryOneLentAfter) {
  auto lent = lender_.Borrow();
  auto idle = lender_.Borrow();
  ASSERT_TRUE(lent.ok() && idle.ok());
  Conn* idle_conn = idle->get();
  lender_.Return(std::move(*idle));
  lender_.CancelLent();
  EXPECT_TRUE((*lent)->cancelled);
  EXPECT_FALSE(idle_conn->cancelled);  // nothing runs on it
  // A step that borrows after the stop began (it was waiting for a thread,
  // or opening a connection) gets a cancelled one: an idle one...
  auto reused = lender_.Borrow();
  ASSERT_TRUE(reused.ok());
  EXPECT_EQ(reused->get(), idle_conn);
  EXPECT_TRUE((*reused)->cancelled);
  // ...or one opened now.
  auto fresh = lender_.Borrow();
  ASSERT_TRUE(fresh.ok());
  EXPECT_EQ((*fresh)->id, 3);
  EXPECT_TRUE((*fresh)->cancelled);
}

TEST(LenderWithoutCancel, LendsAndCancelsNothing) {
  Lender<Uncancellable> lender(
      []() -> Result<std::unique_ptr<Uncancellable>> { return std::make_unique<Uncancellable>(); });
  auto c = lender.Borrow();
  ASSERT_TRUE(c.ok());
  lender.Return(std::move(*c));
}

}  // namespace
}  // namespace linkwatch::sync
