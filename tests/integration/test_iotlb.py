# SPDX-License-Identifier: BSD-3-Clause
"""Integration tests: IOTLB mode (iotlb=1, VIRTIO_F_ACCESS_PLATFORM; issue 28 point 4).

    frontend  dpdk-testpmd -d librte_net_vuser.so --vdev virtio_user0,path=<sock>,iotlb=1
    backends  DPDK 22.11's net_vhost with iommu-support=1 (offers ACCESS_PLATFORM; its
              protocol features always include IOTLB and SLAVE_REQ), and without it;
              tests/lib/evil_backend.py for what net_vhost never does (a miss outside
              what the frontend allowed) and for the ranges it was given, recorded.

DPDK's net_virtio_user cannot be a peer here: it never offers ACCESS_PLATFORM to its
driver nor sends IOTLB messages (drivers/net/virtio/virtio_user, 22.11).

    python3 -m pytest tests/integration/test_iotlb.py -k net_vhost
"""

import re

import pytest

import vhostpeer
from dpdkapp import wait_until
from test_faults import Env, link
from test_status_config import count, module_env, wait_link  # noqa: F401 (fixture)

CASE_TIMEOUT = 90

F_ACCESS_PLATFORM, F_PROTOCOL_FEATURES = 33, 30
PF_MQ, PF_REPLY_ACK, PF_NET_MTU, PF_BACKEND_REQ, PF_STATUS = 0, 3, 4, 5, 16
# DPDK 22.11's net_vhost with our frontend in IOTLB mode: MQ, REPLY_ACK, NET_MTU,
# SLAVE_REQ, IOTLB, STATUS (lib/vhost/vhost_user.h, VHOST_USER_PROTOCOL_FEATURES)
# IOTLB mode has no protocol feature bit of its own (bit 11 is HOST_NOTIFIER, never asked)
NET_VHOST_PROTOCOL = sum(1 << b for b in (PF_MQ, PF_REPLY_ACK, PF_NET_MTU, PF_BACKEND_REQ,
                                          PF_STATUS))
LAYOUT = ",packed_vq=0,in_order=1,mrg_rxbuf=1"


def net_vhost_frontend(vhost_backends, frontends, sock_dir, name, be_devargs):
    # lib.vhost.config at debug: net_vhost logs each IOTLB_MSG it reads there
    be = vhost_backends.own_listener("%s/%s.sock" % (sock_dir, name), devargs=be_devargs,
                                     log_levels=["lib.vhost.config:debug"])
    fe = frontends("%s-frontend" % name, "vuser", "path=%s%s,iotlb=1" % (be.sock, LAYOUT),
                   vhostpeer.app_args(), log_levels=["pmd.net.vuser:info"])
    return be, fe


def xstat(app, name):
    m = re.search(r"^\s*%s:\s*(\d+)\s*$" % re.escape(name), app.run("show port xstats 0"),
                  re.M)
    assert m, "no xstat %s" % name
    return int(m.group(1))


def iotlb_msgs(be):
    return len(re.findall(r"read message VHOST_USER_IOTLB_MSG", be.output()))


def test_net_vhost(vhost_backends, frontends, sock_dir):
    """net_vhost with iommu-support=1: ACCESS_PLATFORM negotiated with REPLY_ACK and
    BACKEND_REQ (no bit 11, HOST_NOTIFIER), as its log says; every range the frontend allows reaches it before each ring's address (its
    IOTLB is per ring in 22.11) and is invalidated at port stop, as many IOTLB_MSGs as
    the frontend said; traffic both ways counted exactly; no miss refused."""
    be, fe = net_vhost_frontend(vhost_backends, frontends, sock_dir, "iotlb-vhost",
                                ",iommu-support=1")
    try:
        fe.wait_ready(30)
        fe.assert_driver("net_vuser")
        vhostpeer.enable_tx_retry(fe, vhostpeer.SINK)
        wait_link(fe, "UP")
        said = r"VHOST_CONFIG: \(%s\) " % re.escape(be.sock)
        feats = [int(x, 16) for x in re.findall(said + r"negotiated Virtio features: 0x([0-9a-f]+)",
                                               be.output())]
        assert feats and all(f >> F_ACCESS_PLATFORM & 1 for f in feats), (
            "Virtio features %s" % ["0x%x" % f for f in feats])
        pf = [int(x, 16) for x in re.findall(
            said + r"negotiated Vhost-user protocol features: 0x([0-9a-f]+)", be.output())]
        assert pf == [NET_VHOST_PROTOCOL], "protocol features %s" % ["0x%x" % v for v in pf]
        sent = [(int(n), int(r)) for n, r in re.findall(
            r"IOTLB: (\d+) ranges \(rings and mempools\) sent to \S+ for ring (\d+)",
            fe.output())]
        assert [r for _n, r in sent] == [0, 1], "IOTLB ranges sent %s" % sent
        ranges = sent[0][0]
        # two ring zones and testpmd's one mempool (one chunk without hugepages)
        assert ranges == 3 and sent[1][0] == ranges, "IOTLB ranges sent %s" % sent
        assert iotlb_msgs(be) == 2 * ranges
        for sender, receiver in ((fe, be), (be, fe)):
            _s, _r, bad = vhostpeer.send_counted(sender, receiver, 2)
            assert not bad, "; ".join(bad)
        assert xstat(fe, "iotlb_refused") == 0
        # no miss on the way: every IOTLB_MSG so far was one of ours
        assert iotlb_msgs(be) == 2 * ranges
        fe.run("port stop 0")
        fe.wait_for_output(r"IOTLB: %d ranges invalidated in" % ranges, 10)
        assert wait_until(lambda: iotlb_msgs(be) == 3 * ranges, 5), (
            "%d IOTLB_MSGs, expected %d" % (iotlb_msgs(be), 3 * ranges))
    finally:
        vhost_backends.discard(be)


def test_net_vhost_without_iommu(vhost_backends, frontends, sock_dir):
    """net_vhost without iommu-support: it offers no ACCESS_PLATFORM, and
    iotlb=1 refuses it at probe, naming the bit; no silent fallback."""
    be, fe = net_vhost_frontend(vhost_backends, frontends, sock_dir, "iotlb-noiommu", "")
    try:
        fe.wait_for_output(r"iotlb=1: backend \S+ does not offer VIRTIO_F_ACCESS_PLATFORM "
                           r"\(feature bit 33\); refusing it", 30)
        assert wait_until(lambda: not fe.alive() or "Done" in fe.output(), 30)
        assert "virtio_user0" not in fe.run("show port info all") if fe.alive() else True
    finally:
        vhost_backends.discard(be)


# ---------------------------------------------------------------- the evil backend

F_MAC, F_STATUS, F_MRG_RXBUF, F_VERSION_1, F_IN_ORDER = 5, 16, 15, 32, 35
EVIL_FEATURES = sum(1 << b for b in (F_MAC, F_STATUS, F_MRG_RXBUF, F_PROTOCOL_FEATURES,
                                     F_VERSION_1, F_ACCESS_PLATFORM, F_IN_ORDER))
EVIL_PROTOCOL = sum(1 << b for b in (PF_MQ, PF_REPLY_ACK, PF_BACKEND_REQ))
PERM_RO, PERM_RW = 1, 3


@pytest.fixture
def env(module_env, request):  # noqa: F811 (the module's Env, one case at a time)
    module_env.start_case(request.node.name)
    failed = True
    try:
        yield module_env
        failed = False
    finally:
        module_env.end_case(failed)


def evil_start(env, features=EVIL_FEATURES, protocol=EVIL_PROTOCOL):
    be = env.evil(["--features", hex(features), "--protocol-features", hex(protocol)])
    fe = env.frontend(LAYOUT + ",iotlb=1")
    return be, fe


def iotlb_state(be):
    m = re.match(r"^ok iotlb updates=(\d+) invalidates=(\d+) ranges=(\S+)$", be.cmd("iotlb"))
    assert m, "no iotlb answer"
    ranges = [] if m.group(3) == "-" else [
        tuple(int(x, 16) for x in re.split(r"[+:]", r)) for r in m.group(3).split(",")]
    return int(m.group(1)), int(m.group(2)), ranges


@pytest.mark.parametrize("features,protocol,missing", [
    (EVIL_FEATURES & ~(1 << F_ACCESS_PLATFORM), EVIL_PROTOCOL,
     r"VIRTIO_F_ACCESS_PLATFORM \(feature bit 33\)"),
    (EVIL_FEATURES, EVIL_PROTOCOL & ~(1 << PF_REPLY_ACK),
     r"VHOST_USER_PROTOCOL_F_REPLY_ACK \(protocol feature bit 3\)"),
    (EVIL_FEATURES, EVIL_PROTOCOL & ~(1 << PF_BACKEND_REQ),
     r"VHOST_USER_PROTOCOL_F_BACKEND_REQ \(protocol feature bit 5\)"),
], ids=["no-access-platform", "no-reply-ack", "no-backend-req"])
def test_evil_refused(env, features, protocol, missing):
    """A backend lacking one of the three is refused at probe, the bit named, one line;
    it never gets a memory table nor an IOTLB update."""
    be, fe = evil_start(env, features, protocol)
    fe.wait_for_output(r"iotlb=1: backend \S+ does not offer %s[^;]*; refusing it" % missing,
                       30)
    fe.wait_for_output(r"Done", 30)
    assert count(fe, "does not offer") == 1
    assert "SET_MEM_TABLE" not in "".join(be.lines)
    assert be.cmd("iotlb") == "ok iotlb updates=0 invalidates=0 ranges=-"


def test_evil_miss(env):
    """The ranges the frontend allows (two ring zones and testpmd's mempool, all RW) and
    nothing else; a miss inside one is answered with that range (ack 0, one update); a
    miss outside all of them is refused (ack 1, no update), counted in iotlb_refused and
    logged once each; port stop invalidates every range."""
    be, fe = evil_start(env)
    fe.wait_ready(30)
    fe.assert_driver("net_vuser")
    be.cmd("wait_ready 10")
    updates, invalidates, ranges = iotlb_state(be)
    # each range before each ring's SET_VRING_ADDR: two rings
    assert (len(ranges), updates, invalidates) == (3, 6, 0), (updates, invalidates, ranges)
    assert all(perm == PERM_RW for _a, _s, perm in ranges), ranges
    iova, size, _perm = ranges[-1]

    assert be.cmd("iotlb_miss %x %d" % (iova + size - 1, PERM_RO)) == (
        "ok iotlb_miss ack=0 updates=1")
    for k in (1, 2):
        assert be.cmd("iotlb_miss %x %d" % (iova + size, PERM_RO)) == (
            "ok iotlb_miss ack=1 updates=0")
        assert xstat(fe, "iotlb_refused") == k
    assert count(fe, "asked IOTLB type 1 for 0x%x (perm 0x1), outside the memory it may "
                     "touch: refused" % (iova + size)) == 2
    assert be.cmd("iotlb_miss 10 %d" % PERM_RO) == "ok iotlb_miss ack=1 updates=0"
    assert xstat(fe, "iotlb_refused") == 3

    fe.run("port stop 0")
    assert wait_until(lambda: iotlb_state(be)[1] == 3, 5), iotlb_state(be)
    assert iotlb_state(be)[2] == []
