# linkwatch — the two set-up commands are `make demo` and `make test`.
# Both install missing Debian packages (apt), configure and build into build/.

BUILD      ?= build
GENERATOR  ?= Ninja
JOBS       ?= $(shell nproc)
FUZZ_SECONDS ?= 30
SUDO       := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# Build and test dependencies (Debian 12 package names).
BUILD_PKGS := cmake ninja-build g++ pkg-config libboost-dev libsqlite3-dev libcurl4-openssl-dev \
  nlohmann-json3-dev libyaml-cpp-dev prometheus-cpp-dev libgtest-dev libgmock-dev \
  libbenchmark-dev libssl-dev libcli11-dev libspdlog-dev libhowardhinnant-date-dev libre2-dev libkainjow-mustache-dev \
  libyajl-dev
TEST_PKGS  := sqlite3 python3 python3-yaml python3-aiosmtpd prometheus prometheus-alertmanager \
  clang libclang-rt-14-dev chromium

.PHONY: all deps test-deps consumers configure build test demo asan fuzz bench clean format

all: build

deps:
	@missing=$$(for p in $(BUILD_PKGS); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "== installing build dependencies:" $$missing; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	else echo "== build dependencies: all installed"; fi

test-deps: deps
	@missing=$$(for p in $(TEST_PKGS); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "== installing test dependencies:" $$missing; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	else echo "== test dependencies: all installed"; fi

# The real consumers of linkwatch's output (the lake: DuckDB via npm
# @duckdb/node-api; Teams cards: Microsoft's npm adaptivecards), pinned by
# tests/consumers/package{,-lock}.json, installed under $(BUILD)/consumers
# (never committed); skipped when that lock is already installed.
CONSUMERS := $(BUILD)/consumers
consumers: test-deps
	@if ! command -v npm >/dev/null; then \
	  echo "== installing test dependencies: nodejs npm"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq nodejs npm; fi
	@if [ -d $(CONSUMERS)/node_modules/@duckdb/node-api ] && \
	    [ -d $(CONSUMERS)/node_modules/adaptivecards ] && \
	    cmp -s tests/consumers/package-lock.json $(CONSUMERS)/package-lock.json; then \
	  echo "== consumers (npm): installed in $(CONSUMERS)/"; \
	else \
	  echo "== installing consumers (npm) into $(CONSUMERS)/"; \
	  mkdir -p $(CONSUMERS) && cp tests/consumers/package.json tests/consumers/package-lock.json $(CONSUMERS)/ && \
	  npm ci --prefix $(CONSUMERS) --no-audit --no-fund; fi

$(BUILD)/build.ninja:
	@echo "== configuring $(BUILD)/"
	cmake -S . -B $(BUILD) -G $(GENERATOR) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLINKWATCH_UNITY=ON

configure: $(BUILD)/build.ninja

# Only the binary: the demo needs nothing else (`make test` builds the rest).
build: deps configure
	@echo "== building $(BUILD)/linkwatch"
	cmake --build $(BUILD) -j $(JOBS) --target linkwatch

test: test-deps consumers configure
	@echo "== building everything in $(BUILD)/"
	cmake --build $(BUILD) -j $(JOBS)
	@echo "== running tests"
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) --timeout 600

DEMO_ARGS ?=
demo: build
	@echo "== running build/linkwatch demo (Ctrl-C to stop)"
	./$(BUILD)/linkwatch demo $(DEMO_ARGS)

# Unit tests under AddressSanitizer + UndefinedBehaviorSanitizer (clang).
asan: test-deps
	@echo "== building build-asan/ with ASan+UBSan"
	CC=clang CXX=clang++ cmake -S . -B build-asan -G $(GENERATOR) -DLINKWATCH_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug -DLINKWATCH_UNITY=ON
	cmake --build build-asan -j $(JOBS) --target unit_tests
	cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  ctest --output-on-failure -j $(JOBS) -L unit --timeout 600

# Each libFuzzer target for FUZZ_SECONDS (with its dictionary and seed corpus).
fuzz: test-deps
	@echo "== building build-fuzz/ (libFuzzer), $(FUZZ_SECONDS)s per target"
	FUZZ_SECONDS=$(FUZZ_SECONDS) CC=clang CXX=clang++ cmake -S . -B build-fuzz -G $(GENERATOR) -DLINKWATCH_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo
	cmake --build build-fuzz -j $(JOBS) --target fuzz_targets
	cd build-fuzz/fuzz && ctest --output-on-failure -L fuzz

bench: build
	@echo "== see docs/performance.md for what each figure means"
	./$(BUILD)/bench/rule_eval_bench
	./$(BUILD)/bench/metrics_bench

format:
	clang-format -i $$(git ls-files '*.cc' '*.h')

clean:
	rm -rf $(BUILD) build-asan build-fuzz
