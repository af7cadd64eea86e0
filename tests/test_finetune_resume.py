"""A fine-tune is a run (issue 24, item 3): backed up at every epoch of both phases, resumable
with `dlzoo finetune ... --resume` in the phase and epoch it reached, after a kill -9 at any
file it writes (injected with strace, as tests/test_run_state.py does for `dlzoo train`), and a
run killed in phase 2 and resumed ends with the weights of one never killed."""

import json
from pathlib import Path

import numpy as np
import pytest

from tests.test_run_state import ZERO, dlzoo, killed, saved_weights, strace

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "saved_models" / "lenet5-digits"  # pretrained: a two-phase fine-tune


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    """Three classes of 32x32 grayscale images, 12 each (dark, mid, light with noise)."""
    from PIL import Image

    root = tmp_path_factory.mktemp("shapes")
    for c, value in (("dark", 40), ("mid", 128), ("light", 215)):
        (root / c).mkdir()
        for i in range(12):
            rng = np.random.default_rng(100 * value + i)
            pixels = np.clip(value + rng.normal(0, 30, (32, 32)), 0, 255).astype("uint8")
            Image.fromarray(pixels).save(root / c / f"{i}.png")
    return root


def finetune_args(images, out, *more, quiet=True):
    return ["finetune", images, "--model", SHIPPED, "--head-epochs", "2", "--epochs", "3",
            "--out", out, "--cache-dir", "", "--keep", "last", *more] + (
                ["--quiet"] if quiet else [])


def check_finished(out: Path, proc):
    assert proc.returncode == 0, proc.stderr[-2000:]
    card = json.loads((out / "card.json").read_text())
    assert card["training"]["phase1"]["epochs_run"] == 2
    assert card["training"]["phase2"]["epochs_run"] == 3
    rows = (out / "history.csv").read_text().splitlines()
    assert len(rows) == 1 + 5, rows  # each epoch of both phases once
    assert not (out.parent / ".runs").exists(), "the run's state is removed once saved"
    return card


def test_resume_refuses_a_missing_run_and_changed_flags(shapes, tmp_path, capsys):
    from dlzoo.cli import main

    out = tmp_path / "result"
    assert main(list(map(str, finetune_args(shapes, out, "--resume")))) == 2
    err = capsys.readouterr().err
    assert "no unfinished run of 'result'" in err and "without --resume" in err, err
    run = tmp_path / ".runs" / "result"
    run.mkdir(parents=True)
    (run / "recipe.json").write_text(json.dumps({
        "name": "result", "kind": "finetune", "source": str(SHIPPED), "data": str(shapes),
        "config": {"epochs": 4}}))
    assert main(list(map(str, finetune_args(shapes, out, "--resume")))) == 2
    err = capsys.readouterr().err
    assert "the settings changed since the run started" in err, err
    # named by the flag that sets it, with its values then and now
    assert "--epochs 4 when started, " in err and "the same model, folder and flags" in err
    assert "config." not in err and "resuming the fine-tune" not in err  # one line, no keys


# Every file a fine-tune writes while it runs: (path under the output's parent, which write).
FINETUNE_FILES = {
    "phase 1 backup": (f".runs/result/phase1/backup/.epoch-00002.tmp-{ZERO}.weights.h5", 1),
    "phase 1 weights": (f".runs/result/phase1/.weights.tmp-{ZERO}.npz", 1),
    "phase 1 record": (f".runs/result/phase1/.done.tmp-{ZERO}.json", 1),
    "phase 2 history.csv": (".runs/result/phase2/history.csv", 2),
    "phase 2 counters": (f".runs/result/phase2/state/.state.tmp-{ZERO}.json", 1),
    "phase 2 backup": (f".runs/result/phase2/backup/.epoch-00002.tmp-{ZERO}.weights.h5", 1),
    "phase 2 record": (f".runs/result/phase2/.done.tmp-{ZERO}.json", 1),
    "saved model.keras": (".result.tmp-000000000000/model.keras", 1),
}


@pytest.mark.slow
@strace
@pytest.mark.parametrize("where", list(FINETUNE_FILES), ids=lambda w: w.replace(" ", "-"))
def test_kill_9_during_any_write_of_a_finetune_then_resume(shapes, tmp_path, where):
    rel, when = FINETUNE_FILES[where]
    out = tmp_path / "result"
    proc = dlzoo(*finetune_args(shapes, out), inject=f"write:signal=SIGKILL:when={when}",
                 path=tmp_path / rel)
    assert killed(proc), f"the kill did not land: {proc.stderr[-2000:]}"
    assert not out.exists(), "nothing saved by the killed run"
    resumed = dlzoo(*finetune_args(shapes, out, "--resume"))
    card = check_finished(out, resumed)
    assert card["training"]["resumed"] is True


@pytest.mark.slow
@strace
def test_a_finetune_killed_in_phase_2_and_resumed_ends_with_the_weights_of_one_never_killed(
        shapes, tmp_path):
    reference = dlzoo(*finetune_args(shapes, tmp_path / "ref" / "result"))
    check_finished(tmp_path / "ref" / "result", reference)
    out = tmp_path / "result"
    rel, _ = FINETUNE_FILES["phase 2 backup"]
    assert killed(dlzoo(*finetune_args(shapes, out), inject="write:signal=SIGKILL:when=1",
                        path=tmp_path / rel))
    resumed = dlzoo(*finetune_args(shapes, out, "--resume", quiet=False))
    check_finished(out, resumed)
    assert "phase 1: finished before the restart" in resumed.stdout, resumed.stdout
    assert "resuming after epoch 1 of 3" in resumed.stdout, resumed.stdout
    for a, b in zip(saved_weights(tmp_path / "ref" / "result"), saved_weights(out),
                    strict=True):
        np.testing.assert_array_equal(a, b)


# --- a fine-tune as a recipe: `dlzoo train my-finetune.yaml` ------------------------------------


def phased_recipe(directory, images, *, name="shapes-ft", **more) -> Path:
    import yaml

    recipe = {
        "name": name, "model": str(SHIPPED),
        "data": {"source": f"folder:{images}", "batch_size": 16, "seed": 0},
        "phases": [{"train": "head", "epochs": 2}, {"train": "all", "epochs": 3,
                                                    "learning_rate": 0.0005}],
        "transfer": {"keep": "last"},
        **more,
    }
    path = Path(directory) / f"{name}.yaml"
    path.write_text(yaml.safe_dump(recipe))
    return path


@pytest.mark.parametrize("change, message", [
    ({"phases": [{"train": "all", "epochs": 2}, {"train": "head", "epochs": 2}]},
     "phases[0].train must be head first, then the unfrozen network"),
    ({"phases": [{"train": "head", "epochs": 2, "batchnorm": "train"}]},
     "phases[0].batchnorm must be frozen or train, in an unfreeze phase"),
    ({"phases": [{"train": "top:x", "epochs": 2}]}, "phases[0].train must be head, all or top:K"),
    ({"phases": [{"train": "head", "epoch": 2}]}, "unknown key(s) phases[0].epoch"),
    ({"train": {"epochs": 3}}, "unknown key(s) train.epochs"),
    ({"transfer": {"keep": "first"}}, "transfer.keep must be best or last"),
])
def test_a_phased_recipe_is_checked_before_anything_runs(tmp_path, change, message):
    """Each mistake is one line naming the key, from the recipe alone (no backend, no data)."""
    from dlzoo.recipes import RecipeError, load_recipe

    path = phased_recipe(tmp_path, tmp_path, **change)
    with pytest.raises(RecipeError) as e:
        load_recipe(path)
    assert message in str(e.value), str(e.value)


def test_the_shipped_finetune_recipe_names_what_to_train_first(tmp_path, capsys):
    """`run:lenet5-digits`: the model that recipe saves in the same --output; absent, one line
    with the command that makes it (exit 2, before any data is read)."""
    from dlzoo.cli import main
    from dlzoo.recipes import load_recipe

    recipe = load_recipe("lenet5-shapes-finetune")
    assert [p["train"] for p in recipe["phases"]] == ["head", "all"]
    assert main(["train", "lenet5-shapes-finetune", "--output", str(tmp_path / "models")]) == 2
    err = capsys.readouterr().err
    assert f"train it first: dlzoo train lenet5-digits --output {tmp_path / 'models'}" in err, err


@pytest.mark.slow
@strace
def test_a_phased_recipe_trains_both_phases_and_resumes_after_kill_9(shapes, tmp_path):
    recipe, out = phased_recipe(tmp_path, shapes), tmp_path / "models"
    tmp = out / ".runs" / "shapes-ft" / "phase2" / "backup" / f".epoch-00002.tmp-{ZERO}.weights.h5"
    assert killed(dlzoo("train", recipe, "--output", out, "--quiet",
                        inject="write:signal=SIGKILL:when=1", path=tmp))
    resumed = dlzoo("train", recipe, "--output", out, "--resume")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    card = json.loads((out / "shapes-ft" / "card.json").read_text())
    assert card["training"]["phase1"]["epochs_run"] == 2
    assert card["training"]["phase2"]["epochs_run"] == 3 and card["training"]["resumed"]
    assert card["recipe"]["phases"][1]["train"] == "all"
    assert "5 epoch(s) of 5" in resumed.stdout, resumed.stdout
    assert not (out / ".runs").exists()
