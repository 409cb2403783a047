// Matcher benchmark (issue 10, "matcher evaluation on a hostile regex"):
// `a=~"(a+)+$"` against N `a`s followed by a `b` (no match), through
// linkwatch's matcher (RE2, what Alertmanager's Go regexp is), and the same
// pattern through std::regex (a backtracking engine) beside it. RE2's time
// grows linearly with N; std::regex's doubles with each extra `a`, so it is
// measured only on short inputs (at N = 10,000 it would not finish).
//
//   ninja -C build matcher_bench && build/bench/matcher_bench
#include <benchmark/benchmark.h>

#include <regex>
#include <string>

#include "notifiers/matcher.h"

namespace linkwatch {
namespace {

std::string Hostile(int64_t n) { return std::string(static_cast<size_t>(n), 'a') + "b"; }

void BM_MatcherRe2(benchmark::State& state) {
  auto m = notifiers::ParseMatchers("a=~\"(a+)+$\"");
  if (!m.ok()) {
    state.SkipWithError(m.message().c_str());
    return;
  }
  const notifiers::Matcher& matcher = m->at(0);
  const LabelSet labels{{"a", Hostile(state.range(0))}};
  for (auto _ : state) {
    bool matched = matcher.Matches(labels);
    benchmark::DoNotOptimize(matched);
    if (matched) state.SkipWithError("matched");
  }
  state.SetComplexityN(state.range(0));
  state.SetLabel("linkwatch matcher (RE2)");
}
BENCHMARK(BM_MatcherRe2)
    ->RangeMultiplier(10)
    ->Range(10, 100000)
    ->Unit(benchmark::kMicrosecond)
    ->Complexity(benchmark::oN);

void BM_StdRegex(benchmark::State& state) {
  const std::regex re("(a+)+$", std::regex::ECMAScript);
  const std::string value = Hostile(state.range(0));
  for (auto _ : state) {
    bool matched = std::regex_match(value, re);
    benchmark::DoNotOptimize(matched);
    if (matched) state.SkipWithError("matched");
  }
  state.SetLabel("std::regex (backtracking)");
}
BENCHMARK(BM_StdRegex)->DenseRange(16, 24, 2)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace linkwatch

BENCHMARK_MAIN();
