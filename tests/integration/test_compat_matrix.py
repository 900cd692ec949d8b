# SPDX-License-Identifier: BSD-3-Clause
"""Compatibility matrix: each testpmd command line through DPDK's driver and through vuser.

vuser is a drop-in for DPDK's net_virtio_user (issue 24): a command line that works with
one works with the other, with the same result. Each row of ROWS is one command line,
devargs and testpmd options, run twice against DPDK's net_vhost:

    dpdk   dpdk-testpmd --vdev net_virtio_user0,<devargs> -- <options>
    vuser  dpdk-testpmd -d <staged plugin> --vdev virtio_user0,<devargs> -- <options>
           (`show port info` must say net_vuser drives the port)

and both runs must end the same way:

    up       the port starts, its link comes up, and PKTS frames cross each way exactly:
             the frontend sends them (`start tx_first`) to the backend, then the backend
             sends as many back; each end counts exactly PKTS received, 64 bytes each,
             error counters 0, every queue its share; a row with restart=True stops and
             starts the port and does it again. The link speed and MTU (and where a row
             asks, the MAC, the xstats, the files left in a server's directory after it
             quit) are the same for both drivers
    refused  the probe fails (no port) or the port does not start; the line that says
             why is shown

A row also says what DPDK's driver must do (UP or REFUSED), so a row that tests nothing
(both refusing a command line meant to work) fails too. A failing row prints one line,
`dpdk: up 256/256, MTU 1500, speed Unknown; vuser: refused at start "..."`, and the
summary lists every row's outcomes (section "outcomes").

Peers: client-mode rows share net_vhost listeners (one per queue count, reused row after
row); a server-mode row (server=1) gets a net_vhost client=1 of its own, started first
and forwarding, that connects once the frontend listens (as DPDK's test plans run it),
in a directory of the run's own. Both ends forward with icmpecho, which frees the UDP
frames it gets, and retry Tx (`set fwd icmpecho retry`), so that the counts are exact
whatever the ring sizes.

One driver's run of a row is bounded by RUN_LIMIT. Logs: results/integration-compat_matrix/.
Run (one row: -k ROW_ID; docs/testing.md):
    /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/integration/test_compat_matrix.py
"""

import os
import re
import shutil
import subprocess

import pytest

import dpdkapp
import vhostpeer
from dpdkapp import mismatches, settle_all
from vhostpeer import BURST, PKT_LEN

PKTS = 256                  # frames each way per exchange, shared by the queues
RUN_LIMIT = 18              # s: one driver's run of a row (a passing one takes 2 to 4)
PROBE_TIMEOUT = 12.0        # s: testpmd's prompt (or its exit) after start
LINK_TIMEOUT = 8.0
SETTLE_TIMEOUT = 4.0        # s: for each half of an exchange
UP, REFUSED = "up", "refused"
DEFAULT_SOCK = "vhost-user.sock"  # a name without "vhost-net" in it: see point 2's rows
BROADCAST = "ff:ff:ff:ff:ff:ff"
MULTICAST = "01:00:5e:00:00:01"
TESTPMD_PEER = "02:00:00:00:00:00"  # testpmd's default destination of port 0's frames
PROC_INFO = "dpdk-proc-info"
TOOL_TIMEOUT = 10           # s: a secondary process's run
PRIMARY_MEM_MB = 128        # a primary in hugepages (conftest.HUGE_PAGES 2 MB pages)

# Log lines of DPDK's drivers/net/virtio: never printed by a vdev that vuser took.
DPDK_VIRTIO_SIGNS = ("virtio_user_pmd_probe():", "virtio_user_dev_init():",
                     "virtio_user_dev_setup():")
# Why a probe or a start failed: the first line of vuser (it logs at NOTICE and above
# here), else of DPDK's driver ("func(): ") with strong words, or with "no", else of
# testpmd or ethdev with strong words.
STRONG_WORDS = re.compile(r"invalid|not |n't|fail|cannot|refus|unknown|error|timed out|"
                          r"requires|exceed|no such|too |must", re.I)
WEAK_WORDS = re.compile(r"\bno\b", re.I)
ANY = re.compile("")
DRIVER_LINE = re.compile(r"^(?:\w+\(\): |VHOST_CONFIG)")
REASON_TIERS = ((re.compile(r"^VUSER: "), ANY), (DRIVER_LINE, STRONG_WORDS),
                (DRIVER_LINE, WEAK_WORDS), (ANY, STRONG_WORDS))
START_MARK = "Configuring Port "            # testpmd, before it configures a port


class Row:
    """One command line: devargs (without path unless the row is about it) and testpmd
    options; ``expect`` what DPDK's driver does with it.

    A path in the devargs may use {dir}: the run's own directory (the frontend's cwd).
    Client mode without a path connects to a shared listener; with a path, a backend
    listens there unless ``listen`` is False. restart: a port stop/start and the exchange
    again. xstats: the extended statistics (names and values) are compared. secondary:
    the frontend runs in hugepages and dpdk-proc-info, a secondary process, reads its
    counters."""

    def __init__(self, rid, devargs="", opts="", expect=UP, restart=False, xstats=False,
                 listen=True, secondary=False):
        self.id, self.devargs, self.opts, self.expect = rid, devargs, opts.split(), expect
        self.restart, self.xstats, self.listen = restart, xstats, listen
        self.secondary = secondary
        self.kv = dict(kv.split("=", 1) for kv in devargs.split(",") if "=" in kv)
        self.server = self.kv.get("server") == "1"
        q = self.kv.get("queues", "1")
        # the backend's queue pairs: the frontend's, unless that is out of range
        self.queues = int(q) if q.isdigit() and 0 < int(q) <= 16 else 1
        self.nq = int(self.opt("--rxq", 1))

    def opt(self, name, default=None):
        for o in self.opts:
            if o.startswith(name + "="):
                return o.split("=", 1)[1]
        return default

    def mbufs(self):
        """A pool that holds every ring full (rings of up to 4096 here) and what is in
        flight, and fits in -m 256."""
        desc = max([1024] + [int(self.opt(o, 0)) for o in ("--rxd", "--txd")]
                   + [int(self.kv.get("queue_size", "0") or 0)])
        return 2 * desc * max(self.nq, 1) + 4096

    def __repr__(self):
        return self.id


def datapaths():
    """Every data path: packed_vq x in_order x mrg_rxbuf x vectorized."""
    out = []
    for packed in (0, 1):
        for in_order in (0, 1):
            for mrg in (0, 1):
                for vec in (0, 1):
                    name = ("packed" if packed else "split") + ("_inorder" * in_order) \
                        + ("_mrg" * mrg) + ("_vec" * vec)
                    out.append((name, "packed_vq=%d,in_order=%d,mrg_rxbuf=%d,"
                                "vectorized=%d" % (packed, in_order, mrg, vec)))
    return out


LRO = "--rx-offloads=0x10"          # RTE_ETH_RX_OFFLOAD_TCP_LRO

ROWS = (
    # every data path, testpmd's default descriptor counts
    [Row("path-" + n, d) for n, d in datapaths()]
    # issue 24 point 1: --txd/--rxd beyond the default ring of 256, on every data path
    + [Row("txd1024-" + n, d, "--txd=1024 --rxd=1024") for n, d in datapaths()]
    + [
        Row("txd512", "", "--txd=512 --rxd=512"),
        Row("txd4096", "", "--txd=4096 --rxd=4096"),
        Row("txd64", "", "--txd=64 --rxd=64"),
        Row("txd64-packed", "packed_vq=1", "--txd=64 --rxd=64"),
        Row("qs1024", "queue_size=1024"),
        Row("qs1024-txd1024", "queue_size=1024", "--txd=1024 --rxd=1024"),
        Row("qs1024-txd64", "queue_size=1024", "--txd=64 --rxd=64"),
        Row("qs1024-packed-txd1024", "packed_vq=1,queue_size=1024",
            "--txd=1024 --rxd=1024"),
        Row("qs4096-txd4096", "queue_size=4096", "--txd=4096 --rxd=4096"),
        Row("qs4096-packed-txd4096", "packed_vq=1,queue_size=4096",
            "--txd=4096 --rxd=4096"),
        # multi-queue; point 3: queues>1 with cq=0
        Row("cq1", "cq=1"),
        Row("q2", "queues=2", "--rxq=2 --txq=2"),
        Row("q2-cq1", "queues=2,cq=1", "--rxq=2 --txq=2"),
        Row("q2-cq1-packed", "queues=2,cq=1,packed_vq=1", "--rxq=2 --txq=2"),
        Row("q4-cq1", "queues=4,cq=1", "--rxq=4 --txq=4"),
        Row("q4-cq1-rxq2", "queues=4,cq=1", "--rxq=2 --txq=2"),
        Row("q8-cq1", "queues=8,cq=1", "--rxq=8 --txq=8"),
        Row("q2-cq0", "queues=2,cq=0", "--rxq=2 --txq=2", expect=REFUSED),
        Row("q4-cq0", "queues=4,cq=0", "--rxq=4 --txq=4", expect=REFUSED),
        Row("q8-cq0", "queues=8,cq=0", "--rxq=8 --txq=8", expect=REFUSED),
        # server and client mode; point 8: eight queue pairs in server mode, port restart
        Row("server0", "server=0"),
        Row("server", "server=1"),
        Row("server-packed", "server=1,packed_vq=1"),
        Row("server-restart", "server=1", restart=True),
        Row("server-q2", "server=1,queues=2,cq=1", "--rxq=2 --txq=2"),
        Row("server-q8", "server=1,queues=8", "--rxq=8 --txq=8", restart=True),
        Row("server-q8-packed", "server=1,queues=8,packed_vq=1", "--rxq=8 --txq=8",
            restart=True),
        Row("server-q8-split", "server=1,queues=8,in_order=0,mrg_rxbuf=0",
            "--rxq=8 --txq=8", restart=True),
        Row("server-q8-split_inorder", "server=1,queues=8,in_order=1,mrg_rxbuf=0",
            "--rxq=8 --txq=8", restart=True),
        Row("server-q8-packed_inorder_vec",
            "server=1,queues=8,packed_vq=1,in_order=1,mrg_rxbuf=0,vectorized=1",
            "--rxq=8 --txq=8", restart=True),
        Row("restart", "", restart=True),
        # point 10: a server that fails leaves no file behind (the "left" fact)
        Row("server-txd1024", "server=1", "--txd=1024 --rxd=1024"),
        Row("server-refused-start", "server=1,mrg_rxbuf=0", "--max-pkt-len=9000",
            expect=REFUSED),
        Row("server-unknown-key", "server=1,bogus=1", expect=REFUSED),
        Row("server-no-dir", "path={dir}/missing/vhost-user.sock,server=1", expect=REFUSED),
        # socket names; point 2: the backend is chosen by what the path is, not its name
        Row("server-dot-vhost-net", "path=./vhost-net,server=1"),
        Row("server-vhost-net", "path={dir}/vhost-net,server=1"),
        Row("server-dotted-name", "path={dir}/vhost.user-0.sock,server=1"),
        Row("client-vhost-net", "path={dir}/vhost-net"),
        Row("client-dotted-name", "path={dir}/vm-1.vhost-user_0.sock"),
        # point 9: TCP LRO asked for on paths without mergeable buffers
        Row("lro-split", "mrg_rxbuf=0", LRO),
        Row("lro-packed", "packed_vq=1,mrg_rxbuf=0", LRO),
        Row("lro-split_vec", "in_order=1,mrg_rxbuf=0,vectorized=1", LRO),
        Row("lro-packed_vec", "packed_vq=1,in_order=1,mrg_rxbuf=0,vectorized=1", LRO),
        Row("lro-mrg", "mrg_rxbuf=1", LRO),
        Row("rx-cksum", "", "--rx-offloads=0xc"),
        Row("tx-cksum-multiseg", "", "--tx-offloads=0x800c"),
        # MAC, point 7: the link speed
        Row("mac", "mac=02:11:22:33:44:55"),
        Row("speed10000", "speed=10000"),
        Row("speed100000-packed", "speed=100000,packed_vq=1"),
        # point 5: MTU from the command line
        Row("max-pkt-len-9000", "", "--max-pkt-len=9000 --enable-scatter"),
        Row("max-pkt-len-9000-nomrg", "mrg_rxbuf=0", "--max-pkt-len=9000", expect=REFUSED),
        Row("max-pkt-len-9000-nomrg-mbuf", "mrg_rxbuf=0",
            "--max-pkt-len=9000 --mbuf-size=9300"),
        Row("max-pkt-len-2000", "", "--max-pkt-len=2000"),
        # point 6: extended statistics, names and values
        Row("xstats", "", xstats=True),
        Row("xstats-q2", "queues=2", "--rxq=2 --txq=2", xstats=True),
        # point 4: a secondary process attached to the port reads its counters
        Row("secondary-proc-info", "", secondary=True),
        Row("secondary-proc-info-packed-q2", "packed_vq=1,queues=2", "--rxq=2 --txq=2",
            secondary=True),
        # command lines DPDK's driver refuses
        Row("bad-path", "path={dir}/missing.sock", expect=REFUSED, listen=False),
        Row("unknown-key", "bogus=1", expect=REFUSED),
        Row("queue-size-1000", "queue_size=1000", expect=REFUSED),
        Row("queues-200", "queues=200,cq=1", expect=REFUSED),
    ]
)


class Outcome:
    """How one driver's run of a row ended: ``state`` (up, refused, no link, error), a
    one-line ``detail``, and ``facts`` compared between the drivers."""

    def __init__(self, state, detail="", counts=None):
        self.state, self.detail, self.counts = state, detail, counts
        self.facts = {}
        self.exact = False

    def key(self):
        facts = tuple(sorted((k, tuple(sorted(v.items())) if isinstance(v, dict) else v)
                             for k, v in self.facts.items()))
        return (self.state, self.counts if self.state == UP else None, facts)

    def __str__(self):
        parts = [self.state + (" " + self.counts if self.state == UP else "")]
        if self.detail:
            parts[0] += (" " if self.state == REFUSED else ": ") + self.detail
        for k, v in sorted(self.facts.items()):
            parts.append("%d %s" % (len(v), k) if isinstance(v, dict) else "%s %s" % (k, v))
        return ", ".join(parts)


def fact_diff(ref, got):
    """What differs in the facts, one item per fact (dicts by their keys and values)."""
    out = []
    for k in sorted(set(ref.facts) | set(got.facts)):
        a, b = ref.facts.get(k), got.facts.get(k)
        if a == b:
            continue
        if isinstance(a, dict) and isinstance(b, dict):
            only_a = sorted(set(a) - set(b))
            only_b = sorted(set(b) - set(a))
            vals = ["%s %s/%s" % (n, a[n], b[n]) for n in sorted(set(a) & set(b))
                    if a[n] != b[n]]
            parts = [("only dpdk", only_a), ("only vuser", only_b),
                     ("values dpdk/vuser", vals)]
            out.append("%s: %s" % (k, "; ".join("%s %s" % (t, v) for t, v in parts if v)))
        else:
            out.append("%s: dpdk %s, vuser %s" % (k, a, b))
    return out


def reason(text, at_start=False):
    """The line that says why the probe (or with ``at_start``, the port start) failed."""
    if at_start and START_MARK in text:
        text = text[text.rindex(START_MARK):]
    lines = [ln.strip() for ln in text.splitlines()
             if not ln.startswith(("$ ", "EAL: ", "Warning", "vdev_probe(): failed"))]
    for source, words in REASON_TIERS:
        for ln in lines:
            if source.search(ln) and words.search(ln):
                return '"%s"' % ln[:200]
    return "(no line says why)"


def wait_prompt(app):
    """The first prompt (True) or the app's exit (False), bounded."""
    rx = re.compile(dpdkapp.PROMPT, re.M)
    done = dpdkapp.wait_until(lambda: rx.search(app.output()) or not app.alive() or None,
                              PROBE_TIMEOUT, what="%s to probe" % app.name)
    return not isinstance(done, bool) and app.alive()


def exchange(be, fe, nq):
    """PKTS frames each way, PKTS/nq per queue: the frontend sends (`start tx_first`)
    while the backend only counts, then the backend sends while the frontend only
    counts (both ends sending at once can fill each other's rings while neither
    receives, and their Tx retries give up). Returns 'tx/rx', what the backend and the
    frontend received, with anything else that was not exact, and whether all was."""
    bursts = PKTS // (BURST * nq)
    n = bursts * BURST * nq
    b0, f0 = be.stats(), fe.stats()
    be.run("start")
    try:
        fe.run("start tx_first %d" % bursts)
        dpdkapp.wait_until(lambda: be.stats()["ipackets"] - b0["ipackets"] >= n,
                           SETTLE_TIMEOUT)
        be.run("stop")
        be.run("start tx_first %d" % bursts)
        # one window in which neither end's counters move: late or extra frames of the
        # first half show here too
        b, f = settle_all([(be, 0, b0, "opackets", n), (fe, 0, f0, "ipackets", n)],
                          timeout=SETTLE_TIMEOUT)
    finally:
        fe.run("stop")
        be.run("stop")
    size = n * PKT_LEN
    bad = mismatches("backend", b, opackets=n, ibytes=size, obytes=size) \
        + mismatches("frontend", f, opackets=n, ibytes=size, obytes=size)
    share = [n // nq] * nq
    for name, d in (("backend", b), ("frontend", f)):
        for key in ("q_ipackets", "q_opackets"):
            got = (d.get(key) or [])[:nq]
            if nq > 1 and got != share:
                bad.append("%s %s %s (expected %s)" % (name, key, got, share))
    counts = "%d/%d" % (b.get("ipackets"), f.get("ipackets"))
    exact = b.get("ipackets") == n and f.get("ipackets") == n and not bad
    return counts + ("" if not bad else " [%s]" % "; ".join(bad)), exact


def port_facts(fe, row, expected_driver):
    """Speed and MTU (and the MAC when the row sets it) from `show port info`; fails
    when another driver than the one under test took the port."""
    text = fe.run("show port info 0")

    def field(rx):
        m = re.search(rx, text, re.M)
        return m.group(1).strip() if m else "?"

    driver = field(r"Driver name: *(\S+)")
    if driver != expected_driver:
        raise WrongDriver("port 0 is driven by %s, not %s" % (driver, expected_driver))
    facts = {"speed": field(r"^Link speed: *(.+)$"), "MTU": field(r"^MTU: *(\d+)")}
    if "mac" in row.kv:
        facts["MAC"] = field(r"MAC address: *(\S+)")
    return facts


class WrongDriver(Exception):
    pass


class Run:
    """One driver's run of one row."""

    def __init__(self, kind, row, backends, frontends, sock_dir, plugin, huge=None):
        self.kind, self.row, self.plugin, self.huge = kind, row, plugin, huge
        self.fk = vhostpeer.FRONTENDS[kind]
        self.backends, self.frontends = backends, frontends
        self.dir = os.path.join(sock_dir, "%s-%s" % (row.id, kind))
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.dir)
        self.be = self.fe = None
        self.own_be = False

    def devargs(self):
        """The row's devargs with its path; the server's socket path (server rows)."""
        row = self.row
        if "path" in row.kv:
            args = row.devargs.replace("{dir}", self.dir)
            path = row.kv["path"].replace("{dir}", self.dir)
        elif row.server:
            path = os.path.join(self.dir, DEFAULT_SOCK)
            args = "path=%s,%s" % (path, row.devargs)
        else:
            path = self.be.sock
            args = "path=%s%s" % (path, "," + row.devargs if row.devargs else "")
        return args, os.path.join(self.dir, path)

    def peer_first(self):
        """The backend, started before the frontend. Client mode: a listener. Server
        mode: a net_vhost client=1 trying to connect every second until the frontend
        listens (DPDK's driver waits for it in its probe), as DPDK's test plans run it."""
        row = self.row
        if row.server:
            self.be = self.backends.client(self.devargs()[1], row.queues, row.nq)
            self.be.run("start")
            self.own_be = True
        elif not row.listen:
            return
        elif "path" in row.kv:
            path = os.path.join(self.dir, row.kv["path"].replace("{dir}", self.dir))
            self.be = self.backends.own_listener(path, row.queues, row.nq)
            self.own_be = True
        else:
            self.be = self.backends.listener(row.queues, row.nq)

    def outcome(self, time_limit):
        out = None
        try:
            with time_limit(RUN_LIMIT, "%s's run of %s" % (self.kind, self.row.id)):
                out = self._outcome()
        except dpdkapp.TimeLimit as e:
            last = dpdkapp.tail(self.fe.output(), 1).strip() if self.fe else ""
            out = Outcome("error", "%s (last line: %s)" % (e, last[:160]))
        except (dpdkapp.DpdkAppError, WrongDriver) as e:
            out = Outcome("error", str(e))
        finally:
            if self.fe is not None:
                self.fe.kill()
            if self.be is not None and (self.own_be or out is None or not out.exact
                                        and out.state != REFUSED):
                self.backends.discard(self.be)
        return out

    def _outcome(self):
        row = self.row
        self.peer_first()
        devargs, sock = self.devargs()
        memory = {}
        if self.huge:
            memory = dict(no_huge=False, eal_extra=self.huge.primary_eal(),
                          mem_mb=PRIMARY_MEM_MB)
        self.fe = fe = self.frontends("%s-%s" % (row.id, self.kind), self.kind, devargs,
                                      vhostpeer.app_args(row.mbufs()) + row.opts,
                                      cwd=self.dir, **memory)
        out = self.bring_up(fe, sock)
        if out is None:
            out = self.traffic(fe)
        fe.stop(timeout=10)
        if self.huge:
            self.huge.clean_prefix(fe.file_prefix)
        rc = fe.returncode
        if rc != 0:
            out.facts["exit"] = rc
        if self.kind == "vuser":
            said = [s for s in DPDK_VIRTIO_SIGNS if s in fe.output()]
            if said:
                raise WrongDriver("DPDK's net_virtio_user took the vdev (it printed %s)"
                                  % said[0])
        if row.server:
            out.facts["left"] = sorted(os.listdir(self.dir))
        return out

    def bring_up(self, fe, sock):
        """None when the port is up and its link too, else the outcome."""
        if not wait_prompt(fe):
            rc = fe.poll()
            if rc is not None and rc < 0:
                return Outcome("error", "crashed (signal %d) before the prompt" % -rc)
            return Outcome(REFUSED, "at probe (testpmd exited %s) %s"
                           % (rc, reason(fe.output())))
        if not fe.ports():
            return Outcome(REFUSED, "at probe " + reason(fe.output()))
        info = fe.query("/ethdev/info,0") or {}
        if not info.get("dev_started"):
            return Outcome(REFUSED, "at start " + reason(fe.output(), at_start=True))
        if self.be is None:
            return Outcome("no link", "nothing listens on %s" % sock)
        for app in (fe, self.be):
            if not dpdkapp.wait_until(
                    lambda: (app.link_status() or {}).get("status") == "UP", LINK_TIMEOUT):
                return Outcome("no link", "%s link down after %.0fs: %s"
                               % (app.name, LINK_TIMEOUT, reason(fe.output())))
        return None

    def proc_info(self, fe):
        """What dpdk-proc-info --stats, attached to the frontend as a secondary process
        (vuser's plugin loaded with -d), reads of the port: 'rx/tx', and the primary's own
        counters when they differ."""
        argv = [PROC_INFO, "--file-prefix", fe.file_prefix]
        argv += ["-d", self.plugin] if self.fk.plugin else []
        argv += ["--", "--stats"]
        r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True, timeout=TOOL_TIMEOUT, stdin=subprocess.DEVNULL)
        with open(fe.log_path.replace(".log", "-proc-info.log"), "w") as f:
            f.write("$ %s\n%s[rc=%d]\n" % (" ".join(argv), r.stdout, r.returncode))
        if r.returncode != 0:
            return "exit %d %s" % (r.returncode, reason(r.stdout))
        try:
            s = dpdkapp.proc_info_stats(r.stdout, 0)
        except AssertionError:
            return "no statistics"
        mine = fe.stats()
        said = "%d/%d" % (s["ipackets"], s["opackets"])
        if any(s[k] != mine.get(k) for k in ("ipackets", "opackets", "ibytes", "obytes")):
            said += " (the primary: %d/%d)" % (mine["ipackets"], mine["opackets"])
        return said

    def traffic(self, fe):
        row = self.row
        facts = port_facts(fe, row, self.fk.driver)
        vhostpeer.enable_tx_retry(fe, vhostpeer.SINK)
        if row.xstats:
            # broadcast frames one way and multicast the other, for the xstats that count
            # them (the size bins count 64-byte frames anyway)
            fe.run("set eth-peer 0 %s" % BROADCAST)
            self.be.run("set eth-peer 0 %s" % MULTICAST)
        try:
            counts, exact = exchange(self.be, fe, row.nq)
        finally:
            if row.xstats:
                self.be.run("set eth-peer 0 %s" % TESTPMD_PEER)
        out = Outcome(UP, counts=counts)
        if row.restart and exact:
            since = fe.output_len()
            fe.run("port stop 0")
            said = fe.run("port start 0")
            if "Fail" in said or not dpdkapp.wait_until(
                    lambda: (fe.link_status() or {}).get("status") == "UP", LINK_TIMEOUT):
                exact = False
                out.detail = "port stop/start: %s" % reason(fe.output()[since:], True)
            else:
                counts, exact = exchange(self.be, fe, row.nq)
                out.detail = "after port stop/start %s" % counts
        if row.xstats:
            facts["xstats"] = {x: v for x, v in (fe.xstats() or {}).items()}
        if row.secondary:
            facts["proc-info"] = self.proc_info(fe)
        out.facts.update(facts)
        out.exact = exact
        return out


@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
def test_command_line(row, vhost_backends, frontends, sock_dir, vuser_plugin, time_limit,
                      record_property, request):
    """The row's command line ends the same way with DPDK's driver and with vuser."""
    huge = None
    if row.secondary:
        huge = request.getfixturevalue("hugepages")
        if huge.mount is None:
            pytest.skip("a secondary process needs the primary in hugepages: %s"
                        % huge.reason)
    ref = Run("dpdk", row, vhost_backends, frontends, sock_dir, vuser_plugin,
              huge).outcome(time_limit)
    got = Run("vuser", row, vhost_backends, frontends, sock_dir, vuser_plugin,
              huge).outcome(time_limit)
    if row.xstats and "xstats" in ref.facts and "xstats" in got.facts:
        # every counter DPDK's driver has, named the same, with the same value; vuser's
        # own counters besides them are not compared
        mine = got.facts["xstats"]
        got.facts["xstats"] = {n: mine.get(n, "missing") for n in ref.facts["xstats"]}
    line = "dpdk: %s; vuser: %s" % (ref, got)
    diff = fact_diff(ref, got) if got.state == ref.state else []
    record_property("outcome", "; ".join([line] + diff))
    if ref.state != row.expect or (row.expect == UP and not ref.exact):
        pytest.fail("DPDK's driver did not end %s as the row expects (the harness or the "
                    "row is wrong): %s" % (row.expect, line), pytrace=False)
    if got.key() != ref.key():
        pytest.fail(line + "".join("\n    " + d for d in diff), pytrace=False)
