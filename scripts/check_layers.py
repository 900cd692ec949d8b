#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Checks the layer rules of docs/architecture.md on the file graph of the C tree.

The graph has one node per C file and an edge A -> B when A includes B, or uses a
function, a global variable or a header's inline function that B defines (a macro's
use counts as the uses in its body). It is read from the sources, so no build is
needed. It fails (exit 1) when:
  - files call or include each other in a cycle (arrows must point down);
  - a file uses one of a higher layer (LAYERS below);
  - a PMD file other than its glue uses what virtio-user/ defines in a .c file (GATES);
  - a file uses what a FORBIDDEN rule rules out (the device never names a backend).
Usage: check_layers.py [--graph] [ROOT]   (--graph prints every edge and its symbols)
"""

import fnmatch
import os
import re
import subprocess
import sys
from collections import defaultdict

# Directories by layer, highest first; a file may use files of its own layer or below.
LAYERS = [
    ("PMDs and programs", ["drivers/net/*/", "app/"]),
    ("the cores", ["virtio-user/", "backend/"]),
    ("the common floor", ["common/"]),
]

# Files of a folder that reach what another folder defines in .c files only through
# one file of theirs: (from folder, to folder, the gate, why).
GATES = [
    ("drivers/net/vuser/", "virtio-user/", "drivers/net/vuser/vuser_glue.c",
     "the PMD reaches the device only through the glue"),
    ("drivers/net/vuser/", "common/", "drivers/net/vuser/vuser_glue.c",
     "the PMD reaches the libraries only through the glue"),
]

# (from glob, to globs, why): uses that must not exist at all.
FORBIDDEN = [
    ("virtio-user/vu_device*",
     ["virtio-user/vu_vhost_user*", "virtio-user/vu_vhost_kernel.c",
      "virtio-user/vu_vhost_vdpa.c", "virtio-user/vu_vdpa_cvq.[ch]", "virtio-user/vu_tap.[ch]", "virtio-user/vu_netlink.[ch]"],
     "the device never knows which backend it drives (ask its vu_backend_ops)"),
    ("virtio-user/*", ["backend/*"], "neither core uses the other (they share common/)"),
    ("backend/*", ["virtio-user/*"], "neither core uses the other (they share common/)"),
]

# Folders whose files still call each other in a cycle, each with what is left to do: a
# cycle inside one of them is reported as a note, not a failure. Keep it empty.
CYCLES_KNOWN = {}

# Every C file but the tests': one in a folder of no layer is a finding.
SOURCES = ["*.[ch]", ":!tests/"]

KEYWORDS = {
    "if", "for", "while", "switch", "return", "sizeof", "do", "else", "case", "goto",
    "static", "inline", "const", "struct", "union", "enum", "typedef", "extern",
    "unsigned", "signed", "void", "int", "char", "bool", "_Static_assert", "defined",
    "__attribute__", "__typeof__", "typeof", "_Alignof", "alignof",
}
IDENT = re.compile(r"[A-Za-z_]\w*")


def strip(text):
    """Comments and string/char literals blanked, newlines kept; line continuations joined."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append("\n" * text.count("\n", i, j))
            i = j
        elif text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            out.append(c + c)
            i = j + 1
        else:
            out.append(c)
            i += 1
    return "".join(out).replace("\\\n", " ")


def top_level_assign(stmt):
    """Index of the '=' of an initializer (outside parentheses, not ==, <=, >=, !=), or -1."""
    depth = 0
    for i, c in enumerate(stmt):
        if c in "([":
            depth += 1
        elif c in ")]":
            depth -= 1
        elif (c == "=" and depth == 0 and stmt[i + 1:i + 2] != "="
              and stmt[i - 1:i] not in ("=", "<", ">", "!")):
            return i
    return -1


class Source:
    def __init__(self, path, text):
        self.path = path
        self.header = path.endswith(".h")
        self.includes = re.findall(r'^\s*#\s*include\s+"([^"]+)"', text, re.M)
        code = strip(text)
        self.macros = {}  # name -> identifiers its body uses
        lines = []
        for line in code.split("\n"):
            m = re.match(r"\s*#\s*define\s+(\w+)(\([^)]*\))?(.*)", line)
            if m:
                params = set(IDENT.findall(m.group(2) or ""))
                self.macros[m.group(1)] = set(IDENT.findall(m.group(3))) - params
            lines.append("" if line.lstrip().startswith("#") else line)
        self.code = "\n".join(lines)
        self.globals, self.locals = set(), set()
        self.declarations = []  # spans of prototypes and externs: they use nothing
        self._definitions()
        self.uses = self._uses()

    def _definitions(self):
        """Functions and variables defined at file scope: global, or local to this file."""
        code, depth, start = self.code, 0, 0
        for m in re.finditer(r"[{};]", code):
            c = m.group()
            if c == "{":
                if depth == 0:
                    self._declared(code[start:m.start()], body=True)
                depth += 1
            elif c == "}":
                depth -= 1
                if depth == 0:
                    start = m.end()
            elif depth == 0:
                if self._declared(code[start:m.start()], body=False) is False:
                    self.declarations.append((start, m.start()))
                start = m.end()

    def _declared(self, stmt, body):
        stmt = re.sub(r"__attribute__\s*\(\(.*?\)\)", " ", " ".join(stmt.split()))
        if not stmt or re.match(r"(typedef|_Static_assert|static_assert)\b", stmt):
            return None
        m = re.match(r"RTE_LOG_REGISTER\w*\s*\(\s*(\w+)", stmt)  # defines a log type variable
        if m:
            self.globals.add(m.group(1))
            return None
        assign = top_level_assign(stmt)
        if re.match(r"extern\b", stmt) or not body and "(" in stmt and assign < 0:
            return False  # a declaration of what another place defines
        local = re.match(r"static\b", stmt) and not self.header
        if assign >= 0 or not body and "(" not in stmt:
            # A variable: the name before '=' / ';' (and an array's brackets).
            head = stmt[:assign] if assign >= 0 else stmt
            m = re.search(r"(\w+)\s*(\[[^\]]*\]\s*)*$", head.strip())
            if not m or re.match(r"(struct|union|enum)\s+\w+$", head.strip()):
                return
            name = m.group(1)
        elif body and "(" in stmt:
            m = re.search(r"(\w+)\s*\(", stmt)  # the first name called: the function's
            if not m:
                return
            name = m.group(1)
        else:
            return
        if name in KEYWORDS or name.isupper():
            return  # a keyword, or a macro called at file scope (RTE_INIT)
        (self.locals if local else self.globals).add(name)

    def _uses(self):
        code = list(self.code)
        for a, b in self.declarations:
            code[a:b] = " " * (b - a)
        code = "".join(code)
        uses = set()
        for m in IDENT.finditer(code):
            before = code[max(0, m.start() - 8):m.start()]
            if re.search(r"(\.|->|\b(struct|union|enum)\s+)$", before):
                continue  # a member or a tag, not a symbol
            uses.add(m.group())
        return uses - KEYWORDS


def load(root):
    # Tracked files and new ones not yet added (not ignored), as they are on disk.
    files = subprocess.check_output(["git", "-C", root, "ls-files", "--cached", "--others",
                                     "--exclude-standard", "--"] + SOURCES, text=True).split()
    srcs = {}
    for f in sorted(set(files)):
        if not os.path.isfile(os.path.join(root, f)):
            continue
        with open(os.path.join(root, f), encoding="utf-8", errors="replace") as fh:
            srcs[f] = Source(f, fh.read())
    return srcs


def build_graph(srcs):
    by_base = defaultdict(list)
    for f in srcs:
        by_base[os.path.basename(f)].append(f)
    definers, macro_defs = defaultdict(set), defaultdict(set)
    for f, s in srcs.items():
        for name in s.globals:
            definers[name].add(f)
        for name in s.macros:
            macro_defs[name].add(f)
    edges = defaultdict(set)  # (a, b) -> reasons

    def include_target(f, inc):
        cands = by_base.get(os.path.basename(inc), [])
        same = [c for c in cands if os.path.dirname(c) == os.path.dirname(f)]
        return (same or cands or [None])[0]

    incl = {f: {include_target(f, i) for i in s.includes} - {None} for f, s in srcs.items()}
    for f, targets in incl.items():
        for t in targets:
            edges[(f, t)].add("#include")

    def closure(f):
        seen, todo = set(), [f]
        while todo:
            for t in incl.get(todo.pop(), ()):
                if t not in seen:
                    seen.add(t)
                    todo.append(t)
        return seen

    for f, s in srcs.items():
        reach = None
        uses = set(s.uses)
        # A macro of another file: what its body uses is used here (macros in it too).
        todo = [n for n in uses if n in macro_defs]
        while todo:
            name = todo.pop()
            for d in macro_defs[name] - {f}:
                new = srcs[d].macros[name] - uses
                uses |= new
                todo.extend(n for n in new if n in macro_defs)
        for name in uses:
            if name in s.globals or name in s.locals or name not in definers:
                continue
            cands = definers[name]
            if len(cands) > 1:
                reach = reach if reach is not None else closure(f)
                cands = (cands & reach) or cands
            for d in cands:
                if d != f:
                    edges[(f, d)].add(name)
    return edges, definers


def layer_of(path):
    for rank, (_, globs) in enumerate(LAYERS):
        if any(fnmatch.fnmatch(path, g + "*") for g in globs):
            return rank
    return None


def cycles(nodes, edges):
    """Strongly connected components with more than one file (Tarjan, iterative)."""
    succ = defaultdict(list)
    for a, b in edges:
        succ[a].append(b)
    index, low, on, stack, out, counter = {}, {}, set(), [], [], [0]
    for root in sorted(nodes):
        if root in index:
            continue
        work = [(root, iter(sorted(succ[root])))]
        index[root] = low[root] = counter[0]
        counter[0] += 1
        stack.append(root)
        on.add(root)
        while work:
            v, it = work[-1]
            w = next(it, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = counter[0]
                    counter[0] += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(succ[w]))))
                elif w in on:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                if len(comp) > 1:
                    out.append(sorted(comp))
    return out


def why(edges, a, b):
    return ", ".join(sorted(edges[(a, b)])[:4])


def check(root, show_graph=False):
    srcs = load(root)
    edges, _ = build_graph(srcs)
    findings = []
    for f in srcs:
        if layer_of(f) is None:
            findings.append("%s is in no layer of scripts/check_layers.py's LAYERS" % f)
    notes = []
    for comp in cycles(srcs, edges):
        known = [d for d in CYCLES_KNOWN if all(f.startswith(d) for f in comp)]
        if known:
            notes.append("note: %d files of %s in a cycle, known: %s" % (
                len(comp), known[0], CYCLES_KNOWN[known[0]]))
            continue
        inner = sorted((a, b) for a, b in edges if a in comp and b in comp)
        findings.append("cycle between %s:\n%s" % (", ".join(comp), "\n".join(
            "    %s -> %s (%s)" % (a, b, why(edges, a, b)) for a, b in inner)))
    for (a, b) in sorted(edges):
        la, lb = layer_of(a), layer_of(b)
        if la is not None and lb is not None and lb < la:
            findings.append("%s -> %s (%s): an arrow up, from %s to %s" % (
                a, b, why(edges, a, b), LAYERS[la][0], LAYERS[lb][0]))
        for src_dir, dst_dir, gate, reason in GATES:
            if (a.startswith(src_dir) and b.startswith(dst_dir) and b.endswith(".c")
                    and a != gate):
                findings.append("%s -> %s (%s): %s" % (a, b, why(edges, a, b), reason))
        for src_glob, dst_globs, reason in FORBIDDEN:
            if fnmatch.fnmatch(a, src_glob) and any(fnmatch.fnmatch(b, g) for g in dst_globs):
                findings.append("%s -> %s (%s): %s" % (a, b, why(edges, a, b), reason))
    if show_graph:
        for (a, b) in sorted(edges):
            print("%s -> %s (%s)" % (a, b, why(edges, a, b)))
    for line in notes + findings:
        print("check_layers: " + line)
    if not findings:
        print("check_layers: %d files, %d edges: no cycle%s, every arrow points down"
              % (len(srcs), len(edges), " outside CYCLES_KNOWN" if notes else ""))
    return 1 if findings else 0


def main(argv):
    show = "--graph" in argv
    args = [a for a in argv if a != "--graph"]
    root = args[0] if args else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    return check(root, show)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
