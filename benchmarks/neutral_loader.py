"""The backend-neutral input path's engine, chosen by measurement: keras.utils.PyDataset with worker
threads (dlzoo.data.neutral.Batches, read through Keras's own PyDataset adapter, as `fit` reads
it) against grain (MapDataset -> batch -> IterDataset with worker threads, which `fit` takes
directly). Same folder of photo-like JPEGs, same decode (Pillow, resized to 160x160) in both;
two sides: decoding from the files every epoch (the case that needs workers) and batching from
the decoded images in memory. Wall seconds per epoch, median of interleaved rounds.

    python -m benchmarks run neutral_loader          # needs `pip install grain`
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time

import numpy as np

from benchmarks._common import interleaved_timings, make_photo_folder, paired_ratio

SIZE = (160, 160)
BATCH = 32


def _engines(paths, labels, images, workers):
    import grain
    from keras.src.trainers.data_adapters import get_data_adapter

    from dlzoo.data.neutral import Batches, FileImages

    files = FileImages(paths, channels=3, image_size=SIZE,
                       opts={"interpolation": "bilinear", "crop_to_aspect_ratio": False})

    def pydataset(source, n_workers):
        def epoch():
            adapter = get_data_adapter(Batches(source, labels, batch_size=BATCH, shuffle=True,
                                               workers=n_workers), shuffle=False)
            adapter.on_epoch_begin()
            n = sum(len(y) for _, y in adapter.get_numpy_iterator())
            adapter.on_epoch_end()
            assert n == len(labels)
        return epoch

    def grain_epoch(from_files, n_workers, seed=[0]):  # noqa: B006 (a counter across epochs)
        def one(i):
            if from_files:
                x, _ = files.take([i])
                return x[0].astype(np.float32), labels[i]
            return images[i].astype(np.float32), labels[i]

        def epoch():
            seed[0] += 1
            ds = (grain.MapDataset.range(len(labels)).shuffle(seed=seed[0]).map(one)
                  .batch(BATCH).to_iter_dataset(grain.ReadOptions(num_threads=n_workers,
                                                                  prefetch_buffer_size=4)))
            n = sum(len(y) for _, y in ds)
            assert n == len(labels)
        return epoch

    return {
        "files: PyDataset": pydataset(files, workers),
        "files: grain": grain_epoch(True, workers),
        "memory: PyDataset": pydataset(images, 1),
        "memory: grain": grain_epoch(False, 1),
    }


def run(quick: bool = False) -> dict:
    from dlzoo.data.neutral import FileImages

    n, rounds = (256, 3) if quick else (1000, 5)
    workers = min(4, os.cpu_count() or 1)
    with tempfile.TemporaryDirectory() as tmp:
        make_photo_folder(tmp, n, size=SIZE)
        paths = sorted(os.path.join(r, f) for r, _, fs in os.walk(tmp) for f in fs)
        labels = np.array([int(os.path.basename(os.path.dirname(p))[-1]) for p in paths], np.int32)
        images = FileImages(paths, channels=3, image_size=SIZE,
                            opts={"interpolation": "bilinear", "crop_to_aspect_ratio": False}
                            ).take(range(len(paths)))[0]
        t0 = time.perf_counter()
        times = interleaved_timings(_engines(paths, labels, images, workers), rounds=rounds)
        wall = time.perf_counter() - t0
    rows = [{"engine": k, "epoch seconds (median)": statistics.median(v),
             "images/s": n / statistics.median(v)} for k, v in times.items()]
    files = paired_ratio(times["files: grain"], times["files: PyDataset"])["median"]
    memory = paired_ratio(times["memory: grain"], times["memory: PyDataset"])["median"]
    summary = (f"{n} JPEGs at {SIZE[0]}x{SIZE[1]}, batch {BATCH}, {workers} worker threads, "
               f"{rounds} interleaved rounds ({wall:.0f} s). grain's epoch / PyDataset's "
               f"(median of pairs): {files:.2f} decoding from files, {memory:.2f} from memory. "
               f"Load average at the start: {os.getloadavg()[0]:.2f}.")
    return {"title": "Backend-neutral loader: keras.utils.PyDataset vs grain", "summary": summary,
            "rows": rows, "grain_over_pydataset": {"files": files, "memory": memory}}
