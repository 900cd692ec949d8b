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
PF_MQ, PF_REPLY_ACK, PF_NET_MTU, PF_BACKEND_REQ, PF_IOTLB, PF_STATUS = 0, 3, 4, 5, 11, 16
# DPDK 22.11's net_vhost with our frontend in IOTLB mode: MQ, REPLY_ACK, NET_MTU,
# SLAVE_REQ, IOTLB, STATUS (lib/vhost/vhost_user.h, VHOST_USER_PROTOCOL_FEATURES)
NET_VHOST_PROTOCOL = sum(1 << b for b in (PF_MQ, PF_REPLY_ACK, PF_NET_MTU, PF_BACKEND_REQ,
                                          PF_IOTLB, PF_STATUS))
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
    """net_vhost with iommu-support=1: ACCESS_PLATFORM and IOTLB negotiated, as its log
    says; every range the frontend allows reaches it before each ring's address (its
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
    """net_vhost without iommu-support: it offers IOTLB but not ACCESS_PLATFORM, and
    iotlb=1 refuses it at probe, naming the bit; no silent fallback."""
    be, fe = net_vhost_frontend(vhost_backends, frontends, sock_dir, "iotlb-noiommu", "")
    try:
        fe.wait_for_output(r"iotlb=1: backend \S+ does not offer VIRTIO_F_ACCESS_PLATFORM "
                           r"\(feature bit 33\); refusing it", 30)
        assert wait_until(lambda: not fe.alive() or "Done" in fe.output(), 30)
        assert "virtio_user0" not in fe.run("show port info all") if fe.alive() else True
    finally:
        vhost_backends.discard(be)
