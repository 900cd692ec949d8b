# SPDX-License-Identifier: BSD-3-Clause
"""More than 8 memory regions: CONFIGURE_MEM_SLOTS between net_vuser and real backends.

The frontend (dpdk-testpmd with net_vuser) runs in 2 MB hugepages without
--single-file-segments, so EAL has one file per page and vuser one region per file:
more than SET_MEM_TABLE's 8.

    many_files_vubackend  against net_vubackend (which offers CONFIGURE_MEM_SLOTS): the
                          frontend says 509 memory slots; the backend logs exactly one
                          "memory region added" (ADD_MEM_REG) per hugepage file of the
                          frontend (counted in the hugetlbfs mount, more than 8) and no
                          SET_MEM_TABLE; 128 frames each way, exact counts
    many_files_net_vhost  against DPDK 22.11's net_vhost, which does not offer it
                          (protocol features 0x10039 negotiated, 8 memory slots): the
                          port does not start ("while describing EAL memory"), the line
                          names the file count, the limit and the missing feature
    hot_add_vubackend     tests/apps/vuser_hotadd (net_vuser, one file per hugepage)
                          against net_vubackend: after its port runs, a 64 MB mempool is
                          created: one ADD_MEM_REG per new page file, no REM, no
                          SET_MEM_TABLE; 256 frames from the new pool reach the backend
                          exactly; the pool is freed: one REM_MEM_REG per page file EAL
                          gave back; 128 frames from the first pool reach it exactly

Skipped, the reason printed, when the kernel gives no hugepages (conftest's hugepages).
Logs: results/integration-memslots/.

    python3 -m pytest tests/integration/test_memslots.py -k vubackend
"""

import glob
import os
import re

import pytest

import dpdkapp
from dpdkapp import Testpmd
from pairs import backend_protocol_features
from test_vubackend import (APP_ARGS, NB_BURSTS, PKTS, assert_clean_exit, to_backend,
                            to_frontend, vubackend_plugin)

CASE_TIMEOUT = 120
ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
HOTADD = os.environ.get("VUSER_HOTADD") or os.path.join(
    ROOT, "build", "tests", "apps", "vuser_hotadd")
GROW_MB = 64
GROWN_FRAMES = 256
BASE_FRAMES = 128
FRAME_LEN = 64
BASELINE_REGIONS = 8      # SET_MEM_TABLE's limit (vhost-user spec)
VUB_SLOTS = 509           # libvub's GET_MAX_MEM_SLOTS
# MQ, REPLY_ACK, NET_MTU, BACKEND_REQ, STATUS: what net_vhost 22.11 and vuser agree on
NET_VHOST_PF = 0x10039
REMOVED = re.compile(r"memory region removed \(guest (0x[0-9a-f]+), size (0x[0-9a-f]+)\)")
ADDED = re.compile(r"memory region added \(guest (0x[0-9a-f]+), size (0x[0-9a-f]+)\)")
HANDSHAKE = re.compile(r"protocol features 0x([0-9a-f]+) \(offered 0x[0-9a-f]+\), \d+ queue pairs, "
                       r"(\d+) memory slots")


@pytest.fixture(scope="module")
def staged_backend():
    so = dpdkapp.stage_plugin(vubackend_plugin())
    yield so
    dpdkapp.unstage_plugin(so)


@pytest.fixture
def huge(hugepages):
    if hugepages.mount is None:
        pytest.skip("no hugepages: %s" % hugepages.reason)
    return hugepages.mount


def frontend(name, log_dir, sock, plugin, mount):
    """net_vuser in hugepages, one file per page; memory grows as testpmd allocates."""
    return Testpmd(name, log_dir, vdevs=["net_vuser0,path=%s" % sock], plugins=[plugin],
                   interactive=True, lcores="0,1", main_lcore=1, mem_mb=None,
                   no_huge=False, single_file=False, eal_extra=["--huge-dir", mount],
                   log_levels=["pmd.net.vuser:info"],
                   app_args=["--forward-mode=rxonly"] + APP_ARGS)


def backend(name, log_dir, vdev, plugins=()):
    return Testpmd(name, log_dir, vdevs=[vdev], plugins=list(plugins), interactive=True,
                   lcores="0,1", main_lcore=0,
                   log_levels=["pmd.net.vubackend:info", "lib.vhost.config:info"],
                   app_args=["--forward-mode=rxonly"] + APP_ARGS)


def page_files(mount, app):
    return len(glob.glob(os.path.join(mount, "%smap_*" % app.file_prefix)))


def handshake(fe):
    m = HANDSHAKE.search(fe.output())
    assert m, "the frontend logged no handshake line"
    return int(m.group(1), 16), int(m.group(2))


def start_backend(be, sock):
    """Start it and wait for its socket and its prompt."""
    be.start()
    dpdkapp.wait_until(lambda: os.path.exists(sock) or not be.alive(), 30,
                       what="the backend's socket %s" % sock)
    be.wait_ready()


def run(be, fe, sock, body, time_limit):
    apps = [be, fe]
    try:
        with time_limit(CASE_TIMEOUT, "the case"):
            start_backend(be, sock)
            fe.start()
            fe.wait_ready()
            body()
        rcs = {}
        for app in reversed(apps):
            app.stop()
            rcs[app.name] = app.returncode
        assert_clean_exit(rcs)
    except BaseException:
        for app in apps:
            print("---- %s (%s) ----\n%s" % (app.name, app.log_path,
                                             dpdkapp.tail(app.output(), 30)))
        raise
    finally:
        dpdkapp.kill_all(apps)


def test_many_files_vubackend(log_dir, sock_dir, vuser_plugin, staged_backend, huge,
                              time_limit, record_property):
    sock = os.path.join(sock_dir, "memslots-vub.sock")
    be = backend("vubackend", log_dir, "net_vubackend0,iface=%s" % sock, [staged_backend])
    fe = frontend("vuser-vubackend", log_dir, sock, vuser_plugin, huge)

    def body():
        files = page_files(huge, fe)
        pf, slots = handshake(fe)
        dpdkapp.wait_until(lambda: len(ADDED.findall(be.output())) >= files, 10,
                           what="one ADD_MEM_REG per hugepage file")
        added = ADDED.findall(be.output())
        tables = be.output().count("memory table of")
        told = re.findall(r"protocol features 0x([0-9a-f]+) negotiated", be.output())
        record_property("outcome", "protocol features 0x%x (backend: %s), %d slots; %d "
                        "hugepage files, ADD_MEM_REG %d, SET_MEM_TABLE %d" % (
                            pf, ", ".join(told), slots, files, len(added), tables))
        assert told == ["%x" % pf], (told, pf)
        assert files > BASELINE_REGIONS, "only %d hugepage files: nothing to prove" % files
        assert slots == VUB_SLOTS and pf & (1 << 15), (pf, slots)
        assert (len(added), tables) == (files, 0), (len(added), tables, files)
        to_backend(be, fe)
        to_frontend(be, fe)

    run(be, fe, sock, body, time_limit)


def test_many_files_net_vhost(log_dir, sock_dir, vuser_plugin, huge, time_limit,
                              record_property):
    sock = os.path.join(sock_dir, "memslots-vhost.sock")
    be = backend("net_vhost", log_dir, "net_vhost0,iface=%s" % sock)
    fe = frontend("vuser-net_vhost", log_dir, sock, vuser_plugin, huge)

    def body():
        files = page_files(huge, fe)
        pf, slots = handshake(fe)
        m = dpdkapp.wait_until(
            lambda: re.search(r"EAL memory spans (\d+) files, the backend takes at most "
                              r"(\d+) regions \(it does not offer CONFIGURE_MEM_SLOTS\)",
                              fe.output()), 10, what="the refusal line")
        told = backend_protocol_features(be, sock)
        record_property("outcome", "protocol features 0x%x (net_vhost was told %s), %d "
                        "slots; %d hugepage files; refused: %s" % (
                            pf, ", ".join(hex(x) for x in told), slots, files, m.group(0)))
        assert (pf, slots, told) == (NET_VHOST_PF, BASELINE_REGIONS, [NET_VHOST_PF]), (
            hex(pf), slots, told)
        assert files > BASELINE_REGIONS
        assert (int(m.group(1)), int(m.group(2))) == (files, BASELINE_REGIONS)
        assert "port start failed while describing EAL memory" in fe.output()

    run(be, fe, sock, body, time_limit)


def test_hot_add_vubackend(log_dir, sock_dir, vuser_plugin, staged_backend, huge,
                           time_limit, record_property):
    if not os.path.isfile(HOTADD):
        raise AssertionError("%s not built (make build)" % HOTADD)
    sock = os.path.join(sock_dir, "memslots-hot.sock")
    be = backend("vubackend-hot", log_dir, "net_vubackend0,iface=%s" % sock, [staged_backend])
    prefix = dpdkapp.unique_prefix("hotadd")
    fe = dpdkapp.DpdkApp("vuser-hotadd", [HOTADD] + dpdkapp.eal_args(
        prefix, lcores="1", main_lcore=None, mem_mb=None, no_huge=False, single_file=False,
        plugins=[vuser_plugin], vdevs=["net_vuser0,path=%s" % sock],
        log_levels=["pmd.net.vuser:info"], extra=["--huge-dir", huge]), prefix, log_dir)
    steps = []

    def cmd(line, pattern, timeout=20):
        since = fe.output_len()
        fe.send(line)
        return fe.wait_for_output(pattern, timeout, since=since)

    def counts():
        out = be.output()
        return (len(ADDED.findall(out)), len(REMOVED.findall(out)),
                out.count("memory table of"), page_files(huge, fe))

    def settle(before, n):
        """The backend's received count since before, once it reached n and stopped."""
        after = dpdkapp.wait_stable(lambda: be.stats().get("ipackets") or 0, 10, settle=0.5,
                                    until=lambda v: v - before >= n)
        return after - before

    try:
        with time_limit(CASE_TIMEOUT, "the case"):
            start_backend(be, sock)
            be.run("start")
            fe.start()
            fe.wait_for_output(r"^ready$", 30)
            add0, rem0, tables0, files0 = counts()
            steps.append("start: %d files, ADD %d" % (files0, add0))
            assert (add0, rem0, tables0) == (files0, 0, 0), steps

            assert cmd("grow %d" % GROW_MB, r"^(grown|grow failed)$").group(1) == "grown"
            dpdkapp.wait_until(lambda: counts()[0] - add0 >= counts()[3] - files0, 10)
            add1, rem1, tables1, files1 = counts()
            steps.append("grow %d MB: %d files, ADD +%d, REM %d, SET_MEM_TABLE %d" % (
                GROW_MB, files1, add1 - add0, rem1, tables1))
            assert files1 - files0 >= GROW_MB // 2, steps
            assert (add1 - add0, rem1, tables1) == (files1 - files0, 0, 0), steps

            i0 = be.stats().get("ipackets") or 0
            sent = int(cmd("send %d" % GROWN_FRAMES, r"^sent (\d+)$").group(1))
            got = settle(i0, GROWN_FRAMES)
            steps.append("sent %d from the new pool, backend got %d" % (sent, got))
            assert (sent, got) == (GROWN_FRAMES, GROWN_FRAMES), steps

            assert cmd("shrink", r"^(shrunk|busy \d+)$").group(1) == "shrunk", steps
            dpdkapp.wait_until(lambda: counts()[1] >= files1 - counts()[3], 10)
            add2, rem2, tables2, files2 = counts()
            steps.append("shrink: %d files, REM %d, ADD +%d" % (files2, rem2, add2 - add1))
            assert files2 < files1, steps
            assert (rem2, add2, tables2) == (files1 - files2, add1, 0), steps

            i0 = be.stats().get("ipackets") or 0
            sent = int(cmd("send %d" % BASE_FRAMES, r"^sent (\d+)$").group(1))
            got = settle(i0, BASE_FRAMES)
            steps.append("sent %d from the first pool, backend got %d" % (sent, got))
            assert (sent, got) == (BASE_FRAMES, BASE_FRAMES), steps
            record_property("outcome", "; ".join(steps))
            cmd("quit", r"^bye$")
            fe.wait_exit(10)
            fe.poll()
            be.stop()
            assert_clean_exit({fe.name: fe.returncode, be.name: be.returncode})
    except BaseException:
        print("steps: %s" % "; ".join(steps))
        for app in (be, fe):
            print("---- %s (%s) ----\n%s" % (app.name, app.log_path,
                                             dpdkapp.tail(app.output(), 30)))
        raise
    finally:
        dpdkapp.kill_all([be, fe])
