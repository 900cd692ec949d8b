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

import os
import re

import pytest

import dpdkapp
import vhostpeer
from dpdkapp import wait_until
from evil_frontend import (BUF_AREA, BUF_SIZE, GPA_BASE, PERM_RO, PERM_RW, PERM_WO, QUEUE_SIZE,
                           UVA_BASE, EvilFrontend)
from test_faults import Env, link
from test_status_config import count, module_env, wait_link  # noqa: F401 (fixture)
from test_vubackend import vubackend_plugin

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


# ---------------------------------------------------------------- our backend
#
#   backend   dpdk-testpmd -d <staged librte_net_vubackend.so>
#                          --vdev net_vubackend0,iface=<sock>,iommu-support=1
#   frontend  net_vuser iotlb=1, or tests/lib/evil_frontend.py in IOTLB mode (in process)

VUB_DEV = "net_vubackend0"
VUB_FRAMES = 64                         # each way: two bursts of vhostpeer.BURST
# What net_vuser iotlb=1 takes of what net_vubackend offers (backend/vub_dev.c;
# INFLIGHT_SHMFD only with inflight=1): REPLY_ACK, BACKEND_REQ, STATUS, CONFIG, MQ,
# CONFIGURE_MEM_SLOTS, RESET_DEVICE.
PF_CONFIG, PF_RESET_DEVICE, PF_MEM_SLOTS = 9, 13, 15
VUB_PROTOCOL_TAKEN = sum(1 << b for b in (PF_MQ, PF_REPLY_ACK, PF_BACKEND_REQ, PF_CONFIG,
                                          PF_RESET_DEVICE, PF_MEM_SLOTS, PF_STATUS))
GOOD_TX = 8                             # evil frontend: Tx buffers inside the IOTLB
WAITING_TX = 4                          # frames made available past them, at the miss
EVIL_FRAMES_AFTER = 64                  # a well-behaved IOTLB frontend's frames, after


@pytest.fixture(scope="module")
def vub_plugin():
    staged = dpdkapp.stage_plugin(vubackend_plugin())
    yield staged
    dpdkapp.unstage_plugin(staged)


def vub_backend(log_dir, plugin, sock, name):
    if os.path.exists(sock):
        os.unlink(sock)
    app = dpdkapp.Testpmd(name, log_dir,
                          vdevs=["%s,iface=%s,iommu-support=1" % (VUB_DEV, sock)],
                          plugins=[plugin], interactive=True, lcores="0,1", main_lcore=0,
                          log_levels=["pmd.net.vubackend:info"],
                          app_args=vhostpeer.app_args())
    app.start()
    wait_until(lambda: os.path.exists(sock) or not app.alive(), vhostpeer.BOOT_TIMEOUT,
               what="backend socket %s" % sock)
    app.wait_ready(timeout=vhostpeer.BOOT_TIMEOUT)
    vhostpeer.enable_tx_retry(app, vhostpeer.SINK)
    return app


def vub_negotiated(be, what):
    """Every '<what> features 0x.. negotiated' value libvub logged, in order."""
    return [int(x, 16) for x in re.findall(
        r"%s: %s features 0x([0-9a-f]+) negotiated" % (VUB_DEV, what), be.output())]


def both_ways(fe, be):
    for sender, receiver in ((fe, be), (be, fe)):
        _s, _r, bad = vhostpeer.send_counted(sender, receiver, VUB_FRAMES // vhostpeer.BURST)
        assert not bad, "; ".join(bad)


def test_vubackend(frontends, log_dir, sock_dir, vub_plugin):
    """net_vuser iotlb=1 with net_vubackend iommu-support=1: the backend's log says
    ACCESS_PLATFORM (33) negotiated and exactly the protocol features expected (REPLY_ACK
    and BACKEND_REQ among them, no bit 11); both rings start on the ranges sent before
    SET_VRING_ADDR, no miss, nothing denied; 64 frames each way exactly; port stop's
    invalidates stop both rings (no miss asked), port start brings them back and 64
    frames go each way again."""
    sock = os.path.join(sock_dir, "iotlb-vub.sock")
    be = vub_backend(log_dir, vub_plugin, sock, "iotlb-vub-backend")
    try:
        fe = frontends("iotlb-vub-frontend", "vuser", "path=%s%s,iotlb=1" % (sock, LAYOUT),
                       vhostpeer.app_args(), log_levels=["pmd.net.vuser:info"])
        fe.wait_ready(30)
        fe.assert_driver("net_vuser")
        vhostpeer.enable_tx_retry(fe, vhostpeer.SINK)
        wait_link(fe, "UP")
        feats = vub_negotiated(be, "virtio")
        assert feats and all(f >> F_ACCESS_PLATFORM & 1 for f in feats), (
            "virtio features %s" % ["0x%x" % f for f in feats])
        assert vub_negotiated(be, "protocol") == [VUB_PROTOCOL_TAKEN], (
            "protocol features %s" % ["0x%x" % f for f in vub_negotiated(be, "protocol")])
        for ring in (0, 1):
            be.wait_for_output(r"%s: vring %d started" % (VUB_DEV, ring), 10)
        both_ways(fe, be)
        assert (xstat(be, "iotlb_misses"), xstat(be, "iotlb_denied")) == (0, 0)
        assert xstat(fe, "iotlb_refused") == 0

        fe.run("port stop 0")
        for ring in (0, 1):
            be.wait_for_output(r"%s: vring %d stopped: its addresses left the IOTLB"
                               % (VUB_DEV, ring), 10)
        fe.run("port start 0")
        wait_link(fe, "UP")
        both_ways(fe, be)
        assert (xstat(be, "iotlb_misses"), xstat(be, "iotlb_denied")) == (0, 0)
        assert xstat(fe, "iotlb_refused") == 0
        # the backend's own lines (the xstats dumps name iotlb_denied too)
        assert not re.findall(r"VUSER: %s: .*(IOTLB miss at|denied)" % VUB_DEV, be.output())
    finally:
        dpdkapp.kill_all([be])


def evil_iotlb(sock, **kw):
    fe = EvilFrontend(sock, iotlb=True).connect()
    return fe.start_iotlb(**kw)


def rx_packets(be):
    return be.stats().get("ipackets") or 0


def after_denial(be, sock, denied, since):
    """The port goes on: once the backend saw the denied frontend leave (a frontend
    connecting before that is turned away as a second one), a well-behaved IOTLB
    frontend's frames all arrive; the denial count stays."""
    be.wait_for_output(r"VUSER: %s: frontend disconnected" % VUB_DEV, timeout=10, since=since)
    n0 = rx_packets(be)
    with evil_iotlb(sock) as good:
        assert good.send(EVIL_FRAMES_AFTER) == EVIL_FRAMES_AFTER
    assert wait_until(lambda: rx_packets(be) == n0 + EVIL_FRAMES_AFTER, 10), (
        "backend took %d frames, expected %d" % (rx_packets(be) - n0, EVIL_FRAMES_AFTER))
    assert xstat(be, "iotlb_denied") == denied
    assert be.alive()


def test_vubackend_outside_iotlb(log_dir, sock_dir, vub_plugin):
    """A frontend whose IOTLB leaves out all but the first 8 Tx buffers: those 8 are taken;
    the 9th asks a miss on the backend channel (its exact payload: the buffer's IOVA, read
    permission, NEED_REPLY); refused (ack 1), the ring stops with a line naming the port
    and the ring, its err eventfd written, nothing more taken; iotlb_misses 1,
    iotlb_denied 1; the process goes on (64 frames of the next frontend)."""
    sock = os.path.join(sock_dir, "iotlb-vub-evil.sock")
    be = vub_backend(log_dir, vub_plugin, sock, "iotlb-vub-outside")
    try:
        be.start_forwarding()
        since = be.output_len()
        with evil_iotlb(sock, bufs=(QUEUE_SIZE + GOOD_TX) * BUF_SIZE) as fe:
            fe.make_tx(GOOD_TX)
            fe.wait_completed(GOOD_TX)
            fe.make_tx(1)
            req = fe.iotlb_request()
            assert req is not None, "no IOTLB miss on the backend channel"
            rq, flags, iova, size, uaddr, perm, typ = req
            assert (rq, flags, typ) == (1, 0x1 | 0x8, 1), req
            assert (iova, size, uaddr, perm) == (GPA_BASE + fe.tx.buf(GOOD_TX), 0, 0,
                                                 PERM_RO), req
            fe.iotlb_ack(1)
            be.wait_for_output(r"%s: vring 1 stopped: IOTLB miss at IOVA 0x%x \(read\): "
                               r"refused by the frontend" % (VUB_DEV, iova), 10)
            assert os.eventfd_read(fe.tx.err) == 1
            assert fe.completed() == GOOD_TX
        assert rx_packets(be) == GOOD_TX
        assert (xstat(be, "iotlb_misses"), xstat(be, "iotlb_denied")) == (1, 1)
        after_denial(be, sock, 1, since)
    finally:
        dpdkapp.kill_all([be])


def test_vubackend_miss_answered(log_dir, sock_dir, vub_plugin):
    """The frontend answers the miss: an update of the rest of the Tx buffers on the main
    socket, then ack 0 on the channel (net_vuser's order; the backend does not wait for
    the ack, so it reads the update meanwhile). The 4 frames waiting are taken, 64 more
    follow with no further request on the channel; iotlb_misses 1, iotlb_denied 0."""
    sock = os.path.join(sock_dir, "iotlb-vub-answered.sock")
    be = vub_backend(log_dir, vub_plugin, sock, "iotlb-vub-answered")
    try:
        be.start_forwarding()
        with evil_iotlb(sock, bufs=(QUEUE_SIZE + GOOD_TX) * BUF_SIZE) as fe:
            fe.make_tx(GOOD_TX)
            fe.wait_completed(GOOD_TX)
            fe.make_tx(WAITING_TX)
            req = fe.iotlb_request()
            assert req is not None, "no IOTLB miss on the backend channel"
            assert req[5:] == (PERM_RO, 1) and req[2] == GPA_BASE + fe.tx.buf(GOOD_TX), req
            rest = BUF_AREA + (QUEUE_SIZE + GOOD_TX) * BUF_SIZE
            fe.iotlb_update(GPA_BASE + rest, (QUEUE_SIZE - GOOD_TX) * BUF_SIZE,
                            UVA_BASE + rest, PERM_RW)
            fe.iotlb_ack(0)
            fe.wait_completed(GOOD_TX + WAITING_TX)
            assert fe.send(EVIL_FRAMES_AFTER) == EVIL_FRAMES_AFTER
            assert fe.iotlb_request(timeout=0.2) is None, "a second miss"
        n = GOOD_TX + WAITING_TX + EVIL_FRAMES_AFTER
        assert wait_until(lambda: rx_packets(be) == n, 10), (
            "backend took %d frames, expected %d" % (rx_packets(be), n))
        assert (xstat(be, "iotlb_misses"), xstat(be, "iotlb_denied")) == (1, 0)
        assert count(be, "vring 1 stopped") == 0
    finally:
        dpdkapp.kill_all([be])


def test_vubackend_no_permission(log_dir, sock_dir, vub_plugin):
    """Tx buffers the frontend gives write-only: the device must read them, so the first
    frame is denied at once (no miss asked), the ring stops with its line, iotlb_denied 1,
    iotlb_misses 0; the process goes on."""
    sock = os.path.join(sock_dir, "iotlb-vub-perm.sock")
    be = vub_backend(log_dir, vub_plugin, sock, "iotlb-vub-perm")
    try:
        be.start_forwarding()
        since = be.output_len()
        with evil_iotlb(sock, bufs_perm=PERM_WO) as fe:
            fe.make_tx(1)
            be.wait_for_output(r"%s: vring 1 stopped: chain at descriptor 0, descriptor 0: "
                               r"buffer's IOTLB entry lacks the permission" % VUB_DEV, 10)
            assert fe.iotlb_request(timeout=0.2) is None, "a miss was asked"
            assert fe.completed() == 0
        assert (xstat(be, "iotlb_misses"), xstat(be, "iotlb_denied")) == (0, 1)
        after_denial(be, sock, 1, since)
    finally:
        dpdkapp.kill_all([be])
