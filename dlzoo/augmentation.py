"""Training-time image augmentation: one spelling of its options and one set of Keras layers.

Recipes (`train.augment`), `fine_tune(augment=...)` and `dlzoo finetune --augment` all go
through `normalize_augment` and `augmentation_layers`. The layers are Keras's own random
preprocessing layers; they act in training only and pass images through unchanged at inference.

    >>> from dlzoo.augmentation import augmentation_layers
    >>> layers = augmentation_layers({"flip": "horizontal", "rotation": 0.05})
"""

from __future__ import annotations

__all__ = [
    "ALIASES",
    "AUGMENT_KEYS",
    "DEFAULT_AUGMENT",
    "FLIP_MODES",
    "augmentation_layers",
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
}
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
        if canon == "flip":
            if value not in FLIP_MODES:
                raise ValueError(f"{where}.flip must be {' or '.join(FLIP_MODES)}; "
                                 f"received {value!r}.")
        elif isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < 1:
            raise ValueError(f"{where}.{canon} must be a fraction between 0 and 1 (exclusive); "
                             f"received {value!r}.")
        out[canon] = value
    return out


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
    return out
