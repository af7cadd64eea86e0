"""Does the backend-neutral input path keep up with a GPU? Batches of 256 shuffled 224x224 RGB
images from the in-memory cache (what `dlzoo.data.neutral.Batches` serves after the first
epoch), read through Keras's own PyDataset adapter as `fit` reads them, on ONE thread (no
workers): images/s per core. Two ways a batch can travel: as uint8 (what Batches serves now; the
model's first layer casts to float32 on the device) and as float32 cast on the host (what it
served before), a quarter of the bytes against all of them. The goal to compare with: a bfloat16
ResNet-50 on one H100/H200 consumes about 6,000-7,000 images/s.

    python -m benchmarks run input_rate
"""

from __future__ import annotations

import statistics
import time

import numpy as np

from benchmarks._common import load_average

GPU_RATE = 7000  # images/s a bf16 ResNet-50 consumes on one H100/H200 (the goal)


def _epoch_rate(images, labels, batch: int, as_float: bool) -> float:
    from keras.src.trainers.data_adapters import get_data_adapter

    from dlzoo.data.neutral import Batches

    class Float32(Batches):  # the host-side cast Batches did before
        def __getitem__(self, i):
            x, y = super().__getitem__(i)
            return x.astype(np.float32), y

    cls = Float32 if as_float else Batches
    adapter = get_data_adapter(cls(images, labels, batch_size=batch, shuffle=True, workers=1),
                               shuffle=False)
    adapter.on_epoch_begin()
    t0 = time.perf_counter()
    n = sum(len(y) for _, y in adapter.get_numpy_iterator())
    return n / (time.perf_counter() - t0)


def run(quick: bool = False) -> dict:
    n, batch = (512, 64) if quick else (2048, 256)
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (n, 224, 224, 3), dtype=np.uint8)
    labels = rng.integers(0, 10, n).astype(np.int32)
    rates: dict = {"uint8": [], "float32": []}
    for _ in range(2 if quick else 5):  # interleaved rounds
        for kind in rates:
            rates[kind].append(_epoch_rate(images, labels, batch, kind == "float32"))
    rows = []
    for kind, values in rates.items():
        median = statistics.median(values)
        rows.append({"batches travel as": kind, "images/s on one core (median)": round(median),
                     "all rounds": ", ".join(f"{v:.0f}" for v in values),
                     "cores for 7,000 images/s": round(GPU_RATE / median, 2),
                     "MB per batch": round(batch * 224 * 224 * 3 * (4 if kind == "float32" else 1)
                                           / 2**20, 1)})
    u8 = statistics.median(rates["uint8"])
    f32 = statistics.median(rates["float32"])
    return {
        "title": "Input path rate from the in-memory cache (224 px, batch 256, one core)",
        "summary": f"uint8 batches: {u8:,.0f} images/s on one core ({u8 / f32:.1f}x the float32 "
                   f"batches' {f32:,.0f}); a GPU's {GPU_RATE:,} images/s needs "
                   f"{GPU_RATE / u8:.2f} core(s) of a 16-core host. Load average "
                   f"{' '.join(load_average())}.",
        "rows": rows,
    }
