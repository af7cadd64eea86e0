"""Which backbone to fine-tune: parameters, FLOPs and CPU inference time of keras.applications'
networks as the zoo builds them, side by side in one process.

Each model is built at 224x224x3 with 1,000 classes and the zoo's preprocessing in front (what
`dlzoo finetune` and `predict` run). FLOPs: TensorFlow's profiler on the frozen inference graph of
one image (a multiply-add counts 2). Time: `predict_on_batch` on a batch of 8 random images, the
models called in turn round after round (A B C ..., then the reverse order), so a burst of load on
the shared machine hits every model alike; the figure is the median call over the rounds divided by
8. ImageNet top-1 is not measured here (no ImageNet on this machine): it is the figure Keras
publishes, with its source, in `TOP1`.
"""

from __future__ import annotations

import statistics

from benchmarks._common import interleaved_timings

BACKBONES = ("mobilenet_v3_small", "mobilenet_v3_large", "mobilenet_v2", "efficientnet_b0",
             "efficientnet_v2_b0", "densenet121", "convnext_tiny", "resnet50")
QUICK = ("mobilenet_v3_small", "efficientnet_b0", "resnet50")
SHAPE = (224, 224, 3)
BATCH = 8

KERAS_TABLE = "keras.io/api/applications (the table of available models)"
# name: (ImageNet top-1 %, where Keras publishes it)
TOP1 = {
    "mobilenet_v3_small": (68.1, "keras/src/applications/mobilenet_v3.py docstring"),
    "mobilenet_v3_large": (75.6, "keras/src/applications/mobilenet_v3.py docstring"),
    "mobilenet_v2": (71.3, KERAS_TABLE),
    "efficientnet_b0": (77.1, KERAS_TABLE),
    "efficientnet_v2_b0": (78.7, KERAS_TABLE),
    "densenet121": (75.0, KERAS_TABLE),
    "convnext_tiny": (81.3, KERAS_TABLE),
    "resnet50": (74.9, KERAS_TABLE),
}


def flops(model) -> int:
    """Floating-point operations of one forward pass of one image (TensorFlow's profiler)."""
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import (
        convert_variables_to_constants_v2,
    )

    spec = tf.TensorSpec((1, *model.input_shape[1:]), tf.float32)
    concrete = tf.function(lambda x: model(x, training=False)).get_concrete_function(spec)
    graph = convert_variables_to_constants_v2(concrete).graph
    options = tf.compat.v1.profiler.ProfileOptionBuilder(
        tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()).with_empty_output().build()
    return int(tf.compat.v1.profiler.profile(graph=graph, run_meta=tf.compat.v1.RunMetadata(),
                                             cmd="op", options=options).total_float_ops)


def run(quick: bool = False) -> dict:
    import os

    import keras
    import numpy as np

    from dlzoo import build, model_info
    from dlzoo.preprocessing import with_preprocessing

    names = QUICK if quick else BACKBONES
    keras.utils.set_random_seed(0)
    models, rows = {}, {}
    for name in names:
        info = model_info(name)
        network = build(name, input_shape=SHAPE)
        models[name] = with_preprocessing(network, info.preprocessing)
        rows[name] = {"model": name, "parameters": network.count_params(),
                      "GFLOPs at 224 px": round(flops(models[name]) / 1e9, 2),
                      "preprocessing": info.preprocessing}
    load_before = os.getloadavg()
    x = np.random.default_rng(0).uniform(0, 255, (BATCH, *SHAPE)).astype("float32")
    fns = {name: (lambda m=m: m.predict_on_batch(x)) for name, m in models.items()}
    times = interleaved_timings(fns, rounds=3 if quick else 10, warmup=2)
    for name, t in times.items():
        rows[name]["CPU ms/image"] = round(1000 * statistics.median(t) / BATCH, 1)
        rows[name]["fastest ms/image"] = round(1000 * min(t) / BATCH, 1)
        top1, source = TOP1[name]
        rows[name]["ImageNet top-1 (Keras)"] = top1
        rows[name]["top-1 source"] = source
    load_after = os.getloadavg()
    base = rows["resnet50"]["CPU ms/image"]
    for row in rows.values():
        row["time / resnet50"] = round(row["CPU ms/image"] / base, 2)
    fastest = min(rows.values(), key=lambda r: r["CPU ms/image"])
    summary = (
        f"CPU inference at 224x224, batch {BATCH}, median of {len(times[names[0]])} interleaved "
        f"calls per model: {fastest['model']} is the fastest at {fastest['CPU ms/image']} ms/image "
        f"({fastest['time / resnet50']}x ResNet-50's time). Parameters equal keras.applications'. "
        f"Load average (1 min) {load_before[0]:.1f} before the timing, {load_after[0]:.1f} after."
    )
    return {
        "title": "Backbones for fine-tuning: size, FLOPs, CPU time",
        "summary": summary,
        "rows": list(rows.values()),
        "input_shape": list(SHAPE),
        "batch": BATCH,
        "load_average": {"before": load_before, "after": load_after},
    }
