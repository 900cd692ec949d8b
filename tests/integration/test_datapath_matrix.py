# SPDX-License-Identifier: BSD-3-Clause
"""Integration matrix: every data path of the frontend against DPDK's net_vhost.

    backend   dpdk-testpmd --vdev net_vhost0,iface=<sock>,queues=1     (server, rxonly)
    frontend  dpdk-testpmd --vdev virtio_user0,path=<sock>,<data path>  (client)

Data paths (devargs always given in full; DPDK's defaults are mrg_rxbuf=1,in_order=1):

    split              packed_vq=0,in_order=0,mrg_rxbuf=0
    split_inorder      packed_vq=0,in_order=1,mrg_rxbuf=0
    split_mrg          packed_vq=0,in_order=0,mrg_rxbuf=1
    split_inorder_mrg  packed_vq=0,in_order=1,mrg_rxbuf=1   (DPDK's default command line)
    packed, packed_inorder, packed_mrg, packed_inorder_mrg  (the same with packed_vq=1)
    split_vec          packed_vq=0,in_order=1,mrg_rxbuf=0,vectorized=1
    packed_vec         packed_vq=1,in_order=1,mrg_rxbuf=0,vectorized=1
                       (the combinations where DPDK's virtio has a vector path; the CPU
                       here has AVX512, so DPDK would pick it; any driver must at least
                       accept vectorized=1 and move the traffic right; net_vuser's SIMD
                       bursts need AVX2: on a CPU without it, the vectorized paths are
                       skipped, with the reason)

One backend+frontend pair per data path runs these cases in turn (a failing case tears
the pair down; the next case starts a fresh one):

    features       the SET_FEATURES net_vhost received (its "negotiated Virtio features"
                   line) has the ring-layout, in-order and mergeable bits exactly as the
                   devargs ask (net_vhost offers all three), VERSION_1, and, from net_vuser,
                   none of the bits its device keeps in-process (MAC, STATUS, MQ, control
                   queue)
    rx_path        (vectorized=1) net_vuser's line saying which bursts run names the
                   AVX2 Rx and Tx ones (packed) or the AVX2 Rx and scalar Tx (split)
    frontend_tx    frontend `start tx_first 4` -> backend rxonly: exactly 128 x 64 bytes
    frontend_rx    backend `start tx_first 4` -> frontend rxonly: exactly 128 x 64 bytes
    loopback       backend tx_first -> frontend io forward -> backend: 128 each way
    tx_multiseg    frontend `set txpkts 700,500,300` (3-segment mbufs, --tx-offloads
                   0x8000), twice one burst: backend gets exactly 2 x 32 x 1500 bytes
    tx_chain_alone frontend `set burst 1`, 2-segment mbufs (1000+500), `start tx_first
                   200` with testpmd's Tx retry: backend gets exactly 200 x 1500 bytes (600
                   descriptors through a 256-entry ring, one 3-descriptor chain per call)
    tx_mixed       frontend `set txsplit rand` over 2-segment mbufs (1000+500): bursts
                   mix one-descriptor packets and chains; twice 8 bursts with Tx retry:
                   backend gets exactly 256 packets and the bytes the frontend sent; then
                   exactly 128 x 64 bytes (the ring's accounting survived the mix)
    rx_large       backend sends 1500-byte frames; frontend gets exactly 64 x 1500 bytes;
                   with mrg_rxbuf=1 the frontend runs --mbuf-size=1024 (896 bytes of
                   data room), so every frame spans 2 Rx buffers (nb_segs=2 in testpmd's
                   verbose output); with mrg_rxbuf=0 each frame is one mbuf
    vhost_restart  backend `port stop 0` / `port start 0` twice: the frontend link is up
                   again and the exact-count loopback and frontend Tx work again
    small_mbuf_refused  (split and packed, mrg_rxbuf=0) a frontend with --mbuf-size=1024
                   cannot hold a 1500-MTU frame in one buffer: the Rx queue setup must
                   refuse it with a line naming the mbuf size and the MTU, and the port
                   stays down; `port config mtu 0 860` then lets it start and receive
                   exactly; going back to MTU 1500 is refused (docs/user-guide.md, MTU)
    clean_exit     both apps quit with exit code 0

Every count is exact, on both sides, and imissed/ierrors/oerrors/rx_nombuf stay 0.

A last group checks that DPDK's own command lines carry over (one backend, frontends in
turn, DPDK's defaults mrg_rxbuf=1,in_order=1):

    offload_parity  every Rx/Tx offload testpmd lists for DPDK's net_virtio_user against
                    this net_vhost is listed for vuser too (an application enabling one
                    of them would otherwise fail to configure the port)
    enable_scatter  `--mbuf-size=1024 --enable-scatter`, the command line DPDK's driver
                    needs for frames larger than one mbuf, starts the port and the
                    1500-byte frames arrive exactly, as 2-segment chains
    mtu_to_backend  `--max-pkt-len=9030` (MTU 9000): net_vhost's port shows MTU 9000
                    (VHOST_USER_NET_SET_MTU, read by net_vhost when the device comes up),
                    32 frames of 9000 bytes (5 segments) cross exactly; `port config mtu
                    0 1500` on the stopped port: the backend shows 1500 after the start

VUSER_FRONTEND=dpdk runs the same matrix with DPDK's own net_virtio_user (to check the
harness; the data-path line and mbuf-refusal cases are skipped there).  VUSER_PLUGIN
overrides the plugin path.  Logs: results/integration-datapath_matrix/.  The harness
(pairs, counters, the group runner) is tests/lib/pairs.py.

Each case is a pytest test named 'group/case' (docs/testing.md):

    python3 -m pytest tests/integration/test_datapath_matrix.py -k 'packed_mrg/ and rx_large'
"""

import re

import pytest

import dpdkapp
from dpdkapp import settle_all
from pairs import (
    BURST, F_IN_ORDER, F_MRG_RXBUF, F_RING_PACKED, F_VERSION_1, LINK_TIMEOUT, PKT_LEN,
    Frontend, Group, Skip, backend_features, check_both, check_driver, group_params)

# ==========================================================================
# the matrix
# ==========================================================================

NB_BURSTS = 4
PKTS = BURST * NB_BURSTS            # 128 packets per exchange
LARGE = 1500                        # frame length of the multi-segment / large cases
TX_SEGS = "700,500,300"             # 3 segments, 1500 bytes
TX_SEGS_2 = "1000,500"              # 2 segments, 1500 bytes
SMALL_MBUF = 1024                   # --mbuf-size: 1024 - 128 headroom = 896 bytes of data

DATAPATHS = [
    ("split", dict(packed_vq=0, in_order=0, mrg_rxbuf=0)),
    ("split_inorder", dict(packed_vq=0, in_order=1, mrg_rxbuf=0)),
    ("split_mrg", dict(packed_vq=0, in_order=0, mrg_rxbuf=1)),
    ("split_inorder_mrg", dict(packed_vq=0, in_order=1, mrg_rxbuf=1)),
    ("packed", dict(packed_vq=1, in_order=0, mrg_rxbuf=0)),
    ("packed_inorder", dict(packed_vq=1, in_order=1, mrg_rxbuf=0)),
    ("packed_mrg", dict(packed_vq=1, in_order=0, mrg_rxbuf=1)),
    ("packed_inorder_mrg", dict(packed_vq=1, in_order=1, mrg_rxbuf=1)),
    ("split_vec", dict(packed_vq=0, in_order=1, mrg_rxbuf=0, vectorized=1)),
    ("packed_vec", dict(packed_vq=1, in_order=1, mrg_rxbuf=0, vectorized=1)),
]
# the mbuf refusal does not depend on the layout's options: once per layout
REFUSAL_PATHS = ("split", "packed")


class Pair:
    def __init__(self, dp, devargs, be, fe, sock):
        self.dp, self.devargs, self.be, self.fe, self.sock = dp, devargs, be, fe, sock
        self.mrg = bool(devargs["mrg_rxbuf"])


def frontend_args(devargs, kind="vuser"):
    args = ["--tx-offloads=0x8000"]          # RTE_ETH_TX_OFFLOAD_MULTI_SEGS
    if devargs["mrg_rxbuf"]:
        args.append("--mbuf-size=%d" % SMALL_MBUF)
        if kind == "dpdk":
            # DPDK's virtio refuses frames larger than an mbuf without the Rx SCATTER
            # offload, even with mergeable buffers (vuser needs no such flag; that it
            # accepts it is checked by the dpdk_cmdline group)
            args.append("--enable-scatter")
    return args


def make_setup(dp, devargs):
    def setup(env):
        if devargs.get("vectorized") and not dpdkapp.host_has_avx2():
            # the group would test the scalar burst again, under the AVX2 one's name
            raise Skip("the CPU has no AVX2: the AVX2 Rx burst under test cannot run")
        sock = env.sock("%s.sock" % dp)
        be = env.backend("backend", [sock])
        fe = env.frontend("frontend", [env.fe.vdev(path=sock, **devargs)],
                          app_args=frontend_args(devargs, env.fe.kind))
        be.wait_link_up(timeout=LINK_TIMEOUT)
        fe.wait_link_up(timeout=LINK_TIMEOUT)
        check_driver(env, fe)
        return Pair(dp, devargs, be, fe, sock)
    return setup


# ---- exchanges (each leaves both sides stopped, rxonly, 64-byte frames)


def exchange_frontend_tx(p, bursts=NB_BURSTS, segs=None, length=PKT_LEN, burst=BURST,
                         retry=False, rand_split=False):
    """Frontend sends `bursts` bursts of `burst` packets.  With `retry`, testpmd's Tx
    retry makes the frontend wait for the backend when the ring is full instead of
    dropping: `set fwd io retry` (testpmd has no retry for rxonly, which never sends;
    tx_first's bursts retry in any mode that has it, and io forwards nothing here, as
    the backend only receives).  With `rand_split`, testpmd gives each packet a random
    number of the segments in `segs` (`set txsplit rand`), so that one burst mixes
    one-descriptor packets and chains; `length` is then (shortest, longest): the byte
    counts must be equal on both sides and lie strictly between n x shortest and
    n x longest (both kinds sent)."""
    be, fe = p.be, p.fe
    n = bursts * burst
    b0, f0 = be.stats(), fe.stats()
    be.run("start")
    if segs:
        fe.run("set txpkts %s" % segs)
    if rand_split:
        fe.run("set txsplit rand")
    if burst != BURST:
        fe.run("set burst %d" % burst)
    if retry:
        for line in ("set burst tx delay 100 retry 1000", "set fwd io retry"):
            out = fe.run(line)
            assert "Bad arguments" not in out, "testpmd refused %r: %s" % (line, out.strip())
    try:
        fe.run("start tx_first %d" % bursts)
        b, f = settle_all([(be, 0, b0, "ipackets", n), (fe, 0, f0, "opackets", n)])
    finally:
        fe.run("stop")
        be.run("stop")
        if segs:
            fe.run("set txpkts %d" % PKT_LEN)
        if rand_split:
            fe.run("set txsplit off")
        if burst != BURST:
            fe.run("set burst %d" % BURST)
        if retry:
            fe.run("set fwd rxonly")
    # A random mix: the bytes the frontend sent, judged after the counts.
    total = (f.get("obytes") or 0) if rand_split else n * length
    check_both(b, dict(ipackets=n, ibytes=total, opackets=0),
               f, dict(opackets=n, obytes=total, ipackets=0))
    if rand_split:
        shortest, longest = length
        assert n * shortest < total < n * longest, (
            "frontend sent %d bytes in %d packets: not a mix of %d- and %d-byte packets"
            % (total, n, shortest, longest))


def exchange_frontend_rx(p, bursts=NB_BURSTS, length=PKT_LEN, verbose=False):
    """Backend sends; returns the frontend output printed meanwhile."""
    be, fe = p.be, p.fe
    n = bursts * BURST
    b0, f0 = be.stats(), fe.stats()
    if length != PKT_LEN:
        be.run("set txpkts %d" % length)
    if verbose:
        fe.run("set verbose 1")
    since = fe.output_len()
    fe.run("start")
    try:
        be.run("start tx_first %d" % bursts)
        f, b = settle_all([(fe, 0, f0, "ipackets", n), (be, 0, b0, "opackets", n)])
    finally:
        be.run("stop")
        fe.run("stop")
        if verbose:
            fe.run("set verbose 0")
        if length != PKT_LEN:
            be.run("set txpkts %d" % PKT_LEN)
    out = fe.output()[since:]
    check_both(b, dict(opackets=n, obytes=n * length, ipackets=0),
               f, dict(ipackets=n, ibytes=n * length, opackets=0))
    return out


def exchange_loopback(p, bursts=NB_BURSTS):
    be, fe = p.be, p.fe
    n = bursts * BURST
    b0, f0 = be.stats(), fe.stats()
    fe.run("set fwd io")
    fe.run("start")
    try:
        be.run("start tx_first %d" % bursts)
        b, f = settle_all([(be, 0, b0, "ipackets", n), (fe, 0, f0, "opackets", n)])
    finally:
        be.run("stop")
        fe.run("stop")
        fe.run("set fwd rxonly")
    bytes_ = n * PKT_LEN
    check_both(b, dict(opackets=n, ipackets=n, obytes=bytes_, ibytes=bytes_),
               f, dict(ipackets=n, opackets=n, ibytes=bytes_, obytes=bytes_))


# ---- cases


# Bits net_vuser's device keeps in-process (virtio-user/vu_device.c): MAC, STATUS, the
# control queue and what it carries, MQ; never asked of the backend.
F_INPROCESS = {5: "MAC", 16: "STATUS", 17: "CTRL_VQ", 18: "CTRL_RX", 19: "CTRL_VLAN",
               22: "MQ", 23: "CTRL_MAC_ADDR"}


def case_features(env, p):
    """net_vhost was asked for the layout, in-order and mergeable bits the devargs name"""
    got = backend_features(p.be, p.sock)
    assert got, "net_vhost logged no 'negotiated Virtio features' for %s" % p.sock
    feats = got[-1]
    env.log("net_vhost negotiated 0x%x" % feats)
    wanted = {F_RING_PACKED: p.devargs["packed_vq"], F_IN_ORDER: p.devargs["in_order"],
              F_MRG_RXBUF: p.devargs["mrg_rxbuf"]}
    names = {F_RING_PACKED: "RING_PACKED", F_IN_ORDER: "IN_ORDER", F_MRG_RXBUF: "MRG_RXBUF"}
    bad = ["%s (bit %d) is %s, devargs ask for %d"
           % (names[bit], bit, "on" if feats & (1 << bit) else "off", want)
           for bit, want in wanted.items() if bool(feats & (1 << bit)) != bool(want)]
    if not feats & (1 << F_VERSION_1):
        bad.append("VERSION_1 (bit 32) not negotiated")
    if env.fe.is_vuser:
        bad += ["%s (bit %d) reached the backend" % (name, bit)
                for bit, name in F_INPROCESS.items() if feats & (1 << bit)]
    assert not bad, "net_vhost got features 0x%x: %s" % (feats, "; ".join(bad))


# What net_vuser says at start with vectorized=1 (vuser_select_bursts), by packed_vq.
RX_PATH_LINES = {1: "vectorized=1: SIMD Rx burst (AVX2) and SIMD Tx burst (AVX2) on the "
                    "packed ring",
                 0: "vectorized=1: SIMD Rx burst (AVX2) on the split ring, scalar Tx (the "
                    "SIMD Tx burst is written for packed rings)"}


def case_rx_path(env, p):
    """vectorized=1: the bursts that run are AVX2 Rx and Tx (packed), AVX2 Rx (split)"""
    # docs/user-guide.md: a log line says which data path runs; on a CPU without AVX2 the
    # vectorized groups are skipped at setup (make_setup)
    if not env.fe.is_vuser:
        raise Skip("the data path line is net_vuser's")
    want = RX_PATH_LINES[p.devargs["packed_vq"]]
    said = [ln for ln in p.fe.output().splitlines() if "VUSER" in ln and "vectorized" in ln]
    assert any(want in ln for ln in said), "no line %r; the PMD said %s" % (want, said)


def case_frontend_tx(env, p):
    """frontend tx_first 4 -> backend rxonly: exactly 128 x 64 bytes"""
    exchange_frontend_tx(p)


def case_frontend_rx(env, p):
    """backend tx_first 4 -> frontend rxonly: exactly 128 x 64 bytes"""
    exchange_frontend_rx(p)


def case_loopback(env, p):
    """backend tx_first 4 -> frontend io forward -> backend: 128 each way"""
    exchange_loopback(p)


def case_tx_multiseg(env, p):
    """frontend sends 3-segment mbufs (700+500+300): backend gets 2 x 32 x 1500 bytes"""
    # A packet takes 4 descriptors here (header + 3 segments): one burst of 32 (128
    # descriptors) always fits the 256-entry ring; 4 back-to-back bursts would not,
    # and a slow backend would make the frontend drop some (correctly, but inexactly).
    for _ in range(2):
        exchange_frontend_tx(p, bursts=1, segs=TX_SEGS, length=LARGE)


def case_tx_chain_alone(env, p):
    """frontend sends 200 one-packet bursts of 2-segment mbufs: backend gets 200 x 1500"""
    # 600 descriptors through a 256-entry ring, one 3-descriptor chain (header + 2
    # segments) per call: 85 chains leave one slot free, and the 86th call must find room
    # for a chain, not for a packet count (a Tx that read completions only when the
    # burst's packet count did not fit stopped here: 85 of 200, tried).
    exchange_frontend_tx(p, bursts=200, segs=TX_SEGS_2, length=LARGE, burst=1, retry=True)


def case_tx_mixed(env, p):
    """frontend bursts mix 1000-byte one-segment and 1500-byte two-segment mbufs"""
    # `set txsplit rand` takes 1 or 2 of the segments per packet: a burst holds single
    # descriptors (a packed ring writes them a ring line at a time, or staged) between
    # 3-descriptor chains, and in-order completions walk buffers of 1 and 3 descriptors.
    # 8 bursts of up to 96 descriptors through a 256-entry ring, with testpmd's Tx retry;
    # twice, then plain 64-byte packets: the completions must have given back exactly
    # what was sent, or the later exchanges find the ring short (or overrun).
    for _ in range(2):
        exchange_frontend_tx(p, bursts=8, segs=TX_SEGS_2, length=(1000, 1500), retry=True,
                             rand_split=True)
    exchange_frontend_tx(p)


def case_rx_large(env, p):
    """backend sends 1500-byte frames: frontend gets 64 x 1500 bytes (mrg: 2 buffers each)"""
    out = exchange_frontend_rx(p, bursts=2, length=LARGE, verbose=True)
    segs = [int(s) for s in re.findall(r"length=%d - nb_segs=(\d+)" % LARGE, out)]
    assert len(segs) == 2 * BURST, ("testpmd verbose printed %d received %d-byte frames, "
                                    "expected %d" % (len(segs), LARGE, 2 * BURST))
    if p.mrg:
        # 1500 + 12-byte header in 896-byte buffers: 2 buffers, 2 segments
        assert all(s >= 2 for s in segs), (
            "mrg_rxbuf=1 with %d-byte mbufs: frames should span several buffers, nb_segs=%s"
            % (SMALL_MBUF, sorted(set(segs))))
    else:
        assert all(s == 1 for s in segs), "mrg_rxbuf=0: nb_segs=%s, expected 1" % sorted(set(segs))


def case_vhost_restart(env, p):
    """backend port stop/start twice: frontend link up, exact traffic again"""
    be, fe = p.be, p.fe
    feats0 = backend_features(be, p.sock)
    for i in range(2):
        be.run("port stop 0")
        env.log("after backend port stop: frontend link %s, backend link %s"
                % (fe.link_status().get("status"), be.link_status().get("status")))
        out = be.run("port start 0")
        assert "Fail" not in out, "backend port start failed: %s" % out.strip()
        be.wait_link_up(timeout=LINK_TIMEOUT)
        fe.wait_link_up(timeout=LINK_TIMEOUT)
        exchange_loopback(p)
        exchange_frontend_tx(p, bursts=1)
    # the frontend was not restarted: whatever it renegotiated (if anything), the same bits
    feats = backend_features(be, p.sock)
    assert feats0 and set(feats) == {feats0[-1]}, (
        "net_vhost got features %s before the restarts, %s in all" % (
            ["0x%x" % f for f in feats0], ["0x%x" % f for f in feats]))


def case_small_mbuf_refused(env, p):
    """mrg_rxbuf=0, 896-byte mbufs: MTU 1500 refused at Rx queue setup, MTU 860 works"""
    # docs/user-guide.md (Behaviour, MTU): "without mergeable buffers the Rx mbufs must
    # hold a whole frame, and a queue set-up or MTU change that breaks this is refused
    # with a line saying how large the frame is".
    if not env.fe.is_vuser:
        raise Skip("net_vuser's documented behaviour")
    # the pair's frontend goes; a new one connects to the same backend
    p.fe.stop(timeout=10)
    assert p.fe.returncode == 0, "frontend exit code %s" % p.fe.returncode
    fe = p.fe = env.frontend("frontend-small-mbuf", [env.fe.vdev(path=p.sock, **p.devargs)],
                             app_args=["--mbuf-size=%d" % SMALL_MBUF])
    room = SMALL_MBUF - 128

    def refusal(text, mtu):
        return re.search(r"rx queue 0: mbufs of mempool \S+ hold %d bytes, frames of MTU %d "
                         r"need %d" % (room, mtu, mtu + 26), text)

    # 1. MTU 1500 (frames of 1526 with VLAN tags and CRC) cannot fit: the start fails
    out = fe.output()
    assert refusal(out, 1500), ("no line 'rx queue 0: mbufs of mempool ... hold %d bytes, "
                                "frames of MTU 1500 need 1526' in the frontend output: the "
                                "too-small mbuf was not refused at Rx queue setup" % room)
    assert "Fail to configure port 0 rx queues" in out, "testpmd did not see the refusal"
    link = fe.link_status()
    assert link.get("status") == "DOWN", "port is %s after the refused start" % link
    s = fe.stats()
    assert not s.get("ipackets") and not s.get("rx_nombuf"), "counters moved: %s" % s
    # 2. an MTU whose frames fit (860 + 26 = 886 <= 896): the port starts and receives
    out = fe.run("port config mtu 0 860")
    assert "failed" not in out.lower(), "MTU 860 refused: %s" % out.strip()
    out = fe.run("port start 0")
    assert "Fail" not in out, "port start with MTU 860 failed: %s" % out.strip()
    fe.wait_link_up(timeout=LINK_TIMEOUT)
    exchange_frontend_rx(p, bursts=1)
    # 3. back to MTU 1500 with those queues set up: refused, the MTU stays 860
    fe.run("port stop 0")
    out = fe.run("port config mtu 0 1500")
    assert refusal(out, 1500) and "Set MTU failed" in out, (
        "MTU 1500 over %d-byte mbufs was not refused: %s" % (room, out.strip()))
    info = fe.run("show port info 0")
    assert re.search(r"^MTU: 860$", info, re.M), "MTU after the refused change: %s" % (
        re.findall(r"^MTU: .*$", info, re.M))
    fe.stop(timeout=10)
    assert fe.returncode == 0, "frontend exit code %s" % fe.returncode
    p.fe = None


def case_clean_exit(env, p):
    """both apps quit with exit code 0"""
    env.stop_checked()


# ---- DPDK command-line parity: what works with net_virtio_user must work with vuser

PARITY_DEVARGS = dict(packed_vq=0, in_order=1, mrg_rxbuf=1)    # DPDK's defaults


def offload_capa(app, port=0):
    """{'rx': set, 'tx': set} of offload names testpmd lists for the port."""
    capa = {}
    for d in ("rx", "tx"):
        out = app.run("show port %d %s_offload capabilities" % (port, d))
        names = set()
        for m in re.finditer(r"^\s*Per (?:Queue|Port)\s*:(.*)$", out, re.M):
            names.update(m.group(1).split())
        capa[d] = names
    return capa


def parity_setup(env):
    sock = env.sock("dpdk_cmdline.sock")
    be = env.backend("backend", [sock])
    return Pair("dpdk_cmdline", dict(PARITY_DEVARGS), be, None, sock)


def case_offload_parity(env, p):
    """every Rx/Tx offload DPDK's net_virtio_user offers here, vuser offers too"""
    ref_kind = Frontend("dpdk")
    ref = env.frontend("frontend-net_virtio_user",
                       [ref_kind.vdev(path=p.sock, **p.devargs)], app_args=[])
    try:
        want = offload_capa(ref)
    finally:
        ref.stop(timeout=10)
    fe = p.fe = env.frontend("frontend", [env.fe.vdev(path=p.sock, **p.devargs)])
    got = offload_capa(fe)
    env.log("net_virtio_user: %s; %s: %s" % (want, env.fe.driver, got))
    missing = {d: sorted(want[d] - got[d]) for d in want if want[d] - got[d]}
    assert not missing, ("%s lacks offloads DPDK's net_virtio_user offers against the same "
                         "net_vhost (applications asking for them fail to configure the port "
                         "with vuser): %s" % (env.fe.driver, missing))
    fe.stop(timeout=10)
    p.fe = None


def case_enable_scatter(env, p):
    """DPDK's command line for 1500-byte frames in 1024-byte mbufs (--enable-scatter) works"""
    # With DPDK's net_virtio_user and mrg_rxbuf=1, receiving frames larger than one mbuf
    # needs the SCATTER Rx offload (`--enable-scatter`); that command line must start the
    # port and receive the frames with vuser as well.
    fe = p.fe = env.frontend("frontend-scatter", [env.fe.vdev(path=p.sock, **p.devargs)],
                             app_args=["--mbuf-size=%d" % SMALL_MBUF, "--enable-scatter"])
    out = fe.output()
    bad = [ln for ln in out.splitlines() if re.search(r"Fail|doesn't match", ln)]
    assert not bad, "the port did not start with --enable-scatter: %s" % bad
    fe.wait_link_up(timeout=LINK_TIMEOUT)
    p.mrg = True
    case_rx_large(env, p)
    fe.stop(timeout=10)
    assert fe.returncode == 0, "frontend exit code %s" % fe.returncode
    p.fe = None


def port_mtu(app, port=0):
    m = re.search(r"^MTU: (\d+)$", app.run("show port info %d" % port), re.M)
    return int(m.group(1)) if m else None


def case_mtu_to_backend(env, p):
    """--max-pkt-len: MTU 9000 reaches net_vhost's port, 9000-byte frames cross it"""
    # DPDK's net_vhost takes the MTU of VHOST_USER_NET_SET_MTU as its port's when the
    # device comes up (rte_vhost_get_mtu in new_device); DPDK's own net_virtio_user never
    # negotiates VIRTIO_NET_F_MTU, so there the backend stays at 1500.
    if not env.fe.is_vuser:
        raise Skip("net_vuser tells the backend its MTU; DPDK's driver does not")
    be = p.be
    fe = p.fe = env.frontend("frontend-mtu", [env.fe.vdev(path=p.sock, **p.devargs)],
                             app_args=["--max-pkt-len=9030", "--tx-offloads=0x8000"])
    fe.wait_link_up(timeout=LINK_TIMEOUT)
    be.wait_link_up(timeout=LINK_TIMEOUT)
    assert port_mtu(fe) == 9000, "--max-pkt-len=9030: frontend MTU %s" % port_mtu(fe)
    assert port_mtu(be) == 9000, ("net_vhost's port has MTU %s after a frontend with MTU "
                                  "9000 came up" % port_mtu(be))
    exchange_frontend_tx(p, bursts=1, segs="2000,2000,2000,2000,1000", length=9000)
    # configured while stopped: told at the next start, when the backend's device comes up
    fe.run("port stop 0")
    out = fe.run("port config mtu 0 1500")
    assert "failed" not in out.lower(), "MTU 1500 refused: %s" % out.strip()
    out = fe.run("port start 0")
    assert "Fail" not in out, "port start with MTU 1500 failed: %s" % out.strip()
    fe.wait_link_up(timeout=LINK_TIMEOUT)
    be.wait_link_up(timeout=LINK_TIMEOUT)
    assert port_mtu(be) == 1500, "net_vhost's port has MTU %s after the frontend's 1500" % (
        port_mtu(be))
    fe.stop(timeout=10)
    assert fe.returncode == 0, "frontend exit code %s" % fe.returncode
    p.fe = None


def build_groups():
    groups = []
    for dp, devargs in DATAPATHS:
        cases = [("features", case_features)]
        if devargs.get("vectorized"):
            cases.append(("rx_path", case_rx_path))
        cases += [("frontend_tx", case_frontend_tx),
                 ("frontend_rx", case_frontend_rx), ("loopback", case_loopback),
                 ("tx_multiseg", case_tx_multiseg), ("tx_chain_alone", case_tx_chain_alone),
                 ("tx_mixed", case_tx_mixed),
                 ("rx_large", case_rx_large),
                 ("vhost_restart", case_vhost_restart)]
        if dp in REFUSAL_PATHS and not devargs["mrg_rxbuf"]:
            cases.append(("small_mbuf_refused", case_small_mbuf_refused))
        cases.append(("clean_exit", case_clean_exit))
        groups.append(Group(dp, make_setup(dp, devargs), cases, timeout=180))
    groups.append(Group("dpdk_cmdline", parity_setup,
                        [("offload_parity", case_offload_parity),
                         ("enable_scatter", case_enable_scatter),
                         ("mtu_to_backend", case_mtu_to_backend),
                         ("clean_exit", case_clean_exit)], timeout=180))
    return groups


GROUPS = build_groups()


@pytest.mark.parametrize("group,case", **group_params(GROUPS))
def test_matrix(group_runner, group, case):
    group_runner.run(group, case)
