# SPDX-License-Identifier: BSD-3-Clause
"""pytest hooks of every test module under tests/ (tests/integration, tests/vm).

Puts tests/lib on the import path. Tests may record_property("outcome", line): the
summary lists those lines per test. The last line printed is
'N passed, N failed[, N skipped]': scripts/run_tests.py counts it (a test whose setup or
teardown failed counts as failed, and so does a module that does not import).
"""

import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the test (rep_setup, rep_call): fixtures read it."""
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


def pytest_terminal_summary(terminalreporter):
    """One line per test that recorded an outcome, in the order they ran."""
    lines = []
    for key in ("passed", "failed"):
        for rep in terminalreporter.stats.get(key, []):
            if getattr(rep, "when", None) != "call":
                continue
            for name, value in rep.user_properties:
                if name == "outcome":
                    lines.append((rep.nodeid.split("::", 1)[-1], key.upper(), value))
    if lines:
        terminalreporter.section("outcomes")
        for nodeid, result, value in lines:
            terminalreporter.write_line("%-6s %s: %s" % (result, nodeid, value))
    # -q does not print why a test was skipped; a skip here always says why
    for rep in terminalreporter.stats.get("skipped", []):
        why = rep.longrepr[2] if isinstance(rep.longrepr, tuple) else str(rep.longrepr)
        terminalreporter.write_line("SKIPPED %s: %s" % (rep.nodeid, why))


def _count(reporter):
    stats = reporter.stats
    # a test whose setup or teardown failed is a failure, whatever its call did, and so
    # is a module that does not import (a collection error)
    failed = {r.nodeid for r in stats.get("failed", []) + stats.get("error", [])}
    passed = {r.nodeid for r in stats.get("passed", []) if r.when == "call"} - failed
    skipped = {r.nodeid for r in stats.get("skipped", [])} - failed
    line = "%d passed, %d failed" % (len(passed), len(failed))
    return line + (", %d skipped" % len(skipped) if skipped else "")


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_sessionfinish(session):
    """After pytest's own summary line: the closing line, alone on the last line."""
    yield
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(_count(reporter))
