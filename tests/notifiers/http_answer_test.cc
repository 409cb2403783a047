#include "notifiers/http_answer.h"

#include <gtest/gtest.h>

#include "agent/core/time_format.h"
#include "tests/notifiers/test_util.h"

namespace linkwatch::notifiers {
namespace {

using net::HttpHeaders;
using net::OutboundResponse;

OutboundResponse Answer(long status, HttpHeaders headers = {}, std::string body = {}) {
  OutboundResponse r;
  r.status = status;
  r.headers = std::move(headers);
  r.body = std::move(body);
  return r;
}

TEST(HttpAnswerTest, ClassifiesAnswersByTheDeliveryRules) {
  ManualClock clock(testutil::T0());
  struct Case {
    long status;
    SendResult::Kind kind;
    const char* reason;
  };
  const Case cases[] = {
      {200, SendResult::kOk, ""},
      {202, SendResult::kOk, ""},
      {204, SendResult::kOk, ""},
      {429, SendResult::kRetry, "rateLimited"},
      {500, SendResult::kRetry, "serverError"},
      {503, SendResult::kRetry, "serverError"},
      {401, SendResult::kPermanent, "authError"},
      {403, SendResult::kPermanent, "authError"},
      {400, SendResult::kPermanent, "clientError"},
      {404, SendResult::kPermanent, "clientError"},
      {413, SendResult::kPermanent, "clientError"},
      {301, SendResult::kPermanent, "clientError"},
  };
  for (const auto& c : cases) {
    SendResult s = ClassifyHttpResponse(Answer(c.status, {}, "why"), clock);
    EXPECT_EQ(s.kind, c.kind) << c.status;
    EXPECT_EQ(s.reason, c.reason) << c.status;
    if (c.kind != SendResult::kOk) {
      EXPECT_NE(s.detail.find(std::to_string(c.status)), std::string::npos) << s.detail;
    }
  }
}

TEST(HttpAnswerTest, TimeoutAndTransportErrorsAreRetried) {
  OutboundResponse r;
  r.error = OutboundResponse::Error::kTimeout;
  SendResult s = ClassifyHttpResponse(r, SystemClock::Instance());
  EXPECT_EQ(s.kind, SendResult::kRetry);
  EXPECT_EQ(s.reason, "timeout");
  r.error = OutboundResponse::Error::kTransport;
  s = ClassifyHttpResponse(r, SystemClock::Instance());
  EXPECT_EQ(s.kind, SendResult::kRetry);
  EXPECT_EQ(s.reason, "other");
}

TEST(HttpAnswerTest, HonoursRetryAfterSecondsAndHttpDate) {
  ManualClock clock(FromEpochSeconds(*ParseDateTime("2015-10-21T07:27:00Z")));
  SendResult s = ClassifyHttpResponse(Answer(429, {{"Retry-After", "120"}}), clock);
  ASSERT_TRUE(s.retry_after.has_value());
  EXPECT_EQ(*s.retry_after, Millis(120000));

  s = ClassifyHttpResponse(Answer(503, {{"retry-after", "Wed, 21 Oct 2015 07:28:00 GMT"}}), clock);
  ASSERT_TRUE(s.retry_after.has_value());
  EXPECT_EQ(*s.retry_after, Millis(60000));

  EXPECT_EQ(net::ParseRetryAfter("Wed, 21 Oct 2015 07:00:00 GMT", clock.Now()), Millis(0));
  EXPECT_FALSE(net::ParseRetryAfter("soon", clock.Now()).has_value());
  EXPECT_FALSE(net::ParseRetryAfter("", clock.Now()).has_value());
  EXPECT_FALSE(
      ClassifyHttpResponse(Answer(429, {{"Retry-After", "soon"}}), clock).retry_after.has_value());
}

}  // namespace
}  // namespace linkwatch::notifiers
