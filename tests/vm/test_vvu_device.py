# SPDX-License-Identifier: BSD-3-Clause
"""Smoke test of the virtio-vhost-user device (qemu-vvu/) with no guest driver.

The project's QEMU (scripts/build_qemu_vvu.sh) boots the usual TCG guest with a
virtio-vhost-user-pci device whose chardev is a socket server. The guest has no driver
for it: its busybox /init drives the device with devmem over sysfs BAR addresses (rings
in 1 MiB the kernel leaves alone, memmap=), which is enough for the message path.
On the host a Python vhost-user master connects and sends GET_FEATURES,
GET_PROTOCOL_FEATURES, SET_MEM_TABLE (a memfd), SET_VRING_CALL and SET_VRING_KICK
(eventfds). The VM boots once for the module; each test checks one part:

    test_pci_identity     vendor 0x1af4, device 0x1040 + virtio-id, 64 GiB
                          prefetchable 64-bit BAR 2, notification (7) and shared
                          memory (8) capabilities
    test_device_config    status 0 before SLAVE_UP, max_vhost_queues, VERSION_1 offered
    test_rxq_messages     the master's 5 messages, in order, fds stripped, little endian
    test_txq_replies      the guest's replies reach the master; fd-passing protocol
                          feature bits cleared in the GET_PROTOCOL_FEATURES reply
    test_shared_memory    the guest reads the master's memfd through BAR 2 and its write
                          lands in the memfd (zero copy both ways)
    test_doorbell_kick    the call doorbell (notify index 2) signals the master's
                          eventfd; the master's kick sets ISR bit 2 in the guest
    test_notification_vectors  notification_msix_vector reads back a valid vector,
                          NO_VECTOR for one beyond the MSI-X table
    test_backpressure_needs_reset  a 6th message waits while rxq has no buffer; a
                          buffer too small for it sets DEVICE_NEEDS_RESET

Skipped, the reason printed, when the QEMU of scripts/build_qemu_vvu.sh is not built
(QEMU_VVU=<binary> overrides), or QEMU/busybox for the guest are missing. Logs go to
results/vm-vvu/.

    /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/vm/test_vvu_device.py
"""

import os
import re
import select
import shutil
import socket
import stat
import struct
import subprocess
import tempfile
import threading

import pytest

import qemuvm

VM_OUT = "vm-vvu"          # results/vm-vvu
BUILD_SCRIPT = os.path.join(qemuvm.ROOT, "scripts", "build_qemu_vvu.sh")
FIRMWARE = ["-L", "/usr/share/seabios", "-L", "/usr/share/qemu", "-L", "/usr/lib/ipxe/qemu"]
VIRTIO_ID = 63
PCI_DEVICE = 0x1040 + VIRTIO_ID
MAX_QUEUES = 16
SHM_SIZE = 64 << 30
RESERVED = 0x1f000000      # guest-physical 1 MiB kept from the kernel (memmap=)
VM_TIMEOUT = 240
BOOT_TIMEOUT = 150
MASTER_TIMEOUT = 200       # s: the master's wait for each guest action
REGION_SIZE = 2 << 20
PATTERN = b"VVU!"
GUEST_WORD = 0xc0ffee11    # the guest writes it at offset 8 of BAR 2
FEATURES_REPLY = 0x140000000
PROTOCOL_REPLY = 0xFFFFF   # the guest offers bits 0..19
# bits the device must clear: fds it cannot turn into resources, or the slave channel
MASKED_BITS = (5, 8, 10, 11, 12, 14, 15, 17, 18, 19)
# (request, payload size) the master sends, in order
MASTER_MSGS = [(1, 0), (15, 0), (5, 40), (13, 8), (12, 8)]
# the guest posts one rx buffer per message above, then one of SMALL_BUFFER bytes for
# the master's SET_VRING_NUM (12 + 8 bytes), which must set DEVICE_NEEDS_RESET
SMALL_BUFFER = 16
NEEDS_RESET = 0x40

INIT = qemuvm.INIT_HEAD + r"""hex() { printf 0x%x "$1"; }
rd() { echo $(( $(devmem $(hex $1) $2) )); }
wr() { devmem $(hex $1) $2 $(hex $3); }
D=
for d in /sys/bus/pci/devices/*; do
	[ "$(cat $d/vendor)" = 0x1af4 ] && [ "$(cat $d/device)" = @DEVID@ ] && D=$d
done
[ -n "$D" ] || { echo "VMTEST: no device"; poweroff -f; }
echo "VMTEST: pci $(cat $D/vendor) $(cat $D/device) rev $(cat $D/revision)"
i=0
while read s e f; do echo "VMTEST: bar$i $s $e $f"; i=$((i + 1)); done < $D/resource
echo "VMTEST: config $(od -An -tx1 -v $D/config | tr -d ' \n')"
printf '\006' | dd of=$D/config bs=1 seek=4 count=1 conv=notrunc 2>/dev/null
B0=$(sed -n 1p $D/resource | cut -d' ' -f1)
B2=$(sed -n 3p $D/resource | cut -d' ' -f1)
B4=$(sed -n 5p $D/resource | cut -d' ' -f1)
C=$((B4)); ISR=$((B4 + 0x1000)); DEV=$((B4 + 0x2000)); NT=$((B4 + 0x3000))
echo "VMTEST: devcfg status $(rd $DEV 32) queues $(rd $((DEV + 4)) 32)"
wr $((C + 0x14)) 8 0; wr $((C + 0x14)) 8 1; wr $((C + 0x14)) 8 3
wr $C 32 1
echo "VMTEST: features_hi $(rd $((C + 4)) 32)"
wr $((C + 8)) 32 1; wr $((C + 12)) 32 1; wr $((C + 8)) 32 0; wr $((C + 12)) 32 0
wr $((C + 0x14)) 8 11
echo "VMTEST: status $(rd $((C + 0x14)) 8) num_queues $(rd $((C + 0x12)) 16)"
R=@RES@
RXD=$R; RXA=$((R + 0x1000)); RXU=$((R + 0x2000))
TXD=$((R + 0x3000)); TXA=$((R + 0x4000)); TXU=$((R + 0x5000))
RXB=$((R + 0x10000)); TXB=$((R + 0x20000))
setq() {
	wr $((C + 0x16)) 16 $1; wr $((C + 0x18)) 16 8
	wr $((C + 0x20)) 32 $2; wr $((C + 0x24)) 32 0
	wr $((C + 0x28)) 32 $3; wr $((C + 0x2c)) 32 0
	wr $((C + 0x30)) 32 $4; wr $((C + 0x34)) 32 0
	wr $((C + 0x1c)) 16 1
}
wr $RXU 32 0; wr $TXU 32 0; wr $TXA 32 0
for i in 0 1 2 3 4 5 6 7; do
	wr $((RXD + 16 * i)) 32 $((RXB + 0x200 * i)); wr $((RXD + 16 * i + 4)) 32 0
	wr $((RXD + 16 * i + 8)) 32 0x200; wr $((RXD + 16 * i + 12)) 32 2
	wr $((RXA + 4 + 2 * i)) 16 $i
done
wr $((RXD + 16 * 7 + 8)) 32 @SMALL@
wr $RXA 32 $((@NMSG@ << 16))
setq 0 $RXD $RXA $RXU
setq 1 $TXD $TXA $TXU
wr $((C + 0x14)) 8 15
wr $DEV 32 1
wr $NT 16 0
echo "VMTEST: slave up, devcfg status $(rd $DEV 32)"
waitidx() {
	t=0
	while [ $(( $(rd $1 32) >> 16 )) -lt $2 ] && [ $t -lt @POLLS@ ]; do sleep 0.1; t=$((t + 1)); done
	echo $(( $(rd $1 32) >> 16 ))
}
n=$(waitidx $RXU @NMSG@)
echo "VMTEST: rxq used $n"
i=0
while [ $i -lt $n ]; do
	id=$(rd $((RXU + 4 + 8 * i)) 32); len=$(rd $((RXU + 8 + 8 * i)) 32)
	b=$((RXB + 0x200 * id))
	echo "VMTEST: rxmsg $i len $len req $(rd $b 32) flags $(rd $((b + 4)) 32) size $(rd $((b + 8)) 32) w0 $(rd $((b + 12)) 32)"
	i=$((i + 1))
done
reply() {
	b=$((TXB + 0x200 * $1))
	wr $b 32 $2; wr $((b + 4)) 32 5; wr $((b + 8)) 32 8
	wr $((b + 12)) 32 $3; wr $((b + 16)) 32 $4
	wr $((TXD + 16 * $1)) 32 $b; wr $((TXD + 16 * $1 + 4)) 32 0
	wr $((TXD + 16 * $1 + 8)) 32 20; wr $((TXD + 16 * $1 + 12)) 32 0
	wr $((TXA + 4 + 2 * $1)) 16 $1
}
reply 0 1 @FEAT_LO@ @FEAT_HI@
reply 1 15 @PROT_LO@ 0
wr $TXA 32 $((2 << 16))
wr $((NT + 4)) 16 1
echo "VMTEST: txq used $(waitidx $TXU 2)"
echo "VMTEST: shm word0 $(rd $B2 32)"
wr $((B2 + 8)) 32 @GUEST_WORD@
rd $ISR 8 > /dev/null
wr $((NT + 8)) 16 0
t=0; isr=0
while [ $((isr & 4)) -eq 0 ] && [ $t -lt @POLLS@ ]; do isr=$(rd $ISR 8); sleep 0.1; t=$((t + 1)); done
echo "VMTEST: isr $isr"
wr $B0 16 0
echo "VMTEST: vector0 $(rd $((B0 + 2)) 16)"
wr $((B0 + 2)) 16 5
echo "VMTEST: vector5 $(rd $((B0 + 2)) 16)"
wr $((B0 + 2)) 16 2000
echo "VMTEST: vector2000 $(rd $((B0 + 2)) 16)"
echo "VMTEST: rxq used before small buffer $(rd $RXU 32)"
wr $((RXA + 4 + 2 * @NMSG@)) 16 7
wr $RXA 32 $(((@NMSG@ + 1) << 16))
wr $NT 16 0
t=0
while [ $(($(rd $((C + 0x14)) 8) & 0x40)) -eq 0 ] && [ $t -lt @POLLS@ ]; do sleep 0.1; t=$((t + 1)); done
echo "VMTEST: after small buffer status $(rd $((C + 0x14)) 8) used $(rd $RXU 32)"
echo "VMTEST: done"
poweroff -f
"""


def qemu_vvu():
    """The built QEMU, or None with the reason."""
    if os.environ.get("QEMU_VVU"):
        return os.environ["QEMU_VVU"], None
    p = subprocess.run([BUILD_SCRIPT, "--check"], stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
    if p.returncode != 0:
        return None, ("QEMU with virtio-vhost-user not built (%s; run "
                      "scripts/build_qemu_vvu.sh)" % p.stderr.decode().strip())
    return p.stdout.decode().strip(), None



def qemu_vvu_or_skip():
    """The built QEMU; the calling test module is skipped, saying why, without one."""
    qemu, why = qemu_vvu()
    if not qemu:
        print("SKIP: " + why)
        pytest.skip(why)
    return qemu

def build_initramfs(path):
    polls = str(MASTER_TIMEOUT * 10 // 2)
    init = (INIT.replace("@DEVID@", "0x%04x" % PCI_DEVICE).replace("@RES@", hex(RESERVED))
            .replace("@NMSG@", str(len(MASTER_MSGS))).replace("@POLLS@", polls)
            .replace("@FEAT_LO@", hex(FEATURES_REPLY & 0xffffffff))
            .replace("@FEAT_HI@", hex(FEATURES_REPLY >> 32))
            .replace("@PROT_LO@", hex(PROTOCOL_REPLY)).replace("@GUEST_WORD@", hex(GUEST_WORD))
            .replace("@SMALL@", str(SMALL_BUFFER)))
    d, x = stat.S_IFDIR | 0o755, stat.S_IFREG | 0o755
    entries = [(n, d, None) for n in ("bin", "dev", "proc", "sys")]
    entries += [("bin/busybox", x, qemuvm.static_busybox()), ("init", x, init.encode())]
    qemuvm.cpio_newc(entries, path)


def qemu_argv(qemu, release, initrd, sock):
    return [qemu] + FIRMWARE + [
        "-accel", "tcg", "-cpu", "max", "-smp", "1", "-m", "512", "-nodefaults",
        "-display", "none", "-no-reboot", "-serial", "stdio", "-monitor", "none",
        "-chardev", "socket,id=vvu0,path=%s,server=on,wait=off" % sock,
        "-device", "virtio-vhost-user-pci,chardev=vvu0,max-vhost-queues=%d,virtio-id=%d"
        % (MAX_QUEUES, VIRTIO_ID),
        "-kernel", qemuvm.kernel_path(release), "-initrd", initrd,
        "-append", "console=ttyS0 panic=-1 quiet loglevel=4 memmap=1M$%#x" % RESERVED]


class Master:
    """A minimal vhost-user master on the device's socket, in a thread; what it saw
    goes into self.seen."""

    def __init__(self, sock_path):
        self.path = sock_path
        self.seen = {"replies": [], "errors": []}
        self.memfd = os.memfd_create("vvu-test", 0)
        os.ftruncate(self.memfd, REGION_SIZE)
        os.pwrite(self.memfd, PATTERN, 0)
        self.call = os.eventfd(0, os.EFD_NONBLOCK)
        self.kick = os.eventfd(0)
        self.thread = threading.Thread(target=self.run, daemon=True)

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        for _ in range(200):
            try:
                s.connect(self.path)
                return s
            except OSError:
                threading.Event().wait(0.1)
        raise RuntimeError("cannot connect to %s" % self.path)

    def messages(self):
        mem = struct.pack("<II", 1, 0) + struct.pack("<QQQQ", 1 << 32, REGION_SIZE,
                                                     0x7f0000000000, 0)
        return [(1, b"", []), (15, b"", []), (5, mem, [self.memfd]),
                (13, struct.pack("<Q", 0), [self.call]), (12, struct.pack("<Q", 0), [self.kick])]

    def run(self):
        try:
            self.talk()
        except Exception as e:  # recorded for the tests, which fail on it
            self.seen["errors"].append("%s: %s" % (type(e).__name__, e))

    def talk(self):
        s = self.connect()
        s.settimeout(MASTER_TIMEOUT)
        for req, payload, fds in self.messages():
            hdr = struct.pack("<III", req, 1, len(payload))
            socket.send_fds(s, [hdr + payload], fds)
        for _ in range(2):
            data = b""
            while len(data) < 20:
                chunk = s.recv(20 - len(data))
                if not chunk:
                    raise RuntimeError("socket closed after %d reply bytes" % len(data))
                data += chunk
            self.seen["replies"].append(struct.unpack("<IIIQ", data))
        # waits in the device for an rxq buffer: the guest has posted none left
        socket.send_fds(s, [struct.pack("<IIIII", 8, 1, 8, 0, 256)], [])
        r, _, _ = select.select([self.call], [], [], MASTER_TIMEOUT)
        if not r:
            raise RuntimeError("the call doorbell never rang")
        self.seen["call"] = os.eventfd_read(self.call)
        self.seen["guest_word"] = struct.unpack("<I", os.pread(self.memfd, 4, 8))[0]
        os.eventfd_write(self.kick, 1)
        self.sock = s

    def close(self):
        self.thread.join(MASTER_TIMEOUT)
        if getattr(self, "sock", None):
            self.sock.close()
        for fd in (self.memfd, self.call, self.kick):
            os.close(fd)


@pytest.fixture(scope="module")
def vm_run(request, vm_out, vm_verbose):
    qemu = qemu_vvu_or_skip()
    vm_kernel = request.getfixturevalue("vm_kernel")
    work = tempfile.mkdtemp(prefix="vuser-vvu-")
    sock = os.path.join(work, "vvu.sock")
    initrd = os.path.join(work, "initrd.cpio")
    build_initramfs(initrd)
    master = Master(sock)
    master.thread.start()
    try:
        console, seconds = qemuvm.boot_vm(qemu_argv(qemu, vm_kernel, initrd, sock),
                                          os.path.join(vm_out, "console.log"), vm_verbose,
                                          ("VMTEST: booted",), VM_TIMEOUT, BOOT_TIMEOUT)
    finally:
        master.close()
        shutil.rmtree(work, ignore_errors=True)
    qemuvm.log("VM ran %.0fs; console in %s; master saw %s"
               % (seconds, os.path.join(vm_out, "console.log"), master.seen))
    run = qemuvm.Run(console, seconds, vm_out)
    run.master = master.seen
    yield run


def check(record_property, run, ok, detail):
    record_property("outcome", detail)
    assert ok, detail + run.tails()


def field(run, name):
    m = re.search(r"VMTEST: %s (\S+)" % name, run.console)
    return m.group(1) if m else None


def vendor_caps(config_hex):
    """{cfg_type: (bar, offset, length)} of the virtio vendor capabilities."""
    cfg = bytes.fromhex(config_hex)
    caps, pos = {}, cfg[0x34]
    while pos and pos + 16 <= len(cfg):
        if cfg[pos] == 0x09:
            cfg_type, bar = cfg[pos + 3], cfg[pos + 4]
            off, length = struct.unpack_from("<II", cfg, pos + 8)
            if cfg[pos + 2] >= 24:
                hi_off, hi_len = struct.unpack_from("<II", cfg, pos + 16)
                off, length = off | hi_off << 32, length | hi_len << 32
            caps[cfg_type] = (bar, off, length)
        pos = cfg[pos + 1]
    return caps


def test_pci_identity(vm_run, record_property):
    m = re.search(r"VMTEST: pci (\S+) (\S+) rev (\S+)", vm_run.console)
    bar2 = re.search(r"VMTEST: bar2 (\S+) (\S+) (\S+)", vm_run.console)
    caps = vendor_caps(field(vm_run, "config") or "00" * 64)
    size = int(bar2.group(2), 16) - int(bar2.group(1), 16) + 1 if bar2 else 0
    flags = int(bar2.group(3), 16) if bar2 else 0
    # IORESOURCE_MEM_64 | IORESOURCE_PREFETCH in sysfs resource flags
    ok = (m and m.groups() == ("0x1af4", "0x%04x" % PCI_DEVICE, "0x01") and size == SHM_SIZE
          and flags & 0x102000 == 0x102000 and caps.get(8) == (2, 0, SHM_SIZE)
          and caps.get(7) == (0, 0, 4))
    check(record_property, vm_run, ok, "id %s, BAR 2 %#x bytes flags %#x, caps %s"
          % (m.groups() if m else None, size, flags, caps))


def test_device_config(vm_run, record_property):
    m = re.search(r"VMTEST: devcfg status (\d+) queues (\d+)", vm_run.console)
    feat = field(vm_run, "features_hi")
    up = re.search(r"VMTEST: slave up, devcfg status (\d+)", vm_run.console)
    ok = (m and m.groups() == ("0", str(MAX_QUEUES)) and feat is not None
          and int(feat) & 1 and up is not None)
    check(record_property, vm_run, ok, "status/queues %s, features_hi %s, after SLAVE_UP %s"
          % (m.groups() if m else None, feat, up.group(1) if up else None))


def test_rxq_messages(vm_run, record_property):
    got = [tuple(int(x) for x in g) for g in re.findall(
        r"VMTEST: rxmsg \d+ len (\d+) req (\d+) flags (\d+) size (\d+) w0 (\d+)",
        vm_run.console)]
    want = [(12 + size, req, 1, size) for req, size in MASTER_MSGS]
    ok = [g[:4] for g in got] == want and got[2][4] == 1  # SET_MEM_TABLE: 1 region
    check(record_property, vm_run, ok, "%d of %d messages (len, req, flags, size, w0): %s"
          % (len(got), len(want), got))


def test_txq_replies(vm_run, record_property):
    masked = PROTOCOL_REPLY
    for b in MASKED_BITS:
        masked &= ~(1 << b)
    want = [(1, 5, 8, FEATURES_REPLY), (15, 5, 8, masked)]
    got = vm_run.master["replies"]
    check(record_property, vm_run, got == want, "master got %s, want %s; errors %s"
          % (got, want, vm_run.master["errors"]))


def test_shared_memory(vm_run, record_property):
    word = field(vm_run, "shm word0")
    want = struct.unpack("<I", PATTERN)[0]
    got_host = vm_run.master.get("guest_word")
    ok = word is not None and int(word) == want and got_host == GUEST_WORD
    check(record_property, vm_run, ok, "guest read %s (want %#x); master's memfd got %s"
          % (word, want, hex(got_host) if got_host is not None else None))


def test_doorbell_kick(vm_run, record_property):
    isr = field(vm_run, "isr")
    ok = vm_run.master.get("call") == 1 and isr is not None and int(isr) & 4
    check(record_property, vm_run, ok, "call eventfd count %s; guest ISR %s"
          % (vm_run.master.get("call"), isr))


def test_notification_vectors(vm_run, record_property):
    got = [field(vm_run, n) for n in ("vector0", "vector5", "vector2000")]
    ok = got == ["65535", "5", "65535"]
    check(record_property, vm_run, ok, "vector reads %s" % got)


def test_backpressure_needs_reset(vm_run, record_property):
    before = field(vm_run, "rxq used before small buffer")
    m = re.search(r"VMTEST: after small buffer status (\d+) used (\d+)", vm_run.console)
    n = len(MASTER_MSGS)
    ok = (before is not None and int(before) >> 16 == n and m is not None
          and int(m.group(1)) & NEEDS_RESET and int(m.group(2)) >> 16 == n)
    check(record_property, vm_run, ok, "rxq used %s with no buffer left; then status %s, "
          "used %s (want NEEDS_RESET %#x, used still %d)"
          % (int(before) >> 16 if before else None, m.group(1) if m else None,
             int(m.group(2)) >> 16 if m else None, NEEDS_RESET, n))
