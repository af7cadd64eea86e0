"""Staged fine-tuning: a new head on cached features, then the unfrozen network at the rate the
source calls for, BatchNormalization in inference mode unless asked otherwise."""

from __future__ import annotations

import dataclasses
import os
import time
from pathlib import Path

from dlzoo.transfer.extract import (
    Features,
    Source,
    _has_predictions,
    _is_saved_model,
    _predictions_input_layer,
    extract_features,
    feature_extractor,
    resolve_source,
)

__all__ = ["DEFAULT_AUGMENT", "FineTuneResult", "augment_layers", "classifier", "fine_tune",
           "phase2_learning_rate", "set_trainable", "unfreeze_layers"]

# Light, label-preserving augmentation for photos; digits and text want no flip (pass a dict).
DEFAULT_AUGMENT = {"flip": "horizontal", "rotation": 0.05, "zoom": 0.1}


# --- fine-tuning ----------------------------------------------------------------------------------


def augment_layers(augment) -> list:
    """Keras random-augmentation layers for `augment` (True: `DEFAULT_AUGMENT`; a dict of
    `flip`, `rotation`, `zoom`, `translate`); they act in training only."""
    from keras import layers

    if not augment:
        return []
    spec = dict(DEFAULT_AUGMENT) if augment is True else dict(augment)
    out = []
    if spec.get("flip"):
        out.append(layers.RandomFlip(spec["flip"], name="augment_flip"))
    if spec.get("rotation"):
        out.append(layers.RandomRotation(spec["rotation"], fill_mode="constant",
                                         name="augment_rotation"))
    if spec.get("zoom"):
        out.append(layers.RandomZoom(spec["zoom"], fill_mode="constant", name="augment_zoom"))
    if spec.get("translate"):
        t = spec["translate"]
        out.append(layers.RandomTranslation(t, t, fill_mode="constant", name="augment_translate"))
    return out


def unfreeze_layers(network, info, unfreeze, exclude=()) -> tuple[list, list]:
    """The layers of `network` that `unfreeze` ("top:K" groups, "all") makes trainable, and the
    group prefixes that matched. Groups are `dlzoo.registry.unfreeze_groups(info, network)`,
    read off the network as built, counted among those the (possibly cut) network still has."""
    from dlzoo.registry import unfreeze_groups
    from dlzoo.validation import parse_unfreeze

    k = parse_unfreeze(unfreeze)
    body = [layer for layer in network.layers if layer.name not in exclude and layer.weights]
    if k == "all":
        return body, ["all"]
    if k == 0:
        return [], []
    groups = unfreeze_groups(info, network) if info is not None else []
    if not groups:
        raise ValueError(
            f"{network.name}: unfreeze={unfreeze!r} needs the model's unfreeze_groups, and it has "
            "none registered; use unfreeze='all' or 'none'."
        )
    present = [g for g in groups if any(layer.name.startswith(g) for layer in body)]
    chosen = present[-k:]
    return [layer for layer in body if any(layer.name.startswith(g) for g in chosen)], chosen


def set_trainable(network, trainable_layers, *, train_batchnorm: bool = False) -> None:
    """Makes exactly `trainable_layers` trainable; BatchNormalization stays frozen (inference mode)
    unless `train_batchnorm`."""
    from keras import layers

    wanted = {id(layer) for layer in trainable_layers}
    network.trainable = True
    for layer in network.layers:
        layer.trainable = id(layer) in wanted  # a nested model (an encoder): all or nothing
    if not train_batchnorm:
        for layer in _all_layers(network):
            if isinstance(layer, layers.BatchNormalization):
                layer.trainable = False


def _all_layers(model):
    for layer in model.layers:
        yield layer
        if hasattr(layer, "layers"):
            yield from _all_layers(layer)


@dataclasses.dataclass
class FineTuneResult:
    """What `fine_tune` did: the model, per-phase histories and metrics, the evaluation, the card."""

    model: object
    history: dict
    phase_epochs: tuple
    metrics: dict
    report: object | None
    card: dict
    saved_dir: Path | None
    features: Features | None
    seconds: float


def _compile(model, lr):
    import keras

    model.compile(optimizer=keras.optimizers.Adam(lr), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])


def _callbacks(has_val, early_stopping, lr_schedule):
    from dlzoo.callbacks import standard

    return standard(run_dir=None, monitor="val_loss" if has_val else "loss",
                    early_stopping=early_stopping, lr_schedule=lr_schedule)


def _load_data(data, fixed, *, image_size, color_mode, batch_size, validation_split, seed):
    """Loads `data` at the network's image shape `fixed` unless image_size / color_mode say
    otherwise (a DataBundle is used as it is)."""
    from dlzoo.data.datasets import load

    if hasattr(data, "train") and hasattr(data, "manifest_hash"):
        return data
    if not isinstance(data, (str, os.PathLike)):
        raise TypeError(
            f"data must be a folder of class subfolders, a source name or a DataBundle; received "
            f"{type(data).__name__}."
        )
    text = os.fspath(data)
    source = f"folder:{text}" if os.path.isdir(text) else text
    if image_size is None and fixed and None not in fixed[:2]:
        image_size = tuple(fixed[:2])
    if color_mode is None and fixed:
        color_mode = {1: "grayscale", 3: "rgb", 4: "rgba"}.get(fixed[-1])
    return load(source, image_size=image_size, color_mode=color_mode, batch_size=batch_size,
                validation_split=validation_split, seed=seed)


def phase2_learning_rate(source: Source, learning_rate, head_learning_rate) -> float:
    """Phase 2's learning rate: `learning_rate` if given; else the head's rate for a network
    pre-trained on a narrow task (a dlzoo saved model, a weights file: measured, see
    `dlzoo.transfer_demo`), a tenth of it for a named set such as "imagenet", whose general
    features a high rate would wash out (the Keras transfer-learning guide's practice)."""
    if learning_rate is not None:
        return float(learning_rate)
    named = source.info is not None and source.weights in source.info.weights
    return float(head_learning_rate) / 10 if named else float(head_learning_rate)


def classifier(source: Source, num_classes: int, *, layer=None, pooling="avg", dropout=0.2,
               keep_head: bool = False):
    """The pretrained network cut at `layer` (by name) with a new head (pooling, dropout,
    `predictions`), or with its own `predictions` layer when `keep_head`.

    Returns:
        `(extractor, network, head_layers)`: the `FeatureExtractor` over the same layers (for
        phase 1 on cached features), the classifier network (raw network input, under the source
        network's name), and the head's layers (the ones phase 1 trains).
    """
    import keras
    from keras import layers

    if keep_head:
        extractor = feature_extractor(source, layer=_predictions_input_layer(source.network),
                                      pooling=None)
        return extractor, source.network, [source.network.get_layer("predictions")]
    extractor = feature_extractor(source, layer=layer, pooling=pooling)
    x = extractor.features
    head_layers = list(extractor.pool_layers)
    if dropout:
        head_layers.append(layers.Dropout(dropout, name="head_dropout"))
        x = head_layers[-1](x)
    pred = layers.Dense(num_classes, activation="softmax", name="predictions")
    head_layers.append(pred)
    network = keras.Model(source.network.input, pred(x), name=source.network.name)
    return extractor, network, head_layers


def fine_tune(
    source,
    data,
    *,
    weights=None,
    layer: str | None = None,
    pooling: str | None = "avg",
    head_epochs: int = 10,
    epochs: int = 30,
    unfreeze="all",
    head_learning_rate: float = 1e-3,
    learning_rate: float | None = None,
    train_batchnorm: bool = False,
    augment=False,
    dropout: float = 0.2,
    image_size=None,
    color_mode=None,
    batch_size: int = 32,
    validation_split: float = 0.2,
    seed: int = 0,
    model_args: dict | None = None,
    cache_dir=None,
    early_stopping=True,
    lr_schedule="plateau",
    out=None,
    name: str | None = None,
    verbose: int = 2,
    log=print,
) -> FineTuneResult:
    """Fine-tunes a pretrained network on labelled images in two phases.

    Phase 1 trains a new head (pooling, dropout, `predictions`) with the network frozen: on
    features extracted once (and cached in `cache_dir`), or with the frozen network in the loop
    when `augment` is on. When the source is a classifier whose classes are the data's (a saved
    model's card), its own `predictions` layer is kept and trained instead. Phase 2 unfreezes the
    block groups `unfreeze` names and trains on the images at `learning_rate`, BatchNormalization
    in inference mode unless `train_batchnorm`. Both phases use the standard callbacks (early
    stopping that restores the best epoch, LR on plateau).

    Args:
        source: registry name (with `weights`), `keras.Model`, or a dlzoo saved-model folder.
        data: a folder of class subfolders (or a source name such as "digits"), or a DataBundle.
            A folder is read at the source's image size and colour mode unless `image_size` /
            `color_mode` say otherwise, so a grayscale model takes a colour folder as it is.
        weights: with a registry name: None, "imagenet", a weights file or a saved model.
        layer: feature layer (default: `ModelInfo.feature_layers[-1]`).
        pooling: "avg" (default), "max", "flatten" or None, over the feature map.
        head_epochs / epochs: phase 1 / phase 2 epochs (10 / 30; 0 skips the phase); early
            stopping usually ends a phase before.
        unfreeze: "all" (default), "top:K" or "none" for phase 2.
        head_learning_rate: Adam learning rate of phase 1 (1e-3).
        learning_rate: of phase 2; default the head's for a network pre-trained on a narrow
            task (a saved model, a weights file), a tenth of it for "imagenet"-like named sets
            (`phase2_learning_rate`). The defaults follow `dlzoo.transfer_demo`: on digits,
            keeping the top frozen or tuning it at a tenth of the rate left a pretrained start
            behind training from scratch; unfreezing everything at the head's rate did not.
        train_batchnorm: let BatchNormalization update its statistics in phase 2 (default False).
        augment: False, True (`DEFAULT_AUGMENT`) or a dict of flip / rotation / zoom / translate.
        dropout: before `predictions` in a new head (0.2).
        image_size, color_mode, batch_size, validation_split, seed: how `data` is read.
        model_args: builder arguments for a registry name.
        cache_dir: folder of the feature cache (None: extract without caching).
        early_stopping, lr_schedule: as in `dlzoo.callbacks.standard`.
        out: save the result there (saved_models format, with card, curves, confusion matrix).
        name: the saved model's name (default the folder name of `out`).
        verbose: Keras fit verbosity; log: where progress lines go.

    Returns:
        A `FineTuneResult`.

    Example:
        >>> result = fine_tune("lenet5", "digits", weights="lenet5.weights.h5", head_epochs=5,
        ...                    epochs=5, unfreeze="all")
        >>> result.metrics["val_accuracy"]
    """
    import keras
    from keras import layers

    from dlzoo.evaluation import evaluate
    from dlzoo.preprocessing import with_preprocessing
    from dlzoo.validation import check_data_args, check_transfer_args

    start = time.perf_counter()
    unfreeze_k = check_transfer_args(
        pooling=pooling, head_epochs=head_epochs, epochs=epochs,
        head_learning_rate=head_learning_rate, learning_rate=learning_rate, dropout=dropout,
        augment=augment, unfreeze=unfreeze)["unfreeze"]
    check_data_args(image_size=image_size, batch_size=batch_size,
                    validation_split=validation_split, seed=seed, color_mode=color_mode)
    if head_epochs == 0 and (epochs == 0 or unfreeze_k == 0):
        raise ValueError("fine_tune: nothing to train: head_epochs is 0 and phase 2 is off "
                         "(epochs=0 or unfreeze='none').")
    keras.utils.set_random_seed(seed)

    # The network first, when it fixes the image size (a saved model); else the data first.
    src = None
    if not isinstance(source, str) or _is_saved_model(source) or _is_saved_model(weights):
        src = resolve_source(source, weights=weights, model_args=model_args)
    if src is not None:
        fixed = src.input_shape
    else:  # a registry name: its default input unless told otherwise
        from dlzoo.registry import model_info

        fixed = tuple((model_args or {}).get("input_shape") or model_info(source).default_input_shape)
    bundle = _load_data(data, fixed, image_size=image_size, color_mode=color_mode,
                        batch_size=batch_size, validation_split=validation_split, seed=seed)
    if src is None:
        src = resolve_source(source, weights=weights, input_shape=bundle.input_shape,
                             model_args=model_args)
    if tuple(src.input_shape) != tuple(bundle.input_shape):
        raise ValueError(
            f"{src.name} takes {'x'.join(map(str, src.input_shape))} images but the data is "
            f"{'x'.join(map(str, bundle.input_shape))}; pass image_size / color_mode to match "
            "(they default to the model's own)."
        )
    classes = [str(c) for c in bundle.class_names]
    log(f"data: {bundle.source}: {len(classes)} classes, "
        f"{bundle.details.get('num_train', '?')} train / {bundle.details.get('num_val', '?')} "
        f"validation images at {'x'.join(map(str, bundle.input_shape))}"
        + (f", {len(bundle.skipped)} file(s) skipped" if bundle.skipped else ""))
    for path, reason in bundle.skipped[:20]:
        log(f"  skipped {path}: {reason}")

    # The head: kept when the source already predicts exactly these classes.
    keep_head = layer is None and src.class_names == classes and _has_predictions(src.network)
    extractor, network, head_layers = classifier(
        src, len(classes), layer=layer, pooling=pooling, dropout=dropout, keep_head=keep_head)
    layer = extractor.layer
    learning_rate = phase2_learning_rate(src, learning_rate, head_learning_rate)
    body_layers = {id(layer_) for layer_ in network.layers} - {id(h) for h in head_layers}
    model = with_preprocessing(network, src.preprocessing, augment=augment_layers(augment),
                               name=(name or "finetuned").replace("-", "_").replace(".", "_"))
    log(f"model: {src.name} ({src.weights or 'random weights'}), features from {layer!r}"
        f" ({'kept head' if keep_head else 'new head'}), preprocessing {src.preprocessing!r}")

    history: dict = {}
    phase_metrics: dict = {}
    features = None
    has_val = bundle.val is not None

    # Phase 1: the head, on cached features (or with the frozen network in the loop).
    n1 = 0
    if head_epochs:
        set_trainable(network, [h for h in head_layers])
        if augment:
            log(f"phase 1: head, {head_epochs} epochs at {head_learning_rate:g}, frozen network in "
                "the loop (augmentation is on)")
            _compile(model, head_learning_rate)
            h = model.fit(bundle.train, validation_data=bundle.val, epochs=head_epochs,
                          callbacks=_callbacks(has_val, early_stopping, lr_schedule),
                          verbose=verbose, shuffle=False).history
        else:
            features = extract_features(extractor, bundle, cache_dir=cache_dir)
            log(f"phase 1: head, {head_epochs} epochs at {head_learning_rate:g}, on features "
                + ("loaded from the cache" if features.from_cache else "extracted once")
                + f" ({features.train[0].shape[0]} x {features.train[0].shape[1:]}, "
                  f"{features.seconds:.1f} s)")
            head_in = keras.Input(features.train[0].shape[1:], name="features")
            hx = head_in
            for hl in head_layers:
                if isinstance(hl, (layers.GlobalAveragePooling2D, layers.GlobalMaxPooling2D,
                                   layers.Flatten)):
                    continue  # already applied by the extractor
                hx = hl(hx)
            head = keras.Model(head_in, hx, name="head")
            _compile(head, head_learning_rate)
            h = head.fit(*features.train, validation_data=features.val, epochs=head_epochs,
                         batch_size=batch_size, shuffle=True,
                         callbacks=_callbacks(features.val is not None, early_stopping,
                                              lr_schedule), verbose=verbose).history
        n1 = len(h.get("loss", []))
        _append(history, h)
        if has_val:
            phase_metrics["phase1"] = _val_metrics(model, bundle.val)

    # Phase 2: unfreeze the top groups, lower learning rate, on the images.
    n2 = 0
    unfrozen, groups = [], []
    if epochs and unfreeze_k != 0:
        body = [lyr for lyr in network.layers if id(lyr) in body_layers]
        unfrozen, groups = unfreeze_layers(network, src.info, unfreeze,
                                           exclude={h.name for h in head_layers})
        unfrozen = [lyr for lyr in unfrozen if id(lyr) in {id(b) for b in body}]
        set_trainable(network, unfrozen + head_layers, train_batchnorm=train_batchnorm)
        log(f"phase 2: unfreeze {unfreeze} ({', '.join(groups) or 'nothing'}: "
            f"{len(unfrozen)} layer(s)), {epochs} epochs at {learning_rate:g}, BatchNorm "
            + ("training" if train_batchnorm else "frozen (inference mode)"))
        _compile(model, learning_rate)
        h = model.fit(bundle.train, validation_data=bundle.val, epochs=epochs,
                      callbacks=_callbacks(has_val, early_stopping, lr_schedule),
                      verbose=verbose, shuffle=False).history
        n2 = len(h.get("loss", []))
        _append(history, h)
        if has_val:
            phase_metrics["phase2"] = _val_metrics(model, bundle.val)
    # The result loads and trains as a normal model; a fresh optimizer, so the file holds no
    # optimizer state shaped by the last phase's trainable set.
    network.trainable = True
    _compile(model, learning_rate)
    model.optimizer.build(model.trainable_variables)

    report, metrics = None, {}
    if has_val:
        report = evaluate(model, bundle.val, class_names=classes)
        summary = report.to_dict()
        metrics = {"val_accuracy": summary["accuracy"], "val_loss": summary["loss"],
                   "val_macro_f1": summary["macro_f1"], "val_samples": summary["samples"]}
        for phase, m in phase_metrics.items():
            metrics.update({f"{phase}_{k}": v for k, v in m.items()})
        metrics.update(per_class=summary["per_class"],
                       confusion_matrix=summary["confusion_matrix"])
    seconds = time.perf_counter() - start
    saved = Path(out) if out is not None else None
    card = {
        "name": name or (saved.name if saved else f"{src.name}-finetuned"),
        "description": f"{src.name} fine-tuned on {bundle.source} ({len(classes)} classes) "
                       f"from {src.weights or 'random weights'}.",
        "model": src.info.name if src.info else src.name,
        "model_args": src.model_args,
        "task": "image_classification",
        "preprocessing": src.preprocessing,
        "preprocessing_where": "model" if src.preprocessing != "none" else "none",
        "class_names": classes,
        "metrics": metrics,
        "data": {**bundle.to_dict(), "recipe": {"validation_split": validation_split,
                                                "seed": seed, "batch_size": batch_size}},
        "transfer": {
            "source": src.weights if src.card else src.name,
            "weights": src.weights,
            "source_card": {k: src.card.get(k) for k in ("name", "model", "class_names",
                                                         "sha256")} if src.card else None,
            "feature_layer": layer,
            "pooling": None if keep_head else pooling,
            "head": "kept" if keep_head else "new",
            "unfreeze": unfreeze,
            "unfrozen_groups": groups,
            "unfrozen_layers": [lyr.name for lyr in unfrozen],
            "train_batchnorm": train_batchnorm,
            "augment": (DEFAULT_AUGMENT if augment is True else augment) or None,
            "feature_cache": {"key": features.key, "from_cache": features.from_cache,
                              "seconds": round(features.seconds, 2)} if features else None,
        },
        "training": {
            "phase1": {"epochs": head_epochs, "epochs_run": n1, "learning_rate": head_learning_rate,
                       "on": "cached features" if features is not None else "images"},
            "phase2": {"epochs": epochs, "epochs_run": n2, "learning_rate": learning_rate},
            "epochs_run": n1 + n2,
            "optimizer": "adam",
            "seconds": round(seconds, 1),
        },
        "seed": seed,
    }
    if saved is not None:
        from dlzoo import saving

        card["path"] = saved.as_posix()
        saving.save(model, saved, card, history=history or None, report=report)
        card = saving.read_card(saved)
        log(f"saved to {saved}/")
    return FineTuneResult(model=model, history=history, phase_epochs=(n1, n2), metrics=metrics,
                          report=report, card=card, saved_dir=saved, features=features,
                          seconds=seconds)


def _append(history: dict, h: dict) -> None:
    n_before = len(next(iter(history.values()), []))
    for key in set(history) | set(h):
        series = history.setdefault(key, [float("nan")] * n_before)
        values = h.get(key)
        n = len(h.get("loss", []))
        series.extend([float(v) for v in values] if values is not None else [float("nan")] * n)


def _val_metrics(model, val) -> dict:
    from dlzoo.evaluation import evaluate

    report = evaluate(model, val)
    return {"val_accuracy": round(report.accuracy, 6), "val_loss": round(report.loss, 6)}
