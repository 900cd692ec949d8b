# SPDX-License-Identifier: BSD-3-Clause
"""The backend+frontend pair harness of the integration files (net_vhost backends in
testpmd, the frontend under test in testpmd), their counter checks, and GroupRunner,
which runs groups of cases under pytest (conftest.py's group_runner).

Env starts the pairs of test_datapath_matrix.py, test_multiqueue.py, test_lifecycle.py,
test_port_config.py and test_xstats.py (grouped cases) and of test_vhost_user.py and
test_server_mode.py (one case at a time: conftest.py's env, Env.start_case/end_case).
"""

import os
import re
import shutil
import tempfile

import dpdkapp
from dpdkapp import Testpmd, mismatches, shown

BURST = 32
PKT_LEN = 64
# Generous: other engineers' polling apps share the 2 CPUs, and an
# interactive command waits for its turn on a CPU behind busy pollers.
LINK_TIMEOUT = 30.0

# virtio feature bits
F_MRG_RXBUF = 15
F_VERSION_1 = 32
F_RING_PACKED = 34
F_IN_ORDER = 35


def common_app_args(mbufs=2048, link_check=False):
    """testpmd args of every app here: bounded bursts, 64-byte frames, a pool
    that fits in -m 256, one forwarding core (the other CPU is the peer's),
    and unless link_check no link wait in testpmd (it would wait 9 s after each
    port stop; the tests read the link from telemetry instead)."""
    args = ["--burst=%d" % BURST, "--txpkts=%d" % PKT_LEN,
            "--total-num-mbufs=%d" % mbufs, "--nb-cores=1"]
    return args if link_check else args + ["--disable-link-check"]


def assert_clean_exit(rcs):
    """{name: returncode} of stopped apps: every one exited 0."""
    bad = {n: rc for n, rc in rcs.items() if rc != 0}
    assert not bad, "apps did not exit cleanly (rc<0: killed by that signal): %s" % bad


class Skip(Exception):
    pass


class NotLanded(AssertionError):
    """A failure whose cause is a feature that has not landed yet."""

    def __init__(self, feature, detail):
        self.feature = feature
        super().__init__("NOT LANDED (%s): %s" % (feature, detail))


FEATURE_OF_KEY = {"queues": "multi-queue", "cq": "control queue", "server": "server mode",
                  "vectorized": "vectorized", "packed_vq": "packed ring",
                  "mrg_rxbuf": "mergeable Rx buffers", "in_order": "in-order"}


def pending_feature(text):
    """(feature, line) when the driver refused a devarg as not implemented
    yet (its probe error says 'not implemented yet'), else None."""
    for ln in text.splitlines():
        if "not implemented yet" in ln and re.search(r"vuser|virtio_user", ln):
            m = re.search(r"(\w+)=\S+: [^:]*not implemented yet", ln)
            key = m.group(1) if m else "feature"
            return FEATURE_OF_KEY.get(key, key), ln.strip()
    return None


class Frontend:
    """Which driver plays the frontend (VUSER_FRONTEND), how to name its vdevs."""

    def __init__(self, kind=None):
        self.kind = kind or os.environ.get("VUSER_FRONTEND", "vuser")
        self.plugin = self.staged = None
        if self.kind == "vuser":
            self.alias, self.own_name, self.driver = "virtio_user", "net_vuser", "net_vuser"
            self.plugin = dpdkapp.plugin_path()
        elif self.kind == "dpdk":
            self.alias = self.own_name = self.driver = "net_virtio_user"
        else:
            raise SystemExit("VUSER_FRONTEND must be 'vuser' or 'dpdk', not %r" % self.kind)

    @property
    def is_vuser(self):
        return self.kind == "vuser"

    def prepare(self):
        if self.plugin:
            if not os.path.isfile(self.plugin):
                raise RuntimeError("plugin %s does not exist: build it first (make build), "
                                   "or set VUSER_FRONTEND=dpdk" % self.plugin)
            self.staged = dpdkapp.stage_plugin(self.plugin)

    def cleanup(self):
        dpdkapp.unstage_plugin(self.staged)

    def vdev(self, index=0, own_name=False, **devargs):
        """'virtio_user<i>,k=v,...' (the alias), or 'net_vuser<i>,...' with own_name."""
        name = "%s%d" % (self.own_name if own_name else self.alias, index)
        return ",".join([name] + ["%s=%s" % kv for kv in devargs.items()])

    def plugins(self):
        return [self.staged] if self.staged else []

    def log_levels(self):
        return ["pmd.net.vuser:info"] if self.is_vuser else []


class Env:
    """Per-run resources: socket dir, log dir, the frontend (a Frontend) and the apps
    started by the running case or group (killed whatever happens)."""

    def __init__(self, fe, log_dir, verbose):
        self.fe = fe
        self.log_dir = log_dir
        self.verbose = verbose
        self.sock_dir = tempfile.mkdtemp(prefix="vuser-it-")
        self.apps = []
        self.tag = "x"
        self.case = None
        self._names = {}

    def start_case(self, name):
        """conftest.py's env: a case begins; its apps are named after it."""
        self.case = self.tag = name.replace("test_", "")
        self.apps = []

    def end_case(self, failed):
        """conftest.py's env: a case is over. After a failure what is left is stopped
        (bounded: quit, SIGINT, SIGKILL) so that the logs printed are complete."""
        if failed:
            try:
                self.stop_all(timeout=3)
            except Exception as e:
                print("    (stop after failure: %s)" % e)
        self.kill_all()  # no-op when every app has exited
        if failed:
            self.dump_logs()

    def app_name(self, name):
        """'<group>-<name>', with '.2', '.3'... when started again (fresh logs)."""
        base = "%s-%s" % (self.tag, name)
        n = self._names[base] = self._names.get(base, 0) + 1
        return base if n == 1 else "%s.%d" % (base, n)

    def sock(self, name=None):
        """A socket path in the run's directory; by default the case's own."""
        return os.path.join(self.sock_dir, name or "%s.sock" % self.tag)

    def log(self, msg):
        if self.verbose:
            print("    " + msg, flush=True)

    def backend(self, name, socks, queues=1, app_args=(), mbufs=2048, mode="rxonly",
                client=False, link_check=False, wait=True, **testpmd):
        """net_vhost server(s), interactive, forwarding lcore 1; with client, net_vhost
        connects to each socket instead. wait: until the sockets exist and the prompt
        is there. testpmd: more Testpmd arguments (mem_mb...)."""
        vdevs = []
        for i, s in enumerate(socks):
            if not client and os.path.exists(s):
                os.unlink(s)
            vdevs.append("net_vhost%d,iface=%s,queues=%d%s"
                         % (i, s, queues, ",client=1" if client else ""))
        app = Testpmd(self.app_name(name), self.log_dir, vdevs=vdevs,
                      interactive=True, lcores="0,1", main_lcore=0,
                      app_args=["--forward-mode=%s" % mode]
                      + common_app_args(mbufs, link_check) + list(app_args), **testpmd)
        self.apps.append(app)
        app.start()
        if not wait:
            return app
        if not client:
            dpdkapp.wait_until(
                lambda: all(os.path.exists(s) for s in socks) or not app.alive(),
                30, what="backend sockets %s" % socks)
        app.wait_ready(timeout=30)
        return app

    def frontend(self, name, vdevs, app_args=(), mbufs=2048, expect_ports=None, wait=True,
                 mode="rxonly", link_check=False, log_levels=None):
        """The frontend under test, interactive, forwarding lcore 0; its driver's log
        at info unless log_levels says otherwise.

        Waits for the prompt; then, unless expect_ports is 0, the ports must
        exist (a failed probe becomes NotLanded when the driver said the
        devarg is not implemented yet, else an AssertionError with its lines)."""
        if log_levels is None:
            log_levels = self.fe.log_levels()
        app = Testpmd(self.app_name(name), self.log_dir, vdevs=vdevs,
                      plugins=self.fe.plugins(), interactive=True, lcores="0,1",
                      main_lcore=1, log_levels=log_levels,
                      app_args=["--forward-mode=%s" % mode]
                      + common_app_args(mbufs, link_check) + list(app_args))
        self.apps.append(app)
        app.start()
        if not wait:
            return app
        try:
            app.wait_ready(timeout=30)
        except dpdkapp.DpdkAppError:
            # testpmd exits when --rxq exceeds what the (unprobed) port has
            p = pending_feature(app.output())
            if p:
                raise NotLanded(p[0], "the probe refused it: %s" % p[1])
            raise
        n = len(vdevs) if expect_ports is None else expect_ports
        ports = app.ports()
        if len(ports) != n:
            out = app.output()
            p = pending_feature(out)
            if p:
                raise NotLanded(p[0], "the probe refused it: %s" % p[1])
            lines = [ln for ln in out.splitlines()
                     if re.search(r"VUSER|vuser|virtio_user|vdev_probe|Fail|rror", ln)]
            raise AssertionError("frontend has ports %s, expected %d; probe said:\n      %s"
                                 % (ports, n, "\n      ".join(lines[-12:])))
        return app

    def stop_all(self, timeout=10):
        """Stop apps cleanly, frontends first; return {name: returncode}."""
        rcs = {}
        for app in sorted(self.apps, key=lambda a: "backend" in a.name):
            if app.proc is not None:
                app.stop(timeout=timeout)
                rcs[app.name] = app.returncode
        return rcs

    def stop_checked(self, timeout=10):
        rcs = self.stop_all(timeout)
        self.apps = []
        assert_clean_exit(rcs)

    def kill_all(self):
        dpdkapp.kill_all(self.apps)

    def dump_logs(self, lines=40):
        for app in self.apps:
            print("    ---- %s (%s, rc=%s) last %d lines ----"
                  % (app.name, app.log_path, app.returncode, lines))
            for ln in dpdkapp.tail(app.output(), lines).splitlines():
                print("    | " + ln)

    def drop_apps(self):
        """Stop (bounded) and forget the current apps (after a failure)."""
        try:
            self.stop_all(timeout=3)
        except Exception as e:
            print("    (stop after failure: %s)" % e)
        self.kill_all()
        self.apps = []

    def cleanup(self):
        shutil.rmtree(self.sock_dir, ignore_errors=True)


# ---- counters


def check(name, d, **expected):
    """Exact deltas; every error counter 0."""
    bad = mismatches(name, d, **expected)
    if bad:
        raise AssertionError("counters wrong: %s; %s deltas: %s"
                             % (", ".join(bad), name, shown(d)))


def check_both(be_d, be_exp, fe_d, fe_exp):
    """check() of both sides at once, so a failure shows both."""
    bad = mismatches("backend", be_d, **be_exp) + mismatches("frontend", fe_d, **fe_exp)
    if bad:
        raise AssertionError("counters wrong: %s; deltas: backend %s, frontend %s"
                             % (", ".join(bad), shown(be_d), shown(fe_d)))


def check_queues(name, d, key, expected):
    """Per-queue deltas of ``key`` (q_ipackets...) equal ``expected`` (a list)."""
    got = (d.get(key) or [])[:len(expected)]
    assert got == list(expected), "%s %s per queue: %s, expected %s" % (
        name, key, got, list(expected))


def backend_said(be, sock, what):
    """The hex words net_vhost logged for its socket `sock` after `what` (lib/vhost's
    VHOST_CONFIG lines, one per message it received), in order: what the backend was
    asked, not what the frontend says it asked. A line may sit inside testpmd's prompt."""
    rx = r"VHOST_CONFIG: \(%s\) %s: 0x([0-9a-fA-F]+)" % (re.escape(sock), what)
    return [int(x, 16) for x in re.findall(rx, be.output())]


def backend_features(be, sock):
    """The feature words of every SET_FEATURES net_vhost received on `sock`."""
    return backend_said(be, sock, "negotiated Virtio features")


def backend_protocol_features(be, sock):
    """The words of every SET_PROTOCOL_FEATURES net_vhost received on `sock`."""
    return backend_said(be, sock, "negotiated Vhost-user protocol features")


def backend_enabled_rings(be, sock):
    """Rings net_vhost was told to enable on `sock` (SET_VRING_ENABLE 1), as a set."""
    rx = r"VHOST_CONFIG: \(%s\) set queue enable: 1 to qp idx: (\d+)" % re.escape(sock)
    return {int(x) for x in re.findall(rx, be.output())}


def check_driver(env, app, port=0):
    text = app.run("show port info %d" % port)
    m = re.search(r"Driver name: *(\S+)", text)
    assert m and m.group(1) == env.fe.driver, "port %d is driven by %s, expected %s" % (
        port, m.group(1) if m else "?", env.fe.driver)


# ---- runner


class Group:
    """Cases sharing a setup (a backend+frontend pair).  setup(env) returns
    a context handed to each case; after a failing case the apps are
    stopped and the next case gets a fresh setup."""

    def __init__(self, name, setup, cases, timeout=180):
        self.name, self.setup, self.cases, self.timeout = name, setup, cases, timeout


def group_params(groups):
    """pytest.mark.parametrize("group,case", **group_params(groups)): one test per case
    of each group, in order, named 'group/case'."""
    return {"argvalues": [(g, fn) for g in groups for _, fn in g.cases],
            "ids": ["%s/%s" % (g.name, n) for g in groups for n, _ in g.cases]}


class GroupRunner:
    """Runs the cases of groups one at a time, in order (the tests' conftest.py fixture
    group_runner): a group's setup runs before its first case and again after a failing
    case, which stops the apps; the group's timeout bounds each case with its setup."""

    def __init__(self, env):
        self.env = env
        self.group = self.ctx = self.setup_err = None

    def run(self, group, fn):
        env = self.env
        if group is not self.group:
            env.drop_apps()
            self.group, self.ctx, self.setup_err = group, None, None
            env.tag = group.name
        try:
            with dpdkapp.time_limit(group.timeout, "the case with its group's setup"):
                if self.ctx is None:
                    if isinstance(self.setup_err, NotLanded):
                        raise self.setup_err   # the same refusal: don't start it again
                    if self.setup_err is not None:
                        raise AssertionError("not run: the group's setup failed: %s"
                                             % self.setup_err)
                    try:
                        self.ctx = group.setup(env)
                    except Skip:
                        raise
                    except BaseException as e:  # noqa: B902
                        self.setup_err = e
                        raise
                fn(env, self.ctx)
        except Skip:
            raise
        except BaseException as e:  # noqa: B902
            if not isinstance(e, NotLanded) or env.verbose:
                env.dump_logs()
            env.drop_apps()
            self.ctx = None
            raise

    def close(self):
        self.env.drop_apps()
        self.env.kill_all()
