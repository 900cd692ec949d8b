#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Install what vuser needs to build and test on Debian 12, and fetch the DPDK
# driver SDK headers that Debian's libdpdk-dev does not ship.
#
#   scripts/setup.sh            install missing packages, fetch SDK headers
#   scripts/setup.sh --check    only report what is missing (exit 1 if any)
#
# The headers land in <repo>/.deps/dpdk-sdk/include (gitignored, never
# committed), taken from Debian's dpdk source package of exactly the installed
# version.  A stamp file naming that version makes a re-run a fast no-op.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEPS="$ROOT/.deps"
SDK="$DEPS/dpdk-sdk"
SDK_INC="$SDK/include"
STAMP="$SDK/.stamp"
SRC_DIR="$DEPS/src"
DEB_SRC_FILE=/etc/apt/sources.list.d/vuser-deb-src.sources

# Build and test dependencies (dpdk-dev brings /usr/bin/dpdk-testpmd).
PACKAGES=(
	build-essential pkg-config python3 xz-utils
	meson ninja-build
	# dpdk-dev also has dpdk-proc-info, dpdk-pdump and dpdk-dumpcap (tests/integration/
	# test_secondary.py); tcpdump reads their captures back
	libdpdk-dev dpdk-dev tcpdump
	librte-net-vhost23 librte-net-virtio23 librte-mempool-ring23
	libnl-3-dev libnl-route-3-dev
	libcmocka-dev
	python3-pyelftools
	# integration tests written for pytest (tests/integration/conftest.py), run by /usr/bin/python3
	python3-pytest
	dpkg-dev
	# vhost-kernel tests: netns/TAP checks, and the VM that has vhost_net (tests/vm)
	iproute2 qemu-system-x86 busybox-static
	# fuzz targets (libFuzzer, ASan/UBSan runtimes) and the sanitizer build (docs/reliability.md)
	clang llvm libclang-rt-14-dev
	# style check in CI (scripts/check_style.sh)
	clang-format
	# containers (make demo-container, tests/integration/test_container*.py): a private
	# dockerd, and OVS-DPDK as the switch between containers (docs/containers.md)
	docker.io openvswitch-switch-dpdk
)

# Packages whose install starts a system service: dockerd's default mode rewrites the
# host's iptables and turns on forwarding, and the tests run private instances anyway.
# They are installed with service starts denied (policy-rc.d), unless a policy exists.
SERVICE_PACKAGES=(docker.io openvswitch-switch-dpdk)
POLICY_RC=/usr/sbin/policy-rc.d

# The five SDK headers a vdev ethdev driver needs, and where they live in the
# DPDK source tree.
SDK_HEADERS=(
	lib/ethdev/ethdev_driver.h
	lib/ethdev/ethdev_vdev.h
	drivers/bus/vdev/bus_vdev_driver.h
	lib/eal/include/bus_driver.h
	lib/eal/include/dev_driver.h
)

log() { printf 'setup: %s\n' "$*"; }
die() {
	printf '\nsetup: ERROR: %s\n\n' "$*" >&2
	exit 1
}

CHECK_ONLY=0
case "${1:-}" in
--check) CHECK_ONLY=1 ;;
"") ;;
-h | --help)
	sed -n '3,12p' "$0" | sed 's/^# \{0,1\}//'
	exit 0
	;;
*) die "unknown option '$1' (try --help)" ;;
esac

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null 2>&1; then
		SUDO=(sudo)
	fi
fi
as_root() {
	if [ "$(id -u)" -ne 0 ] && [ ${#SUDO[@]} -eq 0 ]; then
		die "need root to run: $* (run as root or install sudo)"
	fi
	"${SUDO[@]}" "$@"
}

APT_UPDATED=0
apt_update_once() {
	if [ "$APT_UPDATED" -eq 0 ]; then
		log "apt-get update"
		as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q ||
			die "apt-get update failed (is a Debian mirror reachable?)"
		APT_UPDATED=1
	fi
}

# ---------------------------------------------------------------- packages

missing_packages() {
	local p st
	for p in "${PACKAGES[@]}"; do
		st="$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)"
		[ "$st" = installed ] || printf '%s\n' "$p"
	done
}

install_packages() {
	local missing
	mapfile -t missing < <(missing_packages)
	if [ ${#missing[@]} -eq 0 ]; then
		log "packages: all ${#PACKAGES[@]} present"
		return 0
	fi
	if [ "$CHECK_ONLY" -eq 1 ]; then
		log "packages missing: ${missing[*]}"
		return 1
	fi
	log "installing: ${missing[*]}"
	apt_update_once
	local policy=0 p
	for p in "${missing[@]}"; do
		if [[ " ${SERVICE_PACKAGES[*]} " == *" $p "* ]] && [ ! -e "$POLICY_RC" ]; then
			policy=1
		fi
	done
	if [ "$policy" -eq 1 ]; then
		log "denying service starts during the install ($POLICY_RC, removed after)"
		printf '#!/bin/sh\n# vuser scripts/setup.sh: no service starts while installing\nexit 101\n' |
			as_root tee "$POLICY_RC" >/dev/null
		as_root chmod 0755 "$POLICY_RC"
		POLICY_ADDED=1
	fi
	as_root env DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -q --no-install-recommends "${missing[@]}" ||
		die "apt-get install failed for: ${missing[*]}"
	remove_policy
	mapfile -t missing < <(missing_packages)
	[ ${#missing[@]} -eq 0 ] || die "still missing after install: ${missing[*]}"
}

POLICY_ADDED=0
remove_policy() {
	if [ "$POLICY_ADDED" -eq 1 ]; then
		as_root rm -f "$POLICY_RC"
		POLICY_ADDED=0
	fi
}

# ---------------------------------------------------------------- SDK headers

sdk_up_to_date() { # $1 = stamp text
	[ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$1" ] || return 1
	local h
	for h in "${SDK_HEADERS[@]}"; do
		[ -f "$SDK_INC/$(basename "$h")" ] || return 1
	done
}

# Debian suites the system's own deb entries use (bookworm, bookworm-updates,
# bookworm-security, ...), as deb822 stanzas with Types: deb-src.
write_deb_src() {
	local codename
	# shellcheck disable=SC1091
	codename="$(. /etc/os-release && echo "${VERSION_CODENAME:-}")"
	[ -n "$codename" ] || die "cannot tell the Debian codename from /etc/os-release"
	local tmp
	tmp="$(mktemp)"
	python3 - "$codename" >"$tmp" <<'EOF'
import glob, re, sys
codename = sys.argv[1]
entries = []          # (uri, [suites], [components], signed_by)

def add(uri, suites, comps, signed):
    suites = [s for s in suites if s == codename or s.startswith(codename + "-")]
    if suites and "debian" in uri:
        entries.append((uri, suites, comps, signed))

for path in sorted(glob.glob("/etc/apt/sources.list.d/*.sources")):
    text = open(path).read()
    for stanza in re.split(r"\n\s*\n", text):
        fields, key = {}, None
        for line in stanza.splitlines():
            if line.startswith("#") or not line.strip():
                continue
            if line[0].isspace() and key:
                fields[key] += " " + line.strip()
                continue
            if ":" in line:
                key, val = line.split(":", 1)
                key = key.strip().lower()
                fields[key] = val.strip()
        if "deb" not in fields.get("types", "").split():
            continue
        if fields.get("enabled", "yes").lower() == "no":
            continue
        for uri in fields.get("uris", "").split():
            add(uri, fields.get("suites", "").split(),
                fields.get("components", "main").split(), fields.get("signed-by", ""))

for path in ["/etc/apt/sources.list"] + sorted(glob.glob("/etc/apt/sources.list.d/*.list")):
    try:
        lines = open(path).read().splitlines()
    except OSError:
        continue
    for line in lines:
        line = line.split("#", 1)[0].strip()
        m = re.match(r"deb\s+(\[[^\]]*\]\s+)?(\S+)\s+(\S+)\s+(.*)", line)
        if m:
            opts = m.group(1) or ""
            sb = re.search(r"signed-by=(\S+?)\]?(\s|$)", opts)
            add(m.group(2), [m.group(3)], m.group(4).split(), sb.group(1) if sb else "")

seen = set()
out = []
for uri, suites, comps, signed in entries:
    k = (uri, tuple(suites), tuple(comps))
    if k in seen:
        continue
    seen.add(k)
    s = "Types: deb-src\nURIs: %s\nSuites: %s\nComponents: %s\n" % (
        uri, " ".join(suites), " ".join(comps))
    if signed:
        s += "Signed-By: %s\n" % signed
    out.append(s)
if not out:
    sys.exit("no Debian 'deb' entries for %s found in /etc/apt" % codename)
print("# Added by vuser scripts/setup.sh: Debian sources, to fetch DPDK's SDK headers.")
print("\n".join(out), end="")
EOF
	log "adding deb-src entries in $DEB_SRC_FILE:"
	sed 's/^/setup:   /; s/ *$//' "$tmp"
	as_root install -m 0644 "$tmp" "$DEB_SRC_FILE"
	rm -f "$tmp"
}

has_source_version() { # $1 = debian version (no grep -q: SIGPIPE + pipefail)
	apt-cache showsrc dpdk 2>/dev/null | grep -x "Version: $1" >/dev/null
}

fetch_sdk() {
	local upstream debver stamp_text
	upstream="$(pkg-config --modversion libdpdk 2>/dev/null)" ||
		die "pkg-config does not know libdpdk (is libdpdk-dev installed?)"
	debver="$(dpkg-query -W -f='${source:Version}' libdpdk-dev 2>/dev/null)" ||
		die "cannot read the version of the installed libdpdk-dev"
	case "$debver" in
	"$upstream" | "$upstream"-* | "$upstream"+* | *:"$upstream"-*) ;;
	*) die "libdpdk-dev $debver does not match pkg-config's libdpdk $upstream" ;;
	esac
	stamp_text="dpdk $upstream (debian source $debver)"
	if sdk_up_to_date "$stamp_text"; then
		log "DPDK SDK headers: up to date ($stamp_text) in $SDK_INC"
		return 0
	fi
	if [ "$CHECK_ONLY" -eq 1 ]; then
		log "DPDK SDK headers: missing or stale in $SDK_INC"
		return 1
	fi
	log "DPDK SDK headers: fetching for $stamp_text"

	local want="$debver" dsc
	mkdir -p "$SRC_DIR"
	dsc="$SRC_DIR/dpdk_${debver#*:}.dsc"
	if [ ! -f "$dsc" ]; then
		if ! has_source_version "$debver"; then
			if [ ! -f "$DEB_SRC_FILE" ]; then
				write_deb_src
			fi
			APT_UPDATED=0
			apt_update_once
		fi
		if ! has_source_version "$debver"; then
			local avail
			avail="$(apt-cache showsrc dpdk 2>/dev/null | sed -n 's/^Version: //p' |
				grep "^${upstream%.*}\." | sort -V | tail -1 || true)"
			[ -n "$avail" ] || die "apt has no source for dpdk $debver (nor any ${upstream%.*}.x): check deb-src entries in $DEB_SRC_FILE"
			log "WARNING: source $debver is gone from the mirror; using $avail (same ABI series ${upstream%.*}); upgrading libdpdk-dev would match it"
			want="$avail"
			dsc="$SRC_DIR/dpdk_${want#*:}.dsc"
		fi
		log "apt-get source --download-only dpdk=$want (into $SRC_DIR)"
		(cd "$SRC_DIR" && apt-get source --download-only -q "dpdk=$want" 2>&1 |
			grep -v "^W: Download is performed unsandboxed" | sed 's/^/setup:   /') ||
			true
		[ -f "$dsc" ] || die "apt-get source did not produce $dsc"
	fi

	local orig
	orig="$(find "$SRC_DIR" -maxdepth 1 -name "dpdk_${upstream}.orig.tar.*" | head -1)"
	if [ -z "$orig" ]; then
		orig="$(find "$SRC_DIR" -maxdepth 1 -name 'dpdk_*.orig.tar.*' | sort -V | tail -1)"
	fi
	[ -n "$orig" ] || die "no dpdk orig tarball in $SRC_DIR"

	local work
	work="$(mktemp -d "$DEPS/extract.XXXXXX")"
	WORK="$work" # removed by the EXIT trap
	log "extracting headers from $(basename "$orig")"
	tar -xf "$orig" -C "$work" --wildcards --no-anchored '*.h' ||
		die "cannot extract headers from $orig"
	local top
	top="$(find "$work" -mindepth 1 -maxdepth 1 -type d | head -1)"
	if [ -z "$top" ] || [ ! -d "$top/lib/ethdev" ]; then
		die "unexpected layout in $orig"
	fi

	rm -rf "$SDK_INC"
	mkdir -p "$SDK_INC"
	local h
	for h in "${SDK_HEADERS[@]}"; do
		[ -f "$top/$h" ] || die "$h not found in $orig"
		cp "$top/$h" "$SDK_INC/"
		log "  + $(basename "$h")"
	done

	# Compile a file including all five; copy any header they pull in that
	# /usr/include/dpdk lacks, until it compiles.
	local test_c="$work/sdk_check.c" err missing found cflags
	read -ra cflags <<<"$(pkg-config --cflags libdpdk)"
	{
		for h in "${SDK_HEADERS[@]}"; do printf '#include <%s>\n' "$(basename "$h")"; done
		printf 'int main(void) { return 0; }\n'
	} >"$test_c"
	for _ in $(seq 1 30); do
		if err="$(cc -DALLOW_INTERNAL_API -I"$SDK_INC" "${cflags[@]}" \
			-c "$test_c" -o "$work/sdk_check.o" 2>&1)"; then
			break
		fi
		missing="$(printf '%s\n' "$err" | sed -n 's/.*fatal error: \([^:]*\): No such file.*/\1/p' | head -1)"
		[ -n "$missing" ] || die "the SDK headers do not compile:
$err"
		found="$(find "$top/lib" "$top/drivers" "$top/config" -path "*/$missing" -print 2>/dev/null | head -1)"
		[ -n "$found" ] || die "header $missing (needed by the SDK headers) is not in $orig"
		mkdir -p "$SDK_INC/$(dirname "$missing")"
		cp "$found" "$SDK_INC/$missing"
		log "  + $missing (needed by the SDK headers)"
	done
	cc -DALLOW_INTERNAL_API -I"$SDK_INC" "${cflags[@]}" \
		-c "$test_c" -o "$work/sdk_check.o" ||
		die "the SDK headers still do not compile after adding what they include"
	log "compile check passed: the five SDK headers build with pkg-config libdpdk + -DALLOW_INTERNAL_API"
	printf '%s\n' "$stamp_text" >"$STAMP"
	log "DPDK SDK headers ready in $SDK_INC"
}

# ---------------------------------------------------------------- main

WORK=""
trap 'rm -rf "${WORK:-/nonexistent}"; remove_policy' EXIT

if [ "$CHECK_ONLY" -eq 1 ]; then
	rc=0
	install_packages || rc=1
	[ $rc -eq 0 ] && { fetch_sdk || rc=1; }
	exit $rc
fi
# called plainly (not in an || list) so that set -e stays in force inside
install_packages
mkdir -p "$DEPS"
fetch_sdk
log "done"
