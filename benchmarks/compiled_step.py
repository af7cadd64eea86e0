"""What the compiled step is worth: an epoch of the quickstart's recipe (lenet5-digits: LeNet-5 on
the digits behind random shifts and zooms) with Keras's jitted step, against the same model run op
by op (what every augmenting recipe got on JAX before `dlzoo.compiling.allow_jit`). Steady-state
epochs (after one warm-up epoch each, which holds the compile), interleaved rounds.

    KERAS_BACKEND=jax python -m benchmarks run compiled_step
"""

from __future__ import annotations

import statistics
import time

from benchmarks._common import load_average


def run(quick: bool = False) -> dict:
    import keras

    from dlzoo.recipes import load_recipe
    from dlzoo.training import prepare_run

    models = {}
    first = {}
    for jit in (True, False):
        run_ = prepare_run(load_recipe("lenet5-digits"), log=lambda *a: None)
        if not jit:
            run_.model.jit_compile = False
        t0 = time.perf_counter()
        run_.model.fit(run_.train, validation_data=run_.val, epochs=1, verbose=0)
        first[jit] = time.perf_counter() - t0
        models[jit] = run_
    epochs = {True: [], False: []}
    for _ in range(2 if quick else 4):
        for jit, run_ in models.items():
            t0 = time.perf_counter()
            run_.model.fit(run_.train, validation_data=run_.val, epochs=1, verbose=0)
            epochs[jit].append(time.perf_counter() - t0)
    compiled, eager = statistics.median(epochs[True]), statistics.median(epochs[False])
    rows = [{"step": "compiled (jit)" if jit else "op by op", "jit_compile": jit,
             "first epoch s (compile included)": round(first[jit], 2),
             "epoch s (median)": round(statistics.median(v), 3),
             "all epochs s": ", ".join(f"{x:.2f}" for x in v)} for jit, v in epochs.items()]
    return {
        "title": "Compiled step: an epoch of lenet5-digits, jitted vs op by op",
        "summary": f"backend {keras.backend.backend()}: {compiled:.2f} s an epoch compiled, "
                   f"{eager:.2f} s op by op ({eager / compiled:.1f}x). Load average "
                   f"{' '.join(load_average())}.",
        "rows": rows,
    }
