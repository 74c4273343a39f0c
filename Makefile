# natsbus: conventional entry points. `make test` is what CI runs (.ci/run).
SHELL := /bin/bash
ROOT := $(abspath .)
PRESET ?= $(if $(CI),ci,default)
BUILD_DIR ?= build
JOBS ?= $(shell nproc)
TOOLS_BIN := $(ROOT)/.tools/bin
export PATH := $(TOOLS_BIN):$(PATH)
HELM ?= $(TOOLS_BIN)/helm

.PHONY: all deps configure build test unit integration e2e chart-lint bench bench-plots demo asan format format-check clean \
	images cluster-up cluster-down

all: build

deps:
	@scripts/deps.sh

configure:
	@cmake --preset $(PRESET) >/dev/null

build: configure
	@cmake --build $(BUILD_DIR) -j $(JOBS)

unit: build
	@ctest --test-dir $(BUILD_DIR) -L unit -j $(JOBS) --output-on-failure --no-tests=error

# Integration tests start real servers; one at a time keeps a 2-core machine honest.
integration: build
	@ctest --test-dir $(BUILD_DIR) -L integration --output-on-failure --no-tests=error

chart-lint:
	@if [ -d charts/natsbus ]; then $(HELM) lint --strict charts/natsbus; else echo "chart-lint: no chart yet (charts/natsbus)"; fi

test: deps build
	@$(MAKE) --no-print-directory unit
	@$(MAKE) --no-print-directory integration
	@$(MAKE) --no-print-directory chart-lint
	@$(MAKE) --no-print-directory e2e

# The local single-node cluster (root; scripts/cluster/README.md). `make e2e`
# builds the images, brings the cluster up, runs the ctest label e2e and tears
# the cluster down, also on failure or Ctrl-C; without root it says why it skips.
e2e: build
	@BUILD_DIR=$(BUILD_DIR) scripts/cluster/e2e.sh

images:
	@scripts/cluster/images.sh

cluster-up:
	@scripts/cluster/up.sh

cluster-down:
	@scripts/cluster/down.sh

bench: build
	@scripts/bench.sh

# Redraws docs/bench/*.png from docs/bench/results/ (what the last `make bench` wrote).
bench-plots:
	@scripts/bench/plot.py docs/bench/results docs/bench

demo: build
	@if [ -x scripts/demo.sh ]; then scripts/demo.sh; else \
	  echo "make demo: not built yet. The end-to-end demo (real etcd + kube-apiserver, operator, sidecars,"; \
	  echo "sample apps) arrives with the Helm chart issue; until then run 'make test'."; exit 1; fi

# Unit tests, plus the sidecar's integration tests (its event-loop binding and
# lifetimes are where memory errors would hide). The operator's integration
# tests stay out: cpprestsdk's own header trips UBSan's vptr check.
asan: deps
	@cmake --preset asan >/dev/null && cmake --build build-asan -j $(JOBS) && \
	  ctest --test-dir build-asan -L unit --output-on-failure --no-tests=error && \
	  ctest --test-dir build-asan -L '^sidecar$$' --output-on-failure --no-tests=error

format:
	@git ls-files '*.cpp' '*.hpp' | xargs clang-format -i

format-check:
	@git ls-files '*.cpp' '*.hpp' | xargs clang-format --dry-run --Werror

clean:
	rm -rf $(BUILD_DIR) build-asan
