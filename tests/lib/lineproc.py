# SPDX-License-Identifier: BSD-3-Clause
"""A helper process driven one line at a time: commands on its stdin, answers on stdout.

The protocol of tests/lib/evil_backend.py and tests/apps/vuser_secondary: each command
is answered by 'ok <command> [detail]' or 'err <command>: <why>'; other lines (events)
may come at any time.  Every line is kept (``lines``) and written to
``<log_dir>/<name>.log`` with stderr.

Standard library only.
"""

import os
import re
import subprocess
import threading
import time

import dpdkapp


class LineProcess:
    """One such process; killed by the kernel if the test runner dies."""

    def __init__(self, name, log_dir, argv, env=None):
        self.name = name
        self.lines = []
        self.cond = threading.Condition()
        self.log_path = os.path.join(log_dir, "%s.log" % name)
        os.makedirs(log_dir, exist_ok=True)
        self.log = open(self.log_path, "w")
        self.log.write("$ %s\n" % " ".join(argv))
        self.log.flush()
        full_env = None
        if env:
            full_env = dict(os.environ)
            full_env.update(env)
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.log, text=True, bufsize=1, env=full_env,
                                     preexec_fn=dpdkapp._die_with_parent)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.proc.stdout:
            line = line.rstrip("\n")
            with self.cond:
                self.lines.append(line)
                self.log.write(line + "\n")
                self.log.flush()
                self.cond.notify_all()
        with self.cond:
            self.cond.notify_all()

    def wait_line(self, rx, timeout, since=0):
        deadline = time.monotonic() + timeout
        pat = re.compile(rx)
        with self.cond:
            while True:
                for ln in self.lines[since:]:
                    if pat.search(ln):
                        return ln
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None and not self._pending():
                    raise AssertionError("%s: no line /%s/ within %.1fs (rc=%s); got %r"
                                         % (self.name, rx, timeout, self.proc.poll(),
                                            self.lines[-5:]))
                self.cond.wait(min(left, 0.2))

    def _pending(self):
        return self.reader.is_alive()

    def cmd(self, line, timeout=15.0):
        since = len(self.lines)
        word = line.split()[0]
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        ans = self.wait_line(r"^(ok|err) %s\b" % re.escape(word), timeout, since)
        if ans.startswith("err"):
            raise AssertionError("%s: %s" % (self.name, ans))
        return ans

    def stderr_text(self):
        """What the process wrote to stderr (and the answers), from its log file."""
        if not self.log.closed:
            self.log.flush()
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(5)
        self.reader.join(2)
        self.log.close() if not self.log.closed else None
