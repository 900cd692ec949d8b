# SPDX-License-Identifier: BSD-3-Clause
"""2 MB hugepages for a test or benchmark run, given back afterwards.

DPDK shares its memory with secondary processes (dpdk-proc-info, dpdk-pdump,
dpdk-dumpcap) only when the primary runs in hugepage memory, and benchmarks want
it for speed.  CI machines have none reserved: Hugepages reserves what it needs
(writing nr_hugepages, as root), mounts a private hugetlbfs (mode 0700) for the
run, and release() gives back exactly what it took.  When the kernel cannot
give the pages, setup() returns False and ``reason`` says why.

Standard library only.
"""

import glob
import os
import re
import subprocess
import sys


# Secondaries map the primary's memory at the same addresses. ASan's shadow and allocator
# regions can sit where EAL placed it by default, so a primary asks for a high hint
# that neither build uses (EAL's --base-virtaddr, as DPDK's multi-process guide advises).
BASE_VIRTADDR = 0x200000000000


class Hugepages:
    """Reserve 2 MB hugepages and mount a private hugetlbfs for the run;
    give back exactly what was taken."""

    SYS = "/sys/kernel/mm/hugepages/hugepages-2048kB"
    PAGE_MB = 2

    def __init__(self, pages, base_dir, tag="bench"):
        self.pages = pages
        self.base_dir = base_dir
        self.tag = tag
        self.mount = None
        self.added = 0
        self.orig = None
        self.reason = None

    def _read(self, name):
        with open(os.path.join(self.SYS, name)) as f:
            return int(f.read().strip())

    def _write_nr(self, n):
        with open(os.path.join(self.SYS, "nr_hugepages"), "w") as f:
            f.write("%d\n" % n)

    @staticmethod
    def sweep_stale(base_dir):
        """Unmount private mounts left by a killed earlier run (dead pid)."""
        for d in glob.glob(os.path.join(base_dir, "*-hugetlbfs-*")):
            m = re.search(r"-(\d+)$", d)
            if m and not os.path.exists("/proc/%s" % m.group(1)):
                subprocess.call(["umount", d], stderr=subprocess.DEVNULL)
                try:
                    os.rmdir(d)
                except OSError:
                    pass

    def setup(self):
        if os.geteuid() != 0:
            self.reason = "not root: cannot reserve hugepages"
            return False
        if not os.path.isdir(self.SYS):
            self.reason = "no 2 MB hugepage support in this kernel"
            return False
        try:
            self.sweep_stale(self.base_dir)
            self.orig = self._read("nr_hugepages")
            free = self._read("free_hugepages")
            if free < self.pages:
                want = self.orig + self.pages - free
                self._write_nr(want)
                got = self._read("nr_hugepages")
                self.added = max(0, got - self.orig)
                if self._read("free_hugepages") < self.pages:
                    self.reason = ("asked the kernel for %d more 2 MB hugepages, got %d"
                                   % (self.pages - free, self.added))
                    self.release()
                    return False
            self.mount = os.path.join(self.base_dir,
                                      "%s-hugetlbfs-%d" % (self.tag, os.getpid()))
            os.makedirs(self.mount, mode=0o700, exist_ok=True)
            rc = subprocess.call(["mount", "-t", "hugetlbfs", "-o", "pagesize=2M,mode=0700",
                                  "nodev", self.mount])
            if rc != 0:
                self.reason = "mount -t hugetlbfs failed (rc=%d)" % rc
                os.rmdir(self.mount)
                self.mount = None
                self.release()
                return False
        except OSError as e:
            self.reason = "cannot reserve hugepages: %s" % e
            self.release()
            return False
        return True

    def eal_extra(self):
        return ["--huge-dir", self.mount]

    def primary_eal(self):
        """EAL options for a primary that secondary processes attach to."""
        return self.eal_extra() + ["--base-virtaddr=%#x" % BASE_VIRTADDR]

    def clean_prefix(self, prefix):
        """Remove the hugepage files of an app that has exited."""
        if self.mount and prefix:
            for f in glob.glob(os.path.join(self.mount, prefix + "*")):
                try:
                    os.unlink(f)
                except OSError:
                    pass

    def release(self):
        if self.mount:
            for f in glob.glob(os.path.join(self.mount, "*")):
                try:
                    os.unlink(f)
                except OSError:
                    pass
            subprocess.call(["umount", self.mount], stderr=subprocess.DEVNULL)
            try:
                os.rmdir(self.mount)
            except OSError:
                pass
            self.mount = None
        if self.added:
            try:
                cur = self._read("nr_hugepages")
                self._write_nr(max(0, cur - self.added))
            except OSError as e:
                print("%s: could not give back %d hugepages: %s" % (self.tag, self.added, e),
                      file=sys.stderr)
            self.added = 0
