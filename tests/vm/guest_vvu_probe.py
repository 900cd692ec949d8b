#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Runs inside the slave VM of test_vvu_rules.py: a bare driver of the virtio-vhost-user
device that the host commands over a serial line (one JSON request, one JSON answer).

    guest_vvu_probe.py --pci 0000:00:10.0 --tty /dev/ttyS1 --rings 0x1f000000

It drives the device as a driver would, without interrupts: rings and buffers in guest
RAM the kernel leaves alone (memmap=, reached through /dev/mem), the BARs through sysfs
resourceN mappings, MSI-X enabled with every vector masked so that a notification shows
as the vector's pending bit (PBA). Requests ("op" and its arguments):

    setup     reset, VERSION_1, rxq/txq, DRIVER_OK, MSI-X on; SLAVE_UP if slave_up
    post      n rxq buffers of len bytes
    recv      waits (bounded) for n used rxq buffers; returns them (hex)
    reply     the messages (hex) on txq; waits for the device to use them
    state     config status, device status byte, rxq used index
    slave_up  sets or clears SLAVE_UP
    shm       len bytes of the shared memory BAR at off (hex)
    doorbell  a write of width bytes at notify index idx
    vector    maps the kick of vring q to MSI-X vector v; returns the read-back
    pba       the MSI-X pending bits

Standard library only; every wait is bounded.
"""

import argparse
import json
import mmap
import os
import select
import struct
import sys
import termios
import time
import tty

QSIZE = 64
BUF = 0x200
RX_BUFS, TX_BUFS = 0x10000, 0x20000
RING_SPAN = 0x100000          # the memmap= hole: rings, then the buffers
SHM_WINDOW = 32 << 20         # of the 64 GiB shared memory BAR
WAIT = 20.0                   # s: one bounded wait of a request
IDLE = 120                    # s: no request for that long ends the probe
CAP_COMMON, CAP_NOTIFY, CAP_ISR, CAP_DEVICE = 1, 2, 3, 4
PCI_CAP_MSIX = 0x11
MSIX_ENABLE = 0x8000
ST_ACK, ST_DRIVER, ST_DRIVER_OK, ST_FEATURES_OK = 1, 2, 4, 8
SLAVE_UP = 1


class Mem:
    """A mapping with little-endian accessors of 1, 2, 4 and 8 bytes."""
    FMT = {1: "<B", 2: "<H", 4: "<I", 8: "<Q"}

    def __init__(self, path, offset, size):
        fd = os.open(path, os.O_RDWR | os.O_SYNC)
        try:
            self.m = mmap.mmap(fd, size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE,
                               offset=offset)
        finally:
            os.close(fd)
        self.mv = memoryview(self.m)

    def rd(self, off, width):
        # one access of that width (struct over a memoryview slice, not a byte copy)
        return self.mv[off:off + width].cast(self.FMT[width][1])[0]

    def wr(self, off, width, val):
        self.mv[off:off + width].cast(self.FMT[width][1])[0] = val

    def read(self, off, n):
        return bytes(self.m[off:off + n])

    def write(self, off, data):
        self.m[off:off + len(data)] = data


class Device:
    def __init__(self, pci, rings_pa):
        self.sys = "/sys/bus/pci/devices/" + pci
        if os.path.exists(self.sys + "/driver"):
            with open(self.sys + "/driver/unbind", "w") as f:
                f.write(pci)
        self.cfg_path = self.sys + "/config"
        cfg = self.config()
        cmd = struct.unpack_from("<H", cfg, 4)[0]
        self.config_write(4, struct.pack("<H", cmd | 0x6))       # memory, bus master
        self.caps = self.vendor_caps(cfg)
        self.bars = {}
        self.msix = self.find_cap(cfg, PCI_CAP_MSIX)
        self.rings_pa = rings_pa
        self.ram = Mem("/dev/mem", rings_pa, RING_SPAN)
        self.shm = self.bar(2, SHM_WINDOW)

    def config(self):
        with open(self.cfg_path, "rb") as f:
            return f.read(256)

    def config_write(self, off, data):
        fd = os.open(self.cfg_path, os.O_WRONLY)
        try:
            os.pwrite(fd, data, off)
        finally:
            os.close(fd)

    @staticmethod
    def find_cap(cfg, cap_id):
        pos = cfg[0x34]
        while pos:
            if cfg[pos] == cap_id:
                return pos
            pos = cfg[pos + 1]
        return None

    @staticmethod
    def vendor_caps(cfg):
        """{cfg_type: (bar, offset, notify multiplier)} of the virtio capabilities."""
        caps, pos = {}, cfg[0x34]
        while pos:
            if cfg[pos] == 0x09 and cfg[pos + 3] not in caps:
                bar, off = cfg[pos + 4], struct.unpack_from("<I", cfg, pos + 8)[0]
                mult = struct.unpack_from("<I", cfg, pos + 16)[0] if cfg[pos + 3] == 2 else 0
                caps[cfg[pos + 3]] = (bar, off, mult)
            pos = cfg[pos + 1]
        return caps

    def bar(self, n, size=None):
        if n not in self.bars:
            path = "%s/resource%d" % (self.sys, n)
            self.bars[n] = Mem(path, 0, size or os.path.getsize(path))
        return self.bars[n]

    def reg(self, cap):
        bar, off, _ = self.caps[cap]
        return self.bar(bar), off

    def common(self, off, width, val=None):
        m, base = self.reg(CAP_COMMON)
        if val is None:
            return m.rd(base + off, width)
        m.wr(base + off, width, val)
        return None

    def devcfg(self, off, val=None):
        m, base = self.reg(CAP_DEVICE)
        if val is None:
            return m.rd(base + off, 4)
        m.wr(base + off, 4, val)
        return None

    # ring layout in the hole: per queue q, desc/avail/used at 0x3000 * q + 0, 0x1000,
    # 0x2000; the buffers of q at RX_BUFS or TX_BUFS
    def ring(self, q):
        return 0x3000 * q, 0x3000 * q + 0x1000, 0x3000 * q + 0x2000

    def setup(self, slave_up):
        self.common(0x14, 1, 0)
        dl = time.monotonic() + WAIT
        while self.common(0x14, 1) != 0 and time.monotonic() < dl:
            time.sleep(0.01)
        self.common(0x14, 1, ST_ACK | ST_DRIVER)
        self.common(0x08, 4, 1)
        self.common(0x0c, 4, 1)          # VERSION_1 (bit 32)
        self.common(0x08, 4, 0)
        self.common(0x0c, 4, 0)
        self.common(0x14, 1, ST_ACK | ST_DRIVER | ST_FEATURES_OK)
        self.ram.write(0, bytes(0x6000))
        for q in (0, 1):
            desc, avail, used = self.ring(q)
            self.common(0x16, 2, q)
            self.common(0x18, 2, QSIZE)
            for reg, off in ((0x20, desc), (0x28, avail), (0x30, used)):
                self.common(reg, 4, self.rings_pa + off)
                self.common(reg + 4, 4, 0)
            self.common(0x1c, 2, 1)
        self.rx_posted = self.rx_seen = self.tx_posted = 0
        self.common(0x14, 1, ST_ACK | ST_DRIVER | ST_FEATURES_OK | ST_DRIVER_OK)
        ctl = struct.unpack_from("<H", self.config(), self.msix + 2)[0]
        self.config_write(self.msix + 2, struct.pack("<H", ctl | MSIX_ENABLE))
        if slave_up:
            self.devcfg(0, SLAVE_UP)
        return self.state()

    def notify(self, idx, width=2, val=None):
        m, base = self.reg(CAP_NOTIFY)
        m.wr(base + idx * self.caps[CAP_NOTIFY][2], width, idx if val is None else val)

    def post(self, n, length):
        desc, avail, _ = self.ring(0)
        for _ in range(n):
            slot = self.rx_posted % QSIZE
            self.ram.write(desc + 16 * slot, struct.pack("<QIHH", self.rings_pa + RX_BUFS
                                                         + BUF * slot, length, 2, 0))
            self.ram.wr(avail + 4 + 2 * slot, 2, slot)
            self.rx_posted += 1
            self.ram.wr(avail + 2, 2, self.rx_posted & 0xffff)
        self.notify(0)
        return {"posted": self.rx_posted}

    def used_idx(self, q):
        return self.ram.rd(self.ring(q)[2] + 2, 2)

    def recv(self, n, timeout):
        _, _, used = self.ring(0)
        dl = time.monotonic() + min(timeout, WAIT)
        while (self.used_idx(0) - self.rx_seen) & 0xffff < n and time.monotonic() < dl:
            time.sleep(0.01)
        msgs = []
        while self.rx_seen != self.used_idx(0):
            slot = self.rx_seen % QSIZE
            idx, length = struct.unpack("<II", self.ram.read(used + 4 + 8 * slot, 8))
            msgs.append(self.ram.read(RX_BUFS + BUF * idx, length).hex())
            self.rx_seen += 1
        return {"msgs": msgs}

    def reply(self, msgs):
        desc, avail, _ = self.ring(1)
        for m in msgs:
            data = bytes.fromhex(m)
            slot = self.tx_posted % QSIZE
            self.ram.write(TX_BUFS + BUF * slot, data)
            self.ram.write(desc + 16 * slot, struct.pack("<QIHH", self.rings_pa + TX_BUFS
                                                         + BUF * slot, len(data), 0, 0))
            self.ram.wr(avail + 4 + 2 * slot, 2, slot)
            self.tx_posted += 1
            self.ram.wr(avail + 2, 2, self.tx_posted & 0xffff)
        self.notify(1)
        dl = time.monotonic() + WAIT
        while self.used_idx(1) != self.tx_posted & 0xffff and time.monotonic() < dl:
            time.sleep(0.01)
        return {"tx_used": self.used_idx(1)}

    def state(self):
        return {"status": self.devcfg(0), "max_queues": self.devcfg(4),
                "dev_status": self.common(0x14, 1), "rx_used": self.used_idx(0)}

    def slave_up(self, on):
        self.devcfg(0, SLAVE_UP if on else 0)
        return self.state()

    def vector(self, q, v):
        m = self.bar(0)
        m.wr(0, 2, q)
        m.wr(2, 2, v)
        return {"vector": m.rd(2, 2)}

    def pba(self):
        cfg = self.config()
        pba = struct.unpack_from("<I", cfg, self.msix + 8)[0]
        return {"pba": self.bar(pba & 7).rd(pba & ~7, 4)}


def log(msg):
    print("VMTEST: probe: " + msg, flush=True)


def handle(dev, req):
    op = req.pop("op")
    if op == "setup":
        return dev.setup(req.get("slave_up", True))
    if op == "post":
        return dev.post(req["n"], req.get("len", BUF))
    if op == "recv":
        return dev.recv(req["n"], req.get("timeout", WAIT))
    if op == "reply":
        return dev.reply(req["msgs"])
    if op == "state":
        return dev.state()
    if op == "slave_up":
        return dev.slave_up(req["on"])
    if op == "shm":
        return {"data": dev.shm.read(req["off"], req["len"]).hex()}
    if op == "doorbell":
        dev.notify(req["idx"], req.get("width", 2))
        return {}
    if op == "vector":
        return dev.vector(req["q"], req["v"])
    if op == "pba":
        return dev.pba()
    raise ValueError("unknown op %r" % op)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pci", required=True)
    ap.add_argument("--tty", required=True)
    ap.add_argument("--rings", type=lambda s: int(s, 0), required=True)
    args = ap.parse_args()
    # O_NONBLOCK: a serial open must not wait for the carrier line
    fd = os.open(args.tty, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
    os.set_blocking(fd, True)
    tty.setraw(fd)
    log("serial line open")
    termios.tcflush(fd, termios.TCIOFLUSH)
    rd, wr = os.fdopen(fd, "rb", buffering=0), os.fdopen(os.dup(fd), "wb", buffering=0)
    dev = Device(args.pci, args.rings)
    log("device mapped")
    wr.write(b'{"ready": true}\n')
    line = b""
    while True:
        # the host gone quiet (its side failed): power off rather than wait forever
        if not select.select([rd], [], [], IDLE)[0]:
            log("no request for %ds" % IDLE)
            return 1
        ch = rd.read(1)
        if not ch:
            return 1
        if ch != b"\n":
            line += ch
            continue
        req = json.loads(line)
        line = b""
        if req.get("op") == "quit":
            wr.write(b'{"bye": true}\n')
            return 0
        try:
            ans = handle(dev, req)
        except Exception as e:  # the host's test fails on it, with the reason
            ans = {"error": "%s: %s" % (type(e).__name__, e)}
        wr.write(json.dumps(ans).encode() + b"\n")


if __name__ == "__main__":
    sys.exit(main())
