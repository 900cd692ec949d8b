# SPDX-License-Identifier: BSD-3-Clause
"""vhost-user message framing shared by the scripted peers (evil_backend.py, evil_frontend.py).

Standard library only: the request numbers, the 12-byte header, feature bits both peers
name, and one message sent or received over a UNIX stream socket with its fds
(SCM_RIGHTS).
"""

import socket
import struct

REQ = {
    "GET_FEATURES": 1, "SET_FEATURES": 2, "SET_OWNER": 3, "RESET_OWNER": 4,
    "SET_MEM_TABLE": 5, "SET_LOG_BASE": 6, "SET_LOG_FD": 7, "SET_VRING_NUM": 8,
    "SET_VRING_ADDR": 9, "SET_VRING_BASE": 10, "GET_VRING_BASE": 11,
    "SET_VRING_KICK": 12, "SET_VRING_CALL": 13, "SET_VRING_ERR": 14,
    "GET_PROTOCOL_FEATURES": 15, "SET_PROTOCOL_FEATURES": 16, "GET_QUEUE_NUM": 17,
    "SET_VRING_ENABLE": 18, "NET_SET_MTU": 20, "SET_BACKEND_REQ_FD": 21, "IOTLB_MSG": 22,
    "GET_CONFIG": 24, "SET_CONFIG": 25, "GET_INFLIGHT_FD": 31, "SET_INFLIGHT_FD": 32,
    "RESET_DEVICE": 34, "GET_MAX_MEM_SLOTS": 36, "ADD_MEM_REG": 37, "REM_MEM_REG": 38,
    "SET_STATUS": 39, "GET_STATUS": 40,
}
REQ_NAME = {v: k for k, v in REQ.items()}

VERSION = 0x1
FLAG_REPLY = 0x4
FLAG_NEED_REPLY = 0x8
HDR = struct.Struct("<III")
# Room for the fds of one message: twice the most one carries (one per memory region,
# 8), so that a peer sending too many has them seen, not cut off by the kernel.
RECV_FDS = 16
VRING_NOFD = 0x100        # kick/call/err payload: "invalid FD" flag

F_PROTOCOL_FEATURES = 30
PF_MQ, PF_REPLY_ACK = 0, 3
VIRTIO_NET_F_MRG_RXBUF = 15
VIRTIO_F_INDIRECT_DESC = 28
VIRTIO_F_VERSION_1 = 32
VIRTIO_F_RING_PACKED = 34
VIRTIO_F_IN_ORDER = 35

DESC_F_NEXT, DESC_F_WRITE, DESC_F_INDIRECT = 1, 2, 4
PK_AVAIL, PK_USED = 1 << 7, 1 << 15
USED_F_NO_NOTIFY = 1
RING_EVENT_FLAGS_DISABLE = 1


class Closed(Exception):
    """The connection is gone (peer closed, or we closed it on purpose)."""


def recv_exact(sock, n, fds):
    """n bytes from sock; fds that ride along are appended to fds."""
    buf = b""
    while len(buf) < n:
        data, anc, _flags, _addr = sock.recvmsg(n - len(buf), socket.CMSG_SPACE(4 * RECV_FDS))
        if not data:
            raise Closed("peer closed")
        for level, typ, cdata in anc:
            if level == socket.SOL_SOCKET and typ == socket.SCM_RIGHTS:
                cnt = len(cdata) // 4
                fds.extend(struct.unpack("<%di" % cnt, cdata[:4 * cnt]))
        buf += data
    return buf


def recv_msg(sock):
    """One message: (request, flags, payload, fds)."""
    fds = []
    req, flags, size = HDR.unpack(recv_exact(sock, HDR.size, fds))
    payload = recv_exact(sock, size, fds) if size else b""
    return req, flags, payload, fds


def send_msg(sock, req, payload=b"", flags=VERSION, fds=()):
    """One message, its fds in one SCM_RIGHTS control message."""
    data = HDR.pack(req, flags, len(payload)) + payload
    anc = []
    if fds:
        anc = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, struct.pack("<%di" % len(fds), *fds))]
    sock.sendmsg([data], anc)
