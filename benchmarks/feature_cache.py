"""Transfer learning's phase 1: ten head epochs on cached features against ten epochs with the
frozen base in the loop.

ResNet-50 (no top, average pooling) at 96x96 on about 1,000 generated colour images, 4 classes, batch
32. Both train the same head (dropout + softmax `predictions` over the 2,048 pooled features) with
Adam for ten epochs:

* cached: `dlzoo.transfer.extract_features` has run the frozen network once (timed separately, and
  reported with and without that one-off cost); the ten epochs read the cached feature arrays.
* in the loop: `image -> Preprocess -> frozen ResNet-50 -> pool -> head`, the ten epochs run every
  image through the network each epoch (what augmentation forces).

The two are timed alternately in one run (A B A B ...) after an untimed warm-up of each (tracing),
and the ratio is taken pair by pair. Goal: >= 10x.
"""

from __future__ import annotations

import statistics
import time

import numpy as np

IMAGE = 96
N_IMAGES = 1000
CLASSES = 4
BATCH = 32
EPOCHS = 10


def _images(n: int, seed: int = 0):
    """Colour images whose class is the position of a bright square, plus noise."""
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 80, (n, IMAGE, IMAGE, 3)).astype(np.uint8)
    y = (np.arange(n) % CLASSES).astype(np.int32)
    half = IMAGE // 2
    for i, c in enumerate(y):
        r, q = divmod(int(c), 2)
        x[i, r * half + 8:r * half + 40, q * half + 8:q * half + 40] = 220
    return x, y


def _network():
    """ResNet-50 without its top, from the zoo when it has one, else keras.applications."""
    from dlzoo.registry import list_models

    if "resnet50" in list_models("resnet50"):
        from dlzoo import build

        return build("resnet50", include_top=False, input_shape=(IMAGE, IMAGE, 3)), "dlzoo resnet50"
    import keras

    net = keras.applications.ResNet50(weights=None, include_top=False,
                                      input_shape=(IMAGE, IMAGE, 3))
    return net, "keras.applications.ResNet50 (dlzoo's resnet50 not merged yet)"


def run(quick: bool = False) -> dict:
    import keras
    import tensorflow as tf

    from dlzoo.data import DataBundle
    from dlzoo.data.manifest import array_hash
    from dlzoo.preprocessing import with_preprocessing
    from dlzoo.transfer import extract_features, feature_extractor

    n = 256 if quick else N_IMAGES
    rounds = 1 if quick else 2
    x, y = _images(n)
    train = tf.data.Dataset.from_tensor_slices((x.astype(np.float32), y)).shuffle(n, seed=0)
    train = train.batch(BATCH).prefetch(tf.data.AUTOTUNE)
    bundle = DataBundle(train=train, val=None, class_names=[str(c) for c in range(CLASSES)],
                        num_classes=CLASSES, input_shape=(IMAGE, IMAGE, 3), source="generated",
                        manifest_hash=array_hash(x, y))
    net, which = _network()
    ext = feature_extractor(net, preprocessing="caffe")  # ResNet-50's weights expect caffe
    keras.utils.set_random_seed(0)

    t0 = time.perf_counter()
    feats = extract_features(ext, bundle)
    extract_s = time.perf_counter() - t0
    fx, fy = feats.train

    def head_model(inputs, x_):
        x_ = keras.layers.Dropout(0.2, name="head_dropout")(x_)
        out = keras.layers.Dense(CLASSES, activation="softmax", name="predictions")(x_)
        m = keras.Model(inputs, out)
        m.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
        return m

    f_in = keras.Input(fx.shape[1:])
    cached_head = head_model(f_in, f_in)
    img_in = keras.Input((IMAGE, IMAGE, 3))
    base = ext.model  # Preprocess -> frozen ResNet-50 -> average pool
    base.trainable = False
    in_loop = head_model(img_in, base(img_in))
    assert with_preprocessing  # the extractor already carries the preprocessing layer

    def cached():
        cached_head.fit(fx, fy, batch_size=BATCH, epochs=EPOCHS, verbose=0)

    def looped():
        in_loop.fit(train, epochs=EPOCHS, verbose=0)

    # warm-up: one epoch each (traces the train steps), untimed
    cached_head.fit(fx, fy, batch_size=BATCH, epochs=1, verbose=0)
    in_loop.fit(train, epochs=1, verbose=0)
    times = {"cached": [], "in_loop": []}
    for _ in range(rounds):
        for name, fn in (("cached", cached), ("in_loop", looped)):
            t = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t)
    ratios = [b / a for a, b in zip(times["cached"], times["in_loop"])]
    with_extract = [b / (a + extract_s) for a, b in zip(times["cached"], times["in_loop"])]
    med = statistics.median
    rows = [
        {"phase 1 (10 head epochs)": "on cached features", "seconds": med(times["cached"]),
         "per epoch (s)": med(times["cached"]) / EPOCHS, "speed-up": med(ratios)},
        {"phase 1 (10 head epochs)": "cached, counting the one-off extraction",
         "seconds": med(times["cached"]) + extract_s,
         "per epoch (s)": (med(times["cached"]) + extract_s) / EPOCHS, "speed-up": med(with_extract)},
        {"phase 1 (10 head epochs)": "frozen base in the loop", "seconds": med(times["in_loop"]),
         "per epoch (s)": med(times["in_loop"]) / EPOCHS, "speed-up": 1.0},
    ]
    return {
        "title": "Feature cache: phase 1 on cached features vs the frozen base in the loop",
        "summary": (
            f"{which} at {IMAGE}x{IMAGE}, {n} generated images, batch {BATCH}, {EPOCHS} head epochs: "
            f"cached features {med(ratios):.0f}x faster than the frozen base in the loop "
            f"(pairs: {', '.join(f'{r:.0f}x' for r in ratios)}); {med(with_extract):.1f}x counting "
            f"the one-off extraction ({extract_s:.1f} s). Goal >= 10x: "
            + ("met." if med(ratios) >= 10 else "NOT met.")
        ),
        "rows": rows,
        "raw": {"times": times, "extract_seconds": extract_s, "ratios": ratios,
                "with_extract": with_extract, "network": which, "images": n,
                "feature_shape": list(fx.shape)},
    }
