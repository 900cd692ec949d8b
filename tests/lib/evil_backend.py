#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""A scripted, misbehaving vhost-user backend for the fault tests (tests/integration/test_faults.py).

It speaks enough of the vhost-user protocol to bring a virtio-user frontend up (SET_OWNER,
features, protocol features with MQ and REPLY_ACK, the memory table, which it mmaps, and
the rings of queue pair 0), moves real frames through the rings (split and packed), and
then does what a hostile or broken backend would: bad used entries, wrong wrap bits,
wrong replies, silence, a connection closed in the middle of the start sequence.

Not a traffic generator: on a packed ring kept completely full by a flooding frontend
(testpmd txonly with --txd equal to the ring size) it loses track of the ring within
seconds, with DPDK's own net_virtio_user as much as with net_vuser (the frontend's newer
descriptors sit after a slot that still shows the previous lap's used flags). The tests
pace Tx instead (test_faults.py: io forwarding, --txd=32).

Standard library only.  Run as a process (the tests kill it with SIGKILL to simulate a
crash) or use class EvilBackend in-process (tests/soak/server_soak.py).

    evil_backend.py --path SOCK [--client] [control-plane faults...]

  --client              connect to SOCK (a frontend in server mode) instead of listening
  --features HEX        GET_FEATURES answer (default: VERSION_1 MRG_RXBUF IN_ORDER
                        RING_PACKED PROTOCOL_FEATURES)
  --protocol-features HEX   GET_PROTOCOL_FEATURES answer (default MQ|REPLY_ACK)
  --queue-num N         GET_QUEUE_NUM answer (default 1)
  --close-at REQ        close the connection when request REQ arrives (name or number)
  --silent-at REQ       from request REQ on, read everything and answer nothing
  --bad-reply REQ:KIND  answer REQ wrongly; KIND: wrong_request, wrong_size, no_reply_flag,
                        extra_fd, bad_version, nack (a REPLY_ACK status of 1)
  --delay-ms MS         wait MS ms before handling each message (a slow backend)
  --once                serve one connection, then exit (default: listen again)
  --notify              leave the rings' notification flags clear, so that the frontend
                        kicks (default: a polling backend that asks it not to)
  --clear-features-ok   take FEATURES_OK out of every SET_STATUS (GET_STATUS then says the
                        features were refused)
  --config MAC,STATUS,PAIRS,MTU
                        the net config space GET_CONFIG answers (default
                        02:00:00:be:ef:01,1,1,1500); with PROTOCOL_F_CONFIG offered
  --refuse-config       answer GET_CONFIG with an empty payload (the spec's refusal)

Protocol features it serves when offered (--protocol-features): MQ, REPLY_ACK, NET_MTU,
BACKEND_REQ (it keeps the channel SET_BACKEND_REQ_FD passes), CONFIG, RESET_DEVICE, STATUS,
INFLIGHT_SHMFD (GET_INFLIGHT_FD answered with a memfd of the spec's layout for the rings
negotiated, split or packed; every buffer taken marked in flight and cleared once used, in
the spec's order; a ring started with a region from SET_INFLIGHT_FD resubmits what was in
flight, oldest first, packed chains from the descriptors the region keeps),
CONFIGURE_MEM_SLOTS (GET_MAX_MEM_SLOTS answered 32; ADD_MEM_REG maps one more region,
REM_MEM_REG unmaps it).

Commands, one per line on stdin; each is answered on stdout by 'ok <command> [detail]' or
'err <command>: <why>'.  Spontaneous lines start with 'event: ' ('event: listening',
'event: connected', 'event: ready' once the rings of pair 0 are enabled, 'event: closed').

  wait_ready [S]        answer once the rings are up (S seconds at most, default 10)
  rx N [LEN]            deliver N good frames of LEN bytes (default 64) to the frontend
  tx_reap [S]           complete every Tx buffer the frontend made available (S: keep
                        reaping for S seconds); 'ok' names how many
  rx_bad_id N           N used entries whose id is out of range
  rx_bad_len N          N buffers completed with a length larger than the buffer
  rx_dup                one buffer completed twice (both entries in one publication)
  rx_line [K KIND]      packed: good frames up to a ring line (4 slots), then the line's
                        4 entries in one publication (its first slot written last), entry K
                        with fault KIND (bad_id, bad_len, bad_num_buffers: its header
                        says 0), or KIND swap: entries K and K+1 trade ids (a legal
                        completion order without IN_ORDER); without K all 4 good
  rx_bad_num_buffers N  N frames whose mergeable header says num_buffers 0
  rx_bad_used_idx       split: move used->idx 1000 entries ahead
  rx_bad_wrap           packed: a used descriptor with the wrong wrap bits
  tx_bad_id N           complete N Tx buffers under an out-of-range id
  tx_batch [S]          split with IN_ORDER: complete the Tx buffers made available as
                        batches ("In-order use of descriptors"): one used entry per batch, at
                        the batch's first position, with the id of its last buffer, and
                        used->idx moved by the batch's size; the positions skipped hold an
                        id no buffer has (what a device leaves there is undefined)
  tx_bad_used_idx       split: move the Tx ring's used->idx 1000 entries ahead
  tx_dup                complete one Tx buffer twice
  rx_tagged N           deliver N frames whose first 4 payload bytes carry a sequence
                        number (counting on from the last one delivered)
  tx_take N [S]         take N Tx buffers (S seconds at most) and hold them, in flight
  tx_complete K...      complete the held buffers K (their order of taking, from 0), in
                        the order given: 'ok tx_complete <tags>', the tags they carried
  tx_tags [S]           complete every Tx buffer made available (resubmitted ones first):
                        'ok tx_tags <n> <tags>' (tags in completion order, '-' for none)
  inflight              'ok inflight <region bytes> resubmitted=<n> [q<i>=<heads in flight>]'
  stats                 'ok stats rx=<frames delivered> tx=<buffers reaped> ...
                        rx_events=<used entries written on the Rx ring, plus used indexes
                        corrupted>': each one the frontend must account for, as a frame
                        delivered (ipackets) or a fault counted (ierrors)
  kicks [Q]             'ok kicks <n>': kicks of ring Q (default 1, Tx of pair 0) since the
                        last time asked (the kick eventfd's counter, read and cleared)
  features              'ok features 0x<SET_FEATURES> protocol 0x<SET_PROTOCOL_FEATURES>':
                        what the frontend asked for on this connection (0 before)
  status_log            'ok status_log <v>,<v>,...': every SET_STATUS value received on this
                        connection, in order (hex), then 'resets=<n>' (RESET_DEVICE/OWNER)
                        and 'channel=<0|1>' (SET_BACKEND_REQ_FD received)
  config_link up|down   set the config space status's LINK_UP and send CONFIG_CHANGE_MSG on
                        the backend channel (NEED_REPLY with REPLY_ACK): 'ok config_link
                        <up|down> ack=<the frontend's answer, or none>'
  needs_reset           set DEVICE_NEEDS_RESET in the device status, then CONFIG_CHANGE_MSG
  backend_req N         send backend request N (NEED_REPLY): 'ok backend_req N ack=<...>'
  iotlb                 'ok iotlb updates=<n> invalidates=<n> ranges=<iova>+<size>:<perm>,...':
                        IOTLB_MSGs received on this connection and the ranges they leave
  iotlb_miss IOVA PERM  send an IOTLB miss for IOVA (hex) with PERM (1 read, 2 write) on the
                        backend channel (NEED_REPLY with REPLY_ACK), serving the connection
                        meanwhile: 'ok iotlb_miss ack=<...> updates=<IOTLB updates since>'
  close                 close the connection now
  quit                  exit
"""

import argparse
import mmap
import os
import select
import socket
import struct
import sys
import time

# ---------------------------------------------------------------- protocol

from vhost_user_wire import (
    DESC_F_NEXT, F_PROTOCOL_FEATURES, FLAG_NEED_REPLY, FLAG_REPLY, HDR, PF_MQ,
    PF_REPLY_ACK, PK_AVAIL, PK_USED, REQ, REQ_NAME, RING_EVENT_FLAGS_DISABLE,
    USED_F_NO_NOTIFY, VERSION, VIRTIO_F_IN_ORDER, VIRTIO_F_RING_PACKED, VIRTIO_F_VERSION_1,
    VIRTIO_NET_F_MRG_RXBUF, Closed, recv_msg, send_msg)

PF_BACKEND_REQ, PF_CONFIG, PF_STATUS = 5, 9, 16
PF_INFLIGHT_SHMFD = 12
# GET/SET_INFLIGHT_FD payload: mmap_size, mmap_offset, num_queues, queue_size, padding
INFLIGHT_MSG = struct.Struct("<QQHHI")
# split region header: features, version, desc_num, last_batch_head, used_idx; then per
# descriptor head: inflight, padding[5], next, counter (spec, "Inflight I/O tracking")
INFLIGHT_HDR = struct.Struct("<QHHHH")
INFLIGHT_DESC = struct.Struct("<B5xHQ")
INFLIGHT_ALIGN = 64
# packed: features, version, desc_num, free_head, old_free_head, used_idx, old_used_idx,
# used_wrap_counter, old_used_wrap_counter, padding[7]; desc[] at 32 (QEMU's, DPDK's)
PK_INFLIGHT_HDR = struct.Struct("<QHHHHHHBB7x")
PK_INFLIGHT_DESC_AT = 32
# entry: inflight, padding, next, last, num, counter, id, flags, len, addr
PK_INFLIGHT_DESC = struct.Struct("<BxHHHQHHIQ")
INFLIGHT_VERSION = 1
BACKEND_IOTLB_MSG, BACKEND_CONFIG_CHANGE_MSG = 1, 2
IOTLB = struct.Struct("<QQQBB6x")      # iova, size, uaddr, perm, type (kernel's padding)
IOTLB_MISS, IOTLB_UPDATE, IOTLB_INVALIDATE = 1, 2, 3
STATUS_FEATURES_OK, STATUS_NEEDS_RESET = 0x8, 0x40
CONFIG_HDR = struct.Struct("<III")     # offset, size, flags before the window
DEFAULT_FEATURES = ((1 << VIRTIO_F_VERSION_1) | (1 << VIRTIO_NET_F_MRG_RXBUF)
                    | (1 << VIRTIO_F_IN_ORDER) | (1 << VIRTIO_F_RING_PACKED)
                    | (1 << F_PROTOCOL_FEATURES))
DEFAULT_PROTOCOL_FEATURES = (1 << PF_MQ) | (1 << PF_REPLY_ACK)
MAX_MEM_SLOTS = 32        # GET_MAX_MEM_SLOTS' answer when CONFIGURE_MEM_SLOTS is offered


def req_number(name):
    if name.isdigit():
        return int(name)
    try:
        return REQ[name.upper()]
    except KeyError:
        raise SystemExit("evil_backend: unknown request %r (known: %s)"
                         % (name, ", ".join(sorted(REQ))))


# ---------------------------------------------------------------- memory

class Memory:
    """The frontend's memory table, mmapped; frontend addresses -> (mmap, offset)."""

    def __init__(self):
        self.regions = []   # (uaddr, size, mmap, mmap_offset)

    def close(self):
        for r in self.regions:
            try:
                r[2].close()
            except (BufferError, ValueError):
                pass
        self.regions = []

    def set(self, payload, fds):
        nregions, = struct.unpack_from("<I", payload, 0)
        regions = []
        try:
            for i in range(nregions):
                gpa, size, uaddr, off = struct.unpack_from("<QQQQ", payload, 8 + 32 * i)
                mm = mmap.mmap(fds[i], size + off, mmap.MAP_SHARED,
                               mmap.PROT_READ | mmap.PROT_WRITE)
                regions.append((uaddr, size, mm, off))
        finally:
            for fd in fds:
                os.close(fd)
        self.close()
        self.regions = regions

    def add(self, payload, fds):
        """ADD_MEM_REG: a u64 of padding, then one region as SET_MEM_TABLE has it."""
        try:
            _gpa, size, uaddr, off = struct.unpack_from("<QQQQ", payload, 8)
            mm = mmap.mmap(fds[0], size + off, mmap.MAP_SHARED,
                           mmap.PROT_READ | mmap.PROT_WRITE)
            self.regions.append((uaddr, size, mm, off))
        finally:
            for fd in fds:
                os.close(fd)

    def remove(self, payload, fds):
        """REM_MEM_REG: the region with that user address and size is unmapped."""
        for fd in fds:
            os.close(fd)
        _gpa, size, uaddr, _off = struct.unpack_from("<QQQQ", payload, 8)
        keep = []
        for r in self.regions:
            if r[0] == uaddr and r[1] == size:
                try:
                    r[2].close()
                except (BufferError, ValueError):
                    pass
            else:
                keep.append(r)
        self.regions = keep

    def at(self, addr, length=1):
        for uaddr, size, mm, off in self.regions:
            if uaddr <= addr and addr + length <= uaddr + size:
                return mm, addr - uaddr + off
        raise ValueError("address 0x%x (+%d) is in no memory region" % (addr, length))

    def read(self, addr, fmt):
        mm, o = self.at(addr, struct.calcsize(fmt))
        return struct.unpack_from(fmt, mm, o)

    def write(self, addr, fmt, *vals):
        # Not struct.pack_into: it zeroes the destination before packing, and the
        # frontend would see that intermediate value (a used->idx of 0, say).
        data = struct.pack(fmt, *vals)
        mm, o = self.at(addr, len(data))
        mm[o:o + len(data)] = data

    def write_bytes(self, addr, data):
        mm, o = self.at(addr, len(data))
        mm[o:o + len(data)] = data


# ---------------------------------------------------------------- inflight region

def inflight_queue_bytes(queue_size):
    """One split ring's share of the region: header and descriptors, 64-byte aligned."""
    n = INFLIGHT_HDR.size + INFLIGHT_DESC.size * queue_size
    return (n + INFLIGHT_ALIGN - 1) // INFLIGHT_ALIGN * INFLIGHT_ALIGN


class Inflight:
    """The inflight region (split layout), mmapped from fd; survives this process, since
    the frontend keeps the fd and gives it to the next backend."""

    def __init__(self, fd, size, offset, num_queues, queue_size):
        self.mm = mmap.mmap(fd, size + offset, mmap.MAP_SHARED,
                            mmap.PROT_READ | mmap.PROT_WRITE)
        self.offset, self.size = offset, size
        self.num_queues, self.queue_size = num_queues, queue_size
        self.per_queue = inflight_queue_bytes(queue_size)

    def close(self):
        try:
            self.mm.close()
        except (BufferError, ValueError):
            pass

    def _hdr(self, q):
        return self.offset + q * self.per_queue

    def _desc(self, q, head):
        return self._hdr(q) + INFLIGHT_HDR.size + INFLIGHT_DESC.size * head

    def header(self, q):
        return INFLIGHT_HDR.unpack_from(self.mm, self._hdr(q))

    def _set_hdr(self, q, last_batch_head=None, used_idx=None, version=None):
        feat, ver, num, lbh, used = self.header(q)
        ver = ver if version is None else version
        lbh = lbh if last_batch_head is None else last_batch_head
        used = used if used_idx is None else used_idx
        self.mm[self._hdr(q):self._hdr(q) + INFLIGHT_HDR.size] = INFLIGHT_HDR.pack(
            feat, ver, num if version is None else self.queue_size, lbh, used)

    def desc(self, q, head):
        return INFLIGHT_DESC.unpack_from(self.mm, self._desc(q, head))

    def _set_desc(self, q, head, inflight, counter):
        o = self._desc(q, head)
        self.mm[o:o + INFLIGHT_DESC.size] = INFLIGHT_DESC.pack(inflight, 0, counter)

    def take(self, q, head, counter):
        """Before the buffer is used: "inflight = 1", with its order of taking."""
        self._set_desc(q, head, 1, counter)

    def pre_put(self, q, head):
        """Before the used entry: "last_batch_head = head"."""
        self._set_hdr(q, last_batch_head=head)

    def post_put(self, q, head, used_idx):
        """After used->idx is published: "inflight = 0", then "used_idx = used->idx"."""
        _i, _n, counter = self.desc(q, head)
        self._set_desc(q, head, 0, counter)
        self._set_hdr(q, used_idx=used_idx)

    def recover(self, q, ring_used_idx):
        """A ring starting on a region: the heads still in flight, oldest first, and the
        next counter. A region never used gets its version; one whose last completion
        was published (used->idx moved) but not cleared is cleared now."""
        _f, version, _num, lbh, used_idx = self.header(q)
        if version == 0:
            self._set_hdr(q, version=INFLIGHT_VERSION)
            return [], 0
        if used_idx != ring_used_idx:
            _i, _n, counter = self.desc(q, lbh)
            self._set_desc(q, lbh, 0, counter)
            self._set_hdr(q, used_idx=ring_used_idx)
        held = []
        for head in range(self.queue_size):
            inflight, _n, counter = self.desc(q, head)
            if inflight:
                held.append((counter, head))
        held.sort()
        nxt = held[-1][0] + 1 if held else 0
        return [h for _c, h in held], nxt

    def heads(self, q):
        return [h for h in range(self.queue_size) if self.desc(q, h)[0]]


def pk_inflight_queue_bytes(queue_size):
    """One packed ring's share of the region, 64-byte aligned."""
    n = PK_INFLIGHT_DESC_AT + PK_INFLIGHT_DESC.size * queue_size
    return (n + INFLIGHT_ALIGN - 1) // INFLIGHT_ALIGN * INFLIGHT_ALIGN


class InflightPacked:
    """The inflight region in the packed layout: a free list of entries, one per
    descriptor of a chain taken, its head saying it is in flight (spec, "Inflight I/O
    tracking", QueueRegionPacked)."""

    HDR = ("features", "version", "desc_num", "free_head", "old_free_head", "used_idx",
           "old_used_idx", "used_wrap", "old_used_wrap")
    DESC = ("inflight", "next", "last", "num", "counter", "id", "flags", "len", "addr")

    def __init__(self, fd, size, offset, num_queues, queue_size):
        self.mm = mmap.mmap(fd, size + offset, mmap.MAP_SHARED,
                            mmap.PROT_READ | mmap.PROT_WRITE)
        self.offset, self.size = offset, size
        self.num_queues, self.queue_size = num_queues, queue_size
        self.per_queue = pk_inflight_queue_bytes(queue_size)

    close = Inflight.close

    def _hdr_at(self, q):
        return self.offset + q * self.per_queue

    def hdr(self, q):
        return dict(zip(self.HDR, PK_INFLIGHT_HDR.unpack_from(self.mm, self._hdr_at(q))))

    def set_hdr(self, q, **kw):
        h = self.hdr(q)
        h.update(kw)
        PK_INFLIGHT_HDR.pack_into(self.mm, self._hdr_at(q), *(h[k] for k in self.HDR))

    def _desc_at(self, q, e):
        if e >= self.queue_size:
            raise RuntimeError("inflight entry %d past the ring's %d" % (e, self.queue_size))
        return self._hdr_at(q) + PK_INFLIGHT_DESC_AT + PK_INFLIGHT_DESC.size * e

    def desc(self, q, e):
        return dict(zip(self.DESC, PK_INFLIGHT_DESC.unpack_from(self.mm, self._desc_at(q, e))))

    def set_desc(self, q, e, **kw):
        d = self.desc(q, e)
        d.update(kw)
        PK_INFLIGHT_DESC.pack_into(self.mm, self._desc_at(q, e), *(d[k] for k in self.DESC))

    def init(self, q, used_slot, used_wrap):
        """A region no ring used: every entry free, in order; the used position given."""
        for e in range(self.queue_size):
            PK_INFLIGHT_DESC.pack_into(self.mm, self._desc_at(q, e), 0, e + 1, 0, 0, 0, 0,
                                       0, 0, 0)
        self.set_hdr(q, features=0, version=INFLIGHT_VERSION, desc_num=self.queue_size,
                     free_head=0, old_free_head=0, used_idx=used_slot, old_used_idx=used_slot,
                     used_wrap=int(used_wrap), old_used_wrap=int(used_wrap))

    def take(self, q, chain, id_, counter):
        """A chain taken: its descriptors into entries from free_head on, its head entry
        (old_free_head) in flight with num, last and counter; returns the head entry."""
        h = self.hdr(q)
        head, e = h["old_free_head"], h["free_head"]
        last = e
        for addr, ln, flags in chain:
            self.set_desc(q, e, addr=addr, len=ln, flags=flags, id=id_)
            last, e = e, self.desc(q, e)["next"]
        self.set_desc(q, head, num=len(chain), last=last, counter=counter, inflight=1)
        self.set_hdr(q, free_head=e, old_free_head=e)
        return head

    def put(self, q, head, used_slot, used_wrap, publish):
        """A used buffer, in the spec's order: its entries back on the free list, the used
        position, then publish() (the flags), then inflight 0 and the old_* fields."""
        h = self.hdr(q)
        self.set_desc(q, self.desc(q, head)["last"], next=h["free_head"])
        self.set_hdr(q, free_head=head, used_idx=used_slot, used_wrap=int(used_wrap))
        publish()
        self.set_desc(q, head, inflight=0)
        self.set_hdr(q, old_free_head=head, old_used_idx=used_slot,
                     old_used_wrap=int(used_wrap))

    def recover(self, q, flags_at, base_slot, base_wrap):
        """A ring starting on the region: commit or roll back the last update by the flags
        at old_used_idx, clear the free list's entries; the heads in flight oldest first,
        the next counter, the used slot and wrap counter, and the descriptors in flight."""
        h = self.hdr(q)
        if h["version"] == 0:
            self.init(q, base_slot, base_wrap)
            return [], 0, base_slot, base_wrap, 0
        if h["used_idx"] != h["old_used_idx"]:
            avail = PK_AVAIL if h["old_used_wrap"] else PK_USED
            if flags_at(h["old_used_idx"]) & (PK_AVAIL | PK_USED) != avail:
                self.set_hdr(q, old_free_head=h["free_head"], old_used_idx=h["used_idx"],
                             old_used_wrap=h["used_wrap"])
        h = self.hdr(q)
        self.set_hdr(q, free_head=h["old_free_head"], used_idx=h["old_used_idx"],
                     used_wrap=h["old_used_wrap"])
        e, n = h["old_free_head"], 0
        while e < self.queue_size and n <= self.queue_size:
            self.set_desc(q, e, inflight=0)
            e, n = self.desc(q, e)["next"], n + 1
        held = sorted((d["counter"], e, d["num"]) for e, d in
                      ((e, self.desc(q, e)) for e in range(self.queue_size)) if d["inflight"])
        if not held:
            # nothing to resubmit: the base says where the ring is
            self.init(q, base_slot, base_wrap)
            return [], 0, base_slot, base_wrap, 0
        nxt = held[-1][0] + 1 if held else 0
        return ([e for _c, e, _n in held], nxt, h["old_used_idx"], bool(h["old_used_wrap"]),
                sum(n for _c, _e, n in held))

    def chain(self, q, head):
        """The buffer a head entry holds: (id, [(addr, len, flags)], ndesc)."""
        d, e, chain = self.desc(q, head), head, []
        for _ in range(d["num"]):
            x = self.desc(q, e)
            chain.append((x["addr"], x["len"], x["flags"]))
            id_, e = x["id"], x["next"]
        return id_, chain, d["num"]

    def heads(self, q):
        return [e for e in range(self.queue_size) if self.desc(q, e)["inflight"]]


# ---------------------------------------------------------------- rings

class Ring:
    """The device side of one virtqueue."""

    def __init__(self, index):
        self.index = index
        self.num = 0
        self.desc = self.avail = self.used = 0
        self.base = 0
        self.kick = self.call = None
        self.enabled = False
        self.addr_set = False
        self.packed = False
        # split: next avail entry to read, next used entry to write
        self.last_avail = 0
        self.used_idx = 0
        # packed: next slot to read / write, and their wrap counters
        self.avail_slot = self.used_slot = 0
        self.avail_wrap = self.used_wrap = True
        # with INFLIGHT_SHMFD: the region, heads to resubmit (packed: head entries), the
        # next counter; packed: the head entry of each buffer id in flight
        self.inflight = None
        self.pk_held = {}
        self.resubmit = []
        self.resubmitted = 0
        self.counter = 0

    def close_fds(self):
        for fd in (self.kick, self.call):
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self.kick = self.call = None

    def start(self, packed):
        self.packed = packed
        if packed:
            self.avail_slot = self.used_slot = self.base & 0x7fff
            self.avail_wrap = self.used_wrap = bool(self.base >> 15)
        else:
            self.last_avail = self.used_idx = self.base & 0xffff

    def recover(self, mem):
        """Start from the inflight region rather than the base: "last_avail_idx =
        used_idx + inflight count", the buffers in flight resubmitted first."""
        if self.inflight is None:
            return
        if self.packed:
            self.resubmit, self.counter, slot, wrap, ndesc = self.inflight.recover(
                self.index, lambda s: mem.read(self.desc + 16 * s + 14, "<H")[0],
                self.used_slot, self.used_wrap)
            self.resubmitted = len(self.resubmit)
            self.used_slot, self.used_wrap = slot, wrap
            self.avail_slot, self.avail_wrap = self.pk_ahead(ndesc)
            return
        used_idx, = mem.read(self.used + 2, "<H")
        self.resubmit, self.counter = self.inflight.recover(self.index, used_idx)
        self.resubmitted = len(self.resubmit)
        self.used_idx = used_idx
        self.last_avail = (used_idx + len(self.resubmit)) & 0xffff

    def get_base(self):
        if self.packed:
            return self.avail_slot | (int(self.avail_wrap) << 15)
        return self.last_avail

    # ---- split
    def split_avail_idx(self, mem):
        return mem.read(self.avail + 2, "<H")[0]

    def split_pop(self, mem):
        """Next available chain: (head, [(addr, len, flags), ...]) or None."""
        if self.resubmit:
            head = self.resubmit.pop(0)
        else:
            if self.split_avail_idx(mem) == self.last_avail:
                return None
            head = mem.read(self.avail + 4 + 2 * (self.last_avail % self.num), "<H")[0]
            if self.inflight is not None:
                self.inflight.take(self.index, head, self.counter)
                self.counter += 1
            self.last_avail = (self.last_avail + 1) & 0xffff
        chain, i = [], head
        for _ in range(self.num):
            addr, ln, flags, nxt = mem.read(self.desc + 16 * i, "<QIHH")
            chain.append((addr, ln, flags))
            if not flags & DESC_F_NEXT:
                break
            i = nxt
        return head, chain

    def split_push(self, mem, entries, publish=True):
        """Write used entries [(id, len)]; publish them with one used->idx store."""
        if self.inflight is not None and publish:
            # tracked: one entry at a time, each in the spec's order
            for id_, ln in entries:
                self.inflight.pre_put(self.index, id_)
                mem.write(self.used + 4 + 8 * (self.used_idx % self.num), "<II", id_, ln)
                self.used_idx = (self.used_idx + 1) & 0xffff
                mem.write(self.used + 2, "<H", self.used_idx)
                self.inflight.post_put(self.index, id_, self.used_idx)
            return
        for id_, ln in entries:
            mem.write(self.used + 4 + 8 * (self.used_idx % self.num), "<II", id_, ln)
            self.used_idx = (self.used_idx + 1) & 0xffff
        if publish:
            mem.write(self.used + 2, "<H", self.used_idx)

    # ---- packed
    def pk_pop(self, mem):
        """Next available buffer: (id, first slot, [(addr, len, flags)], ndesc) or None;
        buffers left in flight first (first slot None)."""
        if self.resubmit:
            head = self.resubmit.pop(0)
            id_, chain, ndesc = self.inflight.chain(self.index, head)
            self.pk_held[id_] = head
            return id_, None, chain, ndesc
        slot, wrap = self.avail_slot, self.avail_wrap
        chain = []
        for _ in range(self.num):
            # flags first: the rest of the descriptor is valid only once they say so
            flags, = mem.read(self.desc + 16 * slot + 14, "<H")
            avail, used = bool(flags & PK_AVAIL), bool(flags & PK_USED)
            if not (avail == wrap and used != wrap):
                return None
            addr, ln, id_ = mem.read(self.desc + 16 * slot, "<QIH")
            chain.append((addr, ln, flags))
            slot += 1
            if slot == self.num:
                slot, wrap = 0, not wrap
            if not flags & DESC_F_NEXT:
                first = self.avail_slot
                self.avail_slot, self.avail_wrap = slot, wrap
                if self.inflight is not None:
                    self.pk_held[id_] = self.inflight.take(self.index, chain, id_,
                                                           self.counter)
                    self.counter += 1
                return id_, first, chain, len(chain)
        return None

    def pk_ahead(self, n):
        """Slot and wrap counter n slots past the used position."""
        s, w = self.used_slot + n, self.used_wrap
        if s >= self.num:
            s, w = s - self.num, not w
        return s, w

    def pk_write(self, mem, slot, wrap, id_, ln, flags=None):
        """A used descriptor at `slot` (flags last, as a device must)."""
        if flags is None:
            flags = (PK_AVAIL | PK_USED) if wrap else 0
        mem.write(self.desc + 16 * slot + 8, "<IH", ln, id_)
        mem.write(self.desc + 16 * slot + 14, "<H", flags)

    def pk_push(self, mem, id_, ln, ndesc, flags_override=None):
        """Mark a used descriptor at the used position, skip ndesc slots; a buffer the
        region has in flight leaves it in the spec's order around the flags store."""
        slot, wrap = self.used_slot, self.used_wrap
        self.used_slot, self.used_wrap = self.pk_ahead(ndesc)
        head = self.pk_held.pop(id_, None) if self.inflight is not None else None
        if head is None:
            self.pk_write(mem, slot, wrap, id_, ln, flags_override)
            return
        self.inflight.put(self.index, head, self.used_slot, self.used_wrap,
                          lambda: self.pk_write(mem, slot, wrap, id_, ln, flags_override))


# ---------------------------------------------------------------- the backend

class EvilBackend:
    def __init__(self, path, client=False, features=DEFAULT_FEATURES,
                 protocol_features=DEFAULT_PROTOCOL_FEATURES, queue_num=1,
                 close_at=None, silent_at=None, bad_reply=None, delay_ms=0,
                 out=None, notify=False, clear_features_ok=False, config=None,
                 refuse_config=False):
        self.path = path
        self.client = client
        self.offer = features
        self.offer_pf = protocol_features
        self.queue_num = queue_num
        self.close_at = close_at
        self.silent_at = silent_at
        self.bad_reply = bad_reply or {}
        self.delay = delay_ms / 1000.0
        self.notify = notify
        self.clear_features_ok = clear_features_ok
        self.refuse_config = refuse_config
        # the net config space: mac, status, max_virtqueue_pairs, mtu (spec 5.1.4)
        self.config = config or (b"\x02\x00\x00\xbe\xef\x01", 1, 1, 1500)
        self.out = out or sys.stdout
        self.trace = bool(os.environ.get("EVIL_TRACE"))
        self.listener = None
        self.sock = None
        self.silent = False
        self.reset_state()

    # ---- state
    def reset_state(self):
        self.features = 0
        self.pf = 0
        self.mem = Memory()
        self.rings = {}
        self.ready_said = False
        self.rx_frames = 0
        # what the frontend must account for on its Rx ring, each as a frame delivered or a
        # fault counted: every used entry written, every used index corrupted
        self.rx_events = 0
        self.tx_reaped = 0
        self.silent = False
        self.status = 0
        self.status_log = []
        self.resets = 0
        if getattr(self, "inflight", None) is not None:
            self.inflight.close()
        self.inflight = None
        self.held = []
        self.iotlb = {}                 # iova -> (size, perm), as the updates left it
        self.iotlb_counts = [0, 0]      # updates, invalidates
        if getattr(self, "channel", None) is not None:
            self.channel.close()
        self.channel = None

    def ring(self, i):
        if i not in self.rings:
            self.rings[i] = Ring(i)
        return self.rings[i]

    @property
    def packed(self):
        return bool(self.features & (1 << VIRTIO_F_RING_PACKED))

    @property
    def mrg(self):
        return bool(self.features & (1 << VIRTIO_NET_F_MRG_RXBUF))

    @property
    def hdr_len(self):
        return 12 if (self.mrg or self.features & (1 << VIRTIO_F_VERSION_1)) else 10

    def ready(self):
        if not self.mem.regions:
            return False
        for i in (0, 1):
            r = self.rings.get(i)
            if not r or r.kick is None or not r.addr_set or not r.num:
                return False
            if self.features & (1 << F_PROTOCOL_FEATURES) and not r.enabled:
                return False
        return True

    def say(self, line):
        self.out.write(line + "\n")
        self.out.flush()

    # ---- connection
    def open(self):
        if self.client:
            self.connect()
        else:
            self.listen()

    def listen(self):
        if os.path.exists(self.path):
            os.unlink(self.path)
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(self.path)
        s.listen(1)
        self.listener = s
        self.say("event: listening")

    def connect(self, timeout=30.0):
        deadline = time.monotonic() + timeout
        while True:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                s.connect(self.path)
                self.sock = s
                self.say("event: connected")
                return
            except OSError:
                s.close()
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.02)

    def accept(self):
        s, _ = self.listener.accept()
        self.sock = s
        self.reset_state()
        self.say("event: connected")

    def close_conn(self, why="closed"):
        if self.sock is not None:
            try:
                self.sock.close()
            except OSError:
                pass
            self.sock = None
        for r in self.rings.values():
            r.close_fds()
        self.mem.close()
        self.rings = {}
        if self.inflight is not None:
            self.inflight.close()
            self.inflight = None
        if self.channel is not None:
            self.channel.close()
            self.channel = None
        self.say("event: closed (%s)" % why)

    def shutdown(self):
        self.close_conn("shutdown") if self.sock is not None else None
        if self.listener is not None:
            self.listener.close()
            self.listener = None
            try:
                os.unlink(self.path)
            except OSError:
                pass

    # ---- messages
    def recv_msg(self):
        return recv_msg(self.sock)

    def send_msg(self, req, payload=b"", flags=VERSION | FLAG_REPLY, fds=()):
        send_msg(self.sock, req, payload, flags, fds)

    def reply(self, req, payload):
        kind = self.bad_reply.get(req)
        flags = VERSION | FLAG_REPLY
        fds = ()
        if kind == "wrong_request":
            req = REQ["SET_FEATURES"] if req != REQ["SET_FEATURES"] else REQ["GET_FEATURES"]
        elif kind == "wrong_size":
            payload = payload + b"\0\0\0\0"
        elif kind == "no_reply_flag":
            flags = VERSION
        elif kind == "bad_version":
            flags = 0x2 | FLAG_REPLY
        elif kind == "nack":
            payload = struct.pack("<Q", 1)
        extra = None
        if kind == "extra_fd":
            extra = os.open("/dev/null", os.O_RDONLY)
            fds = (extra,)
        try:
            self.send_msg(req, payload, flags, fds)
        finally:
            if extra is not None:
                os.close(extra)

    def handle(self, req, flags, payload, fds):
        name = REQ_NAME.get(req, str(req))
        if self.trace:
            sys.stderr.write("evil_backend: <- %s flags 0x%x %d bytes %d fds\n"
                             % (name, flags, len(payload), len(fds)))
        if self.close_at == req:
            for fd in fds:
                os.close(fd)
            self.close_conn("close-at %s" % name)
            raise Closed("closed at %s" % name)
        if self.silent_at == req:
            self.silent = True
        if self.silent:
            for fd in fds:
                os.close(fd)
            return
        if self.delay:
            time.sleep(self.delay)
        u64 = lambda: struct.unpack_from("<Q", payload)[0]  # noqa: E731
        st = lambda: struct.unpack_from("<II", payload)     # noqa: E731
        has_reply = True
        if req == REQ["GET_FEATURES"]:
            self.reply(req, struct.pack("<Q", self.offer))
        elif req == REQ["GET_PROTOCOL_FEATURES"]:
            self.reply(req, struct.pack("<Q", self.offer_pf))
        elif req == REQ["GET_QUEUE_NUM"]:
            self.reply(req, struct.pack("<Q", self.queue_num))
        elif req == REQ["GET_STATUS"]:
            self.reply(req, struct.pack("<Q", self.status))
        elif req == REQ["GET_CONFIG"]:
            offset, size, _fl = CONFIG_HDR.unpack_from(payload)
            space = self.config_bytes()
            if self.refuse_config or offset + size > len(space):
                self.reply(req, b"")
            else:
                self.reply(req, CONFIG_HDR.pack(offset, size, 0) + space[offset:offset + size])
        elif req == REQ["GET_INFLIGHT_FD"]:
            self.get_inflight(payload)
        elif req == REQ["GET_MAX_MEM_SLOTS"]:
            self.reply(req, struct.pack("<Q", MAX_MEM_SLOTS))
        elif req == REQ["GET_VRING_BASE"]:
            idx, _ = st()
            r = self.ring(idx)
            r.enabled = False
            self.reply(req, struct.pack("<II", idx, r.get_base()))
        else:
            has_reply = False
            if req == REQ["SET_FEATURES"]:
                self.features = u64()
            elif req == REQ["SET_PROTOCOL_FEATURES"]:
                self.pf = u64()
            elif req == REQ["SET_MEM_TABLE"]:
                self.mem.set(payload, fds)
                fds = []
            elif req == REQ["ADD_MEM_REG"]:
                self.mem.add(payload, fds)
                fds = []
            elif req == REQ["REM_MEM_REG"]:
                self.mem.remove(payload, fds)
                fds = []
            elif req == REQ["SET_VRING_NUM"]:
                idx, num = st()
                self.ring(idx).num = num
            elif req == REQ["SET_VRING_BASE"]:
                idx, num = st()
                self.ring(idx).base = num
            elif req == REQ["SET_VRING_ADDR"]:
                idx, _fl, desc, used, avail, _log = struct.unpack_from("<IIQQQQ", payload)
                r = self.ring(idx)
                r.desc, r.used, r.avail, r.addr_set = desc, used, avail, True
            elif req in (REQ["SET_VRING_KICK"], REQ["SET_VRING_CALL"]):
                v = u64()
                r = self.ring(v & 0xff)
                fd = fds.pop(0) if fds and not v & 0x100 else None
                if req == REQ["SET_VRING_KICK"]:
                    if r.kick is not None:
                        os.close(r.kick)
                    r.kick = fd
                    r.start(self.packed)
                    r.inflight = self.inflight
                    r.recover(self.mem)
                    self.quiet_ring(r)
                    if not self.features & (1 << F_PROTOCOL_FEATURES):
                        r.enabled = True
                else:
                    if r.call is not None:
                        os.close(r.call)
                    r.call = fd
            elif req == REQ["SET_INFLIGHT_FD"] and fds:
                size, offset, nq, qs, _pad = INFLIGHT_MSG.unpack_from(payload)
                if self.inflight is not None:
                    self.inflight.close()
                self.inflight = (InflightPacked if self.packed else Inflight)(
                    fds[0], size, offset, nq, qs)
            elif req == REQ["SET_VRING_ENABLE"]:
                idx, num = st()
                self.ring(idx).enabled = bool(num)
            elif req in (REQ["RESET_OWNER"], REQ["RESET_DEVICE"]):
                for r in self.rings.values():
                    r.close_fds()
                self.rings = {}
                self.resets += 1
            elif req == REQ["SET_STATUS"]:
                v = u64()
                self.status_log.append(v)
                if self.clear_features_ok:
                    v &= ~STATUS_FEATURES_OK
                self.status = v
            elif req == REQ["IOTLB_MSG"]:
                self.iotlb_msg(payload)
            elif req == REQ["SET_BACKEND_REQ_FD"] and fds:
                if self.channel is not None:
                    self.channel.close()
                self.channel = socket.socket(fileno=fds.pop(0))
            for fd in fds:
                os.close(fd)
        if not has_reply and flags & FLAG_NEED_REPLY and self.pf & (1 << PF_REPLY_ACK):
            self.reply(req, struct.pack("<Q", 0))
        if not self.ready_said and self.ready():
            self.ready_said = True
            self.say("event: ready")

    def resubmitted(self):
        return sum(r.resubmitted for r in self.rings.values())

    def get_inflight(self, payload):
        """GET_INFLIGHT_FD: a zeroed memfd for the rings asked about, in the layout of the
        rings negotiated."""
        _size, _off, nq, qs, _pad = INFLIGHT_MSG.unpack_from(payload)
        size = nq * (pk_inflight_queue_bytes(qs) if self.packed else inflight_queue_bytes(qs))
        fd = os.memfd_create("evil-inflight", os.MFD_CLOEXEC)
        try:
            os.ftruncate(fd, size)
            if self.inflight is not None:
                self.inflight.close()
            self.inflight = (InflightPacked if self.packed else Inflight)(fd, size, 0, nq, qs)
            self.send_msg(REQ["GET_INFLIGHT_FD"], INFLIGHT_MSG.pack(size, 0, nq, qs, 0),
                          fds=(fd,))
        finally:
            os.close(fd)

    def config_bytes(self):
        mac, status, pairs, mtu = self.config
        return mac + struct.pack("<HHH", status, pairs, mtu)

    def iotlb_msg(self, payload):
        """An IOTLB update or invalidate from the frontend: whole entries overlapping an
        invalidated range go, as in DPDK's vhost."""
        iova, size, _uaddr, perm, kind = IOTLB.unpack_from(payload)
        if kind == IOTLB_UPDATE:
            self.iotlb[iova] = (size, perm)
            self.iotlb_counts[0] += 1
        elif kind == IOTLB_INVALIDATE:
            self.iotlb = {a: (s, p) for a, (s, p) in self.iotlb.items()
                          if a + s <= iova or iova + size <= a}
            self.iotlb_counts[1] += 1

    def backend_request(self, req, timeout=5.0, payload=b""):
        """Send a request on the backend channel with NEED_REPLY (when REPLY_ACK is
        negotiated) and return the frontend's u64 answer, or None when none is due. The
        connection is served meanwhile: the frontend may send requests before it answers
        (an IOTLB update for a miss)."""
        if self.channel is None:
            raise RuntimeError("no backend channel (SET_BACKEND_REQ_FD never came)")
        want = bool(self.pf & (1 << PF_REPLY_ACK))
        flags = VERSION | (FLAG_NEED_REPLY if want else 0)
        self.channel.sendall(HDR.pack(req, flags, len(payload)) + payload)
        if not want:
            return None
        deadline = time.monotonic() + timeout
        data = b""
        while len(data) < HDR.size + 8:
            left = deadline - time.monotonic()
            if left <= 0:
                raise RuntimeError("no answer on the backend channel")
            fds = [self.channel] + ([self.sock] if self.sock is not None else [])
            r, _, _ = select.select(fds, [], [], left)
            if self.sock is not None and self.sock in r:
                self.service(0)
            if self.channel not in r:
                continue
            chunk = self.channel.recv(HDR.size + 8 - len(data))
            if not chunk:
                raise RuntimeError("the frontend closed the backend channel")
            data += chunk
        rreq, rflags, size = HDR.unpack_from(data)
        if rreq != req or not rflags & FLAG_REPLY or size != 8:
            raise RuntimeError("bad answer on the backend channel: request %d flags 0x%x "
                               "size %d" % (rreq, rflags, size))
        return struct.unpack_from("<Q", data, HDR.size)[0]

    def quiet_ring(self, r):
        """A polling backend: ask the frontend not to kick."""
        if self.notify:
            return
        try:
            if self.packed:
                self.mem.write(r.used, "<HH", 0, RING_EVENT_FLAGS_DISABLE)
            else:
                self.mem.write(r.used, "<H", USED_F_NO_NOTIFY)
        except ValueError:
            pass

    def service(self, timeout):
        """Handle whatever the socket has within `timeout` seconds (accept included)."""
        fd = self.sock if self.sock is not None else self.listener
        if fd is None:
            time.sleep(timeout)
            return
        r, _, _ = select.select([fd], [], [], timeout)
        if not r:
            return
        if self.sock is None:
            self.accept()
            return
        try:
            req, flags, payload, fds = self.recv_msg()
            self.handle(req, flags, payload, fds)
        except (Closed, ConnectionError, OSError) as e:
            if self.sock is not None:
                self.close_conn(str(e))

    # ---- data path helpers
    def _need_ready(self):
        if not self.ready():
            raise RuntimeError("the rings are not up")

    def _frame(self, length):
        dst = b"\x02\x00\x00\x00\x00\x01"
        src = b"\x02\x00\x00\x00\x00\x02"
        body = bytes((i & 0xff for i in range(max(length - 14, 0))))
        return dst + src + b"\x08\x00" + body

    def _hdr(self, num_buffers=1):
        h = bytes(10)
        if self.hdr_len == 12:
            h += struct.pack("<H", num_buffers)
        return h

    def _pop_rx(self, timeout=2.0):
        r = self.rings[0]
        deadline = time.monotonic() + timeout
        while True:
            got = r.pk_pop(self.mem) if self.packed else r.split_pop(self.mem)
            if got is not None:
                return got
            if time.monotonic() > deadline:
                raise RuntimeError("the frontend posts no Rx buffer")
            self.service(0.001)

    def _rx_complete(self, got, length, publish=True):
        r = self.rings[0]
        self.rx_events += 1
        if self.packed:
            id_, _first, chain, ndesc = got
            r.pk_push(self.mem, id_, length, ndesc)
        else:
            head, chain = got
            r.split_push(self.mem, [(head, length)], publish)

    def rx(self, n, length=64, num_buffers=1, extra_len=0, first_tag=None):
        self._need_ready()
        frame = self._frame(length)
        for k in range(n):
            if first_tag is not None:
                frame = frame[:14] + struct.pack("<I", first_tag + k) + frame[18:]
            got = self._pop_rx()
            chain = got[2] if self.packed else got[1]
            addr, cap, _fl = chain[0]
            data = self._hdr(num_buffers) + frame
            if len(data) > cap:
                raise RuntimeError("frame of %d bytes in a buffer of %d" % (len(data), cap))
            self.mem.write_bytes(addr, data)
            self._rx_complete(got, (cap + extra_len) if extra_len else len(data))
            self.rx_frames += 1
        return n

    def rx_bad_id(self, n):
        self._need_ready()
        r = self.rings[0]
        for _ in range(n):
            if self.packed:
                # consume the slot the frontend reads next, report a foreign id
                got = self._pop_rx()
                r.pk_push(self.mem, 0xfff0, 64, got[3])
            else:
                r.split_push(self.mem, [(0xfff0 + n, 64)])
            self.rx_events += 1
        return n

    def rx_dup(self):
        """Complete one buffer twice in one publication."""
        self._need_ready()
        r = self.rings[0]
        frame = self._hdr() + self._frame(64)
        got = self._pop_rx()
        if self.packed:
            # a used descriptor takes a slot: the next buffer's slot carries the same id
            id_, first, chain, ndesc = got
            self.mem.write_bytes(chain[0][0], frame)
            got2 = self._pop_rx()
            # the second slot first, so that the frontend sees both in one burst
            s2, w2 = r.pk_ahead(ndesc)
            r.pk_write(self.mem, s2, w2, id_, len(frame))
            r.pk_write(self.mem, r.used_slot, r.used_wrap, id_, len(frame))
            r.used_slot, r.used_wrap = r.pk_ahead(ndesc + got2[3])
        else:
            head, chain = got
            self.mem.write_bytes(chain[0][0], frame)
            r.split_push(self.mem, [(head, len(frame)), (head, len(frame))])
        self.rx_events += 2
        return 1

    def rx_line(self, fault_at=None, kind=None):
        """packed: four used entries in one publication, the first slot written last, so
        that the frontend sees a whole ring line (64 bytes, 4 descriptors) used at once;
        entry fault_at carries fault `kind` (swap: it and the next entry trade ids). Returns
        the frames of the line a frontend without IN_ORDER takes."""
        self._need_ready()
        if not self.packed:
            raise RuntimeError("rx_line is for packed rings")
        if kind not in (None, "bad_id", "bad_len", "bad_num_buffers", "swap"):
            raise RuntimeError("rx_line: unknown fault %r" % kind)
        if kind == "swap" and not 0 <= fault_at < 3:
            raise RuntimeError("rx_line: swap needs K in 0..2")
        r = self.rings[0]
        while r.used_slot % 4:
            self.rx(1)
        line, ahead, good = [], 0, 0
        for k in range(4):
            id_, _first, chain, ndesc = self._pop_rx()
            addr, cap, _fl = chain[0]
            bad_count = k == fault_at and kind == "bad_num_buffers"
            # a sane header even under another fault
            data = self._hdr(0 if bad_count else 1) + self._frame(64)
            self.mem.write_bytes(addr, data)
            length = len(data)
            if k == fault_at and kind == "bad_id":
                id_ = 0xfff0
            elif k == fault_at and kind == "bad_len":
                length = cap + 100
            elif not bad_count:
                good += 1
            line.append(r.pk_ahead(ahead) + (id_, length))
            ahead += ndesc
        if kind == "swap":
            a, b = line[fault_at], line[fault_at + 1]
            # each buffer keeps its own length: the device completed b before a
            line[fault_at], line[fault_at + 1] = a[:2] + b[2:], b[:2] + a[2:]
        for slot, wrap, id_, length in line[1:] + line[:1]:
            r.pk_write(self.mem, slot, wrap, id_, length)
        r.used_slot, r.used_wrap = r.pk_ahead(ahead)
        self.rx_frames += good
        self.rx_events += 4
        return good

    def bad_used_idx(self, ring, what):
        """Move a split ring's used->idx 1000 entries ahead (ring 0: Rx, 1: Tx)."""
        self._need_ready()
        if self.packed:
            raise RuntimeError("%s is for split rings" % what)
        r = self.rings[ring]
        r.used_idx = (r.used_idx + 1000) & 0xffff
        self.mem.write(r.used + 2, "<H", r.used_idx)
        if ring == 0:
            self.rx_events += 1
        return 1

    def rx_bad_wrap(self):
        self._need_ready()
        if not self.packed:
            raise RuntimeError("rx_bad_wrap is for packed rings")
        r = self.rings[0]
        got = self._pop_rx()
        # AVAIL set as for the other lap, USED as for this one: neither state
        wrap = r.used_wrap
        flags = (0 if wrap else PK_AVAIL) | (PK_USED if wrap else 0)
        r.pk_push(self.mem, got[0], 64, got[3], flags_override=flags)
        self.rx_events += 1
        return 1

    def tx_pop(self, timeout=2.0):
        r = self.rings[1]
        deadline = time.monotonic() + timeout
        while True:
            got = r.pk_pop(self.mem) if self.packed else r.split_pop(self.mem)
            if got is not None:
                return got
            if time.monotonic() > deadline:
                return None
            self.service(0.001)

    def _tx_complete_for(self, seconds, complete):
        """Wait for Tx buffers and hand each first one to complete(got), which returns how
        many buffers it completed: until the deadline, then until nothing is pending (2 s
        more at most). Returns the buffers completed."""
        n = 0
        deadline = time.monotonic() + seconds
        while True:
            got = self.tx_pop(timeout=0.05)
            if got is not None:
                n += complete(got)
            now = time.monotonic()
            if now >= deadline and (got is None or seconds > 0 or now >= deadline + 2):
                break
        self.tx_reaped += n
        return n

    def tx_reap(self, seconds=0.0):
        self._need_ready()
        r = self.rings[1]

        def one(got):
            if self.packed:
                r.pk_push(self.mem, got[0], 0, got[3])
            else:
                r.split_push(self.mem, [(got[0], 0)])
            return 1
        return self._tx_complete_for(seconds, one)

    def tx_batch(self, seconds=0.0):
        self._need_ready()
        if self.packed:
            raise RuntimeError("tx_batch is for split rings")
        r = self.rings[1]

        def batch(got):
            ids = []
            while got is not None:
                ids.append(got[0])
                got = r.split_pop(self.mem)
            start = r.used_idx
            for k in range(1, len(ids)):
                self.mem.write(r.used + 4 + 8 * ((start + k) % r.num), "<II", 0xdead, 0)
            self.mem.write(r.used + 4 + 8 * (start % r.num), "<II", ids[-1], 0)
            r.used_idx = (start + len(ids)) & 0xffff
            self.mem.write(r.used + 2, "<H", r.used_idx)
            return len(ids)
        return self._tx_complete_for(seconds, batch)

    def _tx_tag(self, chain):
        """The sequence number a tagged frame carries (rx_tagged), or -1."""
        data = b""
        for addr, ln, _fl in chain:
            mm, o = self.mem.at(addr, ln)
            data += bytes(mm[o:o + ln])
        at = self.hdr_len + 14
        return struct.unpack_from("<I", data, at)[0] if len(data) >= at + 4 else -1

    def _tx_done(self, got):
        r = self.rings[1]
        if self.packed:
            r.pk_push(self.mem, got[0], 0, got[3])
            return self._tx_tag(got[2])
        r.split_push(self.mem, [(got[0], 0)])
        return self._tx_tag(got[1])

    def tx_take(self, n, seconds=5.0):
        """Take n Tx buffers and hold them: in flight until tx_complete."""
        self._need_ready()
        deadline = time.monotonic() + seconds
        while len(self.held) < n:
            got = self.tx_pop(timeout=max(deadline - time.monotonic(), 0))
            if got is None:
                raise RuntimeError("%d Tx buffers taken of %d" % (len(self.held), n))
            self.held.append(got)
        return len(self.held)

    def tx_complete(self, ks):
        tags = []
        for k in ks:
            if k >= len(self.held) or self.held[k] is None:
                raise RuntimeError("no held Tx buffer %d" % k)
            tags.append(self._tx_done(self.held[k]))
            self.held[k] = None
        self.tx_reaped += len(tags)
        return tags

    def tx_tags(self, seconds=0.0):
        self._need_ready()
        tags = []

        def one(got):
            tags.append(self._tx_done(got))
            return 1
        self._tx_complete_for(seconds, one)
        return tags

    def tx_bad_id(self, n):
        self._need_ready()
        r = self.rings[1]
        done = 0
        for _ in range(n):
            got = self.tx_pop()
            if got is None:
                raise RuntimeError("the frontend sends nothing")
            if self.packed:
                r.pk_push(self.mem, 0xfff0, 0, got[3])
            else:
                r.split_push(self.mem, [(0xfff0, 0)])
            done += 1
        return done

    def tx_dup(self):
        self._need_ready()
        r = self.rings[1]
        got = self.tx_pop()
        if got is None:
            raise RuntimeError("the frontend sends nothing")
        if self.packed:
            got2 = self.tx_pop()
            if got2 is None:
                raise RuntimeError("the frontend sends nothing more")
            s2, w2 = r.pk_ahead(got[3])
            r.pk_write(self.mem, s2, w2, got[0], 0)
            r.pk_write(self.mem, r.used_slot, r.used_wrap, got[0], 0)
            r.used_slot, r.used_wrap = r.pk_ahead(got[3] + got2[3])
        else:
            r.split_push(self.mem, [(got[0], 0), (got[0], 0)])
        return 1

    # ---- commands
    def command(self, line):
        words = line.split()
        if not words:
            return None
        cmd, args = words[0], words[1:]
        ints = [int(a) for a in args if a.lstrip("-").isdigit()]
        try:
            if cmd == "wait_ready":
                limit = float(args[0]) if args else 10.0
                deadline = time.monotonic() + limit
                while not self.ready():
                    if time.monotonic() > deadline:
                        raise RuntimeError("rings not up after %.1fs" % limit)
                    self.service(0.01)
                return "ok wait_ready packed=%d mrg=%d" % (self.packed, self.mrg)
            if cmd == "rx":
                n = self.rx(ints[0] if ints else 1, ints[1] if len(ints) > 1 else 64)
                return "ok rx %d" % n
            if cmd == "tx_reap":
                return "ok tx_reap %d" % self.tx_reap(float(args[0]) if args else 0.0)
            if cmd == "rx_bad_id":
                return "ok rx_bad_id %d" % self.rx_bad_id(ints[0] if ints else 1)
            if cmd == "rx_bad_len":
                n = self.rx(ints[0] if ints else 1, extra_len=100)
                return "ok rx_bad_len %d" % n
            if cmd == "rx_bad_num_buffers":
                n = self.rx(ints[0] if ints else 1, num_buffers=0)
                return "ok rx_bad_num_buffers %d" % n
            if cmd == "rx_line":
                fault = (ints[0], args[1]) if len(args) > 1 else (None, None)
                return "ok rx_line %d" % self.rx_line(*fault)
            if cmd == "rx_dup":
                return "ok rx_dup %d" % self.rx_dup()
            if cmd == "rx_bad_used_idx":
                return "ok rx_bad_used_idx %d" % self.bad_used_idx(0, cmd)
            if cmd == "rx_bad_wrap":
                return "ok rx_bad_wrap %d" % self.rx_bad_wrap()
            if cmd == "rx_tagged":
                n = self.rx(ints[0], first_tag=ints[1] if len(ints) > 1 else 0)
                return "ok rx_tagged %d" % n
            if cmd == "tx_take":
                return "ok tx_take %d" % self.tx_take(ints[0], float(args[1])
                                                      if len(args) > 1 else 5.0)
            if cmd == "tx_complete":
                tags = self.tx_complete(ints)
                return "ok tx_complete %s" % " ".join(str(t) for t in tags)
            if cmd == "tx_tags":
                tags = self.tx_tags(float(args[0]) if args else 0.0)
                return "ok tx_tags %d %s" % (len(tags), " ".join(str(t) for t in tags) or "-")
            if cmd == "inflight":
                if self.inflight is None:
                    return "ok inflight 0 resubmitted=0"
                parts = ["q%d=%s" % (q, ",".join(str(h) for h in self.inflight.heads(q)) or "-")
                         for q in range(self.inflight.num_queues)]
                return "ok inflight %d resubmitted=%d %s" % (
                    self.inflight.size, self.resubmitted(), " ".join(parts))
            if cmd == "tx_bad_id":
                return "ok tx_bad_id %d" % self.tx_bad_id(ints[0] if ints else 1)
            if cmd == "tx_dup":
                return "ok tx_dup %d" % self.tx_dup()
            if cmd == "tx_batch":
                return "ok tx_batch %d" % self.tx_batch(float(args[0]) if args else 0.0)
            if cmd == "tx_bad_used_idx":
                return "ok tx_bad_used_idx %d" % self.bad_used_idx(1, cmd)
            if cmd == "status_log":
                return "ok status_log %s resets=%d channel=%d" % (
                    ",".join("%x" % v for v in self.status_log) or "-", self.resets,
                    self.channel is not None)
            if cmd == "config_link":
                mac, _st, pairs, mtu = self.config
                self.config = (mac, int(args[0] == "up"), pairs, mtu)
                ack = self.backend_request(BACKEND_CONFIG_CHANGE_MSG)
                return "ok config_link %s ack=%s" % (args[0], "none" if ack is None else ack)
            if cmd == "needs_reset":
                self.status |= STATUS_NEEDS_RESET
                ack = self.backend_request(BACKEND_CONFIG_CHANGE_MSG)
                return "ok needs_reset ack=%s" % ("none" if ack is None else ack)
            if cmd == "backend_req":
                ack = self.backend_request(ints[0])
                return "ok backend_req %d ack=%s" % (ints[0], "none" if ack is None else ack)
            if cmd == "iotlb":
                return "ok iotlb updates=%d invalidates=%d ranges=%s" % (
                    self.iotlb_counts[0], self.iotlb_counts[1],
                    ",".join("%x+%x:%d" % (a, s, p) for a, (s, p) in sorted(self.iotlb.items()))
                    or "-")
            if cmd == "iotlb_miss":
                before = self.iotlb_counts[0]
                ack = self.backend_request(BACKEND_IOTLB_MSG, payload=IOTLB.pack(
                    int(args[0], 16), 0, 0, int(args[1]), IOTLB_MISS))
                return "ok iotlb_miss ack=%s updates=%d" % (
                    "none" if ack is None else ack, self.iotlb_counts[0] - before)
            if cmd == "features":
                return "ok features 0x%x protocol 0x%x" % (self.features, self.pf)
            if cmd == "stats":
                r0 = self.rings.get(0)
                return "ok stats rx=%d tx=%d used_idx=%s last_avail=%s rx_events=%d" % (
                    self.rx_frames, self.tx_reaped, r0 and r0.used_idx, r0 and r0.last_avail,
                    self.rx_events)
            if cmd == "kicks":
                r = self.rings[int(args[0]) if args else 1]
                try:
                    n, = struct.unpack("<Q", os.read(r.kick, 8))
                except BlockingIOError:
                    n = 0
                return "ok kicks %d" % n
            if cmd == "ring":
                r = self.rings[int(args[0]) if args else 1]
                fl = []
                for k in range(r.num):
                    f, = self.mem.read(r.desc + 16 * k + 14, "<H")
                    fl.append("%x" % f)
                return "ok ring avail=%d/%d used=%d/%d flags=%s" % (
                    r.avail_slot, r.avail_wrap, r.used_slot, r.used_wrap, ",".join(fl))
            if cmd == "close":
                self.close_conn("close command")
                return "ok close"
            if cmd == "quit":
                return "quit"
            return "err %s: unknown command" % cmd
        except Exception as e:  # report, keep serving
            return "err %s: %s" % (cmd, e)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--path", required=True)
    ap.add_argument("--client", action="store_true")
    ap.add_argument("--features", type=lambda s: int(s, 0), default=DEFAULT_FEATURES)
    ap.add_argument("--protocol-features", type=lambda s: int(s, 0),
                    default=DEFAULT_PROTOCOL_FEATURES)
    ap.add_argument("--queue-num", type=int, default=1)
    ap.add_argument("--close-at")
    ap.add_argument("--silent-at")
    ap.add_argument("--bad-reply", action="append", default=[])
    ap.add_argument("--delay-ms", type=int, default=0)
    ap.add_argument("--once", action="store_true")
    ap.add_argument("--notify", action="store_true")
    ap.add_argument("--clear-features-ok", action="store_true")
    ap.add_argument("--config")
    ap.add_argument("--refuse-config", action="store_true")
    a = ap.parse_args()
    config = None
    if a.config:
        mac, status, pairs, mtu = a.config.split(",")
        config = (bytes(int(x, 16) for x in mac.split(":")), int(status, 0), int(pairs, 0),
                  int(mtu, 0))
    bad = {}
    for spec in a.bad_reply:
        req, _, kind = spec.partition(":")
        bad[req_number(req)] = kind
    be = EvilBackend(a.path, client=a.client, features=a.features,
                     protocol_features=a.protocol_features, queue_num=a.queue_num,
                     close_at=req_number(a.close_at) if a.close_at else None,
                     silent_at=req_number(a.silent_at) if a.silent_at else None,
                     bad_reply=bad, delay_ms=a.delay_ms, notify=a.notify,
                     clear_features_ok=a.clear_features_ok, config=config,
                     refuse_config=a.refuse_config)
    be.open()
    stdin_open = True
    served = False
    try:
        while True:
            fds = [sys.stdin] if stdin_open else []
            sockfd = be.sock if be.sock is not None else be.listener
            if sockfd is not None:
                fds.append(sockfd)
            r, _, _ = select.select(fds, [], [], 0.05)
            if sys.stdin in r:
                line = sys.stdin.readline()
                if not line:
                    stdin_open = False
                    continue
                ans = be.command(line.strip())
                if ans == "quit":
                    break
                if ans:
                    be.say(ans)
            if sockfd is not None and sockfd in r:
                had = be.sock is not None
                be.service(0)
                served = served or had
                if had and be.sock is None:
                    if a.once or a.client:
                        # a client backend that lost its connection is done
                        if a.once:
                            break
        return 0
    finally:
        be.shutdown()


if __name__ == "__main__":
    sys.exit(main())
