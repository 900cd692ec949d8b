#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Build Debian's QEMU 7.2 with the virtio-vhost-user patch set of qemu-vvu/.
#
#   scripts/build_qemu_vvu.sh           build if needed; print the binary's path
#   scripts/build_qemu_vvu.sh --check   print the path if the cached binary matches
#                                       the patch set, else exit 1 (no build)
#   scripts/build_qemu_vvu.sh --force   rebuild even if the cache matches
#
# The binary is cached as .deps/qemu-vvu/qemu-system-x86_64 with a stamp holding the
# hash of the source version, configure flags and patches: a matching stamp skips the
# build. The build takes the 2 CPUs for minutes: run it under the shared lock
# (flock /tmp/vuser-cpu.lock nice scripts/build_qemu_vvu.sh). Progress goes to stderr,
# the path to stdout. The firmware comes from Debian's packages: run the binary with
# -L /usr/share/seabios -L /usr/share/qemu -L /usr/lib/ipxe/qemu.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
QEMU_VERSION="1:7.2+dfsg-7+deb12u18"
PATCH_DIR="$ROOT/qemu-vvu/patches"
OUT="$ROOT/.deps/qemu-vvu"
DL="$OUT/dl"
TREE="$OUT/qemu-7.2"
BIN="$OUT/qemu-system-x86_64"
STAMP="$OUT/stamp"
JOBS="${QEMU_VVU_JOBS:-2}"
CONFIGURE_FLAGS=(
	--target-list=x86_64-softmmu --without-default-features --enable-virtfs
	--enable-vhost-user --enable-attr --enable-cap-ng --disable-docs
	--disable-install-blobs
)
# What configure needs beyond the project's own build packages (scripts/setup.sh).
PACKAGES=(
	build-essential pkg-config python3 meson ninja-build dpkg-dev xz-utils
	libglib2.0-dev libpixman-1-dev zlib1g-dev libattr1-dev libcap-ng-dev
)

log() { echo "build_qemu_vvu: $*" >&2; }
die() {
	log "ERROR: $*"
	exit 1
}

MODE=build
case "${1:-}" in
"") ;;
--check) MODE=check ;;
--force) MODE=force ;;
*) die "unknown option '$1' (--check, --force)" ;;
esac

patch_hash() {
	{
		echo "$QEMU_VERSION"
		echo "${CONFIGURE_FLAGS[*]}"
		cat "$PATCH_DIR"/*.patch
	} | sha256sum | cut -d' ' -f1
}

install_packages() {
	local p missing=()
	for p in "${PACKAGES[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep "ok installed" >/dev/null ||
			missing+=("$p")
	done
	[ "${#missing[@]}" -eq 0 ] && return 0
	[ "$(id -u)" -eq 0 ] || die "missing packages (install as root): ${missing[*]}"
	log "apt-get install ${missing[*]}"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
		"${missing[@]}" >&2 || die "apt-get install ${missing[*]} failed"
}

# The source versions apt knows, newest first. No grep -q after apt-cache: with pipefail
# its early exit would fail the pipeline by SIGPIPE.
source_versions() {
	apt-cache showsrc qemu 2>/dev/null | sed -n 's/^Version: //p' | sort -rV
}

# The pinned version, else the newest Debian 12 7.2 (security updates replace the pinned
# one on the mirrors; our patches touch no file Debian's updates change).
pick_version() {
	local all
	all="$(source_versions)"
	if grep -qx "$QEMU_VERSION" <<<"$all"; then
		echo "$QEMU_VERSION"
	else
		grep -m1 -x "${QEMU_VERSION%%+deb12u*}+deb12u[0-9]*" <<<"$all" || true
	fi
}

# apt-get source needs a deb-src entry (scripts/setup.sh writes one for bookworm).
fetch_source() {
	local ver dsc
	for dsc in "$DL"/qemu_*.dsc; do
		[ -f "$dsc" ] && {
			echo "$dsc"
			return
		}
	done
	mkdir -p "$DL"
	ver="$(pick_version)"
	if [ "$ver" != "$QEMU_VERSION" ]; then
		log "apt-get update (looking for source qemu $QEMU_VERSION)"
		apt-get update -q >&2 || true
		ver="$(pick_version)"
	fi
	[ -n "$ver" ] ||
		die "apt has no source for qemu $QEMU_VERSION (nor another 7.2 of Debian 12): add a deb-src line for bookworm (scripts/setup.sh does)"
	[ "$ver" = "$QEMU_VERSION" ] || log "source qemu $QEMU_VERSION is gone, taking $ver"
	log "apt-get source --download-only qemu=$ver"
	(cd "$DL" && apt-get source --download-only -q "qemu=$ver" >&2) ||
		die "apt-get source qemu=$ver failed"
	dsc="$DL/qemu_${ver#*:}.dsc"
	[ -f "$dsc" ] || die "apt-get source did not produce $dsc"
	echo "$dsc"
}

# A fresh tree each time: Debian's patches (dpkg-source), then ours, in name order.
prepare_tree() {
	local dsc="$1" p
	rm -rf "$TREE"
	log "extracting $(basename "$dsc")"
	dpkg-source -q -x "$dsc" "$TREE" >&2 || die "dpkg-source -x $dsc failed"
	for p in "$PATCH_DIR"/*.patch; do
		log "applying $(basename "$p")"
		patch -d "$TREE" -p1 -s --forward <"$p" >&2 || die "$(basename "$p") does not apply"
	done
}

build() {
	mkdir -p "$TREE/build"
	log "configure ${CONFIGURE_FLAGS[*]}"
	(cd "$TREE/build" && ../configure "${CONFIGURE_FLAGS[@]}" >configure.log 2>&1) ||
		die "configure failed (see $TREE/build/configure.log)"
	log "ninja -j$JOBS qemu-system-x86_64"
	ninja -C "$TREE/build" -j"$JOBS" qemu-system-x86_64 >"$OUT/ninja.log" 2>&1 ||
		die "ninja failed (tail $OUT/ninja.log)"
	cp "$TREE/build/qemu-system-x86_64" "$BIN.tmp"
	mv "$BIN.tmp" "$BIN"
}

main() {
	local want dsc
	want="$(patch_hash)"
	if [ "$MODE" != force ] && [ -x "$BIN" ] && [ "$(cat "$STAMP" 2>/dev/null)" = "$want" ]; then
		echo "$BIN"
		return 0
	fi
	[ "$MODE" = check ] && {
		log "no cached binary for patch set ${want:0:12} in $OUT"
		return 1
	}
	install_packages
	# die in the command substitution ends only its subshell: stop here too
	dsc="$(fetch_source)" || exit 1
	prepare_tree "$dsc"
	build
	echo "$want" >"$STAMP"
	log "built $BIN (patch set ${want:0:12})"
	echo "$BIN"
}

main
