# SPDX-License-Identifier: BSD-3-Clause
"""vuser in a container: dpdk-testpmd on a vuser port in a container of a private
dockerd, net_vhost on the host (docs/containers.md).

The container runs as docs/containers.md says: --network none, --cap-drop ALL,
no-new-privileges, a read-only root, a tmpfs for EAL's runtime directory, the socket's
directory bind-mounted, no hugepages (--no-huge --single-file-segments: memfd).

  test_client_in_container   vuser connects to net_vhost: exactly 256 frames each way;
                             the container holds no capability, EAL's memory is a memfd,
                             no hugepage is mapped, the memory cgroup stays under its
                             limit
  test_backend_restart       vuser in server mode in the container: net_vhost killed and
                             started again three times while the container runs, exact
                             traffic after each
  test_demo_container        make demo-container's script: the table, and nothing of the
                             runtime left, also after a SIGINT in the middle

The host's iptables rules, bridges and forwarding switches are the same after the module
as before (fixture host_network).

    /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/integration/test_container.py
"""

import glob
import os
import re
import signal
import subprocess
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))

import container  # noqa: E402
import dpdkapp  # noqa: E402
import vhostpeer  # noqa: E402

BURSTS = 8                          # x 32 frames each way
MEM_MB = 128                        # EAL -m of the containerised testpmd
# the container's memory cgroup limit; ASan's shadow memory and quarantine (make
# test-asan preloads its runtime) need more
MEMORY_LIMIT = (512 if os.environ.get("VUSER_APP_PRELOAD") else 192) << 20
MBUFS = 4096
RESTARTS = 3
LINK_TIMEOUT = 15.0
DEMO_TIMEOUT = 180
PAGE_4K_LINE = "KernelPageSize:        4 kB"


def start_container_fe(rt, log_dir, sock_dir, name, devargs, memory=None):
    """An interactive testpmd with a vuser port in a container, the socket directory
    mounted at container.SOCK_DIR_IN; forwarding on lcore 0, main lcore 1."""
    app = container.ContainerTestpmd(
        name, log_dir, rt.docker, mounts={sock_dir: container.SOCK_DIR_IN},
        vdevs=["virtio_user0," + devargs], plugins=[rt.plugin_in_image],
        interactive=True, lcores="0,1", main_lcore=1, mem_mb=MEM_MB, memory=memory,
        app_args=vhostpeer.app_args(MBUFS))
    app.start()
    app.wait_ready(timeout=60)
    vhostpeer.enable_tx_retry(app, vhostpeer.SINK)
    return app


def exchange(be, fe):
    """BURSTS x 32 frames each way, counted exactly at both ends."""
    n = BURSTS * vhostpeer.BURST
    _, _, bad = vhostpeer.send_counted(fe, be, BURSTS)
    _, _, bad2 = vhostpeer.send_counted(be, fe, BURSTS)
    assert not bad + bad2, "not exact: %s" % "; ".join(bad + bad2)
    return n


def mapped_memory(pid):
    """(bytes mapped from memfds, [mappings whose page size is not 4 kB]) of ``pid``."""
    memfd, big, cur = 0, [], None
    with open("/proc/%d/smaps" % pid) as f:
        for ln in f:
            m = re.match(r"^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ \S+\s*(.*)$", ln)
            if m:
                cur = m.group(3)
                if cur.startswith("/memfd:"):
                    memfd += int(m.group(2), 16) - int(m.group(1), 16)
            elif ln.startswith("KernelPageSize:") and ln.strip() != PAGE_4K_LINE.strip():
                big.append("%s (%s)" % (cur, ln.split(":", 1)[1].strip()))
    return memfd, big


def cap_eff(pid):
    with open("/proc/%d/status" % pid) as f:
        return int(re.search(r"^CapEff:\s*([0-9a-f]+)", f.read(), re.M).group(1), 16)


def test_client_in_container(container_runtime, vhost_backends, log_dir, sock_dir,
                             record_property, time_limit):
    """Client mode: exact traffic both ways, no capability, memfd memory, no hugepages,
    the memory cgroup under its limit."""
    rt = container_runtime
    with time_limit(150, "test_client_in_container"):
        sock = os.path.join(sock_dir, "ct-client.sock")
        be = vhost_backends.own_listener(sock)
        fe = start_container_fe(rt, log_dir, sock_dir, "ct-client",
                                "path=%s/ct-client.sock" % container.SOCK_DIR_IN,
                                memory=MEMORY_LIMIT)
        try:
            for app in (fe, be):
                app.wait_link_up(timeout=LINK_TIMEOUT)
            n = exchange(be, fe)
            pid = fe.container_pid()
            caps = cap_eff(pid)
            memfd, big = mapped_memory(pid)
            usage, peak = container.memory_usage(pid)
            rss = dpdkapp.proc_resources(pid)["rss_kb"] << 10
            hc = rt.docker.cli("inspect", "-f", "{{.HostConfig.CapDrop}} "
                               "{{.HostConfig.ReadonlyRootfs}} {{.HostConfig.NetworkMode}} "
                               "{{.HostConfig.SecurityOpt}} {{.HostConfig.Memory}}",
                               fe.cname).stdout.strip()
            out = fe.stop()
        finally:
            vhost_backends.discard(be)
            fe.kill()
    record_property("outcome", "%d frames each way; CapEff %#x; memfd %d MB mapped, "
                    "RSS %.1f MB, cgroup usage %.1f MB peak %.1f MB of %d MB; %s"
                    % (n, caps, memfd >> 20, rss / 1e6, usage / 1e6, peak / 1e6,
                       MEMORY_LIMIT >> 20, hc))
    assert hc == "[ALL] true none [no-new-privileges] %d" % MEMORY_LIMIT, hc
    assert caps == 0, "testpmd in the container holds capabilities %#x" % caps
    assert memfd >= MEM_MB << 20, "EAL's memory is not a memfd: %d bytes of memfd" % memfd
    assert not big, "mappings with pages other than 4 kB (hugepages): %s" % big
    assert peak is not None and 0 < peak < MEMORY_LIMIT, "cgroup peak %s" % peak
    assert fe.returncode == 0, "testpmd in the container exited %s:\n%s" % (
        fe.returncode, dpdkapp.tail(out, 20))


def test_backend_restart(container_runtime, vhost_backends, log_dir, sock_dir,
                         record_property, time_limit):
    """Server mode in the container; the host's backend killed and started again
    RESTARTS times while the container runs: link down, up, exact traffic each time."""
    rt = container_runtime
    with time_limit(200, "test_backend_restart"):
        sock = os.path.join(sock_dir, "ct-server.sock")
        fe = start_container_fe(rt, log_dir, sock_dir, "ct-server",
                                "path=%s/ct-server.sock,server=1" % container.SOCK_DIR_IN)
        be = None
        counts = []
        try:
            pid = fe.container_pid()
            dpdkapp.wait_until(lambda: os.path.exists(sock), 15,
                               what="the container's socket %s on the host" % sock)
            for i in range(RESTARTS + 1):
                be = vhost_backends.client(sock)
                for app in (fe, be):
                    app.wait_link_up(timeout=LINK_TIMEOUT)
                counts.append(exchange(be, fe))
                vhost_backends.discard(be) if i == RESTARTS else be.kill()
                dpdkapp.wait_until(
                    lambda: (fe.link_status() or {}).get("status") == "DOWN",
                    LINK_TIMEOUT, what="the container's link down after the backend left")
                be = None
            assert fe.container_pid() == pid and fe.alive(), "the container restarted"
            out = fe.stop()
        finally:
            vhost_backends.discard(be)
            fe.kill()
    record_property("outcome", "frames each way per backend: %s; one container (pid %d) "
                    "throughout" % (counts, pid))
    assert fe.returncode == 0, "testpmd in the container exited %s:\n%s" % (
        fe.returncode, dpdkapp.tail(out, 20))
    assert not os.path.exists(sock), "the container left its socket %s" % sock


def _runtime_dirs():
    return set(glob.glob(os.path.join(dpdkapp.private_root(), "docker-demo-*")))


def _demo(log_dir, *extra):
    argv = [sys.executable, os.path.join(ROOT, "scripts", "demo.py"), "--container",
            "--only", "frontend-Tx", "--warmup", "0.2", "--duration", "0.5",
            "--log-dir", os.path.join(log_dir, "demo")] + list(extra)
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, text=True)


def test_demo_container(host_network, log_dir, record_property, time_limit):
    """scripts/demo.py --container (make demo-container): the table with packets counted
    at both ends, exit 0; then a run interrupted by SIGINT once its frontend runs: exit
    130. Neither leaves a runtime directory, a daemon or a mount behind."""
    before = _runtime_dirs()
    with time_limit(DEMO_TIMEOUT, "test_demo_container"):
        p = _demo(log_dir)
        out, _ = p.communicate(timeout=DEMO_TIMEOUT // 2)
        if "the container runtime cannot start" in out:
            pytest.skip(out.strip().splitlines()[-1])
        rows = re.findall(r"^frontend-Tx\s+frontend sent\s+([\d,]+)\s+[\d.]+\s+([\d,]+)"
                          r"\s*\n\s+backend received\s+([\d,]+)\s+[\d.]+\s+([\d,]+)", out, re.M)
        left = _runtime_dirs() - before
        assert p.returncode == 0 and rows, "demo failed (rc=%s):\n%s" % (p.returncode, out)
        sent, recv = (int(x.replace(",", "")) for x in (rows[0][1], rows[0][3]))
        assert sent > 0 and recv > 0, out
        assert not left, "the demo left %s" % left

        # a window far longer than the second before the signal: the run cannot end
        # on its own first (a 0.5 s window did, on a fast start)
        p = _demo(log_dir, "--duration", "60")
        seen = []
        for ln in p.stdout:
            seen.append(ln)
            if "starting" in ln:
                break
        # the frontend's container is being started: interrupt it there
        time.sleep(1.0)
        p.send_signal(signal.SIGINT)
        rest, _ = p.communicate(timeout=DEMO_TIMEOUT // 2)
        left = _runtime_dirs() - before
    mounts = [ln for ln in open("/proc/self/mountinfo") if "/docker-demo-" in ln]
    record_property("outcome", "table: frontend sent %d, backend received %d (totals); "
                    "SIGINT: rc %d, nothing left" % (sent, recv, p.returncode))
    assert p.returncode == 130, "interrupted demo rc=%s:\n%s" % (p.returncode,
                                                                 "".join(seen) + rest)
    assert not left, "the interrupted demo left %s" % left
    assert not mounts, "mounts left: %s" % mounts
