#!/usr/bin/env python3
"""cycles.py - fail on a cycle between the pipelines and the objects.

    cycles.py [SRC [OBJDIR]]

1. Includes: every `#include "x.h"` of a file under SRC (default src) is
   resolved the way the compiler would (the including file's folder first,
   then SRC); headers outside it (images, restorer, generated code) are
   leaves.  A cycle means two headers each need the other: the layering is
   broken even where include guards keep it compiling.
2. Calls, when OBJDIR (the build's objects of SRC) is given: the pipelines
   (dump.o, restore.o, restore-finish.o, and the front ends main.o and
   rpc.o) call the objects, never
   the reverse; an object that uses a symbol a pipeline defines is a call
   cycle.  Objects use the contexts (dump-ctx.h, rst-ctx.h) instead.

Prints every cycle found and exits 1, or prints nothing and exits 0.
"""
import os
import re
import subprocess
import sys

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def headers(src):
    found = []
    for root, _, files in os.walk(src):
        for f in files:
            if f.endswith(('.h', '.c')):
                found.append(os.path.normpath(os.path.join(root, f)))
    return sorted(found)


def resolve(src, including, name):
    for base in (os.path.dirname(including), src):
        path = os.path.normpath(os.path.join(base, name))
        if os.path.isfile(path):
            return path
    return None


def graph(src):
    edges = {}
    for path in headers(src):
        with open(path, encoding='utf-8', errors='replace') as f:
            text = f.read()
        deps = set()
        for name in INCLUDE.findall(text):
            dep = resolve(src, path, name)
            if dep:
                deps.add(dep)
        edges[path] = sorted(deps)
    return edges


def cycles(edges):
    """Tarjan's strongly connected components of more than one node or a self loop."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        work = [(v, iter(edges.get(v, ())))]
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        while work:
            node, it = work[-1]
            nxt = next(it, None)
            if nxt is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    comp = []
                    while True:
                        w = stack.pop()
                        on.discard(w)
                        comp.append(w)
                        if w == node:
                            break
                    if len(comp) > 1 or node in edges.get(node, ()):
                        out.append(sorted(comp))
                continue
            if nxt not in index:
                index[nxt] = low[nxt] = counter[0]
                counter[0] += 1
                stack.append(nxt)
                on.add(nxt)
                work.append((nxt, iter(edges.get(nxt, ()))))
            elif nxt in on:
                low[node] = min(low[node], index[nxt])

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


PIPELINES = ('dump.o', 'restore.o', 'restore-finish.o', 'main.o', 'rpc.o')


def symbols(obj, undefined):
    args = ['nm', '--undefined-only' if undefined else '--defined-only', obj]
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    names = set()
    for line in out.splitlines():
        fields = line.split()
        if undefined and len(fields) == 2:
            names.add(fields[1])
        elif not undefined and len(fields) == 3 and fields[1] in 'TDBR':
            names.add(fields[2])
    return names


def call_cycles(objdir):
    objs = []
    for root, _, files in os.walk(objdir):
        objs += [os.path.join(root, f) for f in files if f.endswith('.o')]
    pipes = [o for o in objs if os.path.relpath(o, objdir) in PIPELINES]
    owner = {}
    for p in pipes:
        for name in symbols(p, False):
            owner[name] = os.path.relpath(p, objdir)
    found = []
    for o in sorted(objs):
        if o in pipes:
            continue
        for name in sorted(symbols(o, True) & owner.keys()):
            found.append('%s calls %s of the pipeline %s' %
                         (os.path.relpath(o, objdir), name, owner[name]))
    return found


def main():
    src = sys.argv[1] if len(sys.argv) > 1 else 'src'
    found = ['include cycle: ' + ' <-> '.join(c) for c in cycles(graph(src))]
    if len(sys.argv) > 2:
        found += ['call cycle: ' + c for c in call_cycles(sys.argv[2])]
    for line in found:
        print(line)
    return 1 if found else 0


if __name__ == '__main__':
    sys.exit(main())
