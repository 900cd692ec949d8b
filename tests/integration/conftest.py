# SPDX-License-Identifier: BSD-3-Clause
"""pytest fixtures of the integration tests (tests/conftest.py has the hooks).

Run a module with Debian's pytest (``python3`` on PATH may be another interpreter):

    /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/integration/test_x.py [-k ID]

Fixtures:
  log_dir         results/integration-<module>/ for the module's app logs (emptied first;
                  a second run of the same module at the same time gets a sibling)
  sock_dir        a private directory for vhost-user sockets (removed at the end)
  vuser_plugin    the vuser plugin staged where EAL loads it from (VUSER_PLUGIN
                  overrides the build's; make test-asan points it at the ASan build)
  vhost_backends  tests/lib/vhostpeer.py's Backends: shared net_vhost listeners and
                  backends of one test (all stopped at the end of the module)
  frontends       start(name, kind, devargs, args, **testpmd): frontends of DPDK's
                  driver ('dpdk') or vuser ('vuser'), more Testpmd arguments in
                  ``testpmd`` (cwd, no_huge...); killed after the test
  hugepages       tests/lib/hugepages.py's Hugepages, HUGE_PAGES reserved for the module
                  and given back after it (mount is None and reason says why when the
                  kernel cannot give them); request it only where needed
  time_limit      dpdkapp.time_limit(seconds, what): a block that raises
                  dpdkapp.TimeLimit when it runs longer
  host_network    the host's iptables rules, bridges, links and forwarding switches
                  (tests/lib/container.py's net_state()), checked identical at the end of
                  the module, after the runtimes below are stopped
  container_runtime  a private dockerd with the testpmd image built (tests/lib/
                  container.py); the module is skipped, the reason printed, when the
                  runtime cannot start here
  env             the case's view of the module's own ``module_env`` fixture (an object
                  with start_case(name) and end_case(failed)): started for the test
                  (name: the test's, with a parametrized test's id after a '_'),
                  bounded by the module's CASE_TIMEOUT (seconds, or a dict by test name
                  with a "default"), ended after it (logs printed when it failed, apps
                  killed; end_case may raise to fail a case whose body passed)
  pair_env        tests/lib/pairs.py's Env for the module: testpmd pairs with the
                  frontend the module's FRONTEND ('vuser' or 'dpdk') or else
                  VUSER_FRONTEND names; a module's module_env may be this one
  group_runner    tests/lib/pairs.py's GroupRunner for the module: runs the cases of
                  pairs.Group's (parametrize "group,case" with pairs.group_params) on
                  pair_env; pairs.Skip becomes a pytest skip

"""

import os
import shutil
import tempfile

import pytest

import container
import dpdkapp
import pairs
import vhostpeer
from hugepages import Hugepages

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
HUGE_PAGES = 128            # 2 MB pages: one primary of -m 128 at a time
DEFAULT_CASE_TIMEOUT = 120  # s: a case of a module without CASE_TIMEOUT


@pytest.fixture(scope="session")
def time_limit():
    return dpdkapp.time_limit


@pytest.fixture(scope="module")
def log_dir(request):
    name = request.module.__name__.rsplit(".", 1)[-1]
    name = name[len("test_"):] if name.startswith("test_") else name
    path, lock = dpdkapp.claim_log_dir(os.path.join(ROOT, "results",
                                                    "integration-" + name))
    yield path
    if lock:
        lock.close()


@pytest.fixture(scope="session")
def sock_dir():
    path = tempfile.mkdtemp(prefix="vuser-pt-")
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def vuser_plugin():
    if shutil.which(dpdkapp.TESTPMD) is None:
        pytest.fail("%s not found (run scripts/setup.sh)" % dpdkapp.TESTPMD)
    try:
        staged = dpdkapp.stage_plugin(dpdkapp.plugin_path())
    except dpdkapp.DpdkAppError as e:
        pytest.fail(str(e))
    yield staged
    dpdkapp.unstage_plugin(staged)


@pytest.fixture(scope="module")
def hugepages():
    huge = Hugepages(HUGE_PAGES, dpdkapp.private_root(), tag="pytest")
    huge.setup()
    yield huge
    huge.release()


@pytest.fixture(scope="module")
def host_network():
    before = container.net_state()
    yield before
    diff = container.net_state_diff(before, container.net_state())
    assert not diff, "the host's network changed: %s" % "; ".join(diff)


class ContainerRuntime:
    """A running private dockerd and the image: what container tests are handed."""

    def __init__(self, docker, image_size, plugin):
        self.docker, self.image_size, self.plugin = docker, image_size, plugin
        self.plugin_in_image = container.plugin_in_image(plugin)


@pytest.fixture(scope="module")
def container_runtime(host_network, log_dir):
    docker = container.Docker(log_dir)
    try:
        docker.start()
    except container.RuntimeUnavailable as e:
        pytest.skip("the container runtime cannot start here: %s" % e)
    try:
        plugin = dpdkapp.plugin_path()
        size = container.build_image(docker, plugin)
        yield ContainerRuntime(docker, size, plugin)
    finally:
        docker.stop()


@pytest.fixture(scope="module")
def vhost_backends(log_dir, sock_dir):
    backends = vhostpeer.Backends(log_dir, sock_dir)
    yield backends
    backends.close()


@pytest.fixture
def frontends(log_dir, vuser_plugin):
    apps = []

    def start(name, kind, devargs, args, **testpmd):
        app = vhostpeer.start_frontend(name, log_dir, kind, devargs, args,
                                       plugin=vuser_plugin, **testpmd)
        apps.append(app)
        return app

    yield start
    dpdkapp.kill_all(apps)


def case_timeout(item):
    """The module's CASE_TIMEOUT for this test (DEFAULT_CASE_TIMEOUT without one)."""
    limit = getattr(item.module, "CASE_TIMEOUT", DEFAULT_CASE_TIMEOUT)
    if isinstance(limit, dict):
        limit = limit.get(item.originalname, limit["default"])
    return limit


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    """A test on the env fixture runs bounded by its module's CASE_TIMEOUT: the alarm
    covers the test's call alone, so it never fires inside pytest's own bookkeeping
    (an exception there would end the session)."""
    if "env" not in item.fixturenames:
        yield
        return
    with dpdkapp.time_limit(case_timeout(item), item.name):
        yield


@pytest.fixture
def env(request, module_env):
    name = request.node.originalname
    if hasattr(request.node, "callspec"):
        name += "_" + request.node.callspec.id
    module_env.start_case(name)
    yield module_env
    rep = getattr(request.node, "rep_call", None)
    module_env.end_case(rep is None or rep.failed)


def verbose(config):
    """-v on pytest's command line: the tests' own progress lines (env.log) are printed."""
    return config.getoption("verbose") > 0


class _GroupRunner(pairs.GroupRunner):
    def run(self, group, fn):
        try:
            super().run(group, fn)
        except pairs.Skip as e:
            pytest.skip(str(e))


@pytest.fixture(scope="module")
def pair_env(log_dir, request):
    fe = pairs.Frontend(getattr(request.module, "FRONTEND", None))
    if shutil.which(dpdkapp.TESTPMD) is None:
        pytest.fail("%s not found (run scripts/setup.sh)" % dpdkapp.TESTPMD)
    try:
        fe.prepare()
    except (RuntimeError, dpdkapp.DpdkAppError) as e:
        pytest.fail(str(e))
    env = pairs.Env(fe, log_dir, verbose(request.config))
    yield env
    env.kill_all()
    env.cleanup()
    fe.cleanup()


@pytest.fixture(scope="module")
def group_runner(pair_env):
    runner = _GroupRunner(pair_env)
    yield runner
    runner.close()
