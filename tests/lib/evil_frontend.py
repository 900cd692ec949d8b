#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""A scripted vhost-user frontend, well-behaved or hostile, for tests of a backend's socket.

The mirror image of tests/lib/evil_backend.py: it connects to a backend's socket, brings a
virtio-net device up the way a driver does (SET_OWNER, features and protocol features with
REPLY_ACK, a memfd as guest memory passed with SET_MEM_TABLE, the split or packed rings of
queue pair 0 laid out in that memory, kick/call eventfds, SET_VRING_ENABLE), and transmits
numbered frames on its Tx ring (vring 1), kicking its eventfd; the backend's used entries
say what it took. Every request asks for a REPLY_ACK, so a refusal comes back as the
backend's nonzero status.

The tests (tests/integration/test_vubackend_hostile.py) use the class in-process: the
same object writes what a hostile frontend would (memory tables with overlapping, empty or
huge regions and bad fds, rings outside the table, descriptor loops and over-long chains,
buffers outside memory, avail indexes that jump, packed descriptors with wrong wrap flags,
bad indirect tables, kicks before a ring is described, vring indexes the device has not).

Memory: one memfd of MEM_SIZE bytes, guest addresses from GPA_BASE, "user addresses" (the
frontend's own, which only name ring parts in SET_VRING_ADDR) from UVA_BASE:

    RING_AREA + 0x4000 * i    vring i: descriptors, +0x1000 avail ring (packed: driver
                              event suppression), +0x2000 used ring (device event)
    BUF_AREA + ...            QUEUE_SIZE buffers of BUF_SIZE bytes per vring
    SCRATCH                   free for indirect tables the tests write

Standard library only. As a program it is the well-behaved frontend:

    evil_frontend.py --path SOCK [--packed] [--indirect] [--iotlb] [--frames N | --attack NAME]

sends N (default 64) 64-byte frames and prints 'ok sent N' once the backend used them all;
with --attack it runs one of ATTACKS (below) instead and prints what the backend said.
"""

import argparse
import mmap
import os
import socket
import struct
import sys
import time

from vhost_user_wire import (
    HDR, DESC_F_INDIRECT, DESC_F_NEXT, F_PROTOCOL_FEATURES, FLAG_NEED_REPLY, FLAG_REPLY, PF_MQ,
    PF_REPLY_ACK, PK_AVAIL, PK_USED, REQ, REQ_NAME, VERSION, VIRTIO_F_INDIRECT_DESC,
    VIRTIO_F_RING_PACKED, VIRTIO_F_VERSION_1, VRING_NOFD, recv_msg, send_msg)

MEM_SIZE = 2 << 20
GPA_BASE = 0x40000000
UVA_BASE = 0x7f1200000000
RING_AREA = 0x0
RING_STRIDE = 0x4000
AVAIL_OFF, USED_OFF = 0x1000, 0x2000
BUF_AREA = 0x10000
BUF_SIZE = 2048
QUEUE_SIZE = 256
SCRATCH = BUF_AREA + 2 * QUEUE_SIZE * BUF_SIZE
NET_HDR_LEN = 12            # virtio 1.0: struct virtio_net_hdr with num_buffers
FRAME_LEN = 64
DESC = struct.Struct("<QIHH")          # split: addr, len, flags, next
PDESC = struct.Struct("<QIHH")         # packed: addr, len, id, flags
REGION = struct.Struct("<QQQQ")        # guest address, size, user address, mmap offset
IOTLB = struct.Struct("<QQQBB6x")      # iova, size, user address, perm, type (32 bytes)
IOTLB_MISS, IOTLB_UPDATE = 1, 2
PERM_RO, PERM_WO, PERM_RW = 1, 2, 3
F_ACCESS_PLATFORM = 33
PF_BACKEND_REQ = 5
BACKEND_IOTLB_MSG = 1                  # the backend channel's request number
RX_VRING, TX_VRING = 0, 1
REPLY_TIMEOUT = 5.0


class Refused(Exception):
    """The backend answered a request with a nonzero REPLY_ACK status."""


def frame(seq, length=FRAME_LEN):
    """An Ethernet frame to a locally administered unicast address, numbered seq."""
    dst = b"\x02\x00\x00\x00\x00\x01"
    src = b"\x02\x00\x00\x00\x00\x02"
    body = struct.pack("<I", seq) + bytes(i & 0xff for i in range(length - 18))
    return dst + src + b"\x08\x00" + body


class Memory:
    """The guest memory: a memfd, mapped here too."""

    def __init__(self, size=MEM_SIZE):
        self.size = size
        self.fd = os.memfd_create("evil-frontend-mem", 0)
        os.ftruncate(self.fd, size)
        self.mm = mmap.mmap(self.fd, size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)

    def close(self):
        self.mm.close()
        os.close(self.fd)

    def write(self, off, fmt, *vals):
        # One slice store, not struct.pack_into: no intermediate value the backend can see.
        data = struct.pack(fmt, *vals)
        self.mm[off:off + len(data)] = data

    def read(self, off, fmt):
        return struct.unpack_from(fmt, self.mm, off)

    def region(self, gpa=GPA_BASE, size=None, uva=UVA_BASE, offset=0):
        return REGION.pack(gpa, self.size if size is None else size, uva, offset)


class Vring:
    """The driver side of one virtqueue in Memory."""

    def __init__(self, mem, index, packed, size=QUEUE_SIZE):
        self.mem, self.index, self.packed, self.size = mem, index, packed, size
        base = RING_AREA + RING_STRIDE * index
        self.desc, self.avail, self.used = base, base + AVAIL_OFF, base + USED_OFF
        self.bufs = BUF_AREA + index * QUEUE_SIZE * BUF_SIZE
        self.kick = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
        self.call = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
        self.err = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
        self.reset()

    def reset(self):
        self.mem.mm[self.desc:self.desc + RING_STRIDE] = bytes(RING_STRIDE)
        self.avail_idx = self.used_seen = 0        # split: next avail, used entries seen
        self.next_slot, self.wrap = 0, True        # packed: the driver's position
        self.used_slot, self.used_wrap = 0, True   # packed: the next used descriptor

    def close(self):
        for fd in (self.kick, self.call, self.err):
            os.close(fd)

    def addr_payload(self):
        """SET_VRING_ADDR: index, flags, desc, used, avail, log (user addresses)."""
        return struct.pack("<IIQQQQ", self.index, 0, UVA_BASE + self.desc, UVA_BASE + self.used,
                           UVA_BASE + self.avail, 0)

    def buf(self, slot):
        return self.bufs + (slot % QUEUE_SIZE) * BUF_SIZE

    # ---- split
    def write_desc(self, i, addr, length, flags=0, nxt=0):
        self.mem.write(self.desc + DESC.size * i, "<QIHH", addr, length, flags, nxt)

    def publish(self, heads, idx=None):
        """Heads into the avail ring, then avail->idx (idx: an index of the test's)."""
        for h in heads:
            self.mem.write(self.avail + 4 + 2 * (self.avail_idx % self.size), "<H", h)
            self.avail_idx = (self.avail_idx + 1) & 0xffff
        self.mem.write(self.avail + 2, "<H", self.avail_idx if idx is None else idx)

    def used_idx(self):
        return self.mem.read(self.used + 2, "<H")[0]

    # ---- packed
    def pk_flags(self, extra=0, wrap=None):
        w = self.wrap if wrap is None else wrap
        return extra | (PK_AVAIL if w else PK_USED)

    def pk_write(self, slot, addr, length, id_, flags):
        """A descriptor, its flags last: they make it available."""
        self.mem.write(self.desc + PDESC.size * slot, "<QIH", addr, length, id_)
        self.mem.write(self.desc + PDESC.size * slot + 14, "<H", flags)

    def pk_advance(self, n=1):
        for _ in range(n):
            self.next_slot += 1
            if self.next_slot == self.size:
                self.next_slot, self.wrap = 0, not self.wrap

    def pk_reap(self):
        """Used descriptors (one per chain) since the last call."""
        n = 0
        while True:
            flags, = self.mem.read(self.desc + PDESC.size * self.used_slot + 14, "<H")
            if bool(flags & PK_AVAIL) != self.used_wrap or bool(flags & PK_USED) != self.used_wrap:
                return n
            n += 1
            self.used_slot += 1
            if self.used_slot == self.size:
                self.used_slot, self.used_wrap = 0, not self.used_wrap

    def kick_now(self):
        os.eventfd_write(self.kick, 1)


class EvilFrontend:
    """One connection to a backend's socket, and queue pair 0's rings in a memfd."""

    def __init__(self, path, packed=False, indirect=False, iotlb=False):
        self.path, self.packed, self.indirect, self.iotlb = path, packed, indirect, iotlb
        self.sock = self.channel = None
        self.mem = Memory()
        self.rings = [Vring(self.mem, i, packed) for i in (RX_VRING, TX_VRING)]
        self.features = self.protocol = 0
        self.sent = 0

    # ---- connection
    def connect(self, timeout=10.0):
        deadline = time.monotonic() + timeout
        while True:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                s.connect(self.path)
                s.settimeout(REPLY_TIMEOUT)
                self.sock = s
                return self
            except OSError:
                s.close()
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def close(self):
        for s in (self.sock, self.channel):
            if s is not None:
                s.close()
        self.sock = self.channel = None
        for r in self.rings:
            r.close()
        self.mem.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def dropped(self, timeout=REPLY_TIMEOUT):
        """Did the backend close the connection (EOF within timeout)?"""
        self.sock.settimeout(timeout)
        try:
            return self.sock.recv(1) == b""
        except socket.timeout:
            return False
        except ConnectionError:
            return True
        finally:
            self.sock.settimeout(REPLY_TIMEOUT)

    # ---- requests
    def _reply(self, req):
        rreq, flags, payload, fds = recv_msg(self.sock)
        for fd in fds:
            os.close(fd)
        if rreq != req or not flags & FLAG_REPLY:
            raise RuntimeError("%s answered by request %d flags 0x%x"
                               % (REQ_NAME.get(req, req), rreq, flags))
        return payload

    def get(self, name, payload=b""):
        """A GET request: its reply's payload."""
        send_msg(self.sock, REQ[name], payload, VERSION)
        return self._reply(REQ[name])

    def status(self, name, payload=b"", fds=()):
        """A request with NEED_REPLY: the backend's status (0: done, else its errno)."""
        ack = self.protocol & (1 << PF_REPLY_ACK)
        send_msg(self.sock, REQ[name], payload, VERSION | (FLAG_NEED_REPLY if ack else 0), fds)
        if not ack:
            return 0
        return struct.unpack("<Q", self._reply(REQ[name]))[0]

    def request(self, name, payload=b"", fds=()):
        st = self.status(name, payload, fds)
        if st:
            raise Refused("%s refused with status %d" % (name, st))

    # ---- bring-up
    def handshake(self):
        self.request("SET_OWNER")
        offered = struct.unpack("<Q", self.get("GET_FEATURES"))[0]
        want = (1 << VIRTIO_F_VERSION_1) | (1 << F_PROTOCOL_FEATURES)
        if self.packed:
            want |= 1 << VIRTIO_F_RING_PACKED
        if self.indirect:
            want |= 1 << VIRTIO_F_INDIRECT_DESC
        if self.iotlb:
            want |= 1 << F_ACCESS_PLATFORM
        if want & ~offered:
            raise RuntimeError("backend offers 0x%x, without 0x%x" % (offered, want & ~offered))
        self.features = want
        self.request("SET_FEATURES", struct.pack("<Q", want))
        pf = struct.unpack("<Q", self.get("GET_PROTOCOL_FEATURES"))[0]
        take = (1 << PF_MQ) | (1 << PF_REPLY_ACK) | (1 << PF_BACKEND_REQ if self.iotlb else 0)
        self.request("SET_PROTOCOL_FEATURES", struct.pack("<Q", pf & take))
        self.protocol = pf & take
        return self

    def mem_table(self, regions, fds):
        """SET_MEM_TABLE with these packed regions and fds: the backend's status."""
        payload = struct.pack("<II", len(regions), 0) + b"".join(regions)
        return self.status("SET_MEM_TABLE", payload, fds)

    def set_mem_table(self):
        self.request("SET_MEM_TABLE", struct.pack("<II", 1, 0) + self.mem.region(),
                     [self.mem.fd])

    def vring_file(self, name, index, fd):
        if fd is None:
            self.request(name, struct.pack("<Q", index | VRING_NOFD))
        else:
            self.request(name, struct.pack("<Q", index), [fd])

    def setup_ring(self, r, addr=None):
        """What a driver sends for one ring, the kick last (the ring starts there)."""
        r.reset()
        self.request("SET_VRING_NUM", struct.pack("<II", r.index, r.size))
        self.request("SET_VRING_BASE", struct.pack("<II", r.index, 0 if not self.packed
                                                   else 1 << 15))
        self.request("SET_VRING_ADDR", addr or r.addr_payload())
        self.vring_file("SET_VRING_CALL", r.index, r.call)
        self.vring_file("SET_VRING_ERR", r.index, r.err)
        self.vring_file("SET_VRING_KICK", r.index, r.kick)

    def enable(self, r):
        self.request("SET_VRING_ENABLE", struct.pack("<II", r.index, 1))

    def start(self):
        """Connected and handshaken: memory, both rings of pair 0, enabled."""
        self.handshake()
        self.set_mem_table()
        for r in self.rings:
            self.setup_ring(r)
            self.enable(r)
        return self

    # ---- IOTLB mode (VIRTIO_F_ACCESS_PLATFORM, iotlb=True)
    def backend_channel(self):
        """SET_BACKEND_REQ_FD: the backend's requests (IOTLB misses) come on self.channel."""
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self.request("SET_BACKEND_REQ_FD", b"", [theirs.fileno()])
        finally:
            theirs.close()
        self.channel = mine

    def iotlb_update(self, iova, size, uaddr, perm):
        self.request("IOTLB_MSG", IOTLB.pack(iova, size, uaddr, perm, IOTLB_UPDATE))

    def iotlb_request(self, timeout=REPLY_TIMEOUT):
        """The backend's next request on the channel: (request, flags, iova, size, uaddr,
        perm, type), or None when none came within timeout."""
        self.channel.settimeout(timeout)
        try:
            req, flags, payload, fds = recv_msg(self.channel)
        except socket.timeout:
            return None
        for fd in fds:
            os.close(fd)
        if len(payload) != IOTLB.size:
            raise RuntimeError("backend request %d with %d bytes" % (req, len(payload)))
        return (req, flags) + IOTLB.unpack(payload)

    def iotlb_ack(self, status):
        """The REPLY_ACK of the backend's IOTLB miss: 0 answered, else refused."""
        send_msg(self.channel, BACKEND_IOTLB_MSG, struct.pack("<Q", status),
                 VERSION | FLAG_REPLY)

    def start_iotlb(self, bufs=2 * QUEUE_SIZE * BUF_SIZE, bufs_perm=PERM_RW):
        """start() in IOTLB mode: the rings' zone (IOVA == user address) and the first
        `bufs` bytes of buffers with bufs_perm (IOVA == guest address) as IOTLB updates,
        given before the rings as a driver's IOMMU would."""
        self.handshake()
        self.set_mem_table()
        self.backend_channel()
        self.iotlb_update(UVA_BASE + RING_AREA, 2 * RING_STRIDE, UVA_BASE + RING_AREA,
                          PERM_RW)
        if bufs:
            self.iotlb_update(GPA_BASE + BUF_AREA, bufs, UVA_BASE + BUF_AREA, bufs_perm)
        for r in self.rings:
            self.setup_ring(r)
            self.enable(r)
        return self

    @property
    def tx(self):
        return self.rings[TX_VRING]

    # ---- transmit
    def make_tx(self, count, length=FRAME_LEN):
        """count frames made available on the Tx ring (one descriptor each), kicked."""
        r = self.tx
        heads = []
        for _ in range(count):
            slot = r.avail_idx + len(heads) if not self.packed else r.next_slot
            data = bytes(NET_HDR_LEN) + frame(self.sent, length)
            self.mem.mm[r.buf(slot):r.buf(slot) + len(data)] = data
            if self.packed:
                r.pk_write(r.next_slot, GPA_BASE + r.buf(slot), len(data), r.next_slot,
                           r.pk_flags())
                r.pk_advance()
            else:
                h = slot % r.size
                r.write_desc(h, GPA_BASE + r.buf(slot), len(data))
                heads.append(h)
            self.sent += 1
        if heads:
            r.publish(heads)
        r.kick_now()

    def completed(self):
        """Tx buffers the backend used so far on this connection."""
        r = self.tx
        if self.packed:
            r.used_seen += r.pk_reap()
        else:
            r.used_seen = r.used_idx()
        return r.used_seen

    def wait_completed(self, n, timeout=10.0):
        deadline = time.monotonic() + timeout
        while self.completed() < n:
            if time.monotonic() > deadline:
                raise RuntimeError("the backend used %d of %d Tx buffers in %.0fs"
                                   % (self.completed(), n, timeout))
            time.sleep(0.005)
        return self.completed()

    def send(self, n, batch=32, timeout=10.0):
        """n frames, at most a batch in flight; returns once all are used."""
        base = self.completed()
        done = 0
        while done < n:
            k = min(batch, n - done)
            self.make_tx(k)
            done += k
            self.wait_completed(base + done, timeout)
        return done


# ---------------------------------------------------------------- attacks
#
# Each takes a connected frontend, does one hostile thing and returns what the backend
# said: the REPLY_ACK statuses of the requests it refused, or the Tx buffers it used
# around a broken chain. The tests hold the expectations (log line, refusal).


def _regions(fe, *specs):
    """Packed regions (gpa offset, size, uva offset, mmap offset) of fe's memfd."""
    return [fe.mem.region(GPA_BASE + g, size, UVA_BASE + u, off) for g, size, u, off in specs]


def attack_mem_overlap(fe):
    """Two regions of one memfd sharing guest addresses, then sharing user addresses."""
    fe.handshake()
    half = MEM_SIZE // 2
    gpa = fe.mem_table(_regions(fe, (0, half, 0, 0), (half // 2, half, half, half)),
                       [fe.mem.fd, fe.mem.fd])
    uva = fe.mem_table(_regions(fe, (0, half, 0, 0), (half, half, half // 2, half)),
                       [fe.mem.fd, fe.mem.fd])
    return [gpa, uva]


def attack_mem_zero_size(fe):
    fe.handshake()
    return [fe.mem_table(_regions(fe, (0, 0, 0, 0)), [fe.mem.fd])]


def attack_mem_huge(fe):
    """A region far past its file's end, and one whose guest addresses wrap."""
    fe.handshake()
    past = fe.mem_table(_regions(fe, (0, 1 << 46, 0, 0)), [fe.mem.fd])
    wrap = fe.mem_table([fe.mem.region(gpa=(1 << 64) - MEM_SIZE // 2)], [fe.mem.fd])
    return [past, wrap]


def attack_mem_bad_fds(fe):
    """A pipe for memory, a region without its fd, a read-only memfd."""
    fe.handshake()
    rd, wr = os.pipe()
    ro = os.open("/proc/self/fd/%d" % fe.mem.fd, os.O_RDONLY)
    try:
        pipe = fe.mem_table(_regions(fe, (0, MEM_SIZE, 0, 0)), [rd])
        half = MEM_SIZE // 2
        missing = fe.mem_table(_regions(fe, (0, half, 0, 0), (half, half, half, half)),
                               [fe.mem.fd])
        rdonly = fe.mem_table(_regions(fe, (0, MEM_SIZE, 0, 0)), [ro])
    finally:
        for fd in (rd, wr, ro):
            os.close(fd)
    return [pipe, missing, rdonly]


def attack_ring_outside(fe):
    """Tx ring parts outside the table: descriptors past its end, a used ring across it."""
    fe.handshake()
    fe.set_mem_table()
    r = fe.tx
    out = []
    for desc, used in ((MEM_SIZE + 0x10000, r.used), (r.desc, MEM_SIZE - 0x10)):
        fe.request("SET_VRING_NUM", struct.pack("<II", r.index, r.size))
        fe.request("SET_VRING_ADDR", struct.pack("<IIQQQQ", r.index, 0, UVA_BASE + desc,
                                                 UVA_BASE + used, UVA_BASE + r.avail, 0))
        out.append(fe.status("SET_VRING_KICK", struct.pack("<Q", r.index), [r.kick]))
    return out


def _tx_chain(fe, descs, idx=None):
    """A split Tx chain of (addr, len, flags, next) from the next free descriptor on,
    published (idx: an avail index of the test's instead of the next one)."""
    r = fe.tx
    head = r.avail_idx % r.size
    for k, (addr, ln, flags, nxt) in enumerate(descs):
        r.write_desc((head + k) % r.size, addr, ln, flags, nxt)
    r.publish([head], idx)
    r.kick_now()
    return head


def _good(fe, n):
    """n good frames first: the ring ran before the attack."""
    fe.start()
    fe.send(n)
    return n


def _hdr_buf(fe):
    """A Tx buffer holding a virtio-net header and a frame: (gpa, length)."""
    r = fe.tx
    off = r.buf(r.avail_idx)
    data = bytes(NET_HDR_LEN) + frame(fe.sent)
    fe.mem.mm[off:off + len(data)] = data
    return GPA_BASE + off, len(data)


def attack_chain_loop(fe, good=8):
    """A frame, then an empty descriptor whose next points back at itself: only the
    chain-length bound ends the walk (no buffer is added, so the packet never fills)."""
    _good(fe, good)
    h = fe.tx.avail_idx % fe.tx.size
    addr, ln = _hdr_buf(fe)
    loop = (h + 1) % fe.tx.size
    _tx_chain(fe, [(addr, ln, DESC_F_NEXT, loop), (addr, 0, DESC_F_NEXT, loop)])
    return good


def attack_chain_long(fe, good=8, length=100):
    """A chain of `length` descriptors, no loop: more buffers than a packet may have."""
    _good(fe, good)
    h = fe.tx.avail_idx % fe.tx.size
    addr, _ = _hdr_buf(fe)
    descs = [(addr, 16, DESC_F_NEXT, (h + k + 1) % fe.tx.size) for k in range(length - 1)]
    _tx_chain(fe, descs + [(addr, 16, 0, 0)])
    return good


def attack_desc_outside(fe, good=8):
    _good(fe, good)
    _tx_chain(fe, [(GPA_BASE + MEM_SIZE + 0x100000, 76, 0, 0)])
    return good


def attack_desc_cross_end(fe, good=8):
    """A buffer that starts in the region and ends past it."""
    _good(fe, good)
    _tx_chain(fe, [(GPA_BASE + MEM_SIZE - 32, 76, 0, 0)])
    return good


def attack_avail_jump(fe, good=8):
    """avail->idx a ring and a bit past the last entry the backend took."""
    _good(fe, good)
    r = fe.tx
    r.publish([], (r.avail_idx + r.size + 5) & 0xffff)
    r.kick_now()
    return good


def attack_avail_bad_head(fe, good=8):
    """An avail entry naming a descriptor past the table."""
    _good(fe, good)
    r = fe.tx
    r.publish([r.size + 44])
    r.kick_now()
    return good


def attack_indirect_oob(fe, good=8):
    """An indirect descriptor whose table lies outside memory."""
    _good(fe, good)
    _tx_chain(fe, [(GPA_BASE + MEM_SIZE + 0x1000, 4 * DESC.size, DESC_F_INDIRECT, 0)])
    return good


def attack_indirect_nested(fe, good=8):
    """An indirect table holding an indirect descriptor (pointing at itself)."""
    _good(fe, good)
    table = GPA_BASE + SCRATCH
    addr, ln = _hdr_buf(fe)
    fe.mem.write(SCRATCH, "<QIHH", addr, ln, DESC_F_NEXT, 1)
    fe.mem.write(SCRATCH + DESC.size, "<QIHH", table, 2 * DESC.size, DESC_F_INDIRECT, 0)
    _tx_chain(fe, [(table, 2 * DESC.size, DESC_F_INDIRECT, 0)])
    return good


def attack_mem_swap(fe, good=8):
    """While the rings run, a new memory table that leaves them out (buffers only)."""
    _good(fe, good)
    rest = MEM_SIZE - BUF_AREA
    st = fe.mem_table(_regions(fe, (BUF_AREA, rest, BUF_AREA, BUF_AREA)), [fe.mem.fd])
    if st:
        raise Refused("a table of the buffers alone refused with status %d" % st)
    return good


def attack_packed_bad_wrap(fe, good=8):
    """packed: a two-descriptor chain whose second descriptor carries the wrap flags of
    the other lap (not available), its first made available."""
    _good(fe, good)
    r = fe.tx
    addr, ln = _hdr_buf(fe)
    first, first_wrap = r.next_slot, r.wrap
    r.pk_advance()
    r.pk_write(r.next_slot, addr, ln, first, r.pk_flags(wrap=not r.wrap))
    r.pk_write(first, addr, 16, first, r.pk_flags(DESC_F_NEXT, wrap=first_wrap))
    r.pk_advance()
    r.kick_now()
    return good


def attack_packed_bad_base(fe):
    """packed: SET_VRING_BASE past the ring, then the kick that would start it."""
    fe.handshake()
    fe.set_mem_table()
    r = fe.tx
    fe.request("SET_VRING_NUM", struct.pack("<II", r.index, r.size))
    fe.request("SET_VRING_BASE", struct.pack("<II", r.index, (1 << 15) | (r.size + 44)))
    fe.request("SET_VRING_ADDR", r.addr_payload())
    return [fe.status("SET_VRING_KICK", struct.pack("<Q", r.index), [r.kick])]


def attack_kick_early(fe):
    """Kicks before the ring is described: the eventfd first, then SET_VRING_KICK before
    SET_VRING_NUM, then before SET_MEM_TABLE."""
    fe.handshake()
    r = fe.tx
    r.kick_now()
    before_num = fe.status("SET_VRING_KICK", struct.pack("<Q", r.index), [r.kick])
    fe.request("SET_VRING_NUM", struct.pack("<II", r.index, r.size))
    fe.request("SET_VRING_ADDR", r.addr_payload())
    r.kick_now()
    before_mem = fe.status("SET_VRING_KICK", struct.pack("<Q", r.index), [r.kick])
    return [before_num, before_mem]


def attack_vring_index(fe):
    """vring indexes the device does not have: refused requests, then a GET_VRING_BASE
    (which has no way to say no: the backend drops the connection)."""
    fe.handshake()
    num = fe.status("SET_VRING_NUM", struct.pack("<II", 7, QUEUE_SIZE))
    kick = fe.status("SET_VRING_KICK", struct.pack("<Q", 200), [fe.tx.kick])
    send_msg(fe.sock, REQ["GET_VRING_BASE"], struct.pack("<II", 9, 0), VERSION)
    return [num, kick]


def attack_stalled_message(fe):
    """A header that promises a payload which never comes: the backend must not wait for
    it forever (the socket is served from a thread other ports share)."""
    fe.handshake()
    fe.sock.sendall(HDR.pack(REQ["SET_FEATURES"], VERSION, 8))
    return []


ATTACKS = {n[len("attack_"):]: f for n, f in sorted(globals().items())
           if n.startswith("attack_")}


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--path", required=True)
    ap.add_argument("--packed", action="store_true")
    ap.add_argument("--indirect", action="store_true")
    ap.add_argument("--frames", type=int, default=64)
    ap.add_argument("--attack", choices=sorted(ATTACKS))
    ap.add_argument("--iotlb", action="store_true",
                    help="IOTLB mode: every ring and buffer given as IOTLB updates")
    a = ap.parse_args()
    with EvilFrontend(a.path, packed=a.packed, indirect=a.indirect, iotlb=a.iotlb) as fe:
        fe.connect()
        if a.attack:
            print("ok %s %s dropped=%s" % (a.attack, ATTACKS[a.attack](fe), fe.dropped(1.0)),
                  flush=True)
            return 0
        if a.iotlb:
            fe.start_iotlb()
        else:
            fe.start()
        print("ok sent %d" % fe.send(a.frames), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
