# SPDX-License-Identifier: BSD-3-Clause
"""Integration tests of the TAP and netlink layer, for real, in network namespaces.

Each case runs in a fresh namespace (ip netns add), so no interface of this machine
is touched.  The C layer (virtio-user/vu_tap.c, vu_netlink.c) is driven through
build/tests/unit/tap_netns_tool; what it did is checked independently with
`ip -j -d link` (iproute2), never through the library itself.

    create (single and multi-queue), name templates, MAC, MTU, up/down,
    removal on close and on process death, name already taken, no /dev/net/tun,
    the device's MTU reaching the TAP through the vhost-kernel backend (tap_netns_tool
    --device: a stand-in for vhost-net in front of a real TAP), and the PMD's probe on
    path=/dev/vhost-net where vhost_net is missing.

Needs root (network namespaces, TAP creation): skipped without.  Each case is a pytest
test (docs/testing.md), bounded by CASE_TIMEOUT:

    python3 -m pytest tests/integration/test_tap_netns.py -k name_taken
"""

import json
import os
import re
import shutil
import subprocess

import pytest

import dpdkapp

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))

TOOL = os.path.join(ROOT, "build", "tests", "unit", "tap_netns_tool")
PLUGIN = dpdkapp.plugin_path()
CASE_TIMEOUT = 60
IO_TIMEOUT = 10.0
IFF_MULTI_QUEUE = 0x100


def run(argv, check=True, timeout=IO_TIMEOUT):
    p = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=timeout)
    if check and p.returncode != 0:
        raise AssertionError("%s exited %d: %s" % (" ".join(argv), p.returncode,
                                                   p.stderr.decode().strip()))
    return p


class Netns:
    """A network namespace of its own, deleted at the end of the case."""

    def __init__(self, tag):
        self.name = "vutap%d_%s" % (os.getpid(), tag)[:30]
        run(["ip", "netns", "add", self.name])

    def delete(self):
        run(["ip", "netns", "del", self.name], check=False)

    def links(self):
        """{ifname: ip -j -d link entry} of every link in the namespace."""
        out = run(["ip", "-n", self.name, "-j", "-d", "link", "show"]).stdout
        return {d["ifname"]: d for d in json.loads(out or b"[]")}

    def link(self, ifname):
        link = self.links().get(ifname)
        assert link is not None, "no link %s in %s (links: %s)" % (
            ifname, self.name, sorted(self.links()))
        return link

    def ip(self, *args):
        return run(["ip", "-n", self.name] + list(args))


class Tool:
    """tap_netns_tool inside a namespace: one command line in, one answer line out."""

    def __init__(self, ns, ifname, queues, *opts):
        argv = ["ip", "netns", "exec", ns.name, TOOL] + list(opts) + [ifname, str(queues)]
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
        self.first = self._line()

    def _line(self):
        # Bounded by the case's alarm; the tool answers at once.
        line = self.proc.stdout.readline().decode().strip()
        if not line:
            self.proc.wait(timeout=IO_TIMEOUT)
            raise AssertionError("tool printed nothing (rc=%s, stderr: %s)"
                                 % (self.proc.returncode, self.stderr()))
        return line

    def stderr(self):
        try:
            return self.proc.stderr.read().decode().strip() if self.proc.poll() is not None else ""
        except (OSError, ValueError):
            return ""

    def cmd(self, line):
        self.proc.stdin.write((line + "\n").encode())
        self.proc.stdin.flush()
        return self._line()

    def ok(self, line):
        ans = self.cmd(line)
        assert ans.startswith("OK"), "%r: %s" % (line, ans)
        return int(ans.split()[1])

    def quit(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write(b"quit\n")
                self.proc.stdin.close()
            except OSError:
                pass
            try:
                self.proc.wait(timeout=IO_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


def expect_created(tool, name, queues):
    parts = tool.first.split()
    assert parts[0] == "OK", "creating %s failed: %s" % (name, tool.first)
    assert parts[1:] == [name, str(queues)], "created %s, expected %s with %d queues" % (
        tool.first, name, queues)


def assert_tap(link, queues, mac=None, up=True):
    info = link.get("linkinfo", {})
    data = info.get("info_data", {})
    assert info.get("info_kind") == "tun" and data.get("type") == "tap", \
        "%s is not a TAP: %s" % (link["ifname"], info)
    assert data.get("pi") is False, "IFF_NO_PI not set: %s" % data
    assert data.get("vnet_hdr") is True, "IFF_VNET_HDR not set: %s" % data
    assert data.get("persist") is False, "the TAP is persistent: %s" % data
    assert data.get("multi_queue") is (queues > 1), "multi_queue: %s" % data
    if queues > 1:
        assert data.get("numqueues") == queues, "numqueues: %s" % data
    if mac:
        assert link["address"] == mac, "MAC %s, expected %s" % (link["address"], mac)
    assert ("UP" in link["flags"]) is up, "flags %s, expected %s" % (
        link["flags"], "UP" if up else "down")


# --------------------------------------------------------------------------
# cases

def test_create_single_queue(env):
    """TAP with IFF_TAP|IFF_NO_PI|IFF_VNET_HDR, given MAC, up; gone on close"""
    ns = env.netns("single")
    t = env.tool(ns, "vs0", 1, "--mac", "02:00:00:00:00:0a")
    expect_created(t, "vs0", 1)
    assert_tap(ns.link("vs0"), 1, mac="02:00:00:00:00:0a")
    assert t.ok("fds") == 1
    assert t.ok("hdr 12") == 0
    assert t.ok("offload 1") == 0      # TUN_F_CSUM
    assert t.ok("close") == 0
    assert "vs0" not in ns.links(), "vs0 still exists after close"
    assert t.quit() == 0


def test_create_multi_queue(env):
    """queues=4: one IFF_MULTI_QUEUE TAP with 4 queues attached; gone on close"""
    ns = env.netns("mq")
    t = env.tool(ns, "vm0", 4)
    expect_created(t, "vm0", 4)
    link = ns.link("vm0")
    assert_tap(link, 4)
    # the kernel's own view of the flags TUNSETIFF was given (sysfs of the namespace)
    flags = int(run(["ip", "netns", "exec", ns.name, "cat",
                     "/sys/class/net/vm0/tun_flags"]).stdout, 16)
    assert flags & IFF_MULTI_QUEUE, "tun_flags 0x%x lack IFF_MULTI_QUEUE" % flags
    assert t.ok("fds") == 4
    assert t.ok("close") == 0
    assert "vm0" not in ns.links(), "vm0 still exists after close"
    t.quit()


def test_name_template(env):
    """a name with %d gets the first free number: vq0, then vq1"""
    ns = env.netns("tmpl")
    a = env.tool(ns, "vq%d", 1)
    b = env.tool(ns, "vq%d", 2)
    expect_created(a, "vq0", 1)
    expect_created(b, "vq1", 2)
    assert_tap(ns.link("vq0"), 1)
    assert_tap(ns.link("vq1"), 2)
    a.quit()
    b.quit()
    assert not {"vq0", "vq1"} & set(ns.links()), "TAPs left: %s" % sorted(ns.links())


def test_link_settings(env):
    """rtnl_link: down, MAC, MTU, up; an MTU the kernel refuses is one ERR line"""
    ns = env.netns("set")
    t = env.tool(ns, "vl0", 2)
    expect_created(t, "vl0", 2)
    assert t.ok("down") == 0
    assert_tap(ns.link("vl0"), 2, up=False)
    assert t.ok("mac 02:12:34:56:78:9a") == 0
    assert t.ok("mtu 1400") == 0
    assert t.ok("up") == 0
    link = ns.link("vl0")
    assert_tap(link, 2, mac="02:12:34:56:78:9a", up=True)
    assert link["mtu"] == 1400, "mtu %s" % link["mtu"]
    ans = t.cmd("mtu 20")
    assert ans.startswith("ERR 22 ") and "MTU 20" in ans, "MTU 20 accepted? %s" % ans
    t.quit()
    assert "vl0" not in ns.links(), "TAP left after exit"


def test_device_mtu_to_tap(env):
    """the device's MTU reaches the TAP via vhost-kernel: at start, or at once if running"""
    # refused (out of the device's range, or by the kernel): ERR, and the MTU stays
    ns = env.netns("devmtu")
    t = env.tool(ns, "vd0", 1, "--device")
    expect_created(t, "vd0", 1)
    assert_tap(ns.link("vd0"), 1)

    def mtu():
        return ns.link("vd0")["mtu"]

    assert mtu() == 1500, "new TAP with MTU %s" % mtu()
    assert t.ok("devmtu 9000") == 0
    assert mtu() == 1500, "stopped device: the TAP got MTU %s before the start" % mtu()
    assert t.ok("start") == 0
    assert mtu() == 9000, "MTU 9000 set before the start: the TAP has %s" % mtu()
    assert t.ok("devmtu 1280") == 0
    assert mtu() == 1280, "running device: the TAP has MTU %s, expected 1280" % mtu()
    # the device takes up to 65535; a TAP's limit is 65535 - 14 (tun.c)
    ans = t.cmd("devmtu 65535")
    assert ans.startswith("ERR 22 ") and "set MTU 65535" in ans, "MTU 65535: %s" % ans
    ans = t.cmd("devmtu 67")
    assert ans.startswith("ERR 22 ") and "MTU 67 is out of range" in ans, "MTU 67: %s" % ans
    assert mtu() == 1280, "refused MTUs changed the TAP's to %s" % mtu()
    assert t.ok("stop") == 0
    assert t.ok("devmtu 4000") == 0
    assert mtu() == 1280, "stopped device: the TAP got MTU %s before the start" % mtu()
    assert t.ok("start") == 0
    assert mtu() == 4000, "restart with MTU 4000: the TAP has %s" % mtu()
    t.quit()
    assert "vd0" not in ns.links(), "TAP left after exit"


def test_process_death_removes_tap(env):
    """SIGKILL of the owner: the kernel removes the TAP (not persistent)"""
    ns = env.netns("kill")
    t = env.tool(ns, "vk0", 2)
    expect_created(t, "vk0", 2)
    t.kill()
    ok = dpdkapp.wait_until(lambda: "vk0" not in ns.links(), 5.0)
    assert ok, "vk0 still exists after its owner died"


def test_name_taken(env):
    """an existing interface's name: one ERR line (EEXIST), nothing created or changed"""
    ns = env.netns("taken")
    ns.ip("link", "add", "taken0", "type", "veth", "peer", "name", "taken1")
    before = ns.links()
    t = env.tool(ns, "taken0", 2)
    assert t.first.startswith("ERR 17 "), "expected EEXIST: %s" % t.first
    assert "already exists" in t.first and "taken0" in t.first, t.first
    assert t.proc.wait(timeout=IO_TIMEOUT) == 1
    after = ns.links()
    assert sorted(after) == sorted(before), "links changed: %s -> %s" % (
        sorted(before), sorted(after))
    assert after["taken0"]["linkinfo"]["info_kind"] == "veth", after["taken0"]
    errors = [ln for ln in t.proc.stderr.read().decode().splitlines() if ln.startswith("vu[1]")]
    assert len(errors) == 1, "expected one error line, got %s" % errors


def test_no_tun_device(env):
    """no TUN clone device: one ERR line naming it and the tun module"""
    ns = env.netns("notun")
    t = env.tool(ns, "vn0", 1, "--tun", "/nonexistent/tun")
    assert t.first.startswith("ERR 2 "), t.first
    assert "/nonexistent/tun" in t.first and "tun kernel module" in t.first, t.first
    assert t.proc.wait(timeout=IO_TIMEOUT) == 1
    assert sorted(ns.links()) == ["lo"], sorted(ns.links())


def pmd_probe(env, ns, vdev):
    """Run testpmd in the namespace with one vuser vdev that must fail to probe;
    return its output."""
    if not shutil.which(dpdkapp.TESTPMD):
        pytest.skip("%s not found" % dpdkapp.TESTPMD)
    if not os.path.isfile(PLUGIN):
        raise AssertionError("plugin %s not built (make build)" % PLUGIN)
    staged = dpdkapp.stage_plugin(PLUGIN)
    env.staged.append(staged)
    prefix = dpdkapp.unique_prefix("tapns")
    argv = ["ip", "netns", "exec", ns.name, dpdkapp.TESTPMD] + dpdkapp.eal_args(
        prefix, lcores="0,1", main_lcore=0, vdevs=[vdev], plugins=[staged]) + [
        "--", "-i", "--total-num-mbufs=2048"]
    app = dpdkapp.DpdkApp("pmd-%s" % env.case, argv, prefix, env.log_dir, interactive=True)
    env.apps.append(app)
    app.start()
    dpdkapp.wait_until(lambda: (not app.alive()) or re.search(dpdkapp.PROMPT, app.output(), re.M),
                       30.0, what="testpmd to finish probing")
    out = app.stop(timeout=10)
    assert app.returncode is not None and app.returncode >= 0, \
        "testpmd crashed (rc=%s)" % app.returncode
    assert "No probed ethernet devices" in out, "a port was probed:\n%s" % dpdkapp.tail(out)
    return out


def vuser_errors(out):
    return [ln for ln in out.splitlines() if "VUSER:" in ln]


def test_pmd_without_vhost_net(env):
    """path=/dev/vhost-net without the vhost_net module: one line naming it, no TAP"""
    if os.path.exists("/dev/vhost-net"):
        pytest.skip("this machine has /dev/vhost-net (the VM test covers it)")
    ns = env.netns("pmd")
    out = pmd_probe(env, ns, "net_vuser0,path=/dev/vhost-net,iface=vx0")
    lines = vuser_errors(out)
    assert len(lines) == 1, "expected one VUSER line, got %s" % lines
    assert "vhost_net" in lines[0] and "/dev/vhost-net" in lines[0], lines[0]
    assert sorted(ns.links()) == ["lo"], "left behind: %s" % sorted(ns.links())


def test_pmd_iface_with_vhost_user(env):
    """iface= with a vhost-user socket path: one line saying iface needs vhost-kernel"""
    ns = env.netns("pmdu")
    out = pmd_probe(env, ns, "net_vuser0,path=/nonexistent/sock0,iface=vx0")
    lines = vuser_errors(out)
    assert len(lines) == 1, "expected one VUSER line, got %s" % lines
    assert "iface=vx0" in lines[0] and "vhost-kernel" in lines[0], lines[0]
    assert sorted(ns.links()) == ["lo"], "left behind: %s" % sorted(ns.links())


# --------------------------------------------------------------------------
# per case


class Env:
    def __init__(self, log_dir, verbose):
        self.log_dir = log_dir
        self.verbose = verbose
        self.case = None
        self.nss, self.tools, self.apps, self.staged = [], [], [], []

    def netns(self, tag):
        ns = Netns(tag)
        self.nss.append(ns)
        return ns

    def tool(self, ns, ifname, queues, *opts):
        t = Tool(ns, ifname, queues, *opts)
        self.tools.append(t)
        return t

    def start_case(self, name):
        self.case = name.replace("test_", "")

    def end_case(self, failed):
        self.cleanup()

    def cleanup(self):
        for t in self.tools:
            t.kill()
        dpdkapp.kill_all(self.apps)
        for ns in self.nss:
            ns.delete()
        for s in self.staged:
            dpdkapp.unstage_plugin(s)
        self.nss, self.tools, self.apps, self.staged = [], [], [], []


@pytest.fixture(scope="module")
def module_env(log_dir, request):
    if os.geteuid() != 0:
        pytest.skip("needs root (network namespaces, TAP creation)")
    if not os.path.isfile(TOOL):
        pytest.fail("%s not built (make build)" % TOOL)
    yield Env(log_dir, request.config.getoption("verbose") > 0)
