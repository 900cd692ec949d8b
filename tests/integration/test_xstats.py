# SPDX-License-Identifier: BSD-3-Clause
"""Integration tests: every extended statistic, and the link info, against DPDK's driver.

    backend   dpdk-testpmd --vdev net_vhost0,iface=<sock>,queues=N     (rxonly)
    frontend  dpdk-testpmd --vdev virtio_user0,path=<sock>,...          (rxonly)

Traffic of known lengths and destinations goes each way, one `start tx_first 1` per
line of TRAFFIC: testpmd's txonly frames of `set txpkts L` bytes to `set eth-peer 0
<MAC>` (unicast, multicast 01:00:5e:00:00:01, broadcast), `set burst N` frames per Tx
queue. The lengths sit on both edges of every size bin of the xstats (60, 64, 65, 127,
128 ... 1518, 1519, 2000) and each line has its own count, so a frame counted in the
wrong bin or as the wrong kind of destination changes a value.

Groups (one backend+frontend pair each):

    dpdk_q1, dpdk_q2   DPDK's own net_virtio_user (queues=1; queues=2,cq=1)
        traffic    every xstat /ethdev/xstats reports has the value the model below
                   gives: so the model is what DPDK's driver counts. Its names are kept
                   for the vuser groups (read again there when this group did not run)
        reset      `clear port xstats 0`: every value 0
    split_q1, packed_mrg_q1, packed_vec_q1, split_inorder_mrg_q2 (cq=1)   vuser
        traffic    the names are DPDK's driver's list, in order, then vuser's own (EXTRAS,
                   docs/user-guide.md); every value is the model's (vuser's own: 0)
        filter     (cq=1) promiscuous off, frames to a unicast address not the port's:
                   rx_q<N>_filtered_packets counts them, nothing else moves
        reset      `clear port xstats 0`: every value 0
    link               `speed` in the link info, against DPDK's driver: one backend with
                   four sockets, a vuser testpmd with speed=10000, 25000, none and 1000,
                   DPDK's with the same (it refuses 1000 at probe: only Mbps values of
                   10G and up). /ethdev/link_status, and `show port info`'s link lines and
                   `show device info`'s speed capability, the same for both drivers; after
                   `port stop` the link is down with no speed; vuser's speed=1000 reads
                   1000 Mbps

The model, per queue, for each TRAFFIC line (kind, L, N) sent on it: good_packets += N,
good_bytes += N*L, multicast_packets += N for a group address other than broadcast,
broadcast_packets += N for ff:ff:ff:ff:ff:ff, and N in the size bin of L
(<64, 64, 65-127, 128-255, 256-511, 512-1023, 1024-1518, >=1519); errors 0. ethdev's
own (rx_good_packets ...) are the sums over the queues, their errors 0.

Logs: results/integration-xstats/.

Each case is a pytest test named 'group/case' (docs/testing.md):

    python3 -m pytest tests/integration/test_xstats.py -k 'link/'
"""

import re

import pytest

from dpdkapp import settle_all
from pairs import LINK_TIMEOUT, Frontend, Group, Skip, group_params
from dpdkapp import wait_stable

UNICAST = "02:00:00:00:00:77"
MULTICAST = "01:00:5e:00:00:01"
BROADCAST = "ff:ff:ff:ff:ff:ff"
OTHER_UNICAST = "02:00:00:00:00:99"     # not the port's: the receive filter drops it
KINDS = {UNICAST: None, MULTICAST: "multicast_packets", BROADCAST: "broadcast_packets"}

# (destination, frame length, frames per Tx queue): both edges of every bin, a count each
TRAFFIC = [
    (UNICAST, 60, 3), (MULTICAST, 64, 5), (BROADCAST, 65, 2), (UNICAST, 127, 4),
    (MULTICAST, 128, 6), (BROADCAST, 255, 1), (UNICAST, 256, 7), (MULTICAST, 511, 9),
    (BROADCAST, 512, 8), (UNICAST, 1023, 11), (MULTICAST, 1024, 10), (BROADCAST, 1518, 12),
    (UNICAST, 1519, 13), (MULTICAST, 2000, 14),
]
BINS = ["undersize_packets", "size_64_packets", "size_65_127_packets",
        "size_128_255_packets", "size_256_511_packets", "size_512_1023_packets",
        "size_1024_1518_packets", "size_1519_max_packets"]
# vuser's own, per queue, after all of DPDK's (docs/user-guide.md, Statistics)
EXTRAS_RX = ["mbuf_allocation_errors", "filtered_packets", "bad_id", "bad_len",
             "duplicate_id", "bad_num_buffers", "bad_wrap", "bad_used_idx"]
EXTRAS_TX = ["errors", "bad_id", "duplicate_id", "bad_wrap", "bad_used_idx"]
FILTERED = 6
MBUFS = 4096
BURST_DEFAULT = 32

DPDK_NAMES = {}         # queues -> DPDK's driver's xstat names, read in this run


def size_bin(length):
    bounds = [64, 65, 128, 256, 512, 1024, 1519]
    return BINS[sum(length >= b for b in bounds)]


def model(nq, sent_rx, sent_tx):
    """{xstat: value} of the model for frames sent to the port (sent_rx) and by it
    (sent_tx), each a list of (dst, length, count) per queue; vuser's own are 0."""
    want = {}
    for d, sent in (("rx", sent_rx), ("tx", sent_tx)):
        for q in range(nq):
            p = "%s_q%d_" % (d, q)
            for name in ["good_packets", "good_bytes", "multicast_packets",
                         "broadcast_packets"] + BINS:
                want[p + name] = 0
            if d == "rx":
                want[p + "errors"] = 0
            for dst, length, n in sent:
                want[p + "good_packets"] += n
                want[p + "good_bytes"] += n * length
                if KINDS[dst]:
                    want[p + KINDS[dst]] += n
                want[p + size_bin(length)] += n
        want["%s_good_packets" % d] = nq * sum(n for _, _, n in sent)
        want["%s_good_bytes" % d] = nq * sum(n * length for _, length, n in sent)
    for name in ("rx_missed_errors", "rx_errors", "tx_errors", "rx_mbuf_allocation_errors"):
        want[name] = 0
    return want


def extra_names(nq):
    return (["rx_q%d_%s" % (q, n) for q in range(nq) for n in EXTRAS_RX]
            + ["tx_q%d_%s" % (q, n) for q in range(nq) for n in EXTRAS_TX])


class Pair:
    def __init__(self, be, fe, nq, is_vuser):
        self.be, self.fe, self.nq, self.is_vuser = be, fe, nq, is_vuser


def queue_args(nq):
    return ["--rxq=%d" % nq, "--txq=%d" % nq]


def start_frontend(env, fe_kind, vdevs, app_args, name="frontend", expect_ports=None):
    """env.frontend() with the driver of fe_kind ('vuser' or 'dpdk')."""
    saved, env.fe = env.fe, Frontend(fe_kind)
    env.fe.staged = saved.staged if env.fe.is_vuser else None
    try:
        return env.frontend(name, vdevs, app_args=app_args, mbufs=MBUFS,
                            expect_ports=expect_ports)
    finally:
        env.fe = saved


def make_setup(tag, fe_kind, nq, devargs):
    def setup(env):
        if fe_kind == "vuser" and not env.fe.is_vuser:
            raise Skip("a vuser group (VUSER_FRONTEND=%s)" % env.fe.kind)
        sock = env.sock("%s.sock" % tag)
        be = env.backend("backend", [sock], queues=nq, app_args=queue_args(nq), mbufs=MBUFS)
        name = "virtio_user0" if fe_kind == "vuser" else "net_virtio_user0"
        args = ",".join("%s=%s" % kv for kv in dict(path=sock, **devargs).items())
        fe = start_frontend(env, fe_kind, ["%s,%s" % (name, args)], queue_args(nq))
        be.wait_link_up(timeout=LINK_TIMEOUT)
        fe.wait_link_up(timeout=LINK_TIMEOUT)
        driver = "net_vuser" if fe_kind == "vuser" else "net_virtio_user"
        info = fe.run("show port info 0")
        assert re.search(r"Driver name: *%s$" % driver, info, re.M), (
            "port 0 is not driven by %s: %s" % (driver, info.strip()))
        return Pair(be, fe, nq, fe_kind == "vuser")
    return setup


def send(sender, receiver, nq, dst, length, count):
    """`count` frames of `length` bytes to `dst` on each Tx queue of sender, all
    received (counted by telemetry, bounded wait)."""
    s0, r0 = sender.stats(), receiver.stats()
    receiver.run("start")
    for line in ("set burst %d" % count, "set txpkts %d" % length, "set eth-peer 0 %s" % dst):
        out = sender.run(line)
        assert "Bad arguments" not in out and "rror" not in out, "%s: %r: %s" % (
            sender.name, line, out.strip())
    try:
        sender.run("start tx_first 1")
        settle_all([(sender, 0, s0, "opackets", nq * count),
                    (receiver, 0, r0, "ipackets", nq * count)])
    finally:
        sender.run("stop")
        receiver.run("stop")
        sender.run("set burst %d" % BURST_DEFAULT)


def xstats(app):
    """(names in order, {name: value}) from telemetry /ethdev/xstats,0."""
    x = app.xstats(0) or {}
    return list(x.keys()), dict(x)


def compare(label, got, want):
    bad = ["%s=%s (expected %s)" % (k, got.get(k), v) for k, v in want.items()
           if got.get(k) != v]
    extra = sorted(set(got) - set(want))
    assert not bad and not extra, "%s: %s%s" % (
        label, "; ".join(bad), "; names not expected: %s" % extra if extra else "")


def dpdk_names(env, nq):
    """DPDK's driver's xstat names with nq queue pairs, read in this run."""
    if nq not in DPDK_NAMES:
        tag = "dpdk_names_q%d" % nq
        sock = env.sock("%s.sock" % tag)
        devargs = dict(queues=nq, cq=1) if nq > 1 else {}
        be = env.backend("names-backend", [sock], queues=nq, app_args=queue_args(nq))
        args = ",".join("%s=%s" % kv for kv in dict(path=sock, **devargs).items())
        fe = start_frontend(env, "dpdk", ["net_virtio_user0,%s" % args], queue_args(nq),
                            name="names-frontend")
        fe.wait_link_up(timeout=LINK_TIMEOUT)
        DPDK_NAMES[nq] = xstats(fe)[0]
        for app in (fe, be):
            app.stop()
            env.apps.remove(app)
    return DPDK_NAMES[nq]


def case_traffic(env, p):
    """TRAFFIC both ways: every xstat exact; vuser: DPDK's names, then its own"""
    for dst, length, count in TRAFFIC:
        send(p.be, p.fe, p.nq, dst, length, count)      # to the frontend: its Rx
        send(p.fe, p.be, p.nq, dst, length, count)      # from it: its Tx
    names, got = xstats(p.fe)
    want = model(p.nq, TRAFFIC, TRAFFIC)
    if not p.is_vuser:
        DPDK_NAMES[p.nq] = names
        compare("DPDK's driver", got, want)
        return
    dpdk = dpdk_names(env, p.nq)
    assert names[:len(dpdk)] == dpdk, (
        "the first %d names are not DPDK's driver's, in order:\n  vuser %s\n  DPDK  %s"
        % (len(dpdk), names[:len(dpdk)], dpdk))
    assert names[len(dpdk):] == extra_names(p.nq), (
        "after DPDK's names: %s, expected %s" % (names[len(dpdk):], extra_names(p.nq)))
    want.update({n: 0 for n in extra_names(p.nq)})
    compare("vuser", got, want)
    env.log("%d xstats checked: %d of DPDK's, %d of vuser's"
            % (len(names), len(dpdk), len(names) - len(dpdk)))


def case_filter(env, p):
    """promiscuous off: frames to another unicast address count as filtered, only"""
    _, before = xstats(p.fe)
    p.fe.run("set promisc 0 off")
    try:
        p.be.run("set burst %d" % FILTERED)
        p.be.run("set txpkts 100")
        p.be.run("set eth-peer 0 %s" % OTHER_UNICAST)
        b0 = p.be.stats()
        p.fe.run("start")
        p.be.run("start tx_first 1")
        settle_all([(p.be, 0, b0, "opackets", p.nq * FILTERED)])

        def filtered_all(vals):
            return all(vals[0].get("rx_q%d_filtered_packets" % q) ==
                       before["rx_q%d_filtered_packets" % q] + FILTERED for q in range(p.nq))
        after = wait_stable(lambda: [xstats(p.fe)[1]], 10, until=filtered_all)[0]
    finally:
        p.be.run("stop")
        p.fe.run("stop")
        p.be.run("set burst %d" % BURST_DEFAULT)
        p.fe.run("set promisc 0 on")
    want = dict(before)
    for q in range(p.nq):
        want["rx_q%d_filtered_packets" % q] += FILTERED
    compare("vuser after %d filtered frames per queue" % FILTERED, after, want)


def case_reset(env, p):
    """`clear port xstats 0`: every xstat 0"""
    out = p.fe.run("clear port xstats 0")
    assert "rror" not in out, out
    names, got = xstats(p.fe)
    assert names, "no xstats"
    compare("after clear port xstats", got, {n: 0 for n in names})


def case_clean_exit(env, p):
    """both apps quit with exit code 0"""
    env.stop_checked()


# ---- link info

# (vuser devargs, DPDK accepts it): DPDK's virtio takes speed in {10G, 20G, 25G, 40G,
# 50G, 56G, 100G, 200G} only; vuser takes every ethdev speed (docs/user-guide.md)
SPEEDS = [("speed=10000", True), ("speed=25000", True), ("", True), ("speed=1000", False)]
LINK_LINES = r"^(?:Link status|Link speed|Link duplex): .*$"


class LinkPair:
    def __init__(self, be, vu, dp):
        self.be, self.vu, self.dp = be, vu, dp


def link_setup(env):
    if not env.fe.is_vuser:
        raise Skip("compares vuser with DPDK's driver (VUSER_FRONTEND=%s)" % env.fe.kind)
    socks = {d: [env.sock("link-%s%d.sock" % (d, i)) for i in range(len(SPEEDS))]
             for d in ("vuser", "dpdk")}
    be = env.backend("backend", socks["vuser"] + socks["dpdk"], mbufs=MBUFS)

    def vdevs(prefix, kind):
        return ["%s%d,path=%s%s" % (prefix, i, s, "," + a if a else "")
                for i, (s, (a, _)) in enumerate(zip(socks[kind], SPEEDS))]
    vu = start_frontend(env, "vuser", vdevs("virtio_user", "vuser"), [], name="vuser")
    dp = start_frontend(env, "dpdk", vdevs("net_virtio_user", "dpdk"), [], name="dpdk",
                        expect_ports=sum(ok for _, ok in SPEEDS))
    for app in (vu, dp):
        for port in app.ports():
            app.wait_link_up(port, timeout=LINK_TIMEOUT)
    return LinkPair(be, vu, dp)


def port_link(app, port):
    info = app.run("show port info %d" % port)
    dev = re.search(r"Device name: *(\S+)", info).group(1)
    capa = re.search(r"Device speed capability:(.*)$", app.run("show device info %s" % dev),
                     re.M)
    return dict(telemetry=app.link_status(port),
                lines=re.findall(LINK_LINES, info, re.M),
                capa=capa.group(1).split() if capa else None)


def case_link_speed(env, p):
    """link status, speed, duplex and speed capability as DPDK's; speed=1000 (vuser)"""
    assert len(p.vu.ports()) == len(SPEEDS), "vuser ports %s" % p.vu.ports()
    accepted = [a for a, ok in SPEEDS if ok]
    assert len(p.dp.ports()) == len(accepted), "DPDK's ports %s" % p.dp.ports()
    assert "Failed to parse speed" in p.dp.output(), "DPDK's driver took speed=1000"
    dport = 0
    for port, (args, ok) in enumerate(SPEEDS):
        vu = port_link(p.vu, port)
        env.log("vuser %s: %s" % (args or "no speed", vu))
        if ok:
            dp = port_link(p.dp, dport)
            dport += 1
            assert vu == dp, "%s: vuser %s, DPDK %s" % (args or "no speed", vu, dp)
        speed = int(args.split("=")[1]) if args else 0xffffffff
        assert vu["telemetry"] == {"status": "UP", "speed": speed, "duplex": "full-duplex"}, (
            "%s: %s" % (args or "no speed", vu["telemetry"]))
    one_g = port_link(p.vu, 3)
    gbps = [ln for ln in one_g["lines"] if ln.startswith("Link speed")]
    assert gbps == ["Link speed: 1 Gbps"] and one_g["capa"] == ["1", "Gbps"], (
        "speed=1000: %s" % one_g)


def case_link_down(env, p):
    """after `port stop`: down, no speed (as DPDK's)"""
    for app in (p.vu, p.dp):
        app.run("port stop all")
    dport = 0
    for port, (args, ok) in enumerate(SPEEDS):
        vu = port_link(p.vu, port)
        assert vu["telemetry"] == {"status": "DOWN"}, "%s: %s" % (args, vu["telemetry"])
        assert "Link speed: None" in vu["lines"], "%s: %s" % (args, vu["lines"])
        if ok:
            dp = port_link(p.dp, dport)
            dport += 1
            assert vu == dp, "%s stopped: vuser %s, DPDK %s" % (args or "no speed", vu, dp)


def build_groups():
    def group(tag, kind, nq, devargs, cases, timeout=240):
        return Group(tag, make_setup(tag, kind, nq, devargs), cases, timeout=timeout)
    common = [("traffic", case_traffic), ("reset", case_reset), ("clean_exit", case_clean_exit)]
    with_filter = common[:1] + [("filter", case_filter)] + common[1:]
    return [
        group("dpdk_q1", "dpdk", 1, {}, common),
        group("dpdk_q2", "dpdk", 2, dict(queues=2, cq=1), common),
        group("split_q1", "vuser", 1, dict(packed_vq=0, in_order=0, mrg_rxbuf=0), common),
        group("packed_mrg_q1", "vuser", 1, dict(packed_vq=1, in_order=0, mrg_rxbuf=1), common),
        group("packed_vec_q1", "vuser", 1,
              dict(packed_vq=1, in_order=1, mrg_rxbuf=0, vectorized=1), common),
        group("split_inorder_mrg_q2", "vuser", 2,
              dict(queues=2, cq=1, packed_vq=0, in_order=1, mrg_rxbuf=1), with_filter),
        Group("link", link_setup, [("speed", case_link_speed), ("down", case_link_down),
                                   ("clean_exit", case_clean_exit)], timeout=180),
    ]


GROUPS = build_groups()


@pytest.mark.parametrize("group,case", **group_params(GROUPS))
def test_xstats(group_runner, group, case):
    group_runner.run(group, case)
