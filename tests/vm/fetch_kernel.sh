#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Fetch what the VM tests boot: Debian's kernel (the one linux-image-amd64 depends on,
# which has vhost_net, tun and 9p as modules) and a static busybox. With --backports,
# bookworm-backports' 6.12 kernel instead: Debian 12's 6.1 has CONFIG_VDPA off, the
# 6.12 one has vdpa, vduse, vhost_vdpa and virtio_vdpa as modules (tests/vm/*vdpa*).
#
#   tests/vm/fetch_kernel.sh [DEST]                 (default <repo>/.deps/vm)
#   tests/vm/fetch_kernel.sh --backports [DEST]     (default <repo>/.deps/vm-6.12)
#
# The backports kernel comes through apt with a private sources list and state under
# DEST/apt: the machine's apt sources stay as they are.
#
# Idempotent: a stamp naming the kernel package makes a re-run a no-op. Prints the
# kernel release on the last line ("release=<uname -r>"). Needs qemu-system-x86 and
# busybox-static installed (scripts/setup.sh installs them); downloads go to DEST only.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BACKPORTS=0
if [ "${1:-}" = "--backports" ]; then
	BACKPORTS=1
	shift
fi
BPO_PKG="linux-image-6.12.95+deb12-amd64"
BPO_SUITE="bookworm-backports"
BPO_MIRROR="http://deb.debian.org/debian"
if [ "$BACKPORTS" = 1 ]; then
	DEST="${1:-$ROOT/.deps/vm-6.12}"
else
	DEST="${1:-$ROOT/.deps/vm}"
fi
STAMP="$DEST/.stamp"
APT_OPTS=()

log() { printf 'fetch_kernel: %s\n' "$*" >&2; }
die() {
	printf 'fetch_kernel: ERROR: %s\n' "$*" >&2
	exit 1
}

command -v busybox >/dev/null || die "busybox is missing (apt-get install busybox-static)"
busybox --list | grep -x insmod >/dev/null || die "this busybox has no insmod applet"
# A dynamically linked busybox cannot run in an initramfs without its libraries.
if file -L "$(command -v busybox)" 2>/dev/null | grep -q dynamic; then
	die "$(command -v busybox) is dynamically linked: install busybox-static"
fi

# apt options of a private sources list naming bookworm-backports only, with its own
# lists and cache under DEST/apt.
bpo_apt() {
	local a="$DEST/apt"
	mkdir -p "$a/lists/partial" "$a/cache/archives/partial"
	echo "deb $BPO_MIRROR $BPO_SUITE main" >"$a/sources.list"
	APT_OPTS=(-o "Dir::Etc::SourceList=$a/sources.list" -o "Dir::Etc::SourceParts=-"
		-o "Dir::State::Lists=$a/lists" -o "Dir::Cache=$a/cache")
}

if [ "$BACKPORTS" = 1 ]; then
	pkg="$BPO_PKG"
else
	# The image package linux-image-amd64 depends on (not -cloud: that one has no 9p).
	pkg="$(apt-cache depends linux-image-amd64 2>/dev/null |
		sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*-amd64\)$/\1/p' | head -1)"
	if [ -z "$pkg" ]; then
		apt-get update -q >&2 || die "apt-get update failed (is a Debian mirror reachable?)"
		pkg="$(apt-cache depends linux-image-amd64 2>/dev/null |
			sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*-amd64\)$/\1/p' | head -1)"
	fi
	[ -n "$pkg" ] || die "apt does not know linux-image-amd64's kernel package"
fi
release="${pkg#linux-image-}"

if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$pkg" ] &&
	[ -f "$DEST/root/boot/vmlinuz-$release" ]; then
	log "kernel $pkg: up to date in $DEST"
	echo "release=$release"
	exit 0
fi

mkdir -p "$DEST/dl"
rm -rf "$DEST/root"
if [ "$BACKPORTS" = 1 ]; then
	bpo_apt
	log "apt-get update of $BPO_SUITE (private lists in $DEST/apt)"
	apt-get "${APT_OPTS[@]}" update -q >&2 || die "apt-get update of $BPO_SUITE failed"
fi
log "apt-get download $pkg (into $DEST/dl)"
(cd "$DEST/dl" && rm -f ./*.deb && apt-get "${APT_OPTS[@]}" download -q "$pkg" >&2) ||
	die "apt-get download $pkg failed"
deb="$(ls "$DEST"/dl/*.deb | head -1)"
log "extracting $(basename "$deb")"
dpkg-deb -x "$deb" "$DEST/root" || die "dpkg-deb -x $deb failed"
rm -f "$deb"
[ -f "$DEST/root/boot/vmlinuz-$release" ] || die "no vmlinuz-$release in $pkg"
[ -d "$DEST/root/lib/modules/$release/kernel/drivers/vhost" ] ||
	die "$pkg has no drivers/vhost modules"
if [ "$BACKPORTS" = 1 ]; then
	ls "$DEST/root/lib/modules/$release/kernel/drivers/vdpa/vdpa_user/"vduse.ko* >/dev/null ||
		die "$pkg has no vduse module"
fi
echo "$pkg" >"$STAMP"
log "kernel $release ready in $DEST/root"
echo "release=$release"
