"""A tiny offline search (digits at 8x8, small CNNs, one epoch per trial) for the tuning tests."""

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
