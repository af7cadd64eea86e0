"""A generated task whose class is decided by a small patch at a random position (the rest is
noise): a classifier that learns it must look at the patch, so Grad-CAM's peak should fall there."""

from __future__ import annotations

import numpy as np

SIZE, PATCH = 32, 8


def patch_images(n: int, seed: int = 0):
    """`(images (n, 32, 32, 1) float32 in [0, 255], labels (n,), boxes (n, 4) as (top, left,
    bottom, right) exclusive)`: class 0 carries an 8 x 8 patch of horizontal stripes, class 1 of
    vertical stripes, at a uniformly random position in grey noise."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(40, 215, size=(n, SIZE, SIZE, 1)).astype("float32")
    y = rng.integers(0, 2, size=n)
    stripes = (np.arange(PATCH) % 2 * 255.0).astype("float32")
    pattern = [np.repeat(stripes[:, None], PATCH, 1), np.repeat(stripes[None, :], PATCH, 0)]
    boxes = np.zeros((n, 4), "int64")
    for i in range(n):
        top, left = rng.integers(0, SIZE - PATCH + 1, size=2)
        x[i, top:top + PATCH, left:left + PATCH, 0] = pattern[y[i]]
        boxes[i] = (top, left, top + PATCH, left + PATCH)
    return x, y, boxes


def patch_classifier():
    """A small CNN (16x16 maps at `last_conv`) behind dlzoo's [0, 255] -> [0, 1] preprocessing."""
    import keras

    from dlzoo.preprocessing import with_preprocessing

    inp = keras.Input((SIZE, SIZE, 1), name="input")
    x = keras.layers.Conv2D(16, 3, padding="same", activation="relu", name="conv1")(inp)
    x = keras.layers.MaxPooling2D(name="pool1")(x)
    x = keras.layers.Conv2D(32, 3, padding="same", activation="relu", name="conv2")(x)
    x = keras.layers.Conv2D(32, 3, padding="same", activation="relu", name="last_conv")(x)
    x = keras.layers.GlobalMaxPooling2D(name="max_pool")(x)
    out = keras.layers.Dense(2, activation="softmax", name="predictions")(x)
    return with_preprocessing(keras.Model(inp, out, name="patchnet"), "unit", name="patch_model")


def trained_patch_classifier(n_train: int = 1500, epochs: int = 6, seed: int = 0):
    import keras

    keras.utils.set_random_seed(seed)
    x, y, _ = patch_images(n_train, seed=seed)
    model = patch_classifier()
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(x, y, batch_size=64, epochs=epochs, verbose=0)
    return model


def peak_inside(heatmaps, boxes) -> np.ndarray:
    """Whether each heatmap's maximum, resized to the image, lies inside its patch box."""
    from dlzoo.explain import upsample

    up = upsample(heatmaps, (SIZE, SIZE))
    flat = up.reshape(len(up), -1).argmax(-1)
    r, c = flat // SIZE, flat % SIZE
    return (r >= boxes[:, 0]) & (r < boxes[:, 2]) & (c >= boxes[:, 1]) & (c < boxes[:, 3])
