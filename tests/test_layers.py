"""The package's three layers and no import cycles, as the import-linter contracts in
pyproject.toml state them: `lint-imports` passes on the package, and fails, naming the import, when
a module imports from a layer above it or two modules import each other (inside a function too).

Each check reads the source only (grimp parses it; nothing of dlzoo is imported), about a second.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("importlinter", reason="pip install import-linter (the test extra)")

ROOT = Path(__file__).resolve().parent.parent
LINT = ("import sys; from importlinter.cli import lint_imports_command; "
        "sys.exit(lint_imports_command())")


def lint_imports(package_root: Path) -> subprocess.CompletedProcess:
    """`lint-imports` with this checkout's contracts over the `dlzoo` found in `package_root`."""
    env = dict(os.environ, PYTHONPATH=str(package_root))
    return subprocess.run(
        [sys.executable, "-c", LINT, "--no-cache", "--no-logo", str(ROOT / "pyproject.toml")],
        cwd=package_root, env=env, capture_output=True, text=True, timeout=120, check=False)


def test_the_package_keeps_its_layers_and_has_no_import_cycles():
    out = lint_imports(ROOT)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "dlzoo's layers: commands > engines > core KEPT" in out.stdout, out.stdout
    assert "No import cycles between sibling modules or packages KEPT" in out.stdout, out.stdout


@pytest.fixture(scope="module")
def broken_copy(tmp_path_factory):
    """A copy of the package's source with an import up a layer (core's registry importing the
    CLI, at the top) and a cycle made by an import inside a function (the split importing the
    tf.data loader that imports it), as a hurried fix would add them."""
    root = tmp_path_factory.mktemp("broken")
    shutil.copytree(ROOT / "dlzoo", root / "dlzoo", ignore=shutil.ignore_patterns("__pycache__"))
    registry = root / "dlzoo" / "registry.py"
    registry.write_text(registry.read_text() + "\nfrom dlzoo import cli  # noqa: E402\n")
    split = root / "dlzoo" / "data" / "split.py"
    split.write_text(split.read_text() + "\n\ndef _loader():\n    from dlzoo.data import folders\n"
                                         "    return folders\n")
    return lint_imports(root)


def test_an_import_up_a_layer_is_refused_by_name(broken_copy):
    assert broken_copy.returncode == 1
    assert "dlzoo's layers: commands > engines > core BROKEN" in broken_copy.stdout
    assert "dlzoo.registry is not allowed to import dlzoo.cli" in broken_copy.stdout


def test_a_cycle_through_an_import_inside_a_function_is_refused(broken_copy):
    assert "No import cycles between sibling modules or packages BROKEN" in broken_copy.stdout
    assert "No cycles are allowed in dlzoo.data" in broken_copy.stdout
    assert ".split -> .folders" in broken_copy.stdout or ".folders -> .split" in broken_copy.stdout


def test_layout_figures_count_no_cycle_but_the_ones_the_contract_names():
    """`python -m benchmarks.layout` (the before/after figures) agrees with the contract: the one
    cycle it finds is the one pyproject.toml ignores, and every module has a layer."""
    from benchmarks import layout

    figures = layout.measure(ROOT, rounds=0)
    assert figures["cycles (every import that runs)"] == [["dlzoo.data.images", "dlzoo.data.sniff"]]
    layers = figures["modules per layer"]
    assert layers.pop("not in a layer (dlzoo, its __init__)") == 1  # the container itself
    assert sum(layers.values()) == figures["modules"] - 1
    assert all(n > 0 for n in layers.values()), layers


def test_dlzoo_list_imports_no_backend_and_no_numpy():
    """The core modules `dlzoo list` imports (the registry, saving, weights, catalog) keep what
    imports Keras or NumPy inside the functions that need it: start-up stays a fraction of a second."""
    probe = ("import sys; from dlzoo.cli import main; main(['list']); "
             "print('LOADED=' + ','.join(m for m in ('keras', 'tensorflow', 'jax', 'torch', 'numpy') "
             "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True,
                         timeout=60, check=False, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert out.returncode == 0, out.stderr
    assert out.stdout.rstrip().endswith("LOADED="), out.stdout[-300:]


def test_each_subcommand_is_a_command_module_with_its_parser_and_run():
    """`dlzoo/commands/NAME.py` per subcommand: `add_parser` declares its flags, `run(args)` does
    it; the CLI's parser is built from them and holds no command of its own."""
    import importlib

    from dlzoo.cli import COMMANDS, build_parser

    parser = build_parser()
    subparsers = parser._subparsers._group_actions[0].choices
    assert list(subparsers) == list(COMMANDS)
    for name, path in COMMANDS.items():
        module = importlib.import_module(path)
        assert path == f"dlzoo.commands.{name}" and callable(module.add_parser), name
        assert subparsers[name].get_default("func") is module.run, name


# Top-level imports that load a heavy package; a function-level dlzoo import is one of the two
# kinds README ("The code's layers") names, or one of these (registration by import, and the
# imports the contracts in pyproject.toml list as still to be moved).
HEAVY = {"keras", "numpy", "tensorflow", "jax", "torch", "keras_tuner"}
ALLOWED = {("dlzoo.saving", "dlzoo.layers"), ("dlzoo.saving", "dlzoo.losses"),
           ("dlzoo.validation", "dlzoo.data.images"), ("dlzoo.data.images", "dlzoo.data.sniff")}


def _module_level_reach(root: Path):
    """For each module, the set of heavy packages its module-level imports load (through dlzoo's
    own modules and their parent packages), read from the source as import-linter reads it."""
    import ast

    from benchmarks import layout

    known, edges = layout.import_graph(root)
    direct = {name: set() for name in known}
    succ = {name: set() for name in known}
    for name, path in known.items():
        for node, where in layout._imports(ast.parse(path.read_text(encoding="utf-8"))):
            if where == "module":
                names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                         else [] if node.level else [node.module or ""])
                direct[name] |= {n.split(".")[0] for n in names} & HEAVY
    for e in edges:
        if e["where"] == "module":
            succ[e["importer"]].add(e["imported"])
    for name in known:  # importing a.b.c runs a/__init__ and a/b/__init__ first
        parts = name.split(".")
        succ[name] |= {".".join(parts[:i]) for i in range(1, len(parts))} & set(known)

    def reach(start):
        seen, todo = {start}, [start]
        while todo:
            for nxt in succ[todo.pop()] - seen:
                seen.add(nxt)
                todo.append(nxt)
        return seen

    closure = {name: reach(name) for name in known}
    heavy = {name: set().union(*(direct[m] for m in closure[name])) for name in known}
    return known, edges, closure, heavy


def test_dlzoos_own_imports_inside_functions_are_only_the_deferred_kinds():
    """dlzoo's own imports sit at the top of each module, except an import that would load Keras
    or NumPy on the way to `dlzoo --help`/`list` (the CLI builds its parser from every command
    module) or Keras into a module that works without it (`dlzoo doctor`, `datasets`)."""
    from dlzoo.cli import COMMANDS

    known, edges, closure, heavy = _module_level_reach(ROOT)
    light = set().union(closure["dlzoo.cli"], *(closure[m] for m in COMMANDS.values()))
    assert not any(heavy[m] for m in light), sorted(m for m in light if heavy[m])
    wrong = [f"{e['importer']}:{e['line']} imports {e['imported']} inside a function"
             for e in edges if e["where"] == "function"
             and (e["importer"], e["imported"]) not in ALLOWED
             and not (e["importer"] in light and heavy[e["imported"]])
             and not ("keras" not in heavy[e["importer"]] and "keras" in heavy[e["imported"]])]
    assert not wrong, "\n".join(wrong)
