"""The package's shape: an acyclic import graph and modules of a readable size."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

grimp = pytest.importorskip("grimp")

PACKAGE = Path(__file__).resolve().parents[1] / "python" / "alpr"
MAX_LINES = 600
# Modules allowed over MAX_LINES, with the ceiling they may not grow past (none left).
OVERSIZED: dict[str, int] = {}


def _cycles() -> list[list[str]]:
    graph = grimp.build_graph("alpr", exclude_type_checking_imports=True)
    sys.setrecursionlimit(max(10_000, sys.getrecursionlimit()))
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def edges(m: str) -> set[str]:
        found = set(graph.find_modules_directly_imported_by(m))
        # grimp sees the compiled extension alpr._native as its parent package: not a real edge.
        return {t for t in found if t != "alpr" or m == "alpr"}

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in edges(v):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
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

    for m in sorted(graph.modules):
        if m not in index:
            visit(m)
    return out


def test_no_import_cycles() -> None:
    assert _cycles() == []


def test_modules_stay_small() -> None:
    too_big = {}
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE).as_posix()
        if "migrations/" in rel:
            continue
        n = len(path.read_text(encoding="utf-8").splitlines())
        if n > OVERSIZED.get(rel, MAX_LINES):
            too_big[rel] = n
    assert too_big == {}
