# SPDX-License-Identifier: BSD-3-Clause
# vuser: top-level entry points.
#
#   make build   install build deps if missing (scripts/setup.sh), configure
#                build/ with meson if needed, compile with ninja
#   make test    build (and make qemu-vvu), then unit tests (meson test) and
#                integration tests; the last line is "N passed, N failed[, N skipped]"
#   make demo    build, then scripts/demo.py (DEMO_ARGS="--frontend dpdk" ...)
#   make demo-container  the same demo with the frontend in a container: a private
#                dockerd, an image built FROM scratch (docs/containers.md)
#   make test-vdpa  build, then the vDPA VM tests only (tests/vm/test_vdpa*_vm.py: the
#                6.12 guest, our backend as a VDUSE device, our frontend on vhost-vdpa)
#   make test-asan  the same suites on an ASan + UBSan build in build-asan/ (see
#                docs/reliability.md: the runtime is preloaded into the DPDK apps)
#   make fuzz    the libFuzzer targets of tests/fuzz, FUZZ_SECONDS each (default 60)
#   make soak    1000 backend kill/restart cycles in server mode (tests/soak)
#   make bench   build, then tests/perf/bench.py: net_vuser vs DPDK's net_virtio_user
#                (BENCH_ARGS="--quick" ...; "--measure backend": net_vubackend vs
#                net_vhost; "--measure pair": both; see docs/performance.md)
#   make bench-vvu  build and make qemu-vvu, then tests/perf/vvu_cost.py: the same backend
#                over the VVU transport and over AF_UNIX in one TCG slave VM
#                (BENCH_VVU_ARGS="--rounds 5 --window 3"; docs/vvu.md)
#   make bench-vdpa  build, then tests/perf/vdpa_bench.py: in one TCG VM boot,
#                net_vuser vs net_virtio_user on /dev/vhost-vdpa-0 (VDPA_BENCH_ARGS=
#                "--rounds 5"; docs/vdpa.md)
#   make setup   packages and DPDK SDK headers only
#   make qemu-vvu  QEMU 7.2 with the virtio-vhost-user device (qemu-vvu/, GPL-2.0+)
#                into .deps/qemu-vvu/, skipped when the patch set is unchanged; minutes
#                of both CPUs (on a shared machine: flock /tmp/vuser-cpu.lock make qemu-vvu)
#   make test-vvu  the virtio-vhost-user tests alone (tests/vm/test_vvu_*.py: the device,
#                and a slave VM's net_vubackend serving masters on the host), after
#                make qemu-vvu; run alone they skip, saying why, without the device
#   make clean   remove build/, build-asan/, build-fuzz/ and results/ (.deps/ is kept)

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c

ROOT := $(patsubst %/,%,$(dir $(abspath $(lastword $(MAKEFILE_LIST)))))
BUILD_DIR := $(ROOT)/build
SDK_INC := $(ROOT)/.deps/dpdk-sdk/include
MESON_OPTS ?=
DEMO_ARGS ?=
BENCH_ARGS ?=
BENCH_VVU_ARGS ?=
PYTHON ?= python3
ASAN_BUILD_DIR := $(ROOT)/build-asan
# Integration files run on the sanitizer build (all of them: ASAN_INTEGRATION=test_*.py).
ASAN_INTEGRATION ?= test_*.py
FUZZ_SECONDS ?= 60
SOAK_ARGS ?=

.DEFAULT_GOAL := build
.PHONY: build setup test test-vdpa demo demo-container bench bench-vdpa clean test-asan fuzz \
	soak qemu-vvu test-vvu bench-vvu

setup:
	@bash $(ROOT)/scripts/setup.sh

build: setup
	@if [ ! -f "$(BUILD_DIR)/build.ninja" ]; then \
		echo "meson setup $(BUILD_DIR) -Ddpdk_sdk_include=$(SDK_INC) $(MESON_OPTS)"; \
		cd "$(ROOT)" && meson setup "$(BUILD_DIR)" -Ddpdk_sdk_include="$(SDK_INC)" $(MESON_OPTS); \
	fi
	ninja -C "$(BUILD_DIR)"

test: build qemu-vvu
	@$(PYTHON) $(ROOT)/scripts/run_tests.py --build-dir "$(BUILD_DIR)"

test-vdpa: build
	@$(PYTHON) $(ROOT)/scripts/run_tests.py --build-dir "$(BUILD_DIR)" --no-unit \
		--integration 'test_vdpa*_vm.py' --summary vdpa.txt

# gcc's ASan and UBSan: the unit tests are instrumented executables; the plugin is an
# instrumented .so that uninstrumented dpdk-testpmd dlopens, so libasan is preloaded into
# the DPDK apps (VUSER_APP_PRELOAD, tests/lib/dpdkapp.py). DPDK's own libraries are not
# instrumented; its hugepage/memfd mappings are not ASan's business. detect_leaks is on
# for the unit tests and off for the apps (EAL keeps its memory until exit by design).
test-asan: setup
	@if [ ! -f "$(ASAN_BUILD_DIR)/build.ninja" ]; then \
		cd "$(ROOT)" && meson setup "$(ASAN_BUILD_DIR)" -Ddpdk_sdk_include="$(SDK_INC)" \
			-Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debug $(MESON_OPTS); \
	fi
	ninja -C "$(ASAN_BUILD_DIR)"
	@ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:halt_on_error=1" \
	UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" \
	$(PYTHON) $(ROOT)/scripts/run_tests.py --build-dir "$(ASAN_BUILD_DIR)" --no-integration \
		--summary asan-unit.txt
	@VUSER_PLUGIN="$(ASAN_BUILD_DIR)/drivers/net/vuser/librte_net_vuser.so" \
	VUSER_RXINTR="$(ASAN_BUILD_DIR)/tests/apps/vuser_rxintr" \
	VUSER_APP_PRELOAD="$$(gcc -print-file-name=libasan.so)" \
	ASAN_OPTIONS="detect_leaks=0:verify_asan_link_order=0:use_sigaltstack=0:halt_on_error=1:abort_on_error=1:log_path=$(ROOT)/results/asan/asan" \
	UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$(ROOT)/results/asan/ubsan" \
	$(PYTHON) $(ROOT)/scripts/run_tests.py --build-dir "$(ASAN_BUILD_DIR)" --no-unit \
		--integration '$(ASAN_INTEGRATION)' --sanitizer-logs "$(ROOT)/results/asan" \
		--summary asan-integration.txt

qemu-vvu:
	bash $(ROOT)/scripts/build_qemu_vvu.sh

test-vvu: build qemu-vvu
	@$(PYTHON) $(ROOT)/scripts/run_tests.py --build-dir "$(BUILD_DIR)" --no-unit \
		--integration 'test_vvu_*.py' --summary vvu.txt

fuzz: setup
	bash $(ROOT)/tests/fuzz/run_fuzz.sh -t $(FUZZ_SECONDS)

soak: build
	$(PYTHON) $(ROOT)/tests/soak/server_soak.py $(SOAK_ARGS)

demo: build
	$(PYTHON) $(ROOT)/scripts/demo.py $(DEMO_ARGS)

demo-container: build
	$(PYTHON) $(ROOT)/scripts/demo.py --container $(DEMO_ARGS)

bench: build
	$(PYTHON) $(ROOT)/tests/perf/bench.py $(BENCH_ARGS)

bench-vvu: build qemu-vvu
	$(PYTHON) $(ROOT)/tests/perf/vvu_cost.py $(BENCH_VVU_ARGS)

bench-vdpa: build
	$(PYTHON) $(ROOT)/tests/perf/vdpa_bench.py $(VDPA_BENCH_ARGS)

clean:
	rm -rf "$(BUILD_DIR)" "$(ASAN_BUILD_DIR)" "$(ROOT)/build-fuzz" "$(ROOT)/results"
