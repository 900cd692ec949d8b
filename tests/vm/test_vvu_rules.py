# SPDX-License-Identifier: BSD-3-Clause
"""The virtio-vhost-user device's message -> resource rules and its malformed messages.

One boot of the TCG guest with the device (qemu-vvu/) at 0000:00:10.0. In the guest,
tests/vm/guest_vvu_probe.py drives the device as a bare driver (rings in memmap= RAM,
BARs through sysfs, MSI-X on with every vector masked, so a notification shows as its
pending bit) and takes requests from the host over a second serial line. On the host a
scripted master (tests/lib/vhost_user_wire.py) talks to the VMM's vhost-user socket.
The host looks at QEMU from outside too: its open fds and its mappings of the master's
memfds (/proc/<qemu>/fd, /proc/<qemu>/maps). The tests check what that run left:

    test_mem_table_regions    SET_MEM_TABLE with 3 regions (one at mmap_offset 2 MiB of
                              its file): the message in rxq, little endian; each region
                              in BAR 2 back to back at the sum of the earlier sizes, its
                              first and last bytes those the master wrote (not the bytes
                              before mmap_offset); QEMU maps the 3 memfds
    test_mem_table_replaced   a second SET_MEM_TABLE (1 region): BAR 2 shows it, the old
                              regions are unmapped and their fds closed in QEMU
    test_kick_vectors         SET_VRING_KICK of vrings 3 and 5, their kicks mapped to
                              MSI-X vectors 7 and 9: a kick of vring 3 sets pending bit
                              7 only, then vring 5's sets bit 9
    test_call_err_doorbells   SET_VRING_CALL/ERR: a 16-bit write at notify index 2i+2 /
                              2i+3 signals exactly that eventfd; a doorbell with no
                              eventfd and one detached by a NOFD SET_VRING_CALL signal
                              nothing
    test_master_disconnect    the master leaves: status 0, QEMU's fds are the ones it
                              had before the master plus the mapped region's; the
                              memory stays mapped in BAR 2
    test_malformed[case]      each malformed message: the device disconnects the master
                              (or the master's half message is dropped when it leaves),
                              nothing reaches rxq, status 0, no DEVICE_NEEDS_RESET, QEMU
                              alive with no fd of the message left open and no memfd of
                              it mapped, BAR 2 still the last good table
    test_served_after_malformed  a well-formed master is served after all of them
                              (GET_FEATURES in rxq, the reply back)

(Oversized message -> DEVICE_NEEDS_RESET: test_vvu_device.py.) Skipped, the reason
printed, like test_vvu_device.py. Logs in results/vm-vvu-rules/.

    /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/vm/test_vvu_rules.py
"""

import collections
import json
import os
import select
import shutil
import socket
import stat
import struct
import tempfile
import threading
import time

import pytest

import qemuvm
import vhost_user_wire as wire
from test_vvu_device import FIRMWARE, VIRTIO_ID, qemu_vvu_or_skip

HERE = os.path.dirname(os.path.abspath(__file__))
VM_OUT = "vm-vvu-rules"    # results/vm-vvu-rules
PCI_ADDR = "0000:00:10.0"
MAX_QUEUES = 16
RESERVED = 0x1f000000      # guest-physical 1 MiB kept from the kernel (memmap=)
MODULES = ["virtio_pci", "9pnet_virtio", "9p"]
VM_TIMEOUT = 400
BOOT_TIMEOUT = 150
READY_TIMEOUT = 250        # s: boot and the probe's Python up under TCG
CALL_TIMEOUT = 30          # s: one probe request
WAIT = 15                  # s: one bounded wait for the device or QEMU
MIB = 1 << 20
RX_BUFFERS = 48
SLAVE_UP, MASTER_UP = 1, 2
NEEDS_RESET = 0x40
MAX_REGIONS = 8
MEMFD_PREFIX = "vvutest-mfd-"
# The 3-region table: (name, file size, mmap_offset, region size)
TABLE_A = [("a0", 2 * MIB, 0, 2 * MIB), ("a1", 6 * MIB, 2 * MIB, 4 * MIB),
           ("a2", 2 * MIB, 0, 2 * MIB)]
TABLE_B = [("b0", 4 * MIB, 0, 4 * MIB)]
KICKS = {3: 7, 5: 9}       # vring -> MSI-X vector of its kick

INIT = qemuvm.INIT_HEAD + qemuvm.INIT_MODULES + r"""mkdir -p /host
opts=trans=virtio,version=9p2000.L,msize=524288,ro,cache=loose
mount -t 9p -o $opts hostroot /host || echo "VMTEST: mount hostroot failed"
mount -t proc proc /host/proc
mount -t sysfs sysfs /host/sys
mount -t devtmpfs devtmpfs /host/dev
echo "VMTEST: probe starting"
chroot /host /bin/sh -c "exec $(cat /guest.cmd)"
echo "VMTEST: probe exit $?"
poweroff -f
"""


def build_initramfs(order, idx, guest_cmd, path):
    d, r, x = stat.S_IFDIR | 0o755, stat.S_IFREG | 0o644, stat.S_IFREG | 0o755
    entries = [(n, d, None) for n in ("bin", "dev", "proc", "sys", "host", "modules")]
    entries += [("bin/busybox", x, qemuvm.static_busybox()), ("init", x, INIT.encode()),
                ("guest.cmd", r, guest_cmd.encode())]
    qemuvm.cpio_newc(entries + qemuvm.module_entries(order, idx, r), path)


def qemu_argv(qemu, release, initrd, sock, ctl):
    return [qemu] + FIRMWARE + [
        "-accel", "tcg", "-cpu", "max", "-smp", "1", "-m", "1024", "-nodefaults",
        "-display", "none", "-no-reboot", "-serial", "stdio", "-monitor", "none",
        "-net", "none",
        "-chardev", "socket,id=ctl,path=%s,server=on,wait=off" % ctl, "-serial", "chardev:ctl",
        "-kernel", qemuvm.kernel_path(release), "-initrd", initrd,
        "-append", "console=ttyS0 panic=-1 quiet loglevel=4 memmap=1M$%#x" % RESERVED,
        "-fsdev", "local,id=hostroot,path=/,security_model=none,readonly=on,multidevs=remap",
        "-device", "virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot",
        "-chardev", "socket,id=vvu0,path=%s,server=on,wait=off" % sock,
        "-device", "virtio-vhost-user-pci,chardev=vvu0,max-vhost-queues=%d,virtio-id=%d,"
        "addr=0x10" % (MAX_QUEUES, VIRTIO_ID)]


def connect_unix(path, timeout):
    dl = time.monotonic() + timeout
    while True:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(path)
            return s
        except OSError:
            s.close()
            if time.monotonic() > dl:
                raise
            time.sleep(0.2)


def wait_for(pred, timeout=WAIT, interval=0.05):
    """pred()'s last value once true or when timeout passes."""
    dl = time.monotonic() + timeout
    while True:
        v = pred()
        if v or time.monotonic() > dl:
            return v
        time.sleep(interval)


class Probe:
    """The guest's probe over the serial line: one JSON request, one JSON answer."""

    def __init__(self, path):
        self.sock = connect_unix(path, BOOT_TIMEOUT)
        self.buf = b""
        self.log = []
        ready = self.read_line(READY_TIMEOUT)
        if not ready.get("ready"):
            raise RuntimeError("probe said %s" % ready)

    def read_line(self, timeout):
        dl = time.monotonic() + timeout
        while b"\n" not in self.buf:
            left = dl - time.monotonic()
            if left <= 0 or not select.select([self.sock], [], [], left)[0]:
                raise RuntimeError("the guest's probe did not answer in %ds" % timeout)
            data = self.sock.recv(65536)
            if not data:
                raise RuntimeError("the probe's serial line closed")
            self.buf += data
        line, self.buf = self.buf.split(b"\n", 1)
        # the guest's tty may send stray bytes before its first line
        return json.loads(line[line.find(b"{"):])

    def __call__(self, op, **kw):
        kw["op"] = op
        t0 = time.monotonic()
        self.sock.sendall(json.dumps(kw).encode() + b"\n")
        ans = self.read_line(CALL_TIMEOUT)
        self.log.append("%.2f %s -> %s" % (time.monotonic() - t0, kw, ans))
        if "error" in ans:
            raise RuntimeError("probe %s: %s" % (op, ans["error"]))
        return ans

    def status_becomes(self, want):
        """The config status once it equals want (bounded); the last state seen."""
        last = {}

        def check():
            last.update(self("state"))
            return last["status"] == want
        wait_for(check, WAIT, 0.1)
        return last


class Master:
    """A scripted vhost-user master on the VMM's socket."""

    def __init__(self, path):
        self.sock = connect_unix(path, WAIT)

    def send(self, req, payload=b"", fds=(), flags=wire.VERSION):
        wire.send_msg(self.sock, req, payload, flags, fds)

    def raw(self, data):
        self.sock.sendall(data)

    def closed_by_peer(self, timeout=WAIT):
        """True once the device closed the connection (EOF) within timeout."""
        r, _, _ = select.select([self.sock], [], [], timeout)
        if not r:
            return False
        try:
            return self.sock.recv(4096) == b""
        except ConnectionResetError:
            return True

    def close(self):
        self.sock.close()


def qemu_pid(sock_path):
    """The pid of the QEMU whose command line has sock_path (no connection to the
    socket: the device would only see it once SLAVE_UP is set)."""
    def find():
        for d in os.listdir("/proc"):
            try:
                with open("/proc/%s/cmdline" % d, "rb") as f:
                    if sock_path.encode() in f.read():
                        return int(d)
            except (OSError, ValueError):
                pass
        return None
    pid = wait_for(find, BOOT_TIMEOUT, 0.2)
    if not pid:
        raise RuntimeError("no QEMU with %s" % sock_path)
    return pid


def qemu_fds(pid):
    """Multiset of the link targets of QEMU's open fds."""
    out = collections.Counter()
    d = "/proc/%d/fd" % pid
    for n in os.listdir(d):
        try:
            out[os.readlink(os.path.join(d, n))] += 1
        except OSError:
            pass
    return out


def qemu_memfds(pid):
    """Names (after the prefix) of the test's memfds QEMU has open or mapped."""
    opened = {t.split(MEMFD_PREFIX)[1].split(" ")[0] for t in qemu_fds(pid)
              if MEMFD_PREFIX in t}
    mapped = set()
    with open("/proc/%d/maps" % pid) as f:
        for line in f:
            if MEMFD_PREFIX in line:
                mapped.add(line.split(MEMFD_PREFIX)[1].split(" ")[0].strip())
    return opened, mapped


def memfd(name, size, marks=()):
    """A memfd of size bytes with (offset, bytes) written in it."""
    fd = os.memfd_create(MEMFD_PREFIX + name, 0)
    os.ftruncate(fd, size)
    for off, data in marks:
        os.pwrite(fd, data, off)
    return fd


def mark(name, where):
    return ("%s-%s" % (name, where)).encode().ljust(8, b".")[:8]


def region(gpa, size, uaddr, mmap_offset):
    return struct.pack("<QQQQ", gpa, size, uaddr, mmap_offset)


def mem_table(regions):
    return struct.pack("<II", len(regions), 0) + b"".join(regions)


def table_of(spec):
    """(payload, fds) of SET_MEM_TABLE for [(name, file size, mmap_offset, size)]; each
    region's first and last 8 bytes carry marks, and the bytes before mmap_offset too."""
    fds, regs = [], []
    for i, (name, fsize, moff, size) in enumerate(spec):
        marks = [(moff, mark(name, "start")), (moff + size - 8, mark(name, "end"))]
        if moff:
            marks.append((moff - 8, mark(name, "before")))
        fds.append(memfd(name, fsize, marks))
        regs.append(region((i + 1) << 32, size, 0x7f0000000000 + (i << 32), moff))
    return mem_table(regs), fds


def close_all(fds):
    for fd in fds:
        os.close(fd)


def bar_marks(probe, spec):
    """What BAR 2 shows at each region's first and last 8 bytes, by the spec layout."""
    got, off = {}, 0
    for name, _, _, size in spec:
        got[name] = (bytes.fromhex(probe("shm", off=off, len=8)["data"]),
                     bytes.fromhex(probe("shm", off=off + size - 8, len=8)["data"]))
        off += size
    return got


def vring_u64(idx, nofd=False):
    return struct.pack("<Q", idx | (wire.VRING_NOFD if nofd else 0))


def eventfd_count(fd):
    """The eventfd's count, reset; 0 without blocking (QEMU's chardev makes the fds it
    receives blocking, and the file, flags included, is the one the test holds)."""
    if not select.select([fd], [], [], 0)[0]:
        return 0
    return os.eventfd_read(fd)


class Scenario:
    def __init__(self, probe, sock, pid):
        self.p, self.sock, self.pid = probe, sock, pid
        self.res = {}

    def serve(self):
        """SLAVE_UP, a master connected and MASTER_UP seen."""
        self.p.status_becomes(0)
        self.p("slave_up", on=True)
        m = Master(self.sock)
        st = self.p.status_becomes(SLAVE_UP | MASTER_UP)
        return m, st

    def deliver(self, m, req, payload=b"", fds=(), n=1):
        m.send(req, payload, fds)
        return [bytes.fromhex(x) for x in self.p("recv", n=n, timeout=WAIT)["msgs"]]

    def tables(self, m):
        payload, fds = table_of(TABLE_A)
        msgs = self.deliver(m, wire.REQ["SET_MEM_TABLE"], payload, fds)
        close_all(fds)
        opened, mapped = qemu_memfds(self.pid)
        self.res["table_a"] = {"msgs": msgs, "want": payload, "bar": bar_marks(self.p, TABLE_A),
                               "mapped": mapped}
        payload, fds = table_of(TABLE_B)
        msgs = self.deliver(m, wire.REQ["SET_MEM_TABLE"], payload, fds)
        close_all(fds)
        a2_at = sum(s for _, _, _, s in TABLE_A[:2])
        memfds = wait_for(lambda: (lambda o, mp: (o, mp) if o == mp == {"b0"} else None)(
            *qemu_memfds(self.pid))) or qemu_memfds(self.pid)
        self.res["table_b"] = {
            "msgs": msgs, "want": payload, "bar": bar_marks(self.p, TABLE_B),
            "old_a2": bytes.fromhex(self.p("shm", off=a2_at, len=8)["data"]),
            "opened": memfds[0], "mapped": memfds[1]}

    def kicks(self, m):
        res = {"vectors": {q: self.p("vector", q=q, v=v)["vector"] for q, v in KICKS.items()}}
        fds = {q: os.eventfd(0) for q in KICKS}
        for q in KICKS:
            m.send(wire.REQ["SET_VRING_KICK"], vring_u64(q), [fds[q]])
        res["msgs"] = len(self.p("recv", n=len(KICKS), timeout=WAIT)["msgs"])
        res["pba"] = [self.p("pba")["pba"]]
        for q, v in KICKS.items():
            os.eventfd_write(fds[q], 1)
            res["pba"].append(wait_for(lambda: (lambda x: x if x & (1 << v) else 0)(
                self.p("pba")["pba"]), WAIT, 0.1) or self.p("pba")["pba"])
        close_all(fds.values())
        self.res["kicks"] = res

    def ring(self, idx, efd):
        """Guest doorbell idx; the eventfd efd must fire; the counts of self.efds after."""
        self.p("doorbell", idx=idx)
        r, _, _ = select.select([efd], [], [], WAIT)
        return {k: eventfd_count(fd) for k, fd in self.efds.items()} if r else None

    def doorbells(self, m):
        self.efds = {k: os.eventfd(0) for k in ("call2", "err2", "call4")}
        for req, idx, k in (("SET_VRING_CALL", 2, "call2"), ("SET_VRING_ERR", 2, "err2"),
                            ("SET_VRING_CALL", 4, "call4")):
            m.send(wire.REQ[req], vring_u64(idx), [self.efds[k]])
        res = {"msgs": len(self.p("recv", n=3, timeout=WAIT)["msgs"])}
        self.p("doorbell", idx=2 * 3 + 2)          # vring 3: no eventfd
        res["call2"] = self.ring(2 * 2 + 2, self.efds["call2"])
        res["err2"] = self.ring(2 * 2 + 3, self.efds["err2"])
        res["call4"] = self.ring(2 * 4 + 2, self.efds["call4"])
        m.send(wire.REQ["SET_VRING_CALL"], vring_u64(4, nofd=True))
        res["nofd_msgs"] = len(self.p("recv", n=1, timeout=WAIT)["msgs"])
        self.p("doorbell", idx=2 * 4 + 2)          # detached: nothing
        res["detached"] = self.ring(2 * 2 + 2, self.efds["call2"])
        self.res["doorbells"] = res

    def good_master(self):
        before = qemu_fds(self.pid)
        m, st = self.serve()
        self.res["up"] = st
        self.tables(m)
        self.kicks(m)
        self.doorbells(m)
        m.close()
        close_all(self.efds.values())
        st = self.p.status_becomes(0)
        # the mapped region's fd stays with QEMU; nothing else of the master does
        want = before + collections.Counter({t: 1 for t in qemu_fds(self.pid)
                                             if MEMFD_PREFIX + "b0" in t})
        fds = wait_for(lambda: (lambda f: f if f == want else None)(qemu_fds(self.pid))) \
            or qemu_fds(self.pid)
        self.res["disconnect"] = {
            "state": st, "extra_fds": sorted(fds - want), "missing_fds": sorted(want - fds),
            "kept": sorted(want - before), "bar": bar_marks(self.p, TABLE_B)}

    def bad(self, name, case):
        """One malformed case (MALFORMED): its outcome in self.res['bad'][name]."""
        res = {}
        m, st = self.serve()
        if st["status"] != SLAVE_UP | MASTER_UP:
            res["not_served"] = st
        before_fds = qemu_fds(self.pid)
        rx_before = st["rx_used"]
        fds = case["send"](m)
        if case["closes"]:
            res["closed_by_device"] = m.closed_by_peer()
        m.close()
        close_all(fds)
        st = self.p.status_becomes(0)
        res["state"], res["rx_delta"] = st, (st["rx_used"] - rx_before) & 0xffff
        # QEMU's fds: those it had while the master was up, less the master's socket
        after = wait_for(lambda: (lambda f: f if not (f - before_fds) else None)(
            qemu_fds(self.pid))) or qemu_fds(self.pid)
        res["extra_fds"] = sorted(after - before_fds)
        res["memfds"] = [sorted(x) for x in qemu_memfds(self.pid)]
        res["alive"] = os.path.exists("/proc/%d" % self.pid)
        res["bar"] = bar_marks(self.p, TABLE_B)
        self.res.setdefault("bad", {})[name] = res

    def served_after(self):
        m, st = self.serve()
        msgs = self.deliver(m, wire.REQ["GET_FEATURES"])
        reply = struct.pack("<IIIQ", wire.REQ["GET_FEATURES"], wire.VERSION | wire.FLAG_REPLY,
                            8, 1 << wire.VIRTIO_F_VERSION_1)
        self.p("reply", msgs=[reply.hex()])
        m.sock.settimeout(WAIT)
        try:
            req, flags, payload, _ = wire.recv_msg(m.sock)
            got = (req, flags, payload.hex())
        except (OSError, wire.Closed) as e:
            got = str(e)
        m.close()
        self.res["after"] = {"state": st, "msgs": msgs, "reply": got}


def send_table(spec, nfds=None, count=None, size_pad=0):
    """A SET_MEM_TABLE sender of a table of spec, with nfds of its fds (all by default),
    count as the region count field, size_pad bytes after the regions."""
    def send(m):
        payload, fds = table_of(spec)
        if count is not None:
            payload = struct.pack("<I", count) + payload[4:]
        extra = [memfd("extra", 2 * MIB)] if nfds and nfds > len(fds) else []
        m.send(wire.REQ["SET_MEM_TABLE"], payload + bytes(size_pad),
               (fds + extra)[:len(fds) if nfds is None else nfds])
        return fds + extra
    return send


def send_raw_table(regions, fds_spec):
    """SET_MEM_TABLE of hand-made regions with memfds of fds_spec [(name, size)] or
    eventfds (name None)."""
    def send(m):
        fds = [memfd(n, s) if n else os.eventfd(0) for n, s in fds_spec]
        m.send(wire.REQ["SET_MEM_TABLE"], mem_table(regions), fds)
        return fds
    return send


def send_vring(req, payload, nfds):
    def send(m):
        fds = [os.eventfd(0) for _ in range(nfds)]
        m.send(wire.REQ[req], payload, fds)
        return fds
    return send


def send_bytes(data):
    """Raw bytes, after which the master leaves."""
    def send(m):
        m.raw(data)
        return []
    return send


def send_header(req, flags, size, payload=b"", fds=0):
    def send(m):
        efds = [os.eventfd(0) for _ in range(fds)]
        data = struct.pack("<III", req, flags, size) + payload
        anc = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, struct.pack("<%di" % len(efds), *efds))]
        m.sock.sendmsg([data], anc if efds else [])
        return efds
    return send


NINE = [("n%d" % i, 2 * MIB, 0, 2 * MIB) for i in range(MAX_REGIONS + 1)]
EIGHT = NINE[:MAX_REGIONS]
# name: how the master sends it, whether the device must close the connection itself
MALFORMED = {
    "mem_table_fewer_fds": {"send": send_table(TABLE_A[:2], nfds=1), "closes": True},
    "mem_table_more_fds": {"send": send_table(TABLE_A[:1], nfds=2), "closes": True},
    "mem_table_fd_overflow": {"send": send_table(EIGHT, nfds=9), "closes": True},
    "mem_table_too_many_regions": {"send": send_table(NINE), "closes": True},
    "mem_table_count_over_max": {"send": send_table(EIGHT, count=9), "closes": True},
    "mem_table_size_mismatch": {"send": send_table(TABLE_A[:1], size_pad=32),
                                "closes": True},
    "region_size_zero": {"send": send_raw_table([region(0, 0, 0, 0)], [("z0", 2 * MIB)]),
                         "closes": True},
    "region_size_overflow": {"send": send_raw_table(
        [region(0, 2 * MIB, 0, 0), region(1 << 40, (1 << 64) - 2 * MIB, 0, 0)],
        [("o0", 2 * MIB), ("o1", 2 * MIB)]), "closes": True},
    "region_beyond_file": {"send": send_raw_table([region(0, 2 * MIB, 0, 2 * MIB)],
                                                  [("f0", 2 * MIB)]), "closes": True},
    "region_fd_not_file": {"send": send_raw_table([region(0, 2 * MIB, 0, 0)], [(None, 0)]),
                           "closes": True},
    "third_region_bad": {"send": send_raw_table(
        [region(0, 2 * MIB, 0, 0), region(1 << 32, 2 * MIB, 0, 0),
         region(2 << 32, 4096 + 1, 0, 0)], [("t0", 2 * MIB), ("t1", 2 * MIB), ("t2", 2 * MIB)]),
        "closes": True},
    "kick_without_fd": {"send": send_vring("SET_VRING_KICK", vring_u64(0), 0), "closes": True},
    "call_nofd_with_fd": {"send": send_vring("SET_VRING_CALL", vring_u64(0, nofd=True), 1),
                          "closes": True},
    "vring_index_beyond": {"send": send_vring("SET_VRING_CALL", vring_u64(MAX_QUEUES), 1),
                           "closes": True},
    "fd_on_plain_message": {"send": send_header(wire.REQ["GET_FEATURES"], 1, 0, fds=1),
                            "closes": True},
    "unknown_request": {"send": send_header(99, 1, 0), "closes": True},
    "reply_flag": {"send": send_header(wire.REQ["GET_FEATURES"], 1 | wire.FLAG_REPLY, 0),
                   "closes": True},
    "bad_version": {"send": send_header(wire.REQ["GET_FEATURES"], 2, 0), "closes": True},
    "size_over_max": {"send": send_header(wire.REQ["SET_VRING_NUM"], 1, 200, bytes(200)),
                      "closes": True},
    "truncated_header": {"send": send_bytes(struct.pack("<III", 1, 1, 0)[:6]),
                         "closes": False},
    "size_beyond_payload": {"send": send_header(wire.REQ["SET_VRING_NUM"], 1, 8, bytes(4)),
                            "closes": False},
}


def drive(ctl, sock, results):
    probe = None
    try:
        pid = qemu_pid(sock)
        probe = Probe(ctl)
        results["probe_log"] = probe.log
        sc = Scenario(probe, sock, pid)
        results["scenario"] = sc.res
        sc.res["setup"] = probe("setup", slave_up=False)
        probe("post", n=RX_BUFFERS)
        sc.good_master()
        for name, case in MALFORMED.items():
            sc.bad(name, case)
            # each case takes one rx buffer at most; keep plenty posted
            probe("post", n=1)
        sc.served_after()
    except Exception as e:  # recorded for the tests, which fail on it
        results["error"] = "%s: %s" % (type(e).__name__, e)
    finally:
        if probe:       # the guest powers off once it has read it all
            try:
                probe("quit")
            except (OSError, RuntimeError) as e:
                results.setdefault("error", "quit: %s" % e)


@pytest.fixture(scope="module")
def vm_run(request, vm_out, vm_verbose):
    qemu = qemu_vvu_or_skip()
    vm_kernel = request.getfixturevalue("vm_kernel")
    order, idx = qemuvm.module_order(vm_kernel, MODULES)
    work = tempfile.mkdtemp(prefix="vuser-vvu-rules-")
    sock, ctl = os.path.join(work, "vvu.sock"), os.path.join(work, "ctl.sock")
    initrd = os.path.join(work, "initrd.cpio")
    guest_cmd = "/usr/bin/python3 -B %s --pci %s --tty /dev/ttyS1 --rings %#x" % (
        os.path.join(HERE, "guest_vvu_probe.py"), PCI_ADDR, RESERVED)
    build_initramfs(order, idx, guest_cmd, initrd)
    results = {}
    host = threading.Thread(target=drive, args=(ctl, sock, results), daemon=True)
    host.start()
    try:
        console, seconds = qemuvm.boot_vm(qemu_argv(qemu, vm_kernel, initrd, sock, ctl),
                                          os.path.join(vm_out, "console.log"), vm_verbose,
                                          ("VMTEST: booted",), VM_TIMEOUT, BOOT_TIMEOUT)
        host.join(WAIT)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    qemuvm.log("VM ran %.0fs; console in %s" % (seconds, os.path.join(vm_out, "console.log")))
    with open(os.path.join(vm_out, "results.txt"), "w") as f:
        f.write(repr(results.get("scenario")) + "\n%s\n" % results.get("error"))
    with open(os.path.join(vm_out, "probe.log"), "w") as f:
        f.write("".join(x + "\n" for x in results.get("probe_log", [])))
    run = qemuvm.Run(console, seconds, vm_out)
    run.res = results.get("scenario", {})
    run.error = results.get("error")
    yield run


def check(record_property, run, problems, detail):
    record_property("outcome", detail)
    if run.error:
        problems = problems + ["host: " + run.error]
    assert not problems, "; ".join(problems + [detail]) + run.tails()


def part(run, key):
    r = run.res.get(key)
    if r is None:
        pytest.fail("the run did not get to %s: %s%s" % (key, run.error, run.tails()))
    return r


def le_message(req, payload):
    return struct.pack("<III", req, wire.VERSION, len(payload)) + payload


def marks_ok(bar, spec):
    return [n for n, _, _, _ in spec if bar.get(n) != (mark(n, "start"), mark(n, "end"))]


def test_mem_table_regions(vm_run, record_property):
    r = part(vm_run, "table_a")
    problems = []
    if r["msgs"] != [le_message(wire.REQ["SET_MEM_TABLE"], r["want"])]:
        problems.append("rxq had %s" % [m.hex() for m in r["msgs"]])
    bad = marks_ok(r["bar"], TABLE_A)
    if bad:
        problems.append("BAR 2 wrong for regions %s" % bad)
    if r["mapped"] != {"a0", "a1", "a2"}:
        problems.append("QEMU maps %s" % sorted(r["mapped"]))
    check(record_property, vm_run, problems, "3 regions: BAR 2 marks %s; QEMU maps %s"
          % (r["bar"], sorted(r["mapped"])))


def test_mem_table_replaced(vm_run, record_property):
    r = part(vm_run, "table_b")
    problems = []
    if r["msgs"] != [le_message(wire.REQ["SET_MEM_TABLE"], r["want"])]:
        problems.append("rxq had %s" % [m.hex() for m in r["msgs"]])
    if marks_ok(r["bar"], TABLE_B):
        problems.append("BAR 2 does not show b0")
    if r["old_a2"] == mark("a2", "start"):
        problems.append("the old region a2 is still in BAR 2")
    if r["opened"] != {"b0"} or r["mapped"] != {"b0"}:
        problems.append("QEMU has open %s, mapped %s (want b0 only)"
                        % (sorted(r["opened"]), sorted(r["mapped"])))
    check(record_property, vm_run, problems, "BAR 2 %s, old a2 offset shows %r; QEMU open %s "
          "mapped %s" % (r["bar"], r["old_a2"], sorted(r["opened"]), sorted(r["mapped"])))


def test_kick_vectors(vm_run, record_property):
    r = part(vm_run, "kicks")
    v3, v5 = 1 << KICKS[3], 1 << KICKS[5]
    want = [0, v3, v3 | v5]
    got = [p & (v3 | v5) for p in r["pba"]]
    problems = []
    if r["vectors"] != KICKS or r["msgs"] != len(KICKS):
        problems.append("vectors read back %s, %d messages" % (r["vectors"], r["msgs"]))
    if got != want:
        problems.append("pending bits %s, want %s" % ([hex(x) for x in got],
                                                      [hex(x) for x in want]))
    check(record_property, vm_run, problems, "PBA before/after kick 3/after kick 5: %s"
          % [hex(p) for p in r["pba"]])


def test_call_err_doorbells(vm_run, record_property):
    r = part(vm_run, "doorbells")
    want = {"call2": {"call2": 1, "err2": 0, "call4": 0},
            "err2": {"call2": 0, "err2": 1, "call4": 0},
            "call4": {"call2": 0, "err2": 0, "call4": 1},
            "detached": {"call2": 1, "err2": 0, "call4": 0}}
    problems = ["after doorbell %s: %s, want %s" % (k, r.get(k), w)
                for k, w in want.items() if r.get(k) != w]
    if r["msgs"] != 3 or r["nofd_msgs"] != 1:
        problems.append("%d + %d messages, want 3 + 1" % (r["msgs"], r["nofd_msgs"]))
    check(record_property, vm_run, problems, "eventfd counts per doorbell %s"
          % {k: r.get(k) for k in want})


def test_master_disconnect(vm_run, record_property):
    r = part(vm_run, "disconnect")
    up = part(vm_run, "up")
    problems = []
    if up["status"] != SLAVE_UP | MASTER_UP:
        problems.append("status %d with the master connected" % up["status"])
    if r["state"]["status"] != 0:
        problems.append("status %d after the master left" % r["state"]["status"])
    if r["kept"] != ["/memfd:%sb0 (deleted)" % MEMFD_PREFIX]:
        problems.append("QEMU holds %s for the mapped region" % r["kept"])
    if r["extra_fds"] or r["missing_fds"]:
        problems.append("QEMU's fds: %s more, %s fewer than before the master (plus b0's)"
                        % (r["extra_fds"], r["missing_fds"]))
    if marks_ok(r["bar"], TABLE_B):
        problems.append("BAR 2 lost b0: %s" % r["bar"])
    check(record_property, vm_run, problems, "status %d -> %d, BAR 2 %s"
          % (up["status"], r["state"]["status"], r["bar"]))


@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed(vm_run, record_property, case):
    r = part(vm_run, "bad").get(case)
    if r is None:
        pytest.fail("case %s did not run: %s%s" % (case, vm_run.error, vm_run.tails()))
    problems = []
    if "not_served" in r:
        problems.append("master not served before the case: %s" % r["not_served"])
    if MALFORMED[case]["closes"] and not r.get("closed_by_device"):
        problems.append("the device did not close the master's connection")
    if r["rx_delta"]:
        problems.append("%d message(s) reached rxq" % r["rx_delta"])
    if r["state"]["status"] != 0 or r["state"]["dev_status"] & NEEDS_RESET:
        problems.append("config status %d, device status %#x" % (r["state"]["status"],
                                                                 r["state"]["dev_status"]))
    if not r["alive"]:
        problems.append("QEMU died")
    if r["extra_fds"]:
        problems.append("QEMU kept fds %s" % r["extra_fds"])
    if r["memfds"] != [["b0"], ["b0"]]:
        problems.append("QEMU memfds open/mapped %s (want b0 only)" % r["memfds"])
    if marks_ok(r["bar"], TABLE_B):
        problems.append("BAR 2 no longer the last good table: %s" % r["bar"])
    check(record_property, vm_run, problems, "%s: closed %s, rx +%d, status %d/%#x, extra fds "
          "%s, memfds %s" % (case, r.get("closed_by_device"), r["rx_delta"],
                             r["state"]["status"], r["state"]["dev_status"], r["extra_fds"],
                             r["memfds"]))


def test_served_after_malformed(vm_run, record_property):
    r = part(vm_run, "after")
    want_reply = (wire.REQ["GET_FEATURES"], wire.VERSION | wire.FLAG_REPLY,
                  struct.pack("<Q", 1 << wire.VIRTIO_F_VERSION_1).hex())
    problems = []
    if r["state"]["status"] != SLAVE_UP | MASTER_UP:
        problems.append("status %d" % r["state"]["status"])
    if r["msgs"] != [le_message(wire.REQ["GET_FEATURES"], b"")]:
        problems.append("rxq had %s" % [m.hex() for m in r["msgs"]])
    if r["reply"] != want_reply:
        problems.append("master got %s, want %s" % (r["reply"], want_reply))
    check(record_property, vm_run, problems, "status %d, rxq %s, reply %s"
          % (r["state"]["status"], [m.hex() for m in r["msgs"]], r["reply"]))
