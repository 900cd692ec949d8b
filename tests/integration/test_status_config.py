# SPDX-License-Identifier: BSD-3-Clause
"""Integration tests: vhost-user as a virtio transport, the frontend's side (issue 28).

    frontend  dpdk-testpmd -d librte_net_vuser.so --vdev virtio_user0,path=<sock>
    backends  tests/lib/evil_backend.py offering PROTOCOL_F_STATUS, CONFIG, BACKEND_REQ
              and RESET_DEVICE (it records what it got and misbehaves on request);
              DPDK 22.11's net_vhost, which offers STATUS and SLAVE_REQ (BACKEND_REQ)
              but not CONFIG or RESET_DEVICE (lib/vhost/vhost_user.h,
              VHOST_USER_PROTOCOL_FEATURES)

What each case asserts is what the backend received (its own record or log lines), the
port's link through telemetry (/ethdev/link_status) and the frontend's log lines, each
counted. A backend offering none of these is every other integration file.

    python3 -m pytest tests/integration/test_status_config.py -k sequence
"""

import re

import pytest

import dpdkapp
import vhostpeer
from dpdkapp import wait_until
from test_faults import Env, link, wait_ipackets

CASE_TIMEOUT = 90

# virtio feature bits and vhost-user protocol feature bits (the spec's numbers)
F_MAC, F_STATUS, F_MRG_RXBUF, F_PROTOCOL_FEATURES = 5, 16, 15, 30
F_VERSION_1, F_IN_ORDER = 32, 35
PF_MQ, PF_REPLY_ACK, PF_NET_MTU, PF_BACKEND_REQ = 0, 3, 4, 5
PF_CONFIG, PF_RESET_DEVICE, PF_STATUS = 9, 13, 16

FEATURES = sum(1 << b for b in (F_MAC, F_STATUS, F_MRG_RXBUF, F_PROTOCOL_FEATURES,
                                F_VERSION_1, F_IN_ORDER))
PROTOCOL = sum(1 << b for b in (PF_MQ, PF_REPLY_ACK, PF_BACKEND_REQ, PF_CONFIG,
                                PF_RESET_DEVICE, PF_STATUS))
BACKEND_MAC = "02:00:00:be:ef:01"
DEVICE_STATUS_START = [0x0, 0x1, 0x3, 0xb, 0xf]     # reset, ACK, DRIVER, FEATURES_OK, DRIVER_OK
# DPDK 22.11's net_vhost with our frontend: MQ, REPLY_ACK, NET_MTU, SLAVE_REQ, STATUS
NET_VHOST_PROTOCOL = sum(1 << b for b in (PF_MQ, PF_REPLY_ACK, PF_NET_MTU, PF_BACKEND_REQ,
                                          PF_STATUS))
LAYOUT = ",packed_vq=0,in_order=1,mrg_rxbuf=1"


def evil_args(*extra):
    return ["--features", hex(FEATURES), "--protocol-features", hex(PROTOCOL),
            "--config", "%s,1,1,1500" % BACKEND_MAC] + list(extra)


def status_log(be):
    """What the evil backend recorded: SET_STATUS values, resets, channel received."""
    m = re.search(r"^ok status_log (\S+) resets=(\d+) channel=(\d)$", be.cmd("status_log"))
    assert m, "no status_log answer"
    values = [] if m.group(1) == "-" else [int(v, 16) for v in m.group(1).split(",")]
    return values, int(m.group(2)), int(m.group(3))


def port_mac(fe):
    m = re.search(r"MAC address: *(\S+)", fe.run("show port info 0"))
    assert m, "no MAC address in show port info"
    return m.group(1).lower()


def count(app, text):
    return app.output().count(text)


def wait_link(fe, state):
    assert wait_until(lambda: link(fe) == state, 5, interval=0.05), (
        "link %s, expected %s" % (link(fe), state))


def start(env, *extra_evil, devargs=""):
    be = env.evil(evil_args(*extra_evil))
    fe = env.frontend(LAYOUT + devargs)
    fe.wait_ready(30)
    fe.assert_driver("net_vuser")
    return be, fe


def test_status_sequence(env):
    """Every protocol feature offered is taken; the backend hears the status machine step
    by step and reset as 0; its MAC wins; a config change takes the link down and up
    (one line each); an unknown backend request is refused (ack 1) and logged once."""
    be, fe = start(env)
    be.cmd("wait_ready 10")
    fe.start_forwarding()
    wait_link(fe, "UP")
    m = re.search(r"protocol 0x([0-9a-f]+)$", be.cmd("features"))
    assert int(m.group(1), 16) == PROTOCOL, "protocol features 0x%s, offered 0x%x" % (
        m.group(1), PROTOCOL)
    assert status_log(be) == (DEVICE_STATUS_START, 0, 1)
    assert port_mac(fe) == BACKEND_MAC

    assert be.cmd("config_link down") == "ok config_link down ack=0"
    wait_link(fe, "DOWN")
    assert be.cmd("config_link up") == "ok config_link up ack=0"
    wait_link(fe, "UP")
    assert count(fe, "reports the link down") == 1
    assert count(fe, "reports the link up") == 1

    for _ in range(2):
        assert be.cmd("backend_req 9") == "ok backend_req 9 ack=1"
    assert count(fe, "sent UNKNOWN (9) on the backend channel: not supported, refused") == 1

    be.cmd("rx 5")
    wait_ipackets(env, fe, 5)
    fe.run("stop")
    fe.run("port stop 0")
    values, resets, _ = status_log(be)
    assert values == DEVICE_STATUS_START + [0x0], "SET_STATUS values %s" % values
    assert resets == 0


def test_devargs_mac_wins(env):
    """mac= on the command line wins over the backend's config space."""
    _be, fe = start(env, devargs=",mac=02:00:00:00:00:07")
    assert port_mac(fe) == "02:00:00:00:00:07"


def test_features_ok_cleared(env):
    """The backend clears FEATURES_OK: port start fails with a line naming it, and
    DRIVER_OK never reaches it."""
    be, fe = start(env, "--clear-features-ok")
    fe.wait_for_output(r"backend \S+ refused the features 0x[0-9a-f]+: FEATURES_OK is "
                       r"clear in the status it reads back \(0x3\)", 10)
    fe.wait_for_output(r"port start failed while negotiating features", 10)
    assert link(fe) == "DOWN"
    values, _, _ = status_log(be)
    # the failed start resets the device: 0 again, and never DRIVER_OK (0xf)
    assert values == [0x0, 0x1, 0x3, 0xb, 0x0], "SET_STATUS values %s" % values


def test_needs_reset(env):
    """DEVICE_NEEDS_RESET in the backend's status: link down with one error line, until
    the port is restarted."""
    be, fe = start(env)
    be.cmd("wait_ready 10")
    fe.start_forwarding()
    wait_link(fe, "UP")
    assert be.cmd("needs_reset") == "ok needs_reset ack=0"
    wait_link(fe, "DOWN")
    assert count(fe, "needs a reset (DEVICE_NEEDS_RESET in its status 0x4f)") == 1
    fe.run("stop")
    fe.run("port stop 0")
    fe.run("port start 0")
    wait_link(fe, "UP")


def test_config_refused(env):
    """GET_CONFIG refused (an empty reply): one line, and the device's defaults."""
    _be, fe = start(env, "--refuse-config")
    assert count(fe, "could not be read, the device keeps its defaults") == 1
    assert port_mac(fe) != BACKEND_MAC
    wait_link(fe, "UP")


def test_net_vhost(env, vhost_backends, frontends, sock_dir, log_dir):
    """DPDK 22.11's net_vhost: the protocol features it offers of these (STATUS,
    SLAVE_REQ) negotiated, as its log says; the status steps in its log; the backend
    channel passed; traffic both ways counted exactly."""
    be = vhost_backends.own_listener("%s/status-vhost.sock" % sock_dir)
    sock = be.sock
    fe = frontends("status-frontend", "vuser", "path=%s%s" % (sock, LAYOUT),
                   vhostpeer.app_args(), log_levels=["pmd.net.vuser:info"])
    fe.wait_ready(30)
    fe.assert_driver("net_vuser")
    vhostpeer.enable_tx_retry(fe, vhostpeer.SINK)
    wait_link(fe, "UP")
    try:
        said = r"VHOST_CONFIG: \(%s\) " % re.escape(sock)
        pf = [int(x, 16) for x in re.findall(
            said + r"negotiated Vhost-user protocol features: 0x([0-9a-f]+)", be.output())]
        assert pf == [NET_VHOST_PROTOCOL], "protocol features %s" % ["0x%x" % v for v in pf]
        statuses = [int(x, 16) for x in re.findall(said + r"new device status\(0x([0-9a-f]+)\)",
                                                  be.output())]
        assert statuses == DEVICE_STATUS_START, "statuses %s" % statuses
        assert len(re.findall(said + r"read message VHOST_USER_SET_SLAVE_REQ_FD",
                              be.output())) == 1
        for sender, receiver in ((fe, be), (be, fe)):
            _s, _r, bad = vhostpeer.send_counted(sender, receiver, 2)
            assert not bad, "; ".join(bad)
        fe.run("port stop 0")
        dpdkapp.wait_until(lambda: len(re.findall(said + r"new device status",
                                                  be.output())) == 6, 5)
        statuses = [int(x, 16) for x in re.findall(said + r"new device status\(0x([0-9a-f]+)\)",
                                                  be.output())]
        assert statuses == DEVICE_STATUS_START + [0x0], "statuses %s" % statuses
    finally:
        vhost_backends.discard(be)


@pytest.fixture(scope="module")
def module_env(log_dir, request):
    env = Env(log_dir, request.config.getoption("verbose") > 0)
    yield env
    env.cleanup()
