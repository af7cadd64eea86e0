"""Training-time image augmentation: one spelling of its options and one set of Keras layers.

Recipes (`train.augment`), `fine_tune(augment=...)` and `dlzoo finetune --augment` all go
through `normalize_augment`, `augmentation_layers` and `BatchMixer`. The layers are Keras's own
random preprocessing layers; they act in training only and pass images through unchanged at
inference. Two kinds:

- per image, inside the model (so inside the compiled step; `dlzoo.compiling.allow_jit`): flip,
  rotation, zoom, translate, contrast, and the policies `rand_augment` (Keras's `RandAugment`,
  Cubuk et al. 2020), `augmix` (`AugMix`, Hendrycks et al. 2020) and `erasing`
  (`RandomErasing`, Zhong et al. 2020);
- per batch, mixing images *and labels* (`mixup`: `MixUp`, Zhang et al. 2018; `cutmix`:
  `CutMix`, Yun et al. 2019): a layer inside the model never sees the labels, so these run on
  the training batches (`BatchMixer`: in tf.data's graph, or on the backend per batch for the
  backend-neutral loader) and the labels become soft (one-hot mixtures). With both, each batch
  takes one of the two at random (timm's `switch_prob` 0.5). `mix_off_epoch: N` trains the
  epochs from N on unmixed (timm's `--mixup-off-epoch`).

    >>> from dlzoo.augmentation import augmentation_layers
    >>> layers = augmentation_layers({"flip": "horizontal", "rotation": 0.05})
"""

from __future__ import annotations

import warnings

__all__ = [
    "ALIASES",
    "AUGMENT_KEYS",
    "DEFAULT_AUGMENT",
    "FLIP_MODES",
    "MIX_KEYS",
    "POLICY_DEFAULTS",
    "BatchMixer",
    "augmentation_layers",
    "mixes_labels",
    "normalize_augment",
]

FLIP_MODES = ("horizontal", "vertical", "horizontal_and_vertical")
# key -> what it takes; every key but flip is a fraction in (0, 1) (of the image size, of a
# full turn for rotation, of the intensity range for contrast).
AUGMENT_KEYS = {
    "flip": FLIP_MODES,
    "rotation": "fraction",
    "zoom": "fraction",
    "translate": "fraction",
    "contrast": "fraction",
    # policies: true (Keras's default strength) or a number
    "rand_augment": "strength",  # RandAugment's factor (magnitude), in (0, 1]
    "augmix": "strength",  # AugMix's factor (severity), in (0, 1]
    "erasing": "strength",  # RandomErasing's probability per image, in (0, 1]
    "mixup": "alpha",  # MixUp's Beta(alpha, alpha), alpha > 0
    "cutmix": "alpha",  # CutMix's Beta(alpha, alpha), alpha > 0
    "mix_off_epoch": "epoch",  # mixing stops from this epoch (0-based count of epochs done)
}
# What `true` means for each policy: Keras's own defaults (RandomErasing's 1.0 would erase every
# image; 0.25 is timm's `--reprob` in its recipes).
POLICY_DEFAULTS = {"rand_augment": 0.5, "augmix": 0.3, "erasing": 0.25, "mixup": 0.2,
                   "cutmix": 1.0}
MIX_KEYS = ("mixup", "cutmix")
# Older recipes said `rotate`; Keras's layer (and dlzoo) say rotation.
ALIASES = {"rotate": "rotation"}
# Light, label-preserving augmentation for photos; digits and text want no flip (pass a dict).
DEFAULT_AUGMENT = {"flip": "horizontal", "rotation": 0.05, "zoom": 0.1}


def normalize_augment(augment, where: str = "augment") -> dict:
    """Checks an augmentation spec and returns it in canonical form.

    Args:
        augment: None/False/{} (none), True (`DEFAULT_AUGMENT`) or a mapping with keys from
            `AUGMENT_KEYS` (`rotate` is accepted for `rotation`).
        where: how the error names the spec (`"train.augment"`, `"fine_tune: augment"`).

    Returns:
        A new dict with canonical keys and no entries that switch nothing on.

    Raises:
        TypeError: `augment` is not a bool or a mapping.
        ValueError: an unknown key, a flip mode Keras does not have, or a fraction outside (0, 1).
    """
    if augment is None or augment is False:
        return {}
    if augment is True:
        return dict(DEFAULT_AUGMENT)
    if not isinstance(augment, dict):
        raise TypeError(f"{where} must be true, false or a mapping with keys "
                        f"{', '.join(AUGMENT_KEYS)}; received {augment!r}.")
    out = {}
    for key, value in augment.items():
        canon = ALIASES.get(key, key)
        if canon not in AUGMENT_KEYS:
            raise ValueError(f"{where}: unknown augment key {key!r}; allowed: "
                             f"{', '.join(AUGMENT_KEYS)}.")
        if value is None or value is False or value == 0:
            continue
        kind = AUGMENT_KEYS[canon]
        if value is True and canon in POLICY_DEFAULTS:
            value = POLICY_DEFAULTS[canon]
        number = not isinstance(value, bool) and isinstance(value, (int, float))
        if canon == "flip":
            if value not in FLIP_MODES:
                raise ValueError(f"{where}.flip must be {' or '.join(FLIP_MODES)}; "
                                 f"received {value!r}.")
        elif kind == "strength":
            if not number or not 0 < value <= 1:
                raise ValueError(f"{where}.{canon} must be true or a number in (0, 1] (default "
                                 f"{POLICY_DEFAULTS[canon]}); received {value!r}.")
        elif kind == "alpha":
            if not number or not 0 < value <= 100:
                raise ValueError(f"{where}.{canon} must be true or the Beta distribution's alpha,"
                                 f" a number above 0 (default {POLICY_DEFAULTS[canon]}); "
                                 f"received {value!r}.")
        elif kind == "epoch":
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{where}.mix_off_epoch must be a positive integer (the epoch "
                                 f"from which batches are no longer mixed); received {value!r}.")
        elif isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < 1:
            raise ValueError(f"{where}.{canon} must be a fraction between 0 and 1 (exclusive); "
                             f"received {value!r}.")
        out[canon] = value
    if "mix_off_epoch" in out and not any(k in out for k in MIX_KEYS):
        raise ValueError(f"{where}.mix_off_epoch goes with mixup or cutmix; neither is on.")
    return out


def mixes_labels(augment) -> bool:
    """Whether the spec mixes labels (mixup / cutmix): training labels are then soft."""
    spec = normalize_augment(augment)
    return any(k in spec for k in MIX_KEYS)


def augmentation_layers(augment) -> list:
    """Keras random-augmentation layers for a spec (see `normalize_augment`), in a fixed order:
    flip, translate, rotation, zoom, contrast. Named `augment_<key>`; pixels are assumed in
    [0, 255] (contrast keeps that range), and areas moved in are filled with zeros."""
    from keras import layers

    spec = normalize_augment(augment)
    out = []
    if "flip" in spec:
        out.append(layers.RandomFlip(spec["flip"], name="augment_flip"))
    if "translate" in spec:
        t = spec["translate"]
        out.append(layers.RandomTranslation(t, t, fill_mode="constant", name="augment_translate"))
    if "rotation" in spec:
        out.append(layers.RandomRotation(spec["rotation"], fill_mode="constant",
                                         name="augment_rotation"))
    if "zoom" in spec:
        out.append(layers.RandomZoom(spec["zoom"], fill_mode="constant", name="augment_zoom"))
    if "contrast" in spec:
        out.append(layers.RandomContrast(spec["contrast"], value_range=(0, 255),
                                         name="augment_contrast"))
    if "rand_augment" in spec:
        out.append(layers.RandAugment(value_range=(0, 255), factor=spec["rand_augment"],
                                      name="augment_rand_augment"))
    if "augmix" in spec:
        out.append(layers.AugMix(value_range=(0, 255), factor=spec["augmix"],
                                 name="augment_augmix"))
    if "erasing" in spec:
        # a single float p makes Keras draw each image's probability from [0, p]; (p, p) is
        # probability p, as timm's --reprob and the paper's
        p = spec["erasing"]
        out.append(layers.RandomErasing(factor=(p, p), value_range=(0, 255),
                                        name="augment_erasing"))
    return out


class BatchMixer:
    """MixUp / CutMix (Keras's layers) on training batches of `(images, class indices)`, which
    become `(images, soft labels)` of shape `(batch, num_classes)`, until epoch `mix_off_epoch`
    (after which the labels stay one-hot, so the batches keep one shape).

    Args:
        augment: an augmentation spec (`normalize_augment`) with `mixup` and/or `cutmix`.
        num_classes: int, the labels' width.
        seed: int (0), for the layers and for the choice between them.

    Use `mix(data)` on a `tf.data.Dataset` or a `dlzoo.data.neutral.Batches`, and call
    `set_epoch(epoch)` at the start of each epoch (`MixingSchedule`, which
    `dlzoo.callbacks.standard` adds, does that for a model whose `dlzoo_batch_mixer` is set).
    """

    def __init__(self, augment, num_classes: int, seed: int = 0):
        import numpy as np
        from keras import layers

        spec = normalize_augment(augment)
        self.num_classes = int(num_classes)
        self.layers = []
        if "mixup" in spec:
            self.layers.append(layers.MixUp(alpha=spec["mixup"], seed=seed, name="mixup"))
        if "cutmix" in spec:
            self.layers.append(layers.CutMix(factor=spec["cutmix"], seed=seed + 1,
                                             name="cutmix"))
        if not self.layers:
            raise ValueError("BatchMixer needs mixup or cutmix in the augmentation spec; "
                             f"received {augment!r}.")
        self.off_epoch = spec.get("mix_off_epoch")
        self.enabled = True
        self._rng = np.random.default_rng(seed)
        self.seed = int(seed)
        self._flag = None  # a tf.Variable, for a tf.data pipeline's graph

    def set_epoch(self, epoch: int) -> None:
        """Mixing on for epochs before `mix_off_epoch` (0-based `epoch`), off from it."""
        self.enabled = self.off_epoch is None or epoch < self.off_epoch
        if self._flag is not None:
            self._flag.assign(self.enabled)

    def mix(self, data):
        """`data`'s batches mixed: a `tf.data.Dataset` maps in its graph; anything with a
        per-batch `map` (the backend-neutral loader) mixes each batch on the backend."""
        if hasattr(data, "element_spec"):
            return self._tf_mix(data)
        return data.map(self._mix_batch)

    def _mix_batch(self, x, y):
        import numpy as np
        from keras import ops

        labels = np.eye(self.num_classes, dtype="float32")[np.asarray(y).reshape(-1)]
        images = np.asarray(x, dtype="float32")
        if not self.enabled:
            return images, labels
        layer = self.layers[int(self._rng.integers(len(self.layers)))]
        with warnings.catch_warnings():  # MixUp asks JAX for an int64 range: harmless
            warnings.filterwarnings("ignore", message="Explicitly requested dtype int64")
            out = layer({"images": images, "labels": labels})
        return ops.convert_to_numpy(out["images"]), ops.convert_to_numpy(out["labels"])

    def _tf_mix(self, dataset):
        import tensorflow as tf

        self._flag = tf.Variable(self.enabled, trainable=False, name="mixing_on")
        first, last = self.layers[0], self.layers[-1]

        def mixed(x, y):
            a = first({"images": x, "labels": y})
            if last is first:
                return a["images"], a["labels"]
            b = last({"images": x, "labels": y})
            pick = tf.random.uniform([], seed=self.seed) < 0.5
            return (tf.where(pick, a["images"], b["images"]),
                    tf.where(pick, a["labels"], b["labels"]))

        def fn(x, y):
            x = tf.cast(x, tf.float32)
            y = tf.one_hot(tf.cast(tf.reshape(y, [-1]), tf.int32), self.num_classes)
            return tf.cond(self._flag, lambda: mixed(x, y), lambda: (x, y))

        # one batch at a time: the layers' seed generators advance in batch order, so a seeded
        # run mixes the same way each time (parallel calls would race for the next seed)
        return dataset.map(fn)
