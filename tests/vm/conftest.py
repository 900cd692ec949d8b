# SPDX-License-Identifier: BSD-3-Clause
"""pytest fixtures of the VM tests (tests/conftest.py has the hooks, tests/lib/qemuvm.py
the guest's kernel, initramfs and boot).

Each module boots its VM once, in a module-scoped fixture of its own built on these, and
its tests check what that run left:

    /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/vm/test_vhost_net_vm.py

Fixtures:
  vm_kernel   the kernel release tests/vm/fetch_kernel.sh made ready in .deps/vm, with
              QEMU and a static busybox at hand; every VM test is skipped, the reason
              printed, when those cannot be had (a failed fetch fails them)
  vm_kernel_bpo  the same for bookworm-backports' 6.12 kernel in .deps/vm-6.12
              (fetch_kernel.sh --backports): the vDPA tests' guest
  vm_out      results/<the module's VM_OUT>/ for the console and the guest's logs
              (emptied first; a second run of the same module at the same time gets a
              sibling)
  vm_verbose  -v on pytest's command line: every console line is echoed, not only the
              VMTEST, RESULT and GUEST lines (captured: seen with -s or on a failure)
"""

import os

import pytest

import dpdkapp
import qemuvm


def ready_kernel(backports):
    try:
        qemuvm.ensure_tools()
        qemuvm.static_busybox()
    except qemuvm.Unavailable as e:
        pytest.skip(str(e))
    try:
        return qemuvm.fetch_kernel(backports)
    except (RuntimeError, OSError) as e:
        pytest.fail(str(e))


@pytest.fixture(scope="session")
def vm_kernel():
    return ready_kernel(False)


@pytest.fixture(scope="session")
def vm_kernel_bpo():
    return ready_kernel(True)


@pytest.fixture(scope="module")
def vm_out(request):
    path, lock = dpdkapp.claim_log_dir(os.path.join(qemuvm.ROOT, "results",
                                                    request.module.VM_OUT))
    yield path
    if lock:
        lock.close()


@pytest.fixture(scope="session")
def vm_verbose(request):
    return request.config.getoption("verbose") > 0
