#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Build the libFuzzer targets (clang, ASan + UBSan) and run each for a bounded time.
#
#   tests/fuzz/run_fuzz.sh                 every target 60 s (what CI runs)
#   tests/fuzz/run_fuzz.sh -t 600          every target 10 minutes (the acceptance run)
#   tests/fuzz/run_fuzz.sh -t 30 vhost_msg only that target
#   tests/fuzz/run_fuzz.sh -b              build only
#
# Targets (tests/fuzz/fuzz_<name>.c, seeds in tests/fuzz/corpus/<name>/):
#   vhost_msg   the vhost-user message layer: framing, fds, reply and mem-table checks
#   devargs     the devargs parser
#   rx_ring     the PMD's Rx and Tx bursts consuming used entries a device wrote
#               (split and packed rings, mergeable buffers, in-order), with DPDK
#   vub_msg     libvub's message handler: request scripts from a hostile frontend over
#               an in-memory transport (memfd regions, eventfds), with bursts between
#   vub_ring    libvub's ring walker (split, packed; dequeue, enqueue, mergeable, indirect,
#               in-order, event idx) over rings from the input, invariants after each call
#
# Binaries go to build-fuzz/ at the top of the repository; each run works on a copy of
# the committed seeds (build-fuzz/corpus-<name>/, new inputs land there) and writes
# crash-*/leak-* files in build-fuzz/artifacts/. Exit code 1 if a target found anything.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
OUT="$ROOT/build-fuzz"
SECONDS_PER_TARGET=60
BUILD_ONLY=0
while getopts "t:bh" opt; do
	case "$opt" in
	t) SECONDS_PER_TARGET="$OPTARG" ;;
	b) BUILD_ONLY=1 ;;
	*) sed -n '3,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	esac
done
shift $((OPTIND - 1))
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(vhost_msg devargs rx_ring vub_msg vub_ring)

CC=${CC_FUZZ:-clang}
command -v "$CC" >/dev/null || { echo "run_fuzz: $CC not found (scripts/setup.sh installs clang)" >&2; exit 1; }
SAN=(-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -g -O1 -std=gnu11
	-D_GNU_SOURCE -Wall -Wno-missing-field-initializers)
mkdir -p "$OUT/artifacts"

# libvub's core: every backend/vub_*.c but its transports (the fuzzers bring their own),
# so a file the core gains is linked without editing this list.
VUB_CORE=()
for f in "$ROOT"/backend/vub_*.c; do
	case "$(basename "$f")" in
	vub_af_unix.c | vub_vduse.c | vub_vvu.c) ;;
	*) VUB_CORE+=("$f") ;;
	esac
done

build() { # $1 = target
	local t=$1 bin="$OUT/fuzz_$1"
	case "$t" in
	vhost_msg)
		"$CC" "${SAN[@]}" -I"$ROOT/common" "$ROOT/tests/fuzz/fuzz_vhost_msg.c" \
			"$ROOT/common/vu_vhost_user_msg.c" -o "$bin" ;;
	devargs)
		"$CC" "${SAN[@]}" -I"$ROOT/drivers/net/vuser" -I"$ROOT/drivers/net/common" \
			"$ROOT/tests/fuzz/fuzz_devargs.c" "$ROOT/drivers/net/vuser/vuser_devargs.c" \
			"$ROOT/drivers/net/common/vu_kv.c" -o "$bin" ;;
	rx_ring)
		local sdk="$ROOT/.deps/dpdk-sdk/include"
		# shellcheck disable=SC2046
		"$CC" "${SAN[@]}" -DALLOW_INTERNAL_API -DALLOW_EXPERIMENTAL_API -include rte_config.h \
			-I"$sdk" $(pkg-config --cflags libdpdk) -I"$ROOT/common" -I"$ROOT/virtio-user" \
			-I"$ROOT/drivers/net/vuser" "$ROOT/tests/fuzz/fuzz_rx_ring.c" \
			"$ROOT/drivers/net/vuser/vuser_rx.c" "$ROOT/drivers/net/vuser/vuser_rx_lines.c" \
			"$ROOT/drivers/net/vuser/vuser_tx.c" \
			"$ROOT/drivers/net/vuser/vuser_queue.c" "$ROOT/drivers/net/vuser/vuser_fault.c" \
			-o "$bin" $(pkg-config --libs libdpdk) ;;
	vub_msg | vub_ring)
		"$CC" "${SAN[@]}" -I"$ROOT/common" -I"$ROOT/backend" "$ROOT/tests/fuzz/fuzz_$t.c" \
			"$ROOT/tests/fuzz/fuzz_vub_transport.c" "${VUB_CORE[@]}" \
			"$ROOT"/common/vu_{vhost_user_msg,log,iotlb}.c -o "$bin" ;;
	*) echo "run_fuzz: unknown target $t" >&2; return 1 ;;
	esac
}

rc=0
for t in "${TARGETS[@]}"; do
	echo "==> fuzz_$t: build"
	build "$t"
done
[ "$BUILD_ONLY" -eq 0 ] || exit 0
for t in "${TARGETS[@]}"; do
	corpus="$OUT/corpus-$t"
	mkdir -p "$corpus"
	cp -n "$ROOT/tests/fuzz/corpus/$t/"* "$corpus/" 2>/dev/null || true
	echo "==> fuzz_$t: ${SECONDS_PER_TARGET}s"
	log="$OUT/fuzz_$t.log"
	# detect_leaks: every fd and allocation of an input must be released before the next.
	if ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:symbolize=1" \
		UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" \
		"$OUT/fuzz_$t" -max_total_time="$SECONDS_PER_TARGET" -timeout=10 -rss_limit_mb=4096 \
		-max_len=4096 -print_final_stats=1 -artifact_prefix="$OUT/artifacts/$t-" \
		"$corpus" >"$log" 2>&1; then
		echo "    $(grep -E '^stat::number_of_executed_units' "$log" | awk '{print $2}') executions," \
			"$(grep -E '^stat::peak_rss_mb' "$log" | awk '{print $2}') MB peak RSS, no finding" \
			"($(ls "$corpus" | wc -l) inputs in the corpus)"
	else
		rc=1
		echo "    FINDING: see $log and $OUT/artifacts/"
		grep -E "ERROR|SUMMARY|runtime error" "$log" | head -5 | sed 's/^/    /'
	fi
done
exit $rc
