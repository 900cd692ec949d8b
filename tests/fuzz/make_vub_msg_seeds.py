#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
# Writes the seeds of fuzz_vub_msg (tests/fuzz/corpus/vub_msg/): frontend scripts in its ops.
import os
import struct
import sys

RAW, FEATURES, PROTOCOL, MEM, RING, STATE, SIMPLE, BURSTS, POKE, DROP, KICK = range(11)
NEED_REPLY = 1
# fm_feature_bits order: VERSION_1, PACKED, MRG, INDIRECT, EVENT_IDX, IN_ORDER, MQ, ...,
# PROTOCOL_FEATURES (bit 13)
F_SPLIT = 0x1 | 0x4 | 0x8 | 0x10 | 0x40 | 0x2000
F_PACKED = F_SPLIT | 0x2
F_INORDER = 0x1 | 0x20 | 0x2000


def u16(v):
    return struct.pack("<H", v)


def ring(idx, desc, avail, used, size_log2=3):
    return bytes([RING, idx, NEED_REPLY, size_log2]) + u16(desc) + u16(avail) + u16(used) \
        + u16(0) + bytes([0, 0, 0])


def poke(region, off, data):
    assert len(data) < 16
    return bytes([POKE, region]) + u16(off) + bytes([len(data)]) + data


def enable(idx):
    return bytes([STATE, 1, NEED_REPLY, idx]) + u16(1)


def handshake(features):
    return (bytes([FEATURES, NEED_REPLY]) + u16(features)
            + bytes([PROTOCOL, NEED_REPLY]) + u16(0x7)
            + bytes([SIMPLE, 2, NEED_REPLY])
            + bytes([MEM, NEED_REPLY, 1])
            + ring(0, 0x0000, 0x0100, 0x0200) + ring(1, 0x1000, 0x1100, 0x1200)
            + ring(2, 0x0400, 0x0500, 0x0600) + ring(3, 0x1400, 0x1500, 0x1600)
            + enable(0) + enable(1) + enable(2) + enable(3))


def split_traffic():
    # Tx: descriptor 0 of ring 1 (64 bytes at 0x800), avail idx 1. Rx: descriptor 0 of
    # ring 0 (1500 writable bytes in region 1), avail idx 1.
    return (poke(0, 0x1000, struct.pack("<QIH", 0x800, 64, 0))
            + poke(0, 0x1100, struct.pack("<HHH", 0, 1, 0))
            + poke(0, 0x0000, struct.pack("<QIH", 0x4000, 1500, 2))
            + poke(0, 0x0100, struct.pack("<HHH", 0, 1, 0))
            + bytes([BURSTS, 0]) + u16(100))


def packed_traffic():
    avail = 0x80
    return (poke(0, 0x1000, struct.pack("<QIHH", 0x800, 64, 0, avail)[:14])
            + poke(0, 0x100e, u16(avail))
            + poke(0, 0x0000, struct.pack("<QIHH", 0x4000, 1500, 0, avail | 2)[:14])
            + poke(0, 0x000e, u16(avail | 2))
            + bytes([BURSTS, 0]) + u16(100))


def tail():
    return (bytes([STATE, 0, NEED_REPLY, 1]) + u16(1)      # GET_VRING_BASE 1
            + bytes([SIMPLE, 0, NEED_REPLY])                # RESET_DEVICE
            + bytes([KICK, 0x81]) + bytes([DROP]))


# fm_protocol_bits order: MQ, REPLY_ACK, RESET_DEVICE, NET_MTU, STATUS, CONFIG, BACKEND_REQ
P_FULL = 0x1 | 0x2 | 0x4 | 0x10 | 0x20 | 0x40
SET_STATUS, GET_STATUS, GET_CONFIG, SET_CONFIG, SET_BACKEND_REQ_FD = 39, 40, 24, 25, 21
CONFIG_HDR = 12                   # offset, size, flags


def raw(request, payload=b"", fdspec=0):
    return bytes([RAW, request, NEED_REPLY]) + u16(len(payload)) + bytes([fdspec]) + payload


def config(offset, size, flags=0):
    return struct.pack("<III", offset, size, flags) + bytes(size)


def status():
    return (bytes([PROTOCOL, NEED_REPLY]) + u16(P_FULL)
            + raw(SET_STATUS, struct.pack("<Q", 0x0b)) + raw(SET_STATUS, struct.pack("<Q", 0x0f))
            + bytes([SIMPLE, 6, 0]) + raw(SET_STATUS, struct.pack("<Q", 0)))


def config_space():
    return (bytes([PROTOCOL, NEED_REPLY]) + u16(P_FULL)
            + raw(GET_CONFIG, config(0, 12)) + raw(GET_CONFIG, config(10, 4))
            + raw(SET_CONFIG, config(0, 6)) + raw(SET_BACKEND_REQ_FD, fdspec=1))


SEEDS = {
    "split": handshake(F_SPLIT) + split_traffic() + tail(),
    "packed": handshake(F_PACKED) + packed_traffic() + tail(),
    "inorder": handshake(F_INORDER) + split_traffic() + split_traffic() + tail(),
    "raw_get_features": bytes([RAW, 1, 0x1]) + u16(0) + bytes([0]),
    "status": handshake(F_SPLIT) + status() + split_traffic() + tail(),
    "config": handshake(F_SPLIT) + config_space() + tail(),
    "mem_bad": bytes([MEM, NEED_REPLY, 0x43, 1]) + struct.pack("<Q", 1 << 63) + bytes([9]),
}

out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__),
                                                          "corpus", "vub_msg")
os.makedirs(out, exist_ok=True)
for name, data in SEEDS.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)
