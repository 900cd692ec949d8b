# SPDX-License-Identifier: BSD-3-Clause
"""Integration tests: port configurations DPDK's net_virtio_user takes, against net_vhost.

    backend   dpdk-testpmd --vdev net_vhost0,iface=<sock>,queues=N     (server, rxonly)
    frontend  dpdk-testpmd --vdev virtio_user0,path=<sock>,<devargs> -- <options>

Each group runs one backend+frontend pair; every exchange counts exactly on both sides
(imissed/ierrors/oerrors/rx_nombuf 0).  What DPDK 22.11's net_virtio_user does with the
same command lines (VUSER_FRONTEND=dpdk runs this file with it) is what is asked here:

  rxd1024_<path>   every data path of test_datapath_matrix.py with the default
                   queue_size and `--rxd=1024 --txd=1024`: the port starts (DPDK's
                   driver uses its 256-entry ring for a larger request), one INFO line
                   says "ring size 256 (queue_size): tx queue 0 asked for 1024
                   descriptors, uses 256" (vuser), frontend Tx, frontend Rx and the
                   loopback count exactly
  rxd64_<layout>   `--rxd=64 --txd=64`, fewer than the ring: the line says "uses 64";
                   16 bursts each way with testpmd's Tx retry, 1-burst loopbacks, exact
  rxd2_<layout>    `--rxd=2 --txd=2` (vuser only: DPDK's driver takes no fewer than 32):
                   512 packets each way with Tx retry through 2 buffers, so the 256
                   ring slots go round twice (packed rings once stopped at a slot not
                   posted in this lap, taking it for a corrupt ring)
  queue_size_1024  `queue_size=1024` with `--rxd=1024 --txd=1024`: a ring of 1024
  queues2          `queues=2` without `cq`: the control queue comes on by itself (as in
                   DPDK), 2 pairs carry 64 packets each way
  queues2_cq0      `queues=2,cq=0`: the probe fails (DPDK: "multi-q requires ctrl-q";
                   vuser: "cq=0: queues=2 needs the control queue"), no port
  deferred_start   `port 0 rxq 0 deferred_start on` (then txq): the queue set-up refuses
                   with a line, as DPDK's driver does; without it the port starts and
                   counts exactly
  lro_<path>       `--rx-offloads=0x10` (TCP_LRO): the port starts on every path (as with
                   DPDK's driver); with mrg_rxbuf=0 vuser does not negotiate GUEST_TSO4/6
                   and says so in one line, with mrg_rxbuf=1 it negotiates them;
                   frontend Rx and loopback exact

VUSER_PLUGIN overrides the plugin path.  Logs: results/integration-port_config/.

Each case is a pytest test named 'group/case' (docs/testing.md):

    python3 -m pytest tests/integration/test_port_config.py -k 'queues2/'
"""

import re

import pytest

from dpdkapp import mismatches, settle_all
from pairs import (
    BURST, LINK_TIMEOUT, PKT_LEN, Group, Skip, backend_features, check_driver, group_params)
from test_datapath_matrix import (
    DATAPATHS, Pair, exchange_frontend_rx, exchange_frontend_tx, exchange_loopback)
from test_multiqueue import (
    MqPair, assert_backend_queue_pairs, mq_frontend_rx, mq_frontend_tx, mq_loopback)

F_GUEST_TSO4 = 7
F_GUEST_TSO6 = 8
DEFAULT_RING = 256
RING_LINE = r"VUSER: \S+: ring size (\d+) \(queue_size\): (rx|tx) queue \d+ asked for " \
            r"(\d+) descriptors, uses (\d+)"
LRO_LINE = (r"VUSER: \S+: Rx offload TCP_LRO: mrg_rxbuf=0, so GUEST_TSO4/6 are not "
            r"negotiated and the port runs without LRO")
MBUFS = 4096
RETRY_BURSTS = 16
RETRY_WAIT_US = 1000000             # per burst: other apps share the CPUs (16 s at most)
DPDK_NB_MIN = 32                    # DPDK's virtio takes no fewer descriptors


def start_pair(env, tag, devargs, app_args, queues=1):
    sock = env.sock("%s.sock" % tag)
    be = env.backend("backend", [sock], queues=queues,
                     app_args=["--rxq=%d" % queues, "--txq=%d" % queues], mbufs=MBUFS)
    fe = env.frontend("frontend", [env.fe.vdev(path=sock, **devargs)],
                      app_args=app_args, mbufs=MBUFS)
    # testpmd has configured and started the port by its first prompt
    bad = [ln for ln in fe.output().splitlines()
           if re.search(r"Fail|Invalid value|doesn't match", ln)]
    assert not bad, "the frontend port did not start: %s" % bad
    be.wait_link_up(timeout=LINK_TIMEOUT)
    fe.wait_link_up(timeout=LINK_TIMEOUT)
    check_driver(env, fe)
    return Pair(tag, dict(devargs), be, fe, sock)


# ---- ring size


def ring_setup(tag, devargs, nb_desc):
    def setup(env):
        if nb_desc < DPDK_NB_MIN and not env.fe.is_vuser:
            raise Skip("DPDK's net_virtio_user takes at least %d descriptors" % DPDK_NB_MIN)
        p = start_pair(env, tag, devargs, ["--rxd=%d" % nb_desc, "--txd=%d" % nb_desc])
        p.nb_desc = nb_desc
        p.ring = int(devargs.get("queue_size", DEFAULT_RING))
        return p
    return setup


def case_ring_line(env, p):
    """one INFO line: the ring size and what the first queue asked for and uses"""
    if not env.fe.is_vuser:
        raise Skip("the ring size line is net_vuser's")
    lines = re.findall(RING_LINE, p.fe.output())
    env.log("ring lines: %s" % lines)
    assert len(lines) == 1, "expected exactly one 'ring size' line, got %s" % lines
    ring, _, asked, used = (int(x) if x.isdigit() else x for x in lines[0])
    want = (p.ring, p.nb_desc, min(p.nb_desc, p.ring))
    assert (ring, asked, used) == want, (
        "ring line says ring %d, asked %d, uses %d; expected %s" % (ring, asked, used, want))


def case_frontend_tx(env, p):
    """frontend tx_first 4 -> backend: exactly 128 x 64 bytes"""
    exchange_frontend_tx(p)


def case_frontend_rx(env, p):
    """backend tx_first 4 -> frontend: exactly 128 x 64 bytes"""
    exchange_frontend_rx(p)


def retry_exchange(tx, rx, bursts):
    """`tx` sends `bursts` bursts with testpmd's Tx retry (up to RETRY_WAIT_US per
    burst while the peer's ring is full), `rx` receives: exact counts both sides."""
    n = bursts * BURST
    t0, r0 = tx.stats(), rx.stats()
    for line in ("set burst tx delay 100 retry %d" % (RETRY_WAIT_US // 100),
                 "set fwd io retry"):
        out = tx.run(line)
        assert "Bad arguments" not in out, "testpmd refused %r: %s" % (line, out.strip())
    rx.run("start")
    try:
        tx.run("start tx_first %d" % bursts)
        t, r = settle_all([(tx, 0, t0, "opackets", n), (rx, 0, r0, "ipackets", n)])
    finally:
        tx.run("stop")
        rx.run("stop")
        tx.run("set fwd rxonly")
    byt = n * PKT_LEN
    bad = (mismatches(tx.name, t, opackets=n, obytes=byt, ipackets=0)
           + mismatches(rx.name, r, ipackets=n, ibytes=byt, opackets=0))
    assert not bad, "counters wrong: %s" % ", ".join(bad)


def case_tx_retry(env, p):
    """frontend tx_first 16 with Tx retry -> backend: exactly 512 x 64 bytes"""
    # 512 packets through a ring of few descriptors: its 256 slots go round twice
    retry_exchange(p.fe, p.be, RETRY_BURSTS)


def case_rx_retry(env, p):
    """backend tx_first 16 with Tx retry -> frontend: exactly 512 x 64 bytes"""
    retry_exchange(p.be, p.fe, RETRY_BURSTS)


def case_loopback(env, p):
    """backend -> frontend io forward -> backend: 128 each way"""
    exchange_loopback(p)


def case_loopback1(env, p):
    """backend -> frontend io forward -> backend: 32 each way, three times"""
    for _ in range(3):
        exchange_loopback(p, bursts=1)


def case_clean_exit(env, p):
    """both apps quit with exit code 0"""
    env.stop_checked()


# ---- queues and cq


def mq_setup(env):
    sock = env.sock("queues2.sock")
    be = env.backend("backend", [sock], queues=2, app_args=["--rxq=2", "--txq=2"],
                     mbufs=MBUFS)
    fe = env.frontend("frontend", [env.fe.vdev(path=sock, queues=2)],
                      app_args=["--rxq=2", "--txq=2"], mbufs=MBUFS)
    be.wait_link_up(timeout=LINK_TIMEOUT)
    fe.wait_link_up(timeout=LINK_TIMEOUT)
    check_driver(env, fe)
    p = MqPair(be, fe, 2, {}, sock)
    p.max_q = 2
    return p


def case_mq_features(env, p):
    """queues=2 without cq: net_vhost asked for 2 pairs (protocol MQ, 4 rings enabled)"""
    assert_backend_queue_pairs(p)


def case_mq_traffic(env, p):
    """64 packets on each of 2 queues: frontend Tx, frontend Rx, loopback"""
    mq_frontend_tx(p)
    mq_frontend_rx(p)
    mq_loopback(p)


def cq0_setup(env):
    sock = env.sock("queues2_cq0.sock")
    be = env.backend("backend", [sock], queues=2, app_args=["--rxq=2", "--txq=2"])
    p = MqPair(be, None, 2, dict(queues=2, cq=0))
    p.sock = sock
    return p


def case_cq0_refused(env, p):
    """queues=2,cq=0: the probe fails with a line saying why, no port"""
    fe = p.fe = env.frontend("frontend", [env.fe.vdev(path=p.sock, **p.devargs)],
                             expect_ports=0)
    out = fe.output()
    if env.fe.is_vuser:
        want = r"VUSER: \S+: invalid devargs: cq=0: queues=2 needs the control queue"
    else:
        want = r"multi-q requires ctrl-q"
    assert re.search(want, out), "no line matching /%s/ in the frontend output" % want
    assert "No probed ethernet devices" in out, "testpmd did not report no ports"
    fe.stop(timeout=10)
    assert fe.returncode == 0, "frontend exit code %s" % fe.returncode
    p.fe = None


# ---- refusals at queue set-up


def case_deferred_start(env, p):
    """deferred queue start: refused at queue set-up with a line, then the port works"""
    # No queue start op: a deferred queue would never start. DPDK's driver refuses it too.
    fe = p.fe
    fe.run("port stop 0")
    for kind in ("rx", "tx"):
        fe.run("port 0 %sq 0 deferred_start on" % kind)
        out = fe.run("port start 0")
        fe.run("port 0 %sq 0 deferred_start off" % kind)
        if env.fe.is_vuser:
            want = r"VUSER: \S+: %s queue 0: deferred start is not supported" % kind
        else:
            want = r"%s deferred start is not supported" % kind.capitalize()
        assert re.search(want, out), "no line /%s/ at port start: %s" % (want, out.strip())
        assert "Fail to configure port 0 %s queues" % kind in out, (
            "testpmd did not see the refusal: %s" % out.strip())
    out = fe.run("port start 0")
    assert "Fail" not in out, "port start without deferred start failed: %s" % out.strip()
    fe.wait_link_up(timeout=LINK_TIMEOUT)
    exchange_frontend_tx(p)
    exchange_frontend_rx(p)


# ---- LRO


def case_lro_features(env, p):
    """GUEST_TSO4/6 negotiated exactly with mrg_rxbuf=1; mrg_rxbuf=0 says why not, once"""
    if not env.fe.is_vuser:
        raise Skip("the LRO line is net_vuser's")
    # what net_vhost was asked (SET_FEATURES), not what the frontend says it asked
    got = backend_features(p.be, p.sock)
    assert got, "net_vhost logged no 'negotiated Virtio features' for %s" % p.sock
    feats = got[-1]
    tso = (1 << F_GUEST_TSO4) | (1 << F_GUEST_TSO6)
    said = re.findall(LRO_LINE, p.fe.output())
    if p.devargs["mrg_rxbuf"]:
        assert feats & tso == tso, "mrg_rxbuf=1 + LRO: GUEST_TSO4/6 not in 0x%x" % feats
        assert not said, "mrg_rxbuf=1: the LRO line should not show: %s" % said
    else:
        assert not feats & tso, "mrg_rxbuf=0: GUEST_TSO4/6 negotiated (0x%x)" % feats
        assert len(said) == 1, "expected one line /%s/, got %d" % (LRO_LINE, len(said))


def lro_setup(tag, devargs):
    def setup(env):
        return start_pair(env, tag, devargs, ["--rx-offloads=0x10"])
    return setup


# ---- groups

RING_CASES = [("ring_line", case_ring_line), ("frontend_tx", case_frontend_tx),
              ("frontend_rx", case_frontend_rx), ("loopback", case_loopback),
              ("clean_exit", case_clean_exit)]
SMALL_RING_CASES = [("ring_line", case_ring_line), ("frontend_tx", case_tx_retry),
                    ("frontend_rx", case_rx_retry), ("loopback", case_loopback1),
                    ("clean_exit", case_clean_exit)]
TINY_RING_CASES = [("ring_line", case_ring_line), ("frontend_tx", case_tx_retry),
                   ("frontend_rx", case_rx_retry), ("clean_exit", case_clean_exit)]
LRO_PATHS = ("split", "packed", "split_vec", "packed_vec", "split_inorder_mrg")


def build_groups():
    paths = dict(DATAPATHS)
    groups = [Group("rxd1024_%s" % dp, ring_setup("rxd1024_%s" % dp, da, 1024), RING_CASES)
              for dp, da in DATAPATHS]
    for layout in ("split", "packed"):
        tag = "rxd64_%s" % layout
        groups.append(Group(tag, ring_setup(tag, paths[layout], 64), SMALL_RING_CASES))
    for layout in ("split", "packed", "packed_mrg"):
        tag = "rxd2_%s" % layout
        groups.append(Group(tag, ring_setup(tag, paths[layout], 2), TINY_RING_CASES))
    groups.append(Group("queue_size_1024",
                        ring_setup("queue_size_1024", dict(paths["split_inorder_mrg"],
                                                           queue_size=1024), 1024),
                        RING_CASES))
    groups.append(Group("queues2", mq_setup,
                        [("features", case_mq_features), ("traffic", case_mq_traffic),
                         ("clean_exit", case_clean_exit)]))
    groups.append(Group("queues2_cq0", cq0_setup,
                        [("refused", case_cq0_refused), ("clean_exit", case_clean_exit)]))
    groups.append(Group("deferred_start", ring_setup("deferred_start", paths["split"], 256),
                        [("refused", case_deferred_start), ("clean_exit", case_clean_exit)]))
    for dp in LRO_PATHS:
        tag = "lro_%s" % dp
        groups.append(Group(tag, lro_setup(tag, paths[dp]),
                            [("features", case_lro_features),
                             ("frontend_rx", case_frontend_rx), ("loopback", case_loopback),
                             ("clean_exit", case_clean_exit)]))
    return groups


GROUPS = build_groups()


@pytest.mark.parametrize("group,case", **group_params(GROUPS))
def test_port_config(group_runner, group, case):
    group_runner.run(group, case)
