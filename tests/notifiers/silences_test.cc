#include "notifiers/silences.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "agent/state/state_store.h"
#include "tests/notifiers/test_util.h"

namespace linkwatch::notifiers {
namespace {

using testutil::MakeAlert;
using testutil::T0;

class SilencesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = state::StateStore::Open(path_);  // migrates
    ASSERT_TRUE(store.ok()) << store.message();
    Reopen();
  }
  void Reopen() {
    silences_.reset();
    auto s = Silences::Open(path_, clock_);
    ASSERT_TRUE(s.ok()) << s.message();
    silences_ = std::move(s).value();
  }
  Silence Make(const std::string& matchers, Duration starts_in, Duration ends_in) {
    Silence s;
    s.matchers = *ParseMatchers(matchers);
    s.starts_at = ToEpochSeconds(clock_.Now() + starts_in);
    s.ends_at = ToEpochSeconds(clock_.Now() + ends_in);
    s.created_by = "test";
    s.comment = "why";
    return s;
  }
  std::string Add(const std::string& matchers, Duration starts_in = Duration::zero(),
                  Duration ends_in = std::chrono::hours(1)) {
    auto id = silences_->Set(Make(matchers, starts_in, ends_in));
    EXPECT_TRUE(id.ok()) << id.message();
    return id.ok() ? *id : "";
  }
  bool Muted(LabelSet labels) {
    return silences_->Muted(MakeAlert(std::move(labels)), clock_.Now());
  }
  const char* State(const std::string& id) {
    return silences_->Get(id)->StateAt(ToEpochSeconds(clock_.Now()));
  }

  testutil::TempDir dir_;
  std::string path_ = dir_.File("state.db");
  ManualClock clock_{T0()};
  std::unique_ptr<Silences> silences_;
};

TEST_F(SilencesTest, AnActiveSilenceMutesWhatItsMatchersMatch) {
  const std::string id = Add(R"(alertname="SyncStalled", entity=~"acc.*")");
  EXPECT_TRUE(Muted({{"alertname", "SyncStalled"}, {"entity", "account"}}));
  EXPECT_FALSE(Muted({{"alertname", "SyncStalled"}, {"entity", "contact"}}));
  EXPECT_FALSE(Muted({{"alertname", "CountDrift"}, {"entity", "account"}}));
  EXPECT_EQ(silences_->SilencedBy({{"alertname", "SyncStalled"}, {"entity", "accx"}}, clock_.Now()),
            std::vector<std::string>{id});
}

TEST_F(SilencesTest, PendingActiveExpiredFollowTheClock) {
  const std::string id =
      Add(R"(entity="account")", std::chrono::minutes(10), std::chrono::hours(1));
  EXPECT_STREQ(State(id), "pending");
  EXPECT_FALSE(Muted({{"entity", "account"}}));
  clock_.Advance(std::chrono::minutes(10));
  EXPECT_STREQ(State(id), "active");
  EXPECT_TRUE(Muted({{"entity", "account"}}));
  clock_.Advance(std::chrono::minutes(50));
  EXPECT_STREQ(State(id), "expired");
  EXPECT_FALSE(Muted({{"entity", "account"}}));
}

TEST_F(SilencesTest, ExpireEndsNowAndOnlyOnce) {
  const std::string id = Add(R"(entity="account")");
  const std::string pending =
      Add(R"(entity="contact")", std::chrono::hours(1), std::chrono::hours(2));
  ASSERT_TRUE(silences_->Expire(id).ok());
  EXPECT_STREQ(State(id), "expired");
  EXPECT_FALSE(Muted({{"entity", "account"}}));
  ASSERT_TRUE(silences_->Expire(pending).ok());
  EXPECT_EQ(silences_->Get(pending)->starts_at, silences_->Get(pending)->ends_at);
  EXPECT_FALSE(silences_->Expire(id).ok());
  Status unknown = silences_->Expire("nope");
  EXPECT_EQ(unknown.message().rfind("not found", 0), 0u) << unknown.message();
}

TEST_F(SilencesTest, SilencesSurviveARestartWithTheirMatchersIntact) {
  // A value that the string form renders with escapes.
  const std::string id = Add(R"(summary="a \"quoted\" \\ value", entity!~"x|y")");
  Reopen();
  auto s = silences_->Get(id);
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->matchers[1].ToString(), R"(entity!~"x|y")");
  EXPECT_EQ(s->matchers[0].value(), R"(a "quoted" \ value)");
  EXPECT_TRUE(Muted({{"summary", R"(a "quoted" \ value)"}, {"entity", "z"}}));
}

TEST_F(SilencesTest, ExpiredSilencesAreDroppedAfterTheRetention) {
  const std::string id = Add(R"(entity="account")");
  ASSERT_TRUE(silences_->Expire(id).ok());
  clock_.Advance(std::chrono::hours(119));
  Reopen();
  EXPECT_TRUE(silences_->Get(id).has_value());
  clock_.Advance(std::chrono::hours(2));
  Reopen();
  EXPECT_FALSE(silences_->Get(id).has_value());
}

TEST_F(SilencesTest, SetUpdatesInPlaceOrReplacesAsAlertmanager) {
  const std::string id = Add(R"(entity="account")");
  Silence longer = *silences_->Get(id);
  longer.ends_at += 3600;
  longer.comment = "longer";
  auto same = silences_->Set(longer);
  ASSERT_TRUE(same.ok()) << same.message();
  EXPECT_EQ(*same, id) << "same matchers: updated in place";
  EXPECT_EQ(silences_->Get(id)->comment, "longer");

  Silence other = longer;
  other.matchers = *ParseMatchers(R"(entity="contact")");
  auto replaced = silences_->Set(other);
  ASSERT_TRUE(replaced.ok());
  EXPECT_NE(*replaced, id) << "new matchers: a new silence";
  EXPECT_STREQ(State(id), "expired");
  EXPECT_STREQ(State(*replaced), "active");

  Silence unknown = other;
  unknown.id = "does-not-exist";
  EXPECT_EQ(silences_->Set(unknown).status().message().rfind("not found", 0), 0u);
}

TEST_F(SilencesTest, InvalidSilencesAreRefusedWithTheReason) {
  auto empty = silences_->Set(Make(R"(entity=~".*")", Duration::zero(), std::chrono::hours(1)));
  ASSERT_FALSE(empty.ok());
  EXPECT_NE(empty.message().find("must not match the empty string"), std::string::npos);
  auto backwards =
      silences_->Set(Make(R"(entity="a")", std::chrono::hours(2), std::chrono::hours(1)));
  EXPECT_FALSE(backwards.ok());
  auto past = silences_->Set(Make(R"(entity="a")", -std::chrono::hours(2), -std::chrono::hours(1)));
  EXPECT_FALSE(past.ok());
  // A start in the past becomes now.
  const std::string id = Add(R"(entity="a")", -std::chrono::hours(1), std::chrono::hours(1));
  EXPECT_EQ(silences_->Get(id)->starts_at, ToEpochSeconds(clock_.Now()));
}

TEST_F(SilencesTest, JsonIsAlertmanagersPostableAndGettableSilence) {
  auto parsed = SilenceFromJson(nlohmann::json::parse(R"({
    "matchers": [{"name": "alertname", "value": "SyncStalled", "isRegex": false},
                 {"name": "entity", "value": "acc.*", "isRegex": true, "isEqual": false},
                 "profile=\"crm\""],
    "startsAt": "2026-01-01T00:00:00.000Z", "endsAt": "2026-01-01T02:00:00+01:00",
    "createdBy": "me", "comment": "deploy"})"));
  ASSERT_TRUE(parsed.ok()) << parsed.message();
  EXPECT_EQ(FormatMatchers(parsed->matchers),
            R"({alertname="SyncStalled",entity!~"acc.*",profile="crm"})");
  EXPECT_EQ(parsed->ends_at - parsed->starts_at, 3600);
  auto id = silences_->Set(*parsed);
  ASSERT_TRUE(id.ok());
  nlohmann::json j = SilenceToJson(*silences_->Get(*id), ToEpochSeconds(clock_.Now()));
  EXPECT_EQ(j["status"]["state"], "active");
  EXPECT_EQ(
      j["matchers"][1],
      nlohmann::json::parse(R"({"name":"entity","value":"acc.*","isRegex":true,"isEqual":false})"));
  EXPECT_EQ(j["createdBy"], "me");
  for (
      const char* bad :
      {R"({"matchers": [], "startsAt": "2026-01-01T00:00:00Z", "endsAt": "2026-01-02T00:00:00Z", "createdBy": "a", "comment": "b"})",
       R"({"matchers": [{"name": "a"}], "startsAt": "2026-01-01T00:00:00Z", "endsAt": "2026-01-02T00:00:00Z", "createdBy": "a", "comment": "b"})",
       R"({"matchers": ["a=\"b\""], "startsAt": "yesterday", "endsAt": "2026-01-02T00:00:00Z", "createdBy": "a", "comment": "b"})",
       R"({"matchers": ["a=\"b\""], "startsAt": "2026-01-01T00:00:00Z", "endsAt": "2026-01-02T00:00:00Z", "comment": "b"})",
       R"([1, 2])"}) {
    EXPECT_FALSE(SilenceFromJson(nlohmann::json::parse(bad)).ok()) << bad;
  }
}

}  // namespace
}  // namespace linkwatch::notifiers
