# SPDX-License-Identifier: BSD-3-Clause
"""Two containers through a real switch: OVS-DPDK between vuser ports in server mode.

Container A and container B (a private dockerd, docs/containers.md) each run testpmd with
a vuser port in server mode, listening in a socket directory of their own that is
bind-mounted into the container. A private OVS-DPDK (tests/lib/ovs.py: its own database
and run directory, no hugepages) has a netdev bridge with two dpdkvhostuserclient ports,
one on each socket, and two flows: A's port to B's and back, nothing else.

  test_a_to_b_through_ovs   A sends ROUNDS rounds of BURSTS x 32 frames, each round once
                            the last was counted (a round fits B's Rx ring even when B is
                            not scheduled); B counts every one, OVS's counters of both
                            ports agree, nothing dropped. B's container is stopped and a
                            new one started on the same directory: OVS reconnects, and
                            the same traffic is counted exactly again.

    /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/integration/test_container_ovs.py
"""

import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))

import container  # noqa: E402
import dpdkapp  # noqa: E402
import ovs as ovslib  # noqa: E402
import vhostpeer  # noqa: E402

ROUNDS = 10
BURSTS = 4                          # per round: 128 frames, half of B's Rx ring
MEM_MB = 128
MBUFS = 4096
BRIDGE = "br0"
SOCK = "vuser.sock"
LINK_TIMEOUT = 20.0                 # OVS's vhost client retries every second


@pytest.fixture(scope="module")
def ovs(host_network, container_runtime, log_dir):
    switch = ovslib.OvsDpdk(log_dir)
    try:
        switch.start()
    except ovslib.OvsUnavailable as e:
        pytest.skip("OVS-DPDK cannot start here: %s" % e)
    try:
        switch.add_bridge(BRIDGE)
        yield switch
    finally:
        switch.vsctl("--if-exists", "del-br", BRIDGE, check=False)
        switch.stop()


def start_side(rt, log_dir, name, host_dir, main_lcore):
    """testpmd with a vuser port in server mode in a container, ``host_dir`` mounted at
    container.SOCK_DIR_IN; its socket appears in ``host_dir``."""
    app = container.ContainerTestpmd(
        name, log_dir, rt.docker, mounts={host_dir: container.SOCK_DIR_IN},
        vdevs=["virtio_user0,path=%s/%s,server=1" % (container.SOCK_DIR_IN, SOCK)],
        plugins=[rt.plugin_in_image], interactive=True, lcores="0,1",
        main_lcore=main_lcore, mem_mb=MEM_MB, app_args=vhostpeer.app_args(MBUFS))
    app.start()
    app.wait_ready(timeout=60)
    vhostpeer.enable_tx_retry(app, vhostpeer.SINK)
    dpdkapp.wait_until(lambda: os.path.exists(os.path.join(host_dir, SOCK)), 15,
                       what="%s's socket in %s" % (name, host_dir))
    return app


def rounds(a, b, switch):
    """ROUNDS x BURSTS x 32 frames from A to B, each round counted exactly before the
    next; returns the total and what OVS counted on A's and B's ports meanwhile."""
    n = 0
    rx0, tx0 = switch.port_stats(BRIDGE, "vhA"), switch.port_stats(BRIDGE, "vhB")
    for i in range(ROUNDS):
        _, _, bad = vhostpeer.send_counted(a, b, BURSTS)
        assert not bad, "round %d: %s" % (i, "; ".join(bad))
        n += BURSTS * vhostpeer.BURST
    rx, tx = switch.port_stats(BRIDGE, "vhA"), switch.port_stats(BRIDGE, "vhB")
    ovs_counts = {k: rx.get(k, 0) - rx0.get(k, 0) for k in ("rx_packets", "rx_dropped")}
    ovs_counts.update({k: tx.get(k, 0) - tx0.get(k, 0) for k in ("tx_packets", "tx_dropped")})
    return n, ovs_counts


def test_a_to_b_through_ovs(ovs, container_runtime, log_dir, sock_dir, record_property,
                            time_limit):
    rt = container_runtime
    dirs = {}
    for side in ("a", "b"):
        dirs[side] = os.path.join(sock_dir, "ovs-" + side)
        os.makedirs(dirs[side], mode=0o700, exist_ok=True)
    apps = []
    try:
        with time_limit(240, "test_a_to_b_through_ovs"):
            a = start_side(rt, log_dir, "ovs-A", dirs["a"], main_lcore=1)
            apps.append(a)
            b = start_side(rt, log_dir, "ovs-B", dirs["b"], main_lcore=1)
            apps.append(b)
            ovs.add_vhost_client(BRIDGE, "vhA", os.path.join(dirs["a"], SOCK))
            ovs.add_vhost_client(BRIDGE, "vhB", os.path.join(dirs["b"], SOCK))
            pa, pb = ovs.ofport("vhA"), ovs.ofport("vhB")
            ovs.ofctl("del-flows", BRIDGE)
            ovs.ofctl("add-flow", BRIDGE, "in_port=%d,actions=output:%d" % (pa, pb))
            ovs.ofctl("add-flow", BRIDGE, "in_port=%d,actions=output:%d" % (pb, pa))
            for app in (a, b):
                app.wait_link_up(timeout=LINK_TIMEOUT)
            n1, ovs1 = rounds(a, b, ovs)

            # B's container goes away (its port closes, its socket is removed) and a new
            # one listens in the same directory: OVS reconnects to it
            b_pid = b.container_pid()
            out = b.stop()
            assert b.returncode == 0, "B exited %s:\n%s" % (b.returncode,
                                                             dpdkapp.tail(out, 20))
            b = start_side(rt, log_dir, "ovs-B2", dirs["b"], main_lcore=1)
            apps.append(b)
            assert b.container_pid() != b_pid
            b.wait_link_up(timeout=LINK_TIMEOUT)
            n2, ovs2 = rounds(a, b, ovs)
            assert b.stats()["ipackets"] == n2, "the new B counted %s" % b.stats()
    finally:
        dpdkapp.kill_all(apps)
        for p in ("vhA", "vhB"):
            ovs.vsctl("--if-exists", "del-port", BRIDGE, p, check=False)
    record_property("outcome", "A->B through OVS-DPDK: %d frames counted by B, OVS %s; "
                    "after B's container restarted: %d, OVS %s" % (n1, ovs1, n2, ovs2))
    for got, n in ((ovs1, n1), (ovs2, n2)):
        assert got == {"rx_packets": n, "rx_dropped": 0, "tx_packets": n,
                       "tx_dropped": 0}, "OVS counted %s for %d frames" % (got, n)
