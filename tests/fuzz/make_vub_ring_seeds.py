#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
# Writes the seeds of fuzz_vub_ring (tests/fuzz/corpus/vub_ring/): header, ring image, ops.
import os
import struct
import sys

PACKED, MRG, INDIRECT, EVENT_IDX, IN_ORDER, CSUM = 1, 2, 4, 8, 16, 32
NEXT, WRITE, IND = 1, 2, 4
AVAIL = 0x80
RX, TX = 0x000, 0x400          # vring blocks in the image
AVAIL_OFF, USED_OFF = 0x200, 0x280
DEQ, ENQ, POKE, KICK, RESTART = range(5)


def split_desc(img, ring, slot, addr, length, flags=0, nxt=0):
    struct.pack_into("<QIHH", img, ring + 16 * slot, addr, length, flags, nxt)


def split_avail(img, ring, heads):
    struct.pack_into("<HH", img, ring + AVAIL_OFF, 0, len(heads))
    for i, h in enumerate(heads):
        struct.pack_into("<H", img, ring + AVAIL_OFF + 4 + 2 * i, h)


def packed_desc(img, ring, slot, addr, length, ident, flags):
    struct.pack_into("<QIHH", img, ring + 16 * slot, addr, length, ident, flags | AVAIL)


def seed(features, size_log2, img, ops):
    return bytes([features, size_log2, 0, 0, 0, 0, 0, 0]) + bytes(img) + ops


def ops_all():
    # dequeue 4, enqueue 4 of 100 bytes, kick mode notify on both, restart tx, dequeue.
    return (bytes([3, DEQ, 3, ENQ]) + struct.pack("<H", 100)
            + bytes([2, KICK, 3, KICK, 1, RESTART]) + struct.pack("<H", 0) + bytes([3, DEQ]))


def split_img(mrg_bufs=1, indirect=False):
    img = bytearray(0x800)
    if indirect:
        # the table at 0x390, after vring 0's used ring
        struct.pack_into("<QIHHQIHH", img, 0x390, 0x1000, 12, NEXT, 1, 0x1100, 100, 0, 0)
        split_desc(img, TX, 0, 0x390, 32, IND)
    else:
        split_desc(img, TX, 0, 0x1000, 12, NEXT, 1)
        split_desc(img, TX, 1, 0x1100, 100)
    split_avail(img, TX, [0])
    heads = []
    for i in range(mrg_bufs):
        split_desc(img, RX, i, 0x4000 + 0x200 * i, 0x200, WRITE)
        heads.append(i)
    split_avail(img, RX, heads)
    return img


def packed_img():
    img = bytearray(0x800)
    packed_desc(img, TX, 1, 0x1100, 100, 0, 0)
    packed_desc(img, TX, 0, 0x1000, 12, 0, NEXT)
    packed_desc(img, RX, 0, 0x4000, 0x200, 0, WRITE)
    packed_desc(img, RX, 1, 0x4200, 0x200, 1, WRITE)
    return img


SEEDS = {
    "split": seed(0, 3, split_img(), ops_all()),
    "split_mrg_eventidx": seed(MRG | EVENT_IDX, 3, split_img(3), ops_all()),
    "split_indirect_inorder": seed(INDIRECT | IN_ORDER | CSUM, 2, split_img(1, True), ops_all()),
    "packed": seed(PACKED | MRG | EVENT_IDX, 3, packed_img(), ops_all()),
    "packed_odd_size": seed(PACKED | INDIRECT | IN_ORDER, 0x80 | 4, packed_img(), ops_all()),
}

out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__),
                                                          "corpus", "vub_ring")
os.makedirs(out, exist_ok=True)
for name, data in SEEDS.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)
