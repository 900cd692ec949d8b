# SPDX-License-Identifier: BSD-3-Clause
"""Integration tests: multi-queue (queues=2, queues=4) against DPDK's net_vhost.

    backend   dpdk-testpmd --vdev net_vhost0,iface=<sock>,queues=N -- --rxq=N --txq=N
    frontend  dpdk-testpmd --vdev virtio_user0,path=<sock>,queues=N,cq=1,<data path>
                           -- --rxq=N --txq=N

queues=N,cq=1 is the command line DPDK's virtio_user takes for N queue pairs (it refuses
queues>1 without the control queue, which carries VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET).

Groups (one pair each) for split and packed rings with 2 and 4 queue pairs:

    features     net_vhost was asked for N queue pairs (its own log lines): the protocol
                 feature MQ negotiated, all 2N rings enabled
    frontend_tx  frontend `start tx_first 2` sends 2 bursts on each of its N Tx queues:
                 backend q_ipackets == [64]*N and frontend q_opackets == [64]*N
    frontend_rx  backend `start tx_first 2`: frontend q_ipackets == [64]*N
    loopback     backend tx_first -> frontend io forward (Rx queue q -> Tx queue q) ->
                 backend: every queue counter of both sides == 64
    clean_exit   both apps quit with exit code 0

and a reconfiguration group: the frontend probes with queues=4,cq=1 and starts with
--rxq=1 --txq=1; then both sides go 1 -> 4 -> 2 -> 1 queue pairs with `port stop all`,
`port config all rxq/txq K`, `port start all`; after each step the frontend sends one
burst per queue (backend q_ipackets == [32]*K) and the loopback moves 32 per queue.

Per-queue counters come from telemetry /ethdev/stats,0 (q_ipackets, q_opackets).  While
multi-queue has not landed, the probe refuses queues>1 and every case fails with
'NOT LANDED (multi-queue)' and the probe's line.

VUSER_FRONTEND=dpdk runs the same with DPDK's own net_virtio_user (checks the harness).
Logs: results/integration-multiqueue/.

Each case is a pytest test named 'group/case' (docs/testing.md):

    python3 -m pytest tests/integration/test_multiqueue.py -k 'split_q2/'
"""

import pytest

from dpdkapp import settle_all
from pairs import (
    BURST, LINK_TIMEOUT, PKT_LEN, Group, backend_enabled_rings, backend_protocol_features,
    check_both, check_driver, check_queues, group_params)

PF_MQ = 0                       # VHOST_USER_PROTOCOL_F_MQ
BURSTS = 2                      # per queue: 64 packets
MAX_QUEUES = 4
MBUFS = 4096                    # 4 Rx rings of 256 posted + Tx in flight + forwarding


class MqPair:
    def __init__(self, be, fe, nq, devargs, sock=None):
        self.be, self.fe, self.nq, self.devargs, self.sock = be, fe, nq, devargs, sock


DATAPATHS = {
    "split": dict(packed_vq=0, in_order=1, mrg_rxbuf=1),     # DPDK's defaults
    "packed": dict(packed_vq=1, in_order=0, mrg_rxbuf=1),
}


def queue_args(n):
    return ["--rxq=%d" % n, "--txq=%d" % n]


def make_setup(tag, layout, nq, start_q=None):
    """Backend with net_vhost queues=nq; frontend queues=nq,cq=1; both
    testpmds start with start_q (default nq) queue pairs."""
    start_q = start_q or nq
    devargs = DATAPATHS[layout]

    def setup(env):
        sock = env.sock("%s.sock" % tag)
        be = env.backend("backend", [sock], queues=nq, app_args=queue_args(start_q),
                         mbufs=MBUFS)
        fe = env.frontend("frontend",
                          [env.fe.vdev(path=sock, queues=nq, cq=1, **devargs)],
                          app_args=queue_args(start_q), mbufs=MBUFS)
        be.wait_link_up(timeout=LINK_TIMEOUT)
        fe.wait_link_up(timeout=LINK_TIMEOUT)
        check_driver(env, fe)
        p = MqPair(be, fe, start_q, devargs, sock)
        p.max_q = nq
        return p
    return setup


# ---- exchanges on every queue (each leaves both sides stopped and rxonly)


def per_queue(n, nq, total_q):
    return [n] * nq + [0] * (total_q - nq)


def mq_frontend_tx(p, bursts=BURSTS):
    be, fe, nq = p.be, p.fe, p.nq
    n = bursts * BURST
    b0, f0 = be.stats(), fe.stats()
    be.run("start")
    try:
        fe.run("start tx_first %d" % bursts)
        b, f = settle_all([(be, 0, b0, "ipackets", n * nq),
                           (fe, 0, f0, "opackets", n * nq)])
    finally:
        fe.run("stop")
        be.run("stop")
    check_both(b, dict(ipackets=n * nq, ibytes=n * nq * PKT_LEN, opackets=0),
               f, dict(opackets=n * nq, obytes=n * nq * PKT_LEN, ipackets=0))
    check_queues("backend", b, "q_ipackets", per_queue(n, nq, p.max_q))
    check_queues("frontend", f, "q_opackets", per_queue(n, nq, p.max_q))


def mq_frontend_rx(p, bursts=BURSTS):
    be, fe, nq = p.be, p.fe, p.nq
    n = bursts * BURST
    b0, f0 = be.stats(), fe.stats()
    fe.run("start")
    try:
        be.run("start tx_first %d" % bursts)
        f, b = settle_all([(fe, 0, f0, "ipackets", n * nq),
                           (be, 0, b0, "opackets", n * nq)])
    finally:
        be.run("stop")
        fe.run("stop")
    check_both(b, dict(opackets=n * nq, obytes=n * nq * PKT_LEN, ipackets=0),
               f, dict(ipackets=n * nq, ibytes=n * nq * PKT_LEN, opackets=0))
    check_queues("backend", b, "q_opackets", per_queue(n, nq, p.max_q))
    check_queues("frontend", f, "q_ipackets", per_queue(n, nq, p.max_q))


def mq_loopback(p, bursts=BURSTS):
    be, fe, nq = p.be, p.fe, p.nq
    n = bursts * BURST
    b0, f0 = be.stats(), fe.stats()
    fe.run("set fwd io")
    fe.run("start")
    try:
        be.run("start tx_first %d" % bursts)
        b, f = settle_all([(be, 0, b0, "ipackets", n * nq),
                           (fe, 0, f0, "opackets", n * nq)])
    finally:
        be.run("stop")
        fe.run("stop")
        fe.run("set fwd rxonly")
    tot, byt = n * nq, n * nq * PKT_LEN
    check_both(b, dict(opackets=tot, ipackets=tot, obytes=byt, ibytes=byt),
               f, dict(ipackets=tot, opackets=tot, ibytes=byt, obytes=byt))
    for side, d in (("backend", b), ("frontend", f)):
        for key in ("q_ipackets", "q_opackets"):
            check_queues(side, d, key, per_queue(n, nq, p.max_q))


# ---- cases


def case_features(env, p):
    """net_vhost was asked for N queue pairs: protocol feature MQ, every ring enabled"""
    assert_backend_queue_pairs(p)


def assert_backend_queue_pairs(p):
    """What the backend received (its own log lines), not what the frontend says it did.
    VIRTIO_NET_F_MQ and CTRL_VQ stay between the driver and net_vuser's in-process
    device; on vhost-user, queue pairs are the protocol feature MQ and SET_VRING_ENABLE."""
    pf = backend_protocol_features(p.be, p.sock)
    assert pf and pf[-1] & (1 << PF_MQ), (
        "net_vhost got protocol features %s, without MQ (bit %d)" % (
            ["0x%x" % f for f in pf], PF_MQ))
    rings = backend_enabled_rings(p.be, p.sock)
    want = set(range(2 * p.max_q))
    assert want <= rings, "net_vhost was told to enable rings %s, not %s" % (
        sorted(rings), sorted(want - rings))


def case_frontend_tx(env, p):
    """frontend tx_first 2 on every Tx queue: backend gets 64 on every Rx queue"""
    mq_frontend_tx(p)


def case_frontend_rx(env, p):
    """backend tx_first 2 on every Tx queue: frontend gets 64 on every Rx queue"""
    mq_frontend_rx(p)


def case_loopback(env, p):
    """backend -> frontend io forward -> backend: 64 on every queue, both sides"""
    mq_loopback(p)


def case_clean_exit(env, p):
    """both apps quit with exit code 0"""
    env.stop_checked()


def reconfigure(app, nq):
    """port stop all / port config all rxq+txq / port start all."""
    out = app.run("port stop all")
    out += app.run("port config all rxq %d" % nq)
    out += app.run("port config all txq %d" % nq)
    out += app.run("port start all")
    bad = [ln for ln in out.splitlines() if "Fail" in ln or "rror" in ln or "nvalid" in ln]
    assert not bad, "%s: reconfiguring to %d queue pairs: %s" % (app.name, nq, bad)


def case_reconfig(env, p):
    """queues=4,cq=1 started with 1 pair; 1 -> 4 -> 2 -> 1 pairs, traffic on each queue"""
    mq_frontend_tx(p, bursts=1)
    for nq in (4, 2, 1):
        # frontend first: its stop resets the device and stops the backend's rings
        p.fe.run("port stop all")
        reconfigure(p.be, nq)
        reconfigure(p.fe, nq)
        p.be.wait_link_up(timeout=LINK_TIMEOUT)
        p.fe.wait_link_up(timeout=LINK_TIMEOUT)
        p.nq = nq
        try:
            mq_frontend_tx(p, bursts=1)
            mq_loopback(p, bursts=1)
        except AssertionError as e:
            raise AssertionError("with %d queue pairs: %s" % (nq, e))


def build_groups():
    groups = []
    for layout in ("split", "packed"):
        for nq in (2, 4):
            tag = "%s_q%d" % (layout, nq)
            cases = [("features", case_features), ("frontend_tx", case_frontend_tx),
                     ("frontend_rx", case_frontend_rx), ("loopback", case_loopback),
                     ("clean_exit", case_clean_exit)]
            groups.append(Group(tag, make_setup(tag, layout, nq), cases, timeout=180))
    groups.append(Group("reconfig", make_setup("reconfig", "split", MAX_QUEUES, start_q=1),
                        [("queues_1_4_2_1", case_reconfig), ("clean_exit", case_clean_exit)],
                        timeout=240))
    return groups


GROUPS = build_groups()


@pytest.mark.parametrize("group,case", **group_params(GROUPS))
def test_multiqueue(group_runner, group, case):
    group_runner.run(group, case)
