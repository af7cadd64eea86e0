"""The package's layout in figures: import cycles among dlzoo's modules, dlzoo-internal imports at
module level vs inside functions, modules per layer (as the import-linter contract in
pyproject.toml assigns them), the largest modules by lines, and `dlzoo list`'s wall time.

Read from the source with `ast` (nothing of dlzoo is imported), so it measures any checkout:

    python -m benchmarks.layout                    # this checkout
    python -m benchmarks.layout --root /work/main  # another one (e.g. before a change)
    python -m benchmarks run layout                # the same, through the benchmark runner

An import counts once per statement (`from dlzoo.data import folders, neutral` is one statement,
two edges). An edge goes to the module named (`from dlzoo.data import folders` -> dlzoo.data.folders;
`from dlzoo.data import image_folder` -> dlzoo.data), as import-linter's graph (grimp) draws it.
Imports under `if TYPE_CHECKING:` run never and are counted apart. A cycle is a strongly connected
component of two or more modules in the graph of every import that runs (module level and inside
functions): a hidden import inside a function still makes the two modules depend on each other.
"""

from __future__ import annotations

import argparse
import ast
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
PACKAGE = "dlzoo"


def modules(root: Path) -> dict[str, Path]:
    """Every module of the package: dotted name -> file."""
    out = {}
    for path in sorted((root / PACKAGE).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(tree: ast.Module) -> list:
    """(node, where) for every import statement; where is 'module', 'function' or 'type_checking'."""
    found = []

    def walk(node, where):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                found.append((child, where))
            elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                walk(child, "function")
            elif isinstance(child, ast.If) and where == "module" and _is_type_checking(child.test):
                for n in child.body:
                    walk(ast.Module(body=[n], type_ignores=[]), "type_checking")
                for n in child.orelse:
                    walk(ast.Module(body=[n], type_ignores=[]), where)
            else:
                walk(child, where)

    walk(tree, "module")
    return found


def _targets(node, importer: str, is_package: bool, known: dict) -> list[str]:
    """The dlzoo modules one import statement reaches (empty for anything outside dlzoo)."""
    if isinstance(node, ast.Import):
        names = [a.name for a in node.names]
        return [_nearest(n, known) for n in names if n == PACKAGE or n.startswith(PACKAGE + ".")]
    base = node.module or ""
    if node.level:
        pkg = importer.split(".") if is_package else importer.split(".")[:-1]
        pkg = pkg[: len(pkg) - (node.level - 1)]
        base = ".".join(pkg + ([base] if base else []))
    if not (base == PACKAGE or base.startswith(PACKAGE + ".")):
        return []
    out = []
    for a in node.names:
        sub = f"{base}.{a.name}"
        out.append(sub if sub in known else _nearest(base, known))
    return out


def _nearest(name: str, known: dict) -> str:
    while name not in known and "." in name:
        name = name.rsplit(".", 1)[0]
    return name


def import_graph(root: Path) -> tuple[dict, list[dict]]:
    """The modules and every dlzoo-internal import: dicts with importer, imported, where, line."""
    known = modules(root)
    edges = []
    for name, path in known.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node, where in _imports(tree):
            for target in _targets(node, name, path.name == "__init__.py", known):
                if target != name:
                    edges.append({"importer": name, "imported": target, "where": where,
                                  "line": node.lineno,
                                  "statement": (name, node.lineno, node.col_offset)})
    return known, edges


def cycles(nodes, edges) -> list[list[str]]:
    """Strongly connected components of two or more modules (Tarjan's algorithm)."""
    succ = {n: set() for n in nodes}
    for e in edges:
        succ[e["importer"]].add(e["imported"])
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(succ[v]):
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

    sys.setrecursionlimit(max(10000, sys.getrecursionlimit()))
    for v in sorted(nodes):
        if v not in index:
            visit(v)
    return sorted(out, key=lambda c: (-len(c), c))


def two_cycles(edges) -> list[tuple[str, str]]:
    """Pairs of modules that import each other directly."""
    pairs = {(e["importer"], e["imported"]) for e in edges}
    return sorted((a, b) for a, b in pairs if a < b and (b, a) in pairs)


LAYER_NAMES = ("commands", "engines", "core")  # pyproject.toml's three layers, top first


def layers_from_contract(root: Path) -> list[tuple[str, list[str]]]:
    """The layers contract in root's pyproject.toml, top layer first: (name, [module names])."""
    import tomllib

    path = root / "pyproject.toml"
    if not path.exists():
        return []
    conf = tomllib.loads(path.read_text()).get("tool", {}).get("importlinter", {})
    for contract in conf.get("contracts", []):
        if contract.get("type") != "layers":
            continue
        containers = contract.get("containers") or [""]
        names = LAYER_NAMES if len(contract["layers"]) == len(LAYER_NAMES) else [
            f"layer {i + 1}" for i in range(len(contract["layers"]))]
        out = []
        for name, layer in zip(names, contract["layers"]):
            tails = [t.strip() for t in layer.replace("|", ":").split(":") if t.strip()]
            out.append((name, [f"{c}.{t}" if c else t for c in containers for t in tails]))
        return out
    return []


def per_layer(root: Path, known: dict) -> dict[str, int]:
    """Modules per layer (a package counts with every module inside it); the rest, the package
    itself, as not in a layer."""
    layers = layers_from_contract(root)
    if not layers:
        return {"(no layers contract)": len(known)}
    counts = {}
    placed = set()
    for name, members in layers:
        counts[name] = 0
        for mod in known:
            if mod not in placed and any(mod == m or mod.startswith(m + ".") for m in members):
                placed.add(mod)
                counts[name] += 1
    counts["not in a layer (dlzoo, its __init__)"] = len(set(known) - placed)
    return counts


def largest(known: dict, root: Path, n: int = 10) -> list[tuple[str, int]]:
    lines = {str(p.relative_to(root)): sum(1 for _ in p.open(encoding="utf-8")) for p in known.values()}
    return sorted(lines.items(), key=lambda kv: -kv[1])[:n]


def list_wall_time(root: Path, rounds: int = 5, python: str = sys.executable) -> list[float]:
    """Whole-process seconds of `python -m dlzoo list`, run in root with root first on the path."""
    env = dict(os.environ, PYTHONPATH=str(root), TF_CPP_MIN_LOG_LEVEL="2")
    def once():
        t0 = time.perf_counter()
        subprocess.run([python, "-m", "dlzoo", "list"], env=env, cwd=root, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return time.perf_counter() - t0
    once()  # warm-up: .pyc files, the file cache
    return [once() for _ in range(rounds)]


def measure(root: Path, rounds: int = 5) -> dict:
    known, edges = import_graph(root)
    run_edges = [e for e in edges if e["where"] != "type_checking"]
    module_level = [e for e in edges if e["where"] == "module"]
    statements = {}
    for e in edges:
        statements[e["statement"]] = e["where"]
    times = list_wall_time(root, rounds) if rounds else []
    return {
        "root": str(root),
        "modules": len(known),
        "top-level modules in dlzoo/": sum(1 for m in known if m.count(".") == 1
                                           and not known[m].name == "__init__.py"),
        "cycles (every import that runs)": cycles(known, run_edges),
        "cycles (module-level imports only)": cycles(known, module_level),
        "mutual imports (A imports B, B imports A)": two_cycles(run_edges),
        "internal import statements": {w: sum(1 for s in statements.values() if s == w)
                                       for w in ("module", "function", "type_checking")},
        "internal import edges": {w: sum(1 for e in edges if e["where"] == w)
                                  for w in ("module", "function", "type_checking")},
        "function-level imports per module": sorted(
            ((m, c) for m in known if (c := sum(1 for e in edges if e["importer"] == m
                                                and e["where"] == "function"))),
            key=lambda kv: -kv[1]),
        "modules per layer": per_layer(root, known),
        "largest modules (lines)": largest(known, root),
        "dlzoo list wall seconds": times,
        "load average": os.getloadavg()[0],
    }


def report(m: dict) -> str:
    out = [f"checkout: {m['root']}",
           f"modules: {m['modules']} ({m['top-level modules in dlzoo/']} top-level files in dlzoo/)"]
    for key in ("cycles (every import that runs)", "cycles (module-level imports only)"):
        out.append(f"{key}: {len(m[key])}")
        out += [f"  - {' <-> '.join(c)}" for c in m[key]]
    pairs = m["mutual imports (A imports B, B imports A)"]
    out.append(f"mutual imports (A imports B, B imports A): {len(pairs)}")
    out += [f"  - {a} <-> {b}" for a, b in pairs]
    s, e = m["internal import statements"], m["internal import edges"]
    out.append(f"dlzoo-internal import statements: {s['module']} at module level, {s['function']} "
               f"inside functions, {s['type_checking']} under TYPE_CHECKING "
               f"(edges: {e['module']} / {e['function']} / {e['type_checking']})")
    out.append("function-level imports per module (edges, top 10): " + ", ".join(
        f"{k} {v}" for k, v in m["function-level imports per module"][:10]))
    out.append("modules per layer:")
    out += [f"  {v:3d}  {k}" for k, v in m["modules per layer"].items()]
    out.append("largest modules (lines):")
    out += [f"  {v:5d}  {k}" for k, v in m["largest modules (lines)"]]
    t = m["dlzoo list wall seconds"]
    if t:
        out.append(f"dlzoo list: median {statistics.median(t):.2f} s over {len(t)} runs "
                   f"(range {min(t):.2f}-{max(t):.2f}; {sys.executable}; "
                   f"KERAS_BACKEND={os.environ.get('KERAS_BACKEND', 'unset')}); "
                   f"load average {m['load average']:.2f}")
    return "\n".join(out)


def run(quick: bool = False) -> dict:
    """The benchmark runner's entry: this checkout's figures as one table."""
    m = measure(HERE.parent, rounds=3 if quick else 5)
    s = m["internal import statements"]
    t = m["dlzoo list wall seconds"]
    rows = [{"figure": "import cycles (strongly connected components)",
             "value": len(m["cycles (every import that runs)"])},
            {"figure": "dlzoo-internal imports at module level", "value": s["module"]},
            {"figure": "dlzoo-internal imports inside functions", "value": s["function"]}]
    rows += [{"figure": f"modules in layer: {k}", "value": v} for k, v in m["modules per layer"].items()]
    rows += [{"figure": f"lines: {k}", "value": v} for k, v in m["largest modules (lines)"][:5]]
    rows.append({"figure": "dlzoo list, wall seconds (median)", "value": round(statistics.median(t), 2)})
    return {"title": "The package's layout: cycles, imports, layers, module sizes",
            "summary": "Counted from the source with ast (python -m benchmarks.layout prints the "
                       "details). Load average at the start: " f"{m['load average']:.2f}.",
            "rows": rows}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.layout", description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", default=str(HERE.parent), help="the checkout to measure")
    parser.add_argument("--rounds", type=int, default=5, help="runs of `dlzoo list` (0: none)")
    args = parser.parse_args(argv)
    print(report(measure(Path(args.root).resolve(), args.rounds)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
