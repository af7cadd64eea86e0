"""The task is one type (`dlzoo.tasks.Task`): it round-trips through cards and the catalog as the
same string, a bad task is refused naming the closest, and no code compares a task with a string.
All cheap: no model is built, no backend imported beyond what dlzoo's import does."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import dlzoo
from dlzoo import catalog, saving
from dlzoo.files import json_default
from dlzoo.registry import TASKS, ModelInfo, register_model
from dlzoo.tasks import Task

PACKAGE = Path(dlzoo.__file__).parent
TASK_STRINGS = {t.value for t in Task}


def test_a_task_is_its_string():
    for task in Task:
        assert Task(task.value) is task and task == task.value and f"{task}" == task.value
        assert json.dumps({"task": task}) == json.dumps({"task": task.value})
    assert list(TASKS) == [t for t in Task if t is not Task.MULTI_LABEL_CLASSIFICATION]
    assert Task("image_classification").is_classification and not Task.AUTOENCODER.is_classification
    assert Task.SEQUENCE_REGRESSION.is_sequence and Task.RATING_PREDICTION.has_own_data
    assert not Task.GENERATIVE.is_supervised and Task.TEXT_GENERATION.is_supervised
    assert Task.TEXT_GENERATION.default_loss() == "sparse_categorical_crossentropy"
    assert Task.IMAGE_CLASSIFICATION.default_loss(1) == "binary_crossentropy"
    assert Task.SEQUENCE_REGRESSION.default_loss() == "mse"


def test_card_round_trip_is_byte_identical(tmp_path):
    """A card written before the type existed reads back with a `Task` and writes back the same
    bytes; a `ModelCard` given the string holds the member."""
    folder = tmp_path / "m"
    folder.mkdir()
    text = json.dumps({"name": "m", "model": "conv_dae", "task": "autoencoder",
                       "class_names": [], "schema_version": 1}, indent=2)
    (folder / saving.CARD_FILE).write_text(text, encoding="utf-8")
    card = saving.read_card(folder)
    assert card["task"] is Task.AUTOENCODER
    assert json.dumps(card, indent=2, default=json_default) == text  # as saving.save writes it
    assert "autoencoder" in saving.render_readme(card) and "Task." not in saving.render_readme(card)
    typed = saving.load_card(folder)
    assert typed.task is Task.AUTOENCODER and json.dumps(typed.to_dict(), indent=2) == text
    assert saving.ModelCard(task="text_generation").task is Task.TEXT_GENERATION


def test_catalog_round_trip():
    """Every stored catalog entry names a `Task`; a `ModelInfo` holds the member and writes the
    plain string the catalog stores (catalog.generate's own json round trip)."""
    for name, e in catalog.load().items():
        assert Task(e["task"]).value == e["task"], name
    info = ModelInfo(name="x", family="f", task="sequence_regression", input_kind="sequence",
                     default_input_shape=(8, 1))
    assert info.task is Task.SEQUENCE_REGRESSION
    stored = json.loads(json.dumps(info.as_dict(), default=str))
    assert type(stored["task"]) is str and stored["task"] == "sequence_regression"


def test_bad_task_is_refused_with_the_closest(tmp_path):
    with pytest.raises(ValueError, match=r"^register_model: task must be one of "
                                         r"image_classification, .*received "
                                         r"'image_clasification' \(closest: "
                                         r"image_classification\)\.$"):
        register_model(family="t", task="image_clasification", default_input_shape=(8, 8, 3))
    with pytest.raises(ValueError, match="saved model's task"):
        register_model(family="t", task="multi_label_classification", default_input_shape=(8, 8, 3))
    folder = tmp_path / "old"
    folder.mkdir()
    (folder / saving.CARD_FILE).write_text(json.dumps({"task": "text-generation"}),
                                           encoding="utf-8")
    with pytest.raises(ValueError, match=r"card\.json: task must be one of .*received "
                                         r"'text-generation' \(closest: text_generation\)"):
        saving.read_card(folder)


def test_cli_refuses_a_bad_task_in_one_line():
    """`dlzoo list --task` as a user runs it: one line naming the closest, exit status 2."""
    env = dict(os.environ, PYTHONPATH=str(PACKAGE.parent))
    proc = subprocess.run([sys.executable, "-m", "dlzoo", "list", "--task", "Image_Classification"],
                          capture_output=True, text=True, env=env, timeout=120, check=False)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2, proc.stderr
    assert len(lines) == 1 and "task must be one of" in lines[0], proc.stderr
    assert "received 'Image_Classification' (closest: image_classification)" in lines[0]


def _task_text(node) -> bool:
    return "task" in ast.unparse(node).lower()


def _task_literals(node) -> set:
    """The task strings a comparison operand spells out (a literal, or a tuple/list/set of them)."""
    values = node.elts if isinstance(node, (ast.Tuple, ast.List, ast.Set)) else [node]
    return {v.value for v in values if isinstance(v, ast.Constant) and v.value in TASK_STRINGS}


def raw_task_comparisons(root: Path) -> list[str]:
    """`file:line: source` of each place under `root` that compares something task-like (an
    expression whose text names `task`) with a task's string literal, calls
    `.startswith`/`.endswith` on one, or keeps a table of tasks by their strings (a tuple named
    for tasks, a dict keyed by them): what `Task` replaced."""
    found = []
    for path in sorted(root.rglob("*.py")):
        if path.name == "tasks.py" and path.parent == root:
            continue  # the type itself spells the strings, once
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            bad = False
            if isinstance(node, ast.Compare):
                operands = [node.left, *node.comparators]
                bad = any(_task_literals(o) for o in operands) and any(
                    _task_text(o) for o in operands if not _task_literals(o))
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                bad = node.func.attr in ("startswith", "endswith") and _task_text(node.func.value)
            elif isinstance(node, ast.Assign) and isinstance(node.value,
                                                             (ast.Tuple, ast.List, ast.Set)):
                # a table of tasks by their strings (CLASSIFICATION_TASKS = ("image_...", ...))
                bad = any(_task_text(t) for t in node.targets) and bool(_task_literals(node.value))
            elif isinstance(node, ast.Dict):  # a table keyed by tasks' strings
                bad = any(isinstance(k, ast.Constant) and k.value in TASK_STRINGS
                          for k in node.keys)
            if bad:
                found.append(f"{path.relative_to(root.parent)}:{node.lineno}: {ast.unparse(node)}")
    return found


def test_no_raw_task_string_comparison_in_dlzoo():
    found = raw_task_comparisons(PACKAGE)
    assert not found, ("compare tasks through dlzoo.tasks.Task (a property, or `is Task.X`), not "
                       "with strings:\n" + "\n".join(found))


def test_the_scan_sees_the_old_comparisons(tmp_path):
    """The scan is not blind: each form the code used before the type is reported."""
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "m.py").write_text(
        'def f(info, card, task):\n'
        '    a = info.task == "autoencoder"\n'
        '    b = card.get("task") != "text_generation"\n'
        '    c = task in ("rating_prediction", "text_generation")\n'
        '    d = info.task.startswith("sequence")\n'
        '    e = info.family == "autoencoder"\n'  # a family, not a task: not reported
        '    return a, b, c, d, e\n'
        'CLASSIFIER_TASKS = ("image_classification", "classification")\n'
        'METRICS = {"text_generation": "perplexity"}\n', encoding="utf-8")
    found = raw_task_comparisons(pkg)
    assert sorted(int(line.split(":")[1]) for line in found) == [2, 3, 4, 5, 8, 9], found
