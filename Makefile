# vuser: top-level entry points.
#
#   make build   install build deps if missing (scripts/setup.sh), configure
#                build/ with meson if needed, compile with ninja
#   make test    build, then unit tests (meson test) and integration tests;
#                the last line is "N passed, N failed[, N skipped]"
#   make demo    build, then scripts/demo.py (DEMO_ARGS="--frontend dpdk" ...)
#   make bench   build, then tests/perf/bench.py: net_vuser vs DPDK's net_virtio_user
#                (BENCH_ARGS="--quick" ...; see docs/performance.md)
#   make setup   packages and DPDK SDK headers only
#   make clean   remove build/ and results/ (.deps/ is kept: see setup.sh)

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c

ROOT := $(patsubst %/,%,$(dir $(abspath $(lastword $(MAKEFILE_LIST)))))
BUILD_DIR := $(ROOT)/build
SDK_INC := $(ROOT)/.deps/dpdk-sdk/include
MESON_OPTS ?=
DEMO_ARGS ?=
BENCH_ARGS ?=
PYTHON ?= python3

.DEFAULT_GOAL := build
.PHONY: build setup test demo bench clean

setup:
	@bash $(ROOT)/scripts/setup.sh

build: setup
	@if [ ! -f "$(BUILD_DIR)/build.ninja" ]; then \
		echo "meson setup $(BUILD_DIR) -Ddpdk_sdk_include=$(SDK_INC) $(MESON_OPTS)"; \
		cd "$(ROOT)" && meson setup "$(BUILD_DIR)" -Ddpdk_sdk_include="$(SDK_INC)" $(MESON_OPTS); \
	fi
	ninja -C "$(BUILD_DIR)"

test: build
	@$(PYTHON) $(ROOT)/scripts/run_tests.py --build-dir "$(BUILD_DIR)"

demo: build
	$(PYTHON) $(ROOT)/scripts/demo.py $(DEMO_ARGS)

bench: build
	$(PYTHON) $(ROOT)/tests/perf/bench.py $(BENCH_ARGS)

clean:
	rm -rf "$(BUILD_DIR)" "$(ROOT)/results"
