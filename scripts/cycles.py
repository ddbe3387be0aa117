#!/usr/bin/env python3
"""cycles.py - fail on an include cycle among the headers of src/.

Every `#include "x.h"` of a file under src/ is resolved the way the
compiler would (the including file's folder first, then src/); headers
outside src/ (images, restorer, generated code) are leaves and ignored.
A cycle means two headers each need the other: the layering is broken
even where include guards keep it compiling.  Prints every cycle found
and exits 1, or prints nothing and exits 0.
"""
import os
import re
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


def main():
    src = sys.argv[1] if len(sys.argv) > 1 else 'src'
    found = cycles(graph(src))
    for comp in found:
        print('include cycle: ' + ' <-> '.join(comp))
    return 1 if found else 0


if __name__ == '__main__':
    sys.exit(main())
