"""A tiny offline search (digits at 8x8, small CNNs, one epoch per trial) for the tuning tests."""

import os
import subprocess
import sys
from pathlib import Path

import yaml


def tiny_recipe(directory, *, name="tiny-tune", trials=3, epochs=1, tuner="random", retrain=False,
                space=None, **tune) -> Path:
    recipe = {
        "name": name,
        "model": "plain_cnn",
        "model_args": {"input_shape": [8, 8, 1]},
        "data": {"source": "digits", "image_size": [8, 8], "color_mode": "grayscale",
                 "validation_split": 0.2, "batch_size": 64, "seed": 0},
        "train": {"epochs": 1},
        "callbacks": {"early_stopping": False, "lr_schedule": "constant"},
        "tune": {
            "hypermodel": "cnn",
            "space": space or {"stages": [1, 2], "convs": 1, "filters": [8, 16],
                               "kernel_size": 3, "fc_units": 16, "dropout": 0.0},
            "tuner": tuner, "max_trials": trials, "epochs": epochs, "retrain": retrain,
            **tune,
        },
    }
    path = Path(directory) / f"{name}.yaml"
    path.write_text(yaml.safe_dump(recipe))
    return path


def trial_states(project):
    import json

    return {p.parent.name: json.loads(p.read_text())
            for p in Path(project).glob("trial_*/trial.json")}


def start_tune_workers(recipe, out, workers=2) -> subprocess.Popen:
    """`dlzoo tune RECIPE --workers N --output OUT` in its own process group (kill it with
    os.killpg(proc.pid, ...)), its output and its workers' as text lines on `proc.stdout`."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.Popen(
        [sys.executable, "-m", "dlzoo", "tune", str(recipe), "--workers", str(workers),
         "--output", str(out)], cwd=Path(__file__).resolve().parent.parent, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )
