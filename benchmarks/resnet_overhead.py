"""Training-step time of dlzoo's `resnet50` against keras.applications' `ResNet50`.

Both are built at 64x64x3 with 1,000 classes, compiled alike (SGD, sparse categorical cross-entropy)
and trained on the same batch of 32; their steps are timed interleaved in one process (A B, B A,
A B, ...), and the ratio of each pair is taken. The two graphs are the same layer for layer, so the goal is no
overhead: a median ratio <= 1.03.
"""

from __future__ import annotations

import statistics

from benchmarks._common import interleaved_timings, paired_ratio

SHAPE = (64, 64, 3)
BATCH = 32
GOAL = 1.03


def run(quick: bool = False) -> dict:
    import keras
    import numpy as np

    from dlzoo import build

    keras.utils.set_random_seed(0)
    models = {
        "dlzoo resnet50": build("resnet50", input_shape=SHAPE),
        "keras.applications ResNet50": keras.applications.ResNet50(weights=None, input_shape=SHAPE),
    }
    rng = np.random.default_rng(0)
    x = rng.normal(size=(BATCH,) + SHAPE).astype("float32")
    y = rng.integers(0, 1000, size=(BATCH,))
    for model in models.values():
        model.compile(optimizer=keras.optimizers.SGD(0.01), loss="sparse_categorical_crossentropy")
    steps = 2 if quick else 3  # training steps per timed call

    def stepper(model):
        def fn():
            for _ in range(steps):
                model.train_on_batch(x, y)

        return fn

    fns = {k: stepper(m) for k, m in models.items()}
    times = interleaved_timings(fns, rounds=6 if quick else 20, warmup=2)  # A B, B A, ...
    ours, ref = times["dlzoo resnet50"], times["keras.applications ResNet50"]
    ratio = paired_ratio(ours, ref)
    rows = [
        {
            "model": name,
            "parameters": models[name].count_params(),
            "median step (ms)": 1000 * statistics.median(t) / steps,
            "fastest step (ms)": 1000 * min(t) / steps,
        }
        for name, t in times.items()
    ]
    verdict = "meets" if ratio["median"] <= GOAL else "misses"
    summary = (
        f"Train-step time at {SHAPE[0]}x{SHAPE[1]}, batch {BATCH}, dlzoo / keras.applications: "
        f"median ratio {ratio['median']:.3f} (range {ratio['min']:.3f} to {ratio['max']:.3f} over "
        f"{ratio['pairs']} interleaved pairs of {steps} steps); {verdict} the goal of <= {GOAL}. "
        f"Ratio of the fastest calls: {min(ours) / min(ref):.3f}."
    )
    return {
        "title": "ResNet-50 overhead: dlzoo vs keras.applications",
        "summary": summary,
        "rows": rows,
        "ratio": ratio,
        "fastest_ratio": min(ours) / min(ref),
        "goal": GOAL,
        "input_shape": list(SHAPE),
        "batch": BATCH,
        "steps_per_call": steps,
        "backend": keras.backend.backend(),
    }
