# SPDX-License-Identifier: BSD-3-Clause
"""Integration tests: lossless reconnect with vhost-user INFLIGHT_SHMFD (issue 28, point 5).

    frontend  dpdk-testpmd -d librte_net_vuser.so --vdev virtio_user0,path=<sock>,server=1,
              packed_vq=0|1,in_order=0 in io forwarding: every frame it receives goes out
    backends  tests/lib/evil_backend.py --client, offering INFLIGHT_SHMFD or not: it
              delivers frames carrying a sequence number, takes the Tx buffers they come
              back in, completes some out of order and is killed with others in flight; the
              next one resubmits them from the region (split or packed layout);
              testpmd + net_vubackend (libvub) `client=1,inflight=1` as the next
              backend, resuming the region the scripted one filled; DPDK 22.11's net_vhost and
              net_virtio_user, to see what they offer and use

A frame is lost when no backend ever completes its Tx buffer, and doubled when two do:
the cases compare the sequence numbers of every Tx completion, across backends, with
those delivered.

    python3 -m pytest tests/integration/test_inflight.py -k out_of_order
"""

import re

import pytest

import dpdkapp
import vhostpeer
from dpdkapp import wait_until, wait_stable
from test_faults import APP_ARGS, Env, link, wait_ipackets
from test_vubackend import vubackend_plugin

CASE_TIMEOUT = 90

PF_MQ, PF_REPLY_ACK, PF_INFLIGHT_SHMFD, PF_STATUS = 0, 3, 12, 16
F_PROTOCOL_FEATURES, F_VERSION_1, F_RING_PACKED = 30, 32, 34
# no IN_ORDER: completing buffers out of order is legal then
FEATURES = (1 << F_VERSION_1) | (1 << F_PROTOCOL_FEATURES)
PACKED_FEATURES = FEATURES | (1 << F_RING_PACKED)
PF_TRACKED = (1 << PF_MQ) | (1 << PF_REPLY_ACK) | (1 << PF_INFLIGHT_SHMFD)
PF_UNTRACKED = (1 << PF_MQ) | (1 << PF_REPLY_ACK)
LAYOUT = ",packed_vq=%d,in_order=0,mrg_rxbuf=0"
# the two ring layouts, each tracked in its own region layout
RINGS = pytest.mark.parametrize("packed", [False, True], ids=["split", "packed"])
FRAMES = 16
BURST = 32          # testpmd's --burst (APP_ARGS): what `start tx_first 1` sends
# DPDK 22.11's frontend (drivers/net/virtio/virtio_user/vhost_user.c) asks for these only
DPDK_FRONTEND_PF = (1 << PF_MQ) | (1 << PF_REPLY_ACK) | (1 << PF_STATUS)


def backend(env, pf, packed=False):
    features = PACKED_FEATURES if packed else FEATURES
    be = env.evil(["--client", "--features", hex(features), "--protocol-features", hex(pf)])
    be.cmd("wait_ready 15")
    return be


def negotiated_pf(be):
    m = re.search(r"^ok features 0x[0-9a-f]+ protocol 0x([0-9a-f]+)$", be.cmd("features"))
    assert m, "no features answer"
    return int(m.group(1), 16)


def tags(answer, cmd):
    """The sequence numbers a tx_complete / tx_tags answer lists."""
    words = answer.split()
    assert words[:2] == ["ok", cmd], answer
    nums = words[3:] if cmd == "tx_tags" else words[2:]
    return [int(w) for w in nums if w != "-"]


def frontend_up(env, packed=False):
    fe = env.frontend(LAYOUT % packed, mode="io", server=True)
    fe.wait_ready(30)
    fe.assert_driver("net_vuser")
    fe.start_forwarding()
    return fe


def first_round(env, fe, pf, complete, packed=False):
    """A backend delivers FRAMES tagged frames, takes the FRAMES Tx buffers they come back
    in, completes those at `complete` (positions in its order of taking) and is killed
    with the others in flight. Returns the tags it completed."""
    a = backend(env, pf, packed)
    wait_until(lambda: link(fe) == "UP", 5, interval=0.05, what="link up")
    assert negotiated_pf(a) == pf, "protocol features 0x%x, offered 0x%x" % (
        negotiated_pf(a), pf)
    assert a.cmd("rx_tagged %d 0" % FRAMES) == "ok rx_tagged %d" % FRAMES
    wait_ipackets(env, fe, FRAMES)
    assert a.cmd("tx_take %d" % FRAMES) == "ok tx_take %d" % FRAMES
    done = tags(a.cmd("tx_complete " + " ".join(str(k) for k in complete)), "tx_complete")
    assert len(done) == len(complete)
    a.kill()
    wait_until(lambda: link(fe) == "DOWN", 3, interval=0.05, what="link down")
    return done


def second_round(env, fe, pf, done_before, packed=False):
    """The next backend: every frame the first one left in flight completes once, none
    twice; then FRAMES more go through it, counted exactly."""
    b = backend(env, pf, packed)
    wait_until(lambda: link(fe) == "UP", 5, interval=0.05, what="link up")
    got = tags(b.cmd("tx_tags 0.5"), "tx_tags")
    every = sorted(done_before + got)
    assert every == list(range(FRAMES)), (
        "Tx completions across the reconnect: first backend %s, second %s; lost %s, "
        "twice %s" % (done_before, got, sorted(set(range(FRAMES)) - set(every)),
                      sorted({t for t in every if every.count(t) > 1})))
    assert b.cmd("rx_tagged %d %d" % (FRAMES, FRAMES)) == "ok rx_tagged %d" % FRAMES
    wait_ipackets(env, fe, 2 * FRAMES)
    got = tags(b.cmd("tx_tags 0.5"), "tx_tags")
    assert sorted(got) == list(range(FRAMES, 2 * FRAMES)), "after the reconnect: %s" % got
    s = fe.stats()
    assert (s["opackets"], s["oerrors"], s["ierrors"]) == (2 * FRAMES, 0, 0), s
    return b


@RINGS
def test_out_of_order_reconnect(env, packed):
    """INFLIGHT_SHMFD negotiated (as the backends saw it); the first backend completes
    every other Tx buffer, the later ones first, and dies with 8 in flight: the next one
    is handed the region (one line each way in the frontend's log) and resubmits those 8,
    and nothing is lost or doubled. Packed: the region has the packed layout's size."""
    fe = frontend_up(env, packed)
    complete = list(range(FRAMES - 1, 0, -2))   # 15, 13, ..., 1
    done = first_round(env, fe, PF_TRACKED, complete, packed)
    assert sorted(done) == list(range(1, FRAMES, 2)), done
    b = second_round(env, fe, PF_TRACKED, done, packed)
    assert negotiated_pf(b) == PF_TRACKED
    assert re.search(r"^ok inflight \d+ resubmitted=%d " % (FRAMES // 2), b.cmd("inflight"))
    out = fe.output()
    # 2 rings of 256: split 16 + 256 * 16, packed 32 + 256 * 32, each 64-byte aligned
    size = 2 * (8256 if packed else 4160)
    assert len(re.findall(r"inflight region of %d bytes from \S+ for 2 rings of 256" % size,
                          out)) == 1
    assert len(re.findall(r"inflight region of %d bytes handed to" % size, out)) == 1


@RINGS
def test_resumed_by_libvub(env, packed):
    """Two implementations of the region's layout: the scripted backend dies with 8 Tx
    buffers in flight (completed 15, 13, ..., 1), and net_vubackend (libvub) is handed
    its region: it resubmits exactly those 8 (its `resubmits 8` line), which arrive once
    each (ipackets 8, still 8 once settled); then a burst it sends comes back through the
    frontend's io forwarding, counted exactly on both sides."""
    plugin = dpdkapp.stage_plugin(vubackend_plugin())
    try:
        fe = frontend_up(env, packed)
        done = first_round(env, fe, PF_TRACKED, list(range(FRAMES - 1, 0, -2)), packed)
        assert sorted(done) == list(range(1, FRAMES, 2)), done
        be = dpdkapp.Testpmd("%s-vubackend" % env.case, env.log_dir,
                             vdevs=["net_vubackend0,iface=%s,client=1,inflight=1" % env.sock()],
                             plugins=[plugin], interactive=True, lcores="0,1", main_lcore=0,
                             log_levels=["pmd.net.vubackend:info"],
                             app_args=["--forward-mode=rxonly"] + APP_ARGS)
        env.apps.append(be)
        be.start()
        be.wait_ready()
        wait_until(lambda: link(fe) == "UP", 10, interval=0.05, what="link up")
        be.wait_for_output(r"vring 1 resubmits %d buffers left in flight" % (FRAMES // 2))
        f0 = fe.stats()
        be.run("start")
        got = wait_stable(lambda: be.stats()["ipackets"], 10, settle=1.0,
                          until=lambda v: v >= FRAMES // 2)
        assert got == FRAMES // 2, "libvub received %d frames of the 8 left in flight" % got
        be.run("stop")
        be.run("start tx_first 1")
        got = wait_stable(lambda: be.stats()["ipackets"], 10, settle=1.0,
                          until=lambda v: v >= FRAMES // 2 + BURST)
        be.run("stop")
        b, f = be.stats(), fe.stats()
        assert (b["ipackets"], b["opackets"]) == (FRAMES // 2 + BURST, BURST), b
        assert (f["ipackets"] - f0["ipackets"], f["opackets"] - f0["opackets"]) == (
            BURST, BURST), (f0, f)
        assert (f["ierrors"], f["oerrors"]) == (0, 0), f
        size = 2 * (8256 if packed else 4160)
        assert len(re.findall(r"inflight region of %d bytes handed to" % size,
                              fe.output())) == 1
        assert re.search(r"inflight region of %d bytes from the frontend" % size, be.output())
    finally:
        # the app keeps the plugin it loaded; the case's end kills it
        dpdkapp.unstage_plugin(plugin)


@RINGS
def test_in_order_reconnect_untracked(env, packed):
    """The fallback: a backend that does not offer INFLIGHT_SHMFD hears of no region, and
    one that completes in order loses nothing across a kill, resuming at the used index
    (packed: the used position the frontend reads from the ring)."""
    fe = frontend_up(env, packed)
    done = first_round(env, fe, PF_UNTRACKED, list(range(FRAMES // 2)), packed)
    assert done == list(range(FRAMES // 2)), done
    b = second_round(env, fe, PF_UNTRACKED, done, packed)
    assert b.cmd("inflight") == "ok inflight 0 resubmitted=0"
    assert "inflight region" not in fe.output()


def test_dpdk_peers(env, vhost_backends, frontends, sock_dir):
    """What DPDK 22.11 does with INFLIGHT_SHMFD: net_vhost does not offer it (our
    frontend's line names what it offered), so nothing is asked and traffic runs as
    before; DPDK's net_virtio_user does not take it from a backend that offers it."""
    be = vhost_backends.own_listener("%s/inflight-vhost.sock" % sock_dir)
    fe = frontends("inflight-frontend", "vuser", "path=%s,packed_vq=0" % be.sock,
                   vhostpeer.app_args(), log_levels=["pmd.net.vuser:info"])
    try:
        fe.wait_ready(30)
        fe.assert_driver("net_vuser")
        vhostpeer.enable_tx_retry(fe, vhostpeer.SINK)
        wait_until(lambda: link(fe) == "UP", 5, interval=0.05, what="link up")
        m = re.findall(r"protocol features 0x([0-9a-f]+) \(offered 0x([0-9a-f]+)\)",
                       fe.output())
        assert len(m) == 1, "handshake lines: %s" % m
        taken, offered = (int(v, 16) for v in m[0])
        assert not offered & (1 << PF_INFLIGHT_SHMFD), "net_vhost offers 0x%x" % offered
        assert not taken & (1 << PF_INFLIGHT_SHMFD)
        assert "inflight region" not in fe.output()
        for sender, receiver in ((fe, be), (be, fe)):
            _s, _r, bad = vhostpeer.send_counted(sender, receiver, 2)
            assert not bad, "; ".join(bad)
    finally:
        vhost_backends.discard(be)

    evil = env.evil(["--features", hex(FEATURES), "--protocol-features",
                     hex(PF_TRACKED | (1 << PF_STATUS))])
    dpdk = frontends("inflight-dpdk", "dpdk", "path=%s,packed_vq=0" % env.sock(),
                     vhostpeer.app_args())
    dpdk.wait_ready(30)
    evil.cmd("wait_ready 15")
    pf = negotiated_pf(evil)
    assert pf == DPDK_FRONTEND_PF, "net_virtio_user took 0x%x" % pf
    assert evil.cmd("inflight") == "ok inflight 0 resubmitted=0"
    dpdkapp.kill_all([dpdk])


@pytest.fixture(scope="module")
def module_env(log_dir, request):
    env = Env(log_dir, request.config.getoption("verbose") > 0)
    yield env
    env.cleanup()
