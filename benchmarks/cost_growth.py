"""How the cost of a model grows: training-step time against input size and against depth, and the
parameter count and FLOPs of every image model in the registry.

Training-step times are measured on this machine's CPU, interleaved (every configuration once per
round, for several rounds) and reported relative to the smallest configuration, so a noisy shared
machine shifts all of them together. FLOPs are counted from the layers' shapes: two per
multiply-add of every Conv2D and Dense layer (grouped convolutions counted per group), the layers
that hold nearly all of a CNN's arithmetic; BatchNorm, activations, pooling and additions are
left out. A training step costs about three forward passes (forward, and backward through both
inputs and weights).
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

from benchmarks import _common

SIZES = [32, 64, 96, 128, 160, 224]
DEPTHS = ["resnet18", "resnet34", "resnet50", "resnet101", "resnet152"]
PLOT_NAME = "cost_growth.png"  # in _common.RESULTS_DIR (a test points that elsewhere)


def conv_dense_flops(model) -> int:
    """Forward FLOPs of a model's Conv2D and Dense layers for one example (nested models too)."""
    import keras

    total = 0
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            total += conv_dense_flops(layer)
        elif isinstance(layer, keras.layers.Conv2D):
            out = layer.output.shape  # (None, H, W, C_out)
            kh, kw = layer.kernel_size
            c_in = layer.input.shape[-1]
            total += 2 * out[1] * out[2] * kh * kw * (c_in // layer.groups) * out[3]
        elif isinstance(layer, keras.layers.Dense):
            n_in = layer.input.shape[-1]
            positions = 1
            for d in layer.output.shape[1:-1]:
                positions *= d
            total += 2 * positions * n_in * layer.units
    return int(total)


def _step_fn(model, batch: int, size: int):
    import keras
    import numpy as np

    x = np.random.default_rng(0).normal(size=(batch, size, size, 3)).astype("float32")
    y = np.random.default_rng(1).integers(0, model.output_shape[-1], size=(batch,))
    model.compile(optimizer=keras.optimizers.SGD(0.01), loss="sparse_categorical_crossentropy")
    model.train_on_batch(x, y)  # compile the step before timing it

    def step():
        model.train_on_batch(x, y)

    return step


def _interleaved(steps: dict, rounds: int) -> dict:
    times = {k: [] for k in steps}
    for _ in range(rounds):
        for k, fn in steps.items():
            t0 = time.perf_counter()
            fn()
            times[k].append(time.perf_counter() - t0)
    return {k: statistics.median(v) for k, v in times.items()}


def run(quick: bool = False) -> dict:
    import keras

    from dlzoo import build, list_models, model_info

    sizes = [32, 64, 128] if quick else SIZES
    depths = ["resnet18", "resnet50"] if quick else DEPTHS
    rounds = 2 if quick else 3
    batch = 8 if quick else 16

    # 1. input size: ResNet-50, 10 classes, the same batch at each size
    size_steps = {s: _step_fn(build("resnet50", input_shape=(s, s, 3), num_classes=10), batch, s)
                  for s in sizes}
    size_times = _interleaved(size_steps, rounds)
    keras.backend.clear_session()
    # 2. depth: ResNet-18 to 152 at 64 px (224 px costs minutes per step on 2 cores)
    depth_px = 64
    depth_models = {n: build(n, input_shape=(depth_px, depth_px, 3), num_classes=10) for n in depths}
    depth_steps = {n: _step_fn(m, batch, depth_px) for n, m in depth_models.items()}
    depth_times = _interleaved(depth_steps, rounds)
    depth_flops = {n: conv_dense_flops(m) for n, m in depth_models.items()}
    keras.backend.clear_session()

    base_s, base_d = size_times[sizes[0]], depth_times[depths[0]]
    rows = []
    for s in sizes:
        rows.append({"sweep": "input size (resnet50)", "config": f"{s}x{s}",
                     "step ms (median)": size_times[s] * 1e3,
                     "relative time": size_times[s] / base_s,
                     "relative pixels or FLOPs": (s / sizes[0]) ** 2})
    for n in depths:
        rows.append({"sweep": f"depth ({depth_px}x{depth_px})", "config": n,
                     "step ms (median)": depth_times[n] * 1e3,
                     "relative time": depth_times[n] / base_d,
                     "relative pixels or FLOPs": depth_flops[n] / depth_flops[depths[0]]})

    # 3. registry: parameters and FLOPs of every image classifier at its default input
    registry = []
    for name in list_models(task="image_classification"):
        info = model_info(name)
        model = build(name)
        registry.append({"model": name, "input": "x".join(map(str, info.default_input_shape)),
                         "params (M)": info.params / 1e6,
                         "forward GFLOPs": conv_dense_flops(model) / 1e9})
        del model
        keras.backend.clear_session()
    registry.sort(key=lambda r: r["forward GFLOPs"])

    _plot(sizes, size_times, depths, depth_times, depth_flops, registry)
    largest = max(sizes)
    summary = (
        f"Train-step time on this CPU, batch {batch}, median of {rounds} interleaved rounds. "
        f"ResNet-50 from {sizes[0]} to {largest} px: {size_times[largest] / base_s:.1f}x the time for "
        f"{(largest / sizes[0]) ** 2:.0f}x the pixels. ResNet-18 to {depths[-1]} at {depth_px} px: "
        f"{depth_times[depths[-1]] / base_d:.1f}x the time for "
        f"{depth_flops[depths[-1]] / depth_flops[depths[0]]:.1f}x the FLOPs. "
        "The registry table lists parameters and forward FLOPs (Conv2D + Dense) at each model's "
        "default input; a training step is about 3x the forward FLOPs."
    )
    return {"title": "Cost growth: input size, depth, parameters and FLOPs", "summary": summary,
            "rows": rows,
            "tables": [{"title": "Parameters and forward FLOPs at each model's default input",
                        "rows": registry}],
            "images": [f"results/{PLOT_NAME}"], "batch": batch, "rounds": rounds}


def _plot(sizes, size_times, depths, depth_times, depth_flops, registry) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    ax = axes[0]
    ax.plot([s * s for s in sizes], [size_times[s] * 1e3 for s in sizes], "o-")
    for s in sizes:
        ax.annotate(f"{s}px", (s * s, size_times[s] * 1e3), fontsize=8)
    ax.set(xlabel="pixels per image", ylabel="train step (ms)", title="ResNet-50: input size")
    ax = axes[1]
    ax.plot([depth_flops[n] / 1e9 for n in depths], [depth_times[n] * 1e3 for n in depths], "s-")
    for n in depths:
        ax.annotate(n, (depth_flops[n] / 1e9, depth_times[n] * 1e3), fontsize=8)
    ax.set(xlabel="forward GFLOPs per image (64 px)", ylabel="train step (ms)",
           title="ResNet depth at 64 px")
    ax = axes[2]
    ax.scatter([r["params (M)"] for r in registry], [r["forward GFLOPs"] for r in registry])
    for r in registry:
        ax.annotate(r["model"], (r["params (M)"], r["forward GFLOPs"]), fontsize=7)
    ax.set(xscale="log", yscale="log", xlabel="parameters (M)",
           ylabel="forward GFLOPs at default input", title="Registry")
    fig.tight_layout()
    plot = _common.RESULTS_DIR / PLOT_NAME
    plot.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(plot, dpi=90)
    plt.close(fig)
    return plot
