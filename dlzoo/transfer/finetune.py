"""Staged fine-tuning: a new head on cached features, then the unfrozen network at the rate the
source calls for, BatchNormalization in inference mode unless asked otherwise."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import time
from pathlib import Path

from dlzoo import saving
from dlzoo.augmentation import (
    BatchMixer,
    DEFAULT_AUGMENT,
    augmentation_layers,
    mixes_labels,
    normalize_augment,
)
from dlzoo.callbacks import RunBackup, find_backup, learning_rate, standard
from dlzoo.compiling import compile_for_task
from dlzoo.data.datasets import load
from dlzoo.data.images import color_mode_for
from dlzoo.distribution import (
    divisible_batches,
    process_arrays,
    processes,
    strategy_for,
    strategy_scope,
)
from dlzoo.evaluation import evaluate, summary_metrics
from dlzoo.files import RunLock, atomic_path, write_json
from dlzoo.metrics import class_counts, class_weights
from dlzoo.multilabel import check_options, finish_card, sigmoid_head
from dlzoo.plots import read_history
from dlzoo.precision import check_precision, float32_outputs, precision_scope
from dlzoo.preprocessing import with_preprocessing
from dlzoo.recipes import list_recipes
from dlzoo.registry import model_info, unfreeze_groups
from dlzoo.regularization import regularize_from
from dlzoo.runs import prepare_run_dir, refuse_existing, trim_log
from dlzoo.saving import ModelCard, is_saved_model, saved_model_folder, training_files_record
from dlzoo.schedules import check_schedule
from dlzoo.spec import (
    FINETUNE_DEFAULTS,
    FINETUNE_RUN_OPTIONS,
    RunSpec,
    as_spec,
    check_finetune_keywords,
)
from dlzoo.spec.rules import closest
from dlzoo.switches import SWITCH_DEFAULTS, card_record, check_switches, optimizer_arguments
from dlzoo.transfer.extract import (
    Features,
    Source,
    classifier_input_layer,
    extract_features,
    feature_extractor,
    has_classifier,
    resolve_source,
)
from dlzoo.validation import check_data_args, check_transfer_args, parse_unfreeze
from dlzoo.weights import all_layers

# `dlzoo.augmentation` owns augmentation; these names stay importable from dlzoo.transfer.
augment_layers = augmentation_layers

__all__ = ["DEFAULT_AUGMENT", "FineTuneConfig", "FineTuneResult", "augment_layers", "classifier",
           "fine_tune", "phase2_learning_rate", "set_trainable", "unfreeze_layers"]


def unfreeze_layers(network, info, unfreeze, exclude=()) -> tuple[list, list]:
    """The layers of `network` that `unfreeze` ("top:K" groups, "all") makes trainable, and the
    group prefixes that matched. Groups are `dlzoo.registry.unfreeze_groups(info, network)`,
    read off the network as built, counted among those the (possibly cut) network still has."""

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

        for layer in all_layers(network):
            if isinstance(layer, layers.BatchNormalization):
                layer.trainable = False


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
    spec: RunSpec | None = None  # the run as one description: its model, data and phases


def _compile(model, lr, cfg=None, *, epochs: int = 1, data=None):
    """Compiles for a phase of `epochs` epochs over `data` (its batches, or `(x, y)` arrays
    batched by `cfg.batch_size`): `cfg.optimizer` at `lr` under `cfg.lr_schedule` (the
    step-based schedules need the phase's length), with the training switches."""

    cfg = cfg or FineTuneConfig()
    rate = learning_rate(cfg.lr_schedule, learning_rate=lr, epochs=max(1, epochs),
                         steps_per_epoch=_steps(data, cfg.batch_size))
    compile_for_task(model, "image_classification", optimizer=cfg.optimizer, learning_rate=rate,
                     switches={**_switches(cfg), "augment": cfg.augment})


def _switches(cfg) -> dict:
    """`cfg`'s training switches, checked (`dlzoo.switches.check_switches`)."""

    return check_switches({k: getattr(cfg, k) for k in SWITCH_DEFAULTS}, "fine_tune: ")


def _steps(data, batch_size: int) -> int:
    """Batches per epoch of a phase's training data (1 when unknown)."""
    if data is None:
        return 1
    if isinstance(data, tuple):
        return max(1, -(-len(data[0]) // batch_size))
    if hasattr(data, "cardinality"):  # tf.data, or the backend-neutral loader
        n = int(data.cardinality())
        return max(1, n if n >= 0 else sum(1 for _ in data))
    return max(1, len(data))


def _callbacks(has_val, early_stopping, lr_schedule, tensorboard=None):

    return standard(run_dir=None, monitor="val_loss" if has_val else "loss",
                    early_stopping=early_stopping, lr_schedule=lr_schedule,
                    tensorboard=tensorboard)


def _board(cfg, phase: str):
    """The phase's TensorBoard folder: `cfg.tensorboard/phase1` or `/phase2` (None: no logs)."""
    return None if cfg.tensorboard is None else os.path.join(os.fspath(cfg.tensorboard), phase)


def _load_data(data, fixed, *, image_size, color_mode, batch_size, validation_split, seed):
    """Loads `data` at the network's image shape `fixed` unless image_size / color_mode say
    otherwise (a DataBundle is used as it is)."""

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
        color_mode = color_mode_for(fixed[-1])
    return load(source, image_size=image_size, color_mode=color_mode, batch_size=batch_size,
                validation_split=validation_split, seed=seed)


def phase2_learning_rate(source: Source, learning_rate, head_learning_rate) -> float:
    """Phase 2's learning rate: `learning_rate` if given; else the head's rate for a network
    pre-trained on a narrow task (a dlzoo saved model, a weights file: measured, see
    `dlzoo.commands.transfer_demo`), a tenth of it for a named set such as "imagenet", whose
    general features a high rate would wash out (the Keras transfer-learning guide's practice)."""
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
        extractor = feature_extractor(source, layer=classifier_input_layer(source.network),
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


@dataclasses.dataclass
class FineTuneConfig:
    """The settings of `fine_tune`, grouped; every one has a default.

    What to start from:
        weights: with a registry name: None, "imagenet", a weights file or a saved model.
        model_args: builder arguments for a registry name.
        layer: feature layer (default: the deepest of `dlzoo.registry.feature_layers(info, network)`).
        pooling: "avg" (default), "max", "flatten" or None, over the feature map.
        dropout: before `predictions` in a new head (0.2).

    The two phases:
        head_epochs / epochs: phase 1 / phase 2 epochs (10 / 30; 0 skips the phase); early
            stopping usually ends a phase before.
        unfreeze: "all" (default), "top:K" or "none" for phase 2.
        head_learning_rate: Adam learning rate of phase 1 (1e-3).
        learning_rate: of phase 2; default the head's for a network pre-trained on a narrow
            task (a saved model, a weights file), a tenth of it for "imagenet"-like named sets
            (`phase2_learning_rate`). The defaults follow `dlzoo.commands.transfer_demo`: on
            digits, keeping the top frozen or tuning it at a tenth of the rate left a pretrained start
            behind training from scratch; unfreezing everything at the head's rate did not.
        train_batchnorm: let BatchNormalization update its statistics in phase 2 (default False).
        class_weight: None (default) or "balanced": weigh each class `n / (k * n_c)` in the
            loss of both phases (Keras's `fit(class_weight=...)`), for unequal classes.
        augment: False, True (`DEFAULT_AUGMENT`) or a dict of flip / rotation / zoom / translate
            / contrast (`dlzoo.augmentation`).
        early_stopping, lr_schedule: as in `dlzoo.callbacks.standard`.
        keep: whose weights the result holds: "best" (default: phase 1's when they scored
            better on the validation split than phase 2's, higher val_accuracy then lower
            val_loss) or "last" (phase 2's). The card's `training.kept` says which, and why.

    How the data is read:
        image_size, color_mode, batch_size, validation_split, seed: as `dlzoo.data.load`.
        cache_dir: folder of the feature cache (None: extract without caching).

    Where it goes:
        out: save the result there (saved_models format, with card, curves, confusion matrix).
            An existing model there is refused before any training unless `overwrite`.
        overwrite: replace a saved model already at `out` (default False, as `dlzoo tune` and
            `dlzoo datasets export`).
        name: the saved model's name (default the folder name of `out`).
        verbose: Keras fit verbosity; log: where progress lines go.

    How it runs:
    Training switches (`dlzoo.switches`; recorded in the card's `training`):
        optimizer: a Keras optimizer name for both phases ("adam", default; "adamw", "sgd"...).
        label_smoothing: 0 (default) to below 1: cross-entropy against smoothed labels.
        ema: None (default), True (momentum 0.99) or the momentum: keep an exponential moving
            average of the weights; validation, early stopping and the saved model use it.
        weight_decay: None (default) or a rate: decoupled weight decay (AdamW-style), not on
            biases and normalisation parameters.
        gradient_accumulation: 1 (default) or N: one update per N batches (effective batch
            N x batch_size).
        lr_schedule also takes "cosine" / "one_cycle" (mappings with `warmup_epochs`), applied
            over each phase's steps.
        l1, l2: None (default) or a penalty on every kernel (Dense, convolution) that trains.
        max_norm: None (default) or the largest norm of each unit's incoming weights.
        activity_l1: None (default) or an L1 penalty on the outputs of `activity_layer`
            (default: the layer feeding `predictions`).
        clipnorm, global_clipnorm, clipvalue: gradient clipping (one of them; default none).
        tensorboard: None (default) or a folder: TensorBoard logs of phase 1 and phase 2 in
            its `phase1/` and `phase2/` (`dlzoo.tensorboard_logs`).

        precision: "auto" (default: bfloat16 mixed on GPUs that compute it natively, float32
            elsewhere), "float32", "bfloat16" or "float16" (`dlzoo.precision`).
        devices: 1 (default), N or "all": data parallel over this host's devices
            (`keras.distribution.DataParallel` on JAX, `MirroredStrategy` on TensorFlow);
            `batch_size` is the global batch, split evenly over them.

    Resuming (with `out`): the run keeps its state in `OUT_PARENT/.runs/NAME/` while it
    trains (the settings, the feature cache unless `cache_dir` names one, and per phase a
    backup after every epoch: weights, optimizer state, random-number state, epoch; and the
    weights each finished phase ended with). `resume=True` (`dlzoo finetune ... --resume`)
    continues a killed run in the phase and epoch it reached; the same settings are required.
    Without it, an unfinished run's state is discarded. The state is removed once the model
    is saved.
        resume: continue the unfinished fine-tune into `out` (default False).
        recipe: the recipe this fine-tune runs (`run_phased_recipe`): recorded in the card,
            with its expected figure.
    """

    weights: object = None
    model_args: dict | None = None
    layer: str | None = None
    pooling: str | None = "avg"
    dropout: float = 0.2
    head_epochs: int = 10
    epochs: int = 30
    unfreeze: object = "all"
    head_learning_rate: float = 1e-3
    learning_rate: float | None = None
    train_batchnorm: bool = False
    class_weight: str | None = None
    augment: object = False
    early_stopping: object = True
    lr_schedule: object = "plateau"
    keep: str = "best"
    image_size: object = None
    color_mode: str | None = None
    batch_size: int = 32
    validation_split: float = 0.2
    seed: int = 0
    cache_dir: object = None
    out: object = None
    overwrite: bool = False
    name: str | None = None
    verbose: int = 2
    log: object = print
    precision: str = "auto"
    devices: object = 1
    optimizer: str = "adam"
    label_smoothing: float = 0.0
    ema: object = None
    weight_decay: float | None = None
    gradient_accumulation: int = 1
    l1: float | None = None
    l2: float | None = None
    activity_l1: float | None = None
    activity_layer: str | None = None
    max_norm: float | None = None
    clipnorm: float | None = None
    global_clipnorm: float | None = None
    clipvalue: float | None = None
    tensorboard: object = None
    resume: bool = False
    recipe: dict | None = None

    def check(self) -> object:
        """Checks the settings (ValueError/TypeError naming the argument); returns the parsed
        `unfreeze` (0, K or "all")."""

        unfreeze_k = check_transfer_args(
            pooling=self.pooling, head_epochs=self.head_epochs, epochs=self.epochs,
            head_learning_rate=self.head_learning_rate, learning_rate=self.learning_rate,
            dropout=self.dropout, augment=self.augment, unfreeze=self.unfreeze)["unfreeze"]
        check_data_args(image_size=self.image_size, batch_size=self.batch_size,
                        validation_split=self.validation_split, seed=self.seed,
                        color_mode=self.color_mode)
        if self.class_weight not in (None, "balanced"):
            raise ValueError("fine_tune: class_weight must be 'balanced' or None; received "
                             f"{self.class_weight!r}.")
        if self.keep not in ("best", "last"):
            raise ValueError(f"fine_tune: keep must be 'best' or 'last'; received {self.keep!r}.")

        check_precision(self.precision, "fine_tune: precision")
        if self.devices != "all" and (isinstance(self.devices, bool)
                                      or not isinstance(self.devices, int) or self.devices < 1):
            raise ValueError("fine_tune: devices must be a positive integer or 'all'; received "
                             f"{self.devices!r}.")

        check_schedule(self.lr_schedule, "fine_tune: lr_schedule")
        optimizer_arguments(_switches(self))
        _check_optimizer_name(self.optimizer)
        if self.tensorboard is not None and not isinstance(self.tensorboard, (str, os.PathLike)):
            raise TypeError("fine_tune: tensorboard must be a folder (str or path) or None; "
                            f"received {self.tensorboard!r}.")
        if self.resume and self.out is None:
            raise ValueError("fine_tune: resume continues the unfinished fine-tune into `out`; "
                             "pass out=FOLDER (the --out of the run to resume).")
        if self.head_epochs == 0 and (self.epochs == 0 or unfreeze_k == 0):
            raise ValueError("fine_tune: nothing to train: head_epochs is 0 and phase 2 is off "
                             "(epochs=0 or unfreeze='none').")
        return unfreeze_k


def finetune_spec(source, data, cfg: FineTuneConfig) -> RunSpec:
    """The `RunSpec` of `fine_tune(source, data, cfg)`: two phases (the head, then the network
    `cfg.unfreeze` names), its model, data, switches and transfer settings."""
    return RunSpec.from_finetune(source, data, **{k: getattr(cfg, k) for k in FINETUNE_DEFAULTS})


def config_from_spec(spec: RunSpec, **run) -> FineTuneConfig:
    """The `FineTuneConfig` of a fine-tune's spec: its phases, model, data, switches and transfer
    settings (`RunSpec.finetune_settings`), and how this run goes (`run`: out, overwrite,
    verbose, log, resume, recipe). The one place a config is made from a description."""
    return FineTuneConfig(**spec.finetune_settings(), **run)


def _check_optimizer_name(name) -> None:
    import keras

    try:
        if not isinstance(name, str):
            raise ValueError
        keras.optimizers.get(name)
    except ValueError:
        raise ValueError("fine_tune: optimizer must be a Keras optimizer name (adam, adamw, sgd, "
                         f"rmsprop, nadam, ...); received {name!r}.") from None


@dataclasses.dataclass
class _Assembly:
    """The classifier `fine_tune` trains and its parts."""

    src: Source
    bundle: object
    classes: list
    extractor: object
    network: object  # the classifier network (raw network input, the source's name)
    head_layers: list
    model: object  # the network behind augmentation and preprocessing
    keep_head: bool
    layer: str
    learning_rate: float  # of phase 2
    class_weight: dict | None = None  # {label: weight} for fit


def fine_tune(source, data, config: FineTuneConfig | None = None, **settings) -> FineTuneResult:
    """Fine-tunes a pretrained network on labelled images in two phases.

    Phase 1 trains a new head (pooling, dropout, `predictions`) with the network frozen: on
    features extracted once (and cached in `cache_dir`), or with the frozen network in the loop
    when `augment` is on. When the source is a classifier whose classes are the data's (a saved
    model's card), its own `predictions` layer is kept and trained instead. Phase 2 unfreezes the
    block groups `unfreeze` names and trains on the images at `learning_rate`, BatchNormalization
    in inference mode unless `train_batchnorm`. Both phases use the standard callbacks (early
    stopping that restores the best epoch, LR on plateau).

    A registry name with random weights (`weights=None`, `--weights none`) has nothing to
    transfer: it is trained from scratch, all layers from the first epoch with BatchNormalization
    in training mode, for `head_epochs + epochs` epochs at phase 2's rate (a frozen random
    network gives every image nearly the same features: nothing for a head to learn).

    Args:
        source: registry name (with `weights`), `keras.Model`, or a dlzoo saved-model folder.
        data: a folder of class subfolders (or a source name such as "digits"), or a DataBundle.
            A folder is read at the source's image size and colour mode unless `image_size` /
            `color_mode` say otherwise, so a grayscale model takes a colour folder as it is.
        config: a `FineTuneConfig` (default: its defaults).
        **settings: any `FineTuneConfig` field by name (`head_epochs=5`, `unfreeze="top:2"`,
            `out=...`), over `config`.

    Returns:
        A `FineTuneResult`.

    Raises:
        TypeError: a setting `FineTuneConfig` does not have.

    Example:
        >>> result = fine_tune("lenet5", "digits", weights="lenet5.weights.h5", head_epochs=5,
        ...                    epochs=5, unfreeze="all")
        >>> result.metrics["val_accuracy"]
    """

    check_finetune_keywords(settings)  # TypeError naming the closest keyword
    cfg = dataclasses.replace(config or FineTuneConfig(), **settings)
    start = time.perf_counter()
    unfreeze_k = cfg.check()
    # The run as one description (`dlzoo.spec.RunSpec`: model, data, phases, switches); the
    # config the phases below read is built back from it, in one place (`config_from_spec`).
    spec = finetune_spec(source, data, cfg)
    cfg = config_from_spec(spec, **{k: getattr(cfg, k) for k in FINETUNE_RUN_OPTIONS})
    saved = Path(cfg.out) if cfg.out is not None else None
    lock = _claim_output(saved, cfg)
    try:
        with _devices_and_precision(cfg) as cfg:
            result = _fine_tune(source, data, cfg, unfreeze_k, saved, start)
            result.spec = spec
            return result
    finally:
        if lock is not None:
            lock.release()
            with contextlib.suppress(OSError):  # `.runs/` once empty (no other run's lock in it)
                run_folder(saved).parent.rmdir()


@contextlib.contextmanager
def _devices_and_precision(cfg: FineTuneConfig):
    """Runs the fine-tune under `cfg.devices`' data parallelism and `cfg.precision`'s dtype
    policy (the same rules as `dlzoo train`: `dlzoo.distribution.strategy_for`,
    `dlzoo.precision`); yields the config with the precision resolved, for the card. Keras's
    global distribution and dtype policy are restored afterwards."""
    import keras


    previous = keras.distribution.distribution() if hasattr(keras, "distribution") else None
    strategy = strategy_for(None, devices=cfg.devices, log=cfg.log)
    try:
        with strategy_scope(strategy), precision_scope(cfg.precision) as resolved:
            if resolved != "float32":
                cfg.log(f"precision: {resolved} mixed (precision {cfg.precision})")
            yield dataclasses.replace(cfg, precision=resolved)
    finally:
        if hasattr(keras, "distribution"):
            keras.distribution.set_distribution(previous)


def _claim_output(saved: Path | None, cfg: FineTuneConfig):
    """Locks `out` against a second run writing it at the same time (`OUT_PARENT/.runs/NAME.lock`,
    the lock `dlzoo train` takes for a run of that name), then refuses an existing model at `out`
    unless `overwrite` or `resume` (before any training); returns the lock."""

    if saved is None:
        return None
    lock = RunLock(saved.parent / ".runs" / f"{saved.name}.lock", f"fine-tune into {saved}",
                   log=cfg.log).acquire()
    if not (cfg.overwrite or cfg.resume):
        try:  # `dlzoo train RECIPE` names the folder --output, `dlzoo finetune` --out
            refuse_existing([saved], elsewhere=("--output another folder" if cfg.recipe
                                                else "choose another --out"))
        except FileExistsError:
            lock.release()
            raise
    return lock


def _fine_tune(source, data, cfg: FineTuneConfig, unfreeze_k, saved: Path | None,
               start: float) -> FineTuneResult:
    import keras

    run_dir = _run_folder(source, data, cfg, saved)
    if run_dir is not None and cfg.cache_dir is None:  # a resumed phase 1 reuses the features
        cfg = dataclasses.replace(cfg, cache_dir=run_dir / "features")
    keras.utils.set_random_seed(cfg.seed)
    parts = _assemble(source, data, cfg)
    scratch = parts.src.weights is None and parts.src.card is None
    if scratch:  # nothing pretrained to keep: the whole network trains, BatchNorm included
        cfg = dataclasses.replace(cfg, head_epochs=0, epochs=cfg.head_epochs + cfg.epochs,
                                  unfreeze="all", train_batchnorm=True)
        unfreeze_k = "all"
        cfg.log(f"from scratch: {parts.src.name} has random weights (--weights none), so every "
                f"layer trains from the first epoch with BatchNorm in training mode, "
                f"{cfg.epochs} epochs at {parts.learning_rate:g} (no frozen head phase)")
    history: dict = {}
    phase_metrics: dict = {}
    n1, features, feature_record = _phase1(parts, cfg, history, phase_metrics, run_dir)
    after_phase1 = (_snapshot(parts.model) if cfg.keep == "best" and n1
                    and parts.bundle.val is not None else None)
    # Phase 2 starts from a state of its own (the seed + 1, the data read afresh), not from
    # wherever phase 1 and the feature extraction left the random generators and the pipeline's
    # shuffle order: so a run resumed in phase 2, which skips phase 1, is the run it continues.
    keras.utils.set_random_seed(cfg.seed + 1)
    parts = _reread_data(parts, data, cfg)
    n2, unfrozen, groups = _phase2(parts, cfg, unfreeze_k, history, phase_metrics, run_dir)
    kept = _keep_better_phase(parts, phase_metrics, after_phase1, cfg.log)
    # The result loads and trains as a normal model; a fresh optimizer, so the file holds no
    # optimizer state shaped by the last phase's trainable set.
    parts.network.trainable = True
    _compile(parts.model, parts.learning_rate, cfg, epochs=cfg.epochs, data=parts.bundle.train)
    parts.model.optimizer.build(parts.model.trainable_variables)
    report, metrics = _final_metrics(parts, phase_metrics)
    seconds = time.perf_counter() - start
    card = _card(parts, cfg, metrics, feature_record, (n1, n2), unfrozen, groups, seconds,
                 saved)
    card.training["kept"] = kept
    if parts.bundle.details.get("multi_label"):  # --- multi-label: task, thresholds in the card

        finish_card(card, report, parts.classes)
    if scratch:
        card.training["from_scratch"] = True
    if cfg.resume:
        card.training["resumed"] = True
    if cfg.recipe is not None:
        card.recipe, card.expect = cfg.recipe, dict(cfg.recipe.get("expect") or {}) or None
        card.training["epochs"] = cfg.head_epochs + cfg.epochs
    if saved is not None:

        saving.save(parts.model, saved, card, history=history or None, report=report)
        card = saving.read_card(saved)
        cfg.log(f"saved to {saved}/")
        shutil.rmtree(run_dir, ignore_errors=True)  # the run is over: its state goes
    else:
        card = card.to_dict()
    return FineTuneResult(model=parts.model, history=history, phase_epochs=(n1, n2),
                          metrics=metrics, report=report, card=card, saved_dir=saved,
                          features=features, seconds=seconds)


def run_folder(saved) -> Path:
    """Where a fine-tune into `saved` keeps its resumable state while it runs:
    `SAVED_PARENT/.runs/NAME/` (as `dlzoo train` keeps a run's in `OUTPUT/.runs/NAME/`)."""
    saved = Path(saved)
    return saved.parent / ".runs" / saved.name


# `fine_tune`'s keywords that `dlzoo finetune` sets under another flag name (the others are
# --KEYWORD-WITH-DASHES): how a refused --resume names what changed
FINETUNE_FLAGS = {"learning_rate": "--lr", "head_learning_rate": "--head-lr",
                  "model_args": "--set", "head_epochs": "--head-epochs"}


def _run_folder(source, data, cfg: FineTuneConfig, saved: Path | None) -> Path | None:
    """Prepares the run folder (`run_folder`): a fresh one, or, with `cfg.resume`, the
    unfinished run's, whose settings must be these (`dlzoo.runs.prepare_run_dir`)."""
    if saved is None:
        return None
    skip = {"log", "verbose", "out", "overwrite", "resume", "cache_dir", "name", "tensorboard"}

    def named(x):
        return os.fspath(x) if isinstance(x, (str, os.PathLike)) else (
            getattr(x, "manifest_hash", None) or f"<{type(x).__name__}>")

    settings = {
        "name": saved.name, "kind": "finetune", "source": named(source), "data": named(data),
        "config": {f.name: getattr(cfg, f.name) for f in dataclasses.fields(cfg)
                   if f.name not in skip},
    }
    run_dir = run_folder(saved)

    def name_of(key: str) -> str:  # what changed, as `dlzoo finetune` sets it
        field = key.split(".")[1] if key.startswith("config.") else None
        if cfg.recipe is not None or field is None:
            return {"source": "--model", "data": "the data"}.get(key, key)
        return FINETUNE_FLAGS.get(field, "--" + field.replace("_", "-"))

    prepare_run_dir(run_dir, settings, cfg.resume, log=cfg.log,
                    same="the same model, folder and flags", name_of=name_of)
    if cfg.resume:
        cfg.log(f"resuming the fine-tune into {saved} ({run_dir})")
    return run_dir


def _reread_data(parts: _Assembly, data, cfg: FineTuneConfig) -> _Assembly:
    """`parts` with the data read again (the same files, split and batches, the pipeline's
    shuffle order back at its start); as it is when `data` is a `DataBundle` given whole."""
    if not isinstance(data, (str, os.PathLike)):
        return parts
    shape = tuple(parts.src.input_shape)
    bundle = _load_data(data, shape, image_size=cfg.image_size, color_mode=cfg.color_mode,
                        batch_size=cfg.batch_size, validation_split=cfg.validation_split,
                        seed=cfg.seed)
    return dataclasses.replace(parts, bundle=_split_evenly(bundle, cfg))


def _fit_phase(model, cfg: FineTuneConfig, phase_dir: Path | None, x, y=None, *, val,
               epochs: int, replay=None, tensorboard=None, **fit_args) -> dict:
    """One phase's `model.fit`, with the standard callbacks; returns its history.

    With a run folder, `phase_dir` gets what a `dlzoo train` run's folder gets
    (`dlzoo.callbacks.standard`): a backup after every epoch (weights, optimizer state,
    random-number state, epoch), the early-stopping and LR-on-plateau counters, `history.csv`;
    a process started again continues from the newest backup, and the history returned spans
    the restart."""

    monitor = "val_loss" if val is not None else "loss"
    if phase_dir is None:
        callbacks = _callbacks(val is not None, cfg.early_stopping, cfg.lr_schedule,
                               tensorboard)
    else:
        phase_dir.mkdir(parents=True, exist_ok=True)
        done, _ = find_backup(phase_dir / "backup", log=cfg.log)
        trim_log(phase_dir / "history.csv", done)
        if done:
            cfg.log(f"  resuming after epoch {done} of {epochs}")
        callbacks = standard(run_dir=phase_dir, monitor=monitor, early_stopping=cfg.early_stopping,
                             lr_schedule=cfg.lr_schedule, checkpoint=False, log=cfg.log,
                             tensorboard=tensorboard)
        for c in callbacks:
            if isinstance(c, RunBackup):
                c.replay = replay
    if y is not None and processes()[1] > 1:  # arrays: each process feeds its slice
        (x, val), y = process_arrays(x, y, val, batch_size=fit_args.pop("batch_size"),
                                     shuffle=fit_args.pop("shuffle", False), seed=cfg.seed), None
    h = model.fit(x, y, validation_data=val, epochs=epochs, callbacks=callbacks,
                  verbose=cfg.verbose, **fit_args).history
    if phase_dir is None or not (phase_dir / "history.csv").exists():
        return dict(h)
    return {k: v for k, v in read_history(phase_dir / "history.csv").items() if k != "epoch"}


_DONE = "done.json"


def _finish_phase(phase_dir: Path | None, model, record: dict) -> None:
    """Records a finished phase: the weights it ended with (by variable path, `weights.npz`),
    then `done.json` (its epochs, history, metrics), each written whole; its backups go."""
    import keras
    import numpy as np


    if phase_dir is None:
        return
    with atomic_path(phase_dir / "weights.npz") as tmp, open(tmp, "wb") as f:
        np.savez(f, **{f"{i}": keras.ops.convert_to_numpy(v)
                       for i, v in enumerate(_by_path(model))})
    write_json(phase_dir / _DONE, record, default=str)
    shutil.rmtree(phase_dir / "backup", ignore_errors=True)


def _finished_phase(phase_dir: Path | None, model, log) -> dict | None:
    """A phase finished before a restart: its record, with its weights loaded into `model`;
    None when it has not finished (or its record cannot be read: it runs again)."""
    import numpy as np

    if phase_dir is None or not (phase_dir / _DONE).exists():
        return None
    try:
        record = json.loads((phase_dir / _DONE).read_text())
        with np.load(phase_dir / "weights.npz") as f:
            values = [f[f"{i}"] for i in range(len(f.files))]
        variables = _by_path(model)
        if len(values) != len(variables):
            raise ValueError(f"{len(values)} arrays for {len(variables)} weights")
        for variable, value in zip(variables, values):
            variable.assign(value)
    except (OSError, ValueError, KeyError) as e:
        log(f"note: {phase_dir.name}'s record is unreadable ({e}); running it again")
        (phase_dir / _DONE).unlink(missing_ok=True)
        return None
    return record


def _restore_phase(run_dir: Path | None, n: int, parts, cfg: FineTuneConfig, history: dict,
                   phase_metrics: dict):
    """`(phase folder or None, its record or None)`: phase `n`'s record when it finished before
    a restart (its weights loaded into the model, its history and metrics added), so it is
    not run again."""
    phase_dir = run_dir / f"phase{n}" if run_dir is not None else None
    done = _finished_phase(phase_dir, parts.model, cfg.log)
    if done is not None:
        cfg.log(f"phase {n}: finished before the restart ({done['epochs_run']} epochs); its "
                "weights are loaded")
        _append(history, done["history"])
        phase_metrics.update(done["metrics"])
    return phase_dir, done


def _by_path(model) -> list:
    """`model.weights` in the order of their paths: the order changes when layers change
    trainability between phases; the paths do not."""
    return sorted(model.weights, key=lambda v: v.path)


def _assemble(source, data, cfg: FineTuneConfig) -> _Assembly:
    """Resolves the source, loads the data at its image shape, and builds the classifier."""

    log = cfg.log
    src, bundle = _source_and_data(source, data, cfg)
    bundle = _split_evenly(bundle, cfg)
    classes = [str(c) for c in bundle.class_names]
    log(f"data: {bundle.source}: {len(classes)} classes, "
        f"{bundle.details.get('num_train', '?')} train / {bundle.details.get('num_val', '?')} "
        f"validation images at {'x'.join(map(str, bundle.input_shape))}"
        + (f", {len(bundle.skipped)} file(s) skipped" if bundle.skipped else ""))
    for path, reason in bundle.skipped[:20]:
        log(f"  skipped {path}: {reason}")
    # The head: kept when the source already predicts exactly these classes.
    keep_head = (cfg.layer is None and src.class_names == classes
                 and has_classifier(src.network))
    extractor, network, head_layers = classifier(
        src, len(classes), layer=cfg.layer, pooling=cfg.pooling, dropout=cfg.dropout,
        keep_head=keep_head)
    if bundle.details.get("multi_label"):  # --- multi-label data (dlzoo.multilabel) ---

        check_options(class_weight=cfg.class_weight)
        sigmoid_head(network)  # one sigmoid a label; compile_for_task gives it binary CE

    regularize_from(network, _switches(cfg), log=log)  # l1 / l2 / max_norm / activity_l1
    model = with_preprocessing(network, src.preprocessing, augment=augment_layers(cfg.augment),
                               name=(cfg.name or "finetuned").replace("-", "_").replace(".", "_"))
    float32_outputs(model)  # the softmax in float32 under a mixed precision
    weights = None
    if cfg.class_weight:

        weights = class_weights(class_counts(bundle, bundle.train), cfg.class_weight)
        log(f"class weights ({cfg.class_weight}): "
            + ", ".join(f"{c} {weights[i]:.3g}" for i, c in enumerate(classes)))
    bundle = _mix_batches(bundle, model, cfg)  # after the class weights: unmixed labels
    log(f"model: {src.name} ({src.weights or 'random weights'}), features from "
        f"{extractor.layer!r} ({'kept head' if keep_head else 'new head'}), preprocessing "
        f"{src.preprocessing!r}")
    return _Assembly(
        src=src, bundle=bundle, classes=classes, extractor=extractor, network=network,
        head_layers=head_layers, model=model, keep_head=keep_head, layer=extractor.layer,
        learning_rate=phase2_learning_rate(src, cfg.learning_rate, cfg.head_learning_rate),
        class_weight=weights)


def _mix_batches(bundle, model, cfg: FineTuneConfig):
    """The bundle with its training batches mixed (`augment`'s mixup / cutmix:
    `dlzoo.augmentation.BatchMixer`; `mix_off_epoch` counts the epochs of each phase); as it
    is otherwise."""

    if not mixes_labels(cfg.augment):
        return bundle
    mixer = BatchMixer(cfg.augment, len(bundle.class_names), seed=cfg.seed)
    model.dlzoo_batch_mixer = mixer  # for dlzoo.callbacks.MixingSchedule
    return dataclasses.replace(bundle, train=mixer.mix(bundle.train))


def _split_evenly(bundle, cfg: FineTuneConfig):
    """The bundle with batches that split evenly over a data-parallel distribution's devices
    (`dlzoo.distribution.divisible_batches`); as it is on one device."""
    train, val = divisible_batches(bundle.train, bundle.val, cfg.batch_size, log=cfg.log)
    if train is bundle.train and val is bundle.val:
        return bundle
    return dataclasses.replace(bundle, train=train, val=val)


def _source_shape(source, cfg: FineTuneConfig) -> tuple:
    """`(Source or None, input shape)`: the network first when it fixes the image size (a saved
    model, a `keras.Model`); a registry name's default input shape unless told otherwise."""
    src = None
    if (not isinstance(source, str) or saved_model_folder(source) is not None
            or saved_model_folder(cfg.weights) is not None):
        src = resolve_source(source, weights=cfg.weights, model_args=cfg.model_args)
    if src is not None:
        return src, tuple(src.input_shape)
    return None, tuple((cfg.model_args or {}).get("input_shape")
                       or model_info(source).default_input_shape)


def source_input_shape(source, cfg: FineTuneConfig) -> tuple:
    """The input shape `(height, width, channels)` the fine-tune reads images at, unless
    `cfg.image_size` / `cfg.color_mode` say otherwise."""
    return _source_shape(source, cfg)[1]


def _source_and_data(source, data, cfg: FineTuneConfig):
    """The `Source` and the `DataBundle`, at the same image shape. The network first when it
    fixes the image size (a saved model, a `keras.Model`); else the data first."""
    src, fixed = _source_shape(source, cfg)
    bundle = _load_data(data, fixed, image_size=cfg.image_size, color_mode=cfg.color_mode,
                        batch_size=cfg.batch_size, validation_split=cfg.validation_split,
                        seed=cfg.seed)
    if src is None:
        src = resolve_source(source, weights=cfg.weights, input_shape=bundle.input_shape,
                             model_args=cfg.model_args)
    if tuple(src.input_shape) != tuple(bundle.input_shape):
        raise ValueError(
            f"{src.name} takes {'x'.join(map(str, src.input_shape))} images but the data is "
            f"{'x'.join(map(str, bundle.input_shape))}; pass image_size / color_mode to match "
            "(they default to the model's own)."
        )
    return src, bundle


def _phase1(parts: _Assembly, cfg: FineTuneConfig, history: dict, phase_metrics: dict,
            run_dir: Path | None):
    """Trains the head with the network frozen; returns (epochs run, the `Features` or None,
    the card's record of the feature cache or None).

    On features extracted once (cached), or with the frozen network in the loop when
    augmentation is on (augmented images give different features each epoch). A phase that
    finished before a restart is not run again: its weights are loaded."""
    if not cfg.head_epochs:
        return 0, None, None
    phase_dir, done = _restore_phase(run_dir, 1, parts, cfg, history, phase_metrics)
    if done is not None:
        return done["epochs_run"], None, done["features"]
    bundle, features, record = parts.bundle, None, None
    set_trainable(parts.network, list(parts.head_layers))
    where = f"phase 1: head, {cfg.head_epochs} epochs at {cfg.head_learning_rate:g}"
    if cfg.augment:
        cfg.log(f"{where}, frozen network in the loop (augmentation is on)")
        _compile(parts.model, cfg.head_learning_rate, cfg, epochs=cfg.head_epochs,
                 data=bundle.train)
        h = _fit_phase(parts.model, cfg, phase_dir, bundle.train, val=bundle.val,
                       epochs=cfg.head_epochs, replay=bundle.train, shuffle=False,
                       class_weight=parts.class_weight, tensorboard=_board(cfg, "phase1"))
    else:
        features = extract_features(parts.extractor, bundle, cache_dir=cfg.cache_dir)
        record = {"key": features.key, "from_cache": features.from_cache,
                  "seconds": round(features.seconds, 2)}
        cfg.log(f"{where}, on features "
                + ("loaded from the cache" if features.from_cache else "extracted once")
                + f" ({features.train[0].shape[0]} x {features.train[0].shape[1:]}, "
                  f"{features.seconds:.1f} s)")
        head = _head_model(features, parts.head_layers)
        _compile(head, cfg.head_learning_rate, cfg, epochs=cfg.head_epochs,
                 data=features.train)
        h = _fit_phase(head, cfg, phase_dir, *features.train, val=features.val,
                       epochs=cfg.head_epochs, batch_size=cfg.batch_size, shuffle=True,
                       class_weight=parts.class_weight, tensorboard=_board(cfg, "phase1"))
    _append(history, h)
    metrics = {}
    if bundle.val is not None:
        metrics["phase1"] = _val_metrics(parts.model, bundle.val)
    phase_metrics.update(metrics)
    n = len(h.get("loss", []))
    _finish_phase(phase_dir, parts.model, {"epochs_run": n, "history": h, "metrics": metrics,
                                           "features": record})
    return n, features, record


def _head_model(features: Features, head_layers):
    """The head's layers on a features input (pooling is already applied by the extractor)."""
    import keras
    from keras import layers

    head_in = keras.Input(features.train[0].shape[1:], name="features")
    hx = head_in
    for hl in head_layers:
        if isinstance(hl, (layers.GlobalAveragePooling2D, layers.GlobalMaxPooling2D,
                           layers.Flatten)):
            continue
        hx = hl(hx)
    return keras.Model(head_in, hx, name="head")


def _phase2(parts: _Assembly, cfg: FineTuneConfig, unfreeze_k, history: dict,
            phase_metrics: dict, run_dir: Path | None):
    """Unfreezes the top groups and trains on the images at phase 2's rate; returns
    (epochs run, unfrozen layers, unfrozen group names). Backed up and resumed as phase 1."""
    if not cfg.epochs or unfreeze_k == 0:
        return 0, [], []
    network, head_layers, bundle = parts.network, parts.head_layers, parts.bundle
    head_ids = {id(h) for h in head_layers}
    body = {id(lyr) for lyr in network.layers} - head_ids
    unfrozen, groups = unfreeze_layers(network, parts.src.info, cfg.unfreeze,
                                       exclude={h.name for h in head_layers})
    unfrozen = [lyr for lyr in unfrozen if id(lyr) in body]
    set_trainable(network, unfrozen + head_layers, train_batchnorm=cfg.train_batchnorm)
    phase_dir, done = _restore_phase(run_dir, 2, parts, cfg, history, phase_metrics)
    if done is not None:
        return done["epochs_run"], unfrozen, groups
    cfg.log(f"phase 2: unfreeze {cfg.unfreeze} ({', '.join(groups) or 'nothing'}: "
            f"{len(unfrozen)} layer(s)), {cfg.epochs} epochs at {parts.learning_rate:g}, "
            "BatchNorm " + ("training" if cfg.train_batchnorm else "frozen (inference mode)"))
    _compile(parts.model, parts.learning_rate, cfg, epochs=cfg.epochs, data=bundle.train)
    h = _fit_phase(parts.model, cfg, phase_dir, bundle.train, val=bundle.val, epochs=cfg.epochs,
                   replay=bundle.train, shuffle=False, class_weight=parts.class_weight,
                   tensorboard=_board(cfg, "phase2"))
    _append(history, h)
    metrics = {}
    if bundle.val is not None:
        metrics["phase2"] = _val_metrics(parts.model, bundle.val)
    phase_metrics.update(metrics)
    n = len(h.get("loss", []))
    _finish_phase(phase_dir, parts.model, {"epochs_run": n, "history": h, "metrics": metrics})
    return n, unfrozen, groups


def _snapshot(model) -> list:
    """(variable, value) of every weight: restored by variable, since `model.weights` changes
    order when layers change trainability between the phases."""
    import keras

    return [(v, keras.ops.convert_to_numpy(v).copy()) for v in model.weights]


def _better(a: dict, b: dict) -> bool:
    """Is validation result `a` better than `b`: higher accuracy, then lower loss."""
    return (a["val_accuracy"], -a["val_loss"]) > (b["val_accuracy"], -b["val_loss"])


def _keep_better_phase(parts: _Assembly, phase_metrics: dict, after_phase1, log) -> dict:
    """Keeps phase 1's weights when they scored better on the validation split than phase
    2's (higher val_accuracy; on a tie, lower val_loss), as early stopping keeps the best epoch
    within a phase; returns the card's `training.kept` record (which phase, and why)."""
    p1, p2 = phase_metrics.get("phase1"), phase_metrics.get("phase2")
    if p1 is None or p2 is None:
        only = "phase2" if p2 is not None else "phase1"
        return {"phase": only, "reason": "the only phase run" + (
            "" if p1 or p2 else " (no validation split to compare on)")}
    scores = (f"val_accuracy {p1['val_accuracy']:.4f} / val_loss {p1['val_loss']:.4f} after "
              f"phase 1, {p2['val_accuracy']:.4f} / {p2['val_loss']:.4f} after phase 2")
    if after_phase1 is None:
        return {"phase": "phase2", "reason": f"keep='last': {scores}"}
    if _better(p1, p2):
        for variable, value in after_phase1:
            variable.assign(value)
        log(f"keeping phase 1's weights: {scores} (phase 2's are discarded)")
        return {"phase": "phase1", "reason": f"better on validation: {scores}"}
    return {"phase": "phase2", "reason": f"not worse on validation: {scores}"}


def _final_metrics(parts: _Assembly, phase_metrics: dict):
    """(report, metrics) of the fine-tuned model on the validation split, with each phase's."""

    if parts.bundle.val is None:
        return None, {}
    report = evaluate(parts.model, parts.bundle.val, class_names=parts.classes)
    summary = summary_metrics(report)
    metrics = {k: v for k, v in summary.items() if k not in ("per_class", "confusion_matrix")}
    for phase, m in phase_metrics.items():
        metrics.update({f"{phase}_{k}": v for k, v in m.items()})
    metrics.update(per_class=summary["per_class"], confusion_matrix=summary["confusion_matrix"])
    return report, metrics


def _card(parts: _Assembly, cfg: FineTuneConfig, metrics, features: dict | None, phase_epochs,
          unfrozen, groups, seconds, saved) -> ModelCard:
    """The fine-tuned model's `ModelCard` (its `transfer` section records how it was made)."""

    src, bundle, classes = parts.src, parts.bundle, parts.classes
    n1, n2 = phase_epochs
    seen = training_files_record(bundle)
    transfer = {
        "source": src.weights if src.card else src.name,
        "weights": src.weights,
        "source_card": {k: src.card.get(k) for k in ("name", "model", "class_names", "sha256")}
        if src.card else None,
        "feature_layer": parts.layer,
        "pooling": None if parts.keep_head else cfg.pooling,
        "head": "kept" if parts.keep_head else "new",
        "unfreeze": cfg.unfreeze,
        "unfrozen_groups": groups,
        "unfrozen_layers": [lyr.name for lyr in unfrozen],
        "train_batchnorm": cfg.train_batchnorm,
        "augment": normalize_augment(cfg.augment, "fine_tune: augment") or None,
        "feature_cache": features,
    }
    return ModelCard(
        name=cfg.name or (saved.name if saved else f"{src.name}-finetuned"),
        description=f"{src.name} fine-tuned on {bundle.source} ({len(classes)} classes) "
                    f"from {src.weights or 'random weights'}.",
        model=src.info.name if src.info else src.name,
        model_args=src.model_args,
        task="image_classification",
        preprocessing=src.preprocessing,
        preprocessing_where="model" if src.preprocessing != "none" else "none",
        class_names=classes,
        metrics=metrics,
        data={**bundle.to_dict(), "recipe": {"validation_split": cfg.validation_split,
                                             "seed": cfg.seed, "batch_size": cfg.batch_size},
              **({"training_files": seen} if seen else {})},
        extra={"transfer": transfer},
        training={
            "phase1": {"epochs": cfg.head_epochs, "epochs_run": n1,
                       "learning_rate": cfg.head_learning_rate,
                       "on": "cached features" if features is not None else "images"},
            "phase2": {"epochs": cfg.epochs, "epochs_run": n2,
                       "learning_rate": parts.learning_rate},
            "epochs_run": n1 + n2,
            # the same record as a `dlzoo train` card's: one entry per phase run
            "phases": [p for p in (
                {"train": "head", "epochs": cfg.head_epochs, "epochs_run": n1,
                 "learning_rate": cfg.head_learning_rate,
                 "on": "cached features" if features is not None else "images"}
                if cfg.head_epochs else None,
                {"train": str(cfg.unfreeze), "epochs": cfg.epochs, "epochs_run": n2,
                 "learning_rate": parts.learning_rate,
                 "batchnorm": "train" if cfg.train_batchnorm else "frozen"}
                if cfg.epochs and n2 else None) if p is not None],
            "precision": cfg.precision,
            "devices": cfg.devices,
            "optimizer": cfg.optimizer,
            "lr_schedule": cfg.lr_schedule,
            **card_record(_switches(cfg),
                          batch_size=cfg.batch_size),
            **({"class_weight": {"mode": cfg.class_weight, "weights": {
                c: parts.class_weight[i] for i, c in enumerate(classes)}}}
               if parts.class_weight else {}),
            "seconds": round(seconds, 1),
        },
        seed=cfg.seed,
        path=saved.as_posix() if saved else None,
    )


def _append(history: dict, h: dict) -> None:
    n_before = len(next(iter(history.values()), []))
    for key in set(history) | set(h):
        series = history.setdefault(key, [float("nan")] * n_before)
        values = h.get(key)
        n = len(h.get("loss", []))
        series.extend([float(v) for v in values] if values is not None else [float("nan")] * n)


def _val_metrics(model, val) -> dict:

    report = evaluate(model, val)
    return {"val_accuracy": round(report.accuracy, 6), "val_loss": round(report.loss, 6)}


# --- a fine-tune as a recipe -----------------------------------------------------------------


def recipe_config(recipe: dict | RunSpec, *, output="saved_models", resume: bool = False,
                  overwrite: bool = True, verbose: int = 2, log=print):
    """The `(source, data, FineTuneConfig)` a validated recipe with `phases` describes
    (`dlzoo.recipes`): `model` is the pretrained network (a registry name with
    `transfer.weights`, a saved-model folder, or `run:NAME`: the model the recipe NAME saved in
    `output`); the phases give the epochs, rates, what is unfrozen and BatchNorm's mode; `data`,
    `train` (augment, seed, precision, devices, class_weight, optimizer and the training
    switches) and `callbacks` (early_stopping, lr_schedule, tensorboard) as in any recipe. The
    result is saved to `output/NAME`.

    Raises:
        FileNotFoundError: `run:NAME` names a model not saved in `output`.
    """

    spec = as_spec(recipe)
    source = spec.model.name
    if source.startswith("run:"):
        name = source[len("run:"):]
        folder = Path(output) / name
        if not is_saved_model(folder):
            raise FileNotFoundError(_no_run_model(spec.name, source, name, folder, output))
        source = os.fspath(folder)
    cfg = config_from_spec(spec, out=Path(output) / spec.name, overwrite=overwrite,
                           verbose=verbose, log=log, resume=resume, recipe=spec.recipe)
    return source, spec.data.source, cfg


def _no_run_model(recipe: str, source: str, name: str, folder: Path, output) -> str:
    """The message for `model: run:NAME` with no model at `output/NAME`: the command that
    trains it where NAME is a shipped recipe; otherwise the closest shipped recipe (its command
    and its `run:` form), or that there is no shipped recipe of that name."""
    import shlex

    def train(recipe_name):
        return " ".join(shlex.quote(str(w)) for w in
                        ("dlzoo", "train", recipe_name, "--output", output))

    said = (f"recipe {recipe}: model {source} is the model the recipe {name} saves in {output}, "
            f"and there is none at {folder}")
    names = list_recipes()
    if name in names:
        return f"{said}; train it first: {train(name)}"
    close = closest(name, names)
    if close is not None:
        return (f"{said}, and no shipped recipe is named {name} (closest: {close}); for that "
                f"one set model=run:{close} and train it first: {train(close)}")
    return (f"{said}, and no shipped recipe is named {name} (shipped: {', '.join(names)}); "
            f"train your recipe named {name} first (dlzoo train YOUR-RECIPE.yaml --output {output}), "
            "or give a saved-model folder as model")


def recipe_data(source, data, cfg: FineTuneConfig):
    """The `DataBundle` a fine-tune of `source` on `data` under `cfg` trains on, read as
    `fine_tune` reads it (at the source's input shape): its `input_shape`, `num_classes` and
    `manifest_hash` describe a search over the fine-tune (`dlzoo.tuning.phases`)."""
    return _source_and_data(source, data, cfg)[1]


def run_phased_recipe(recipe: dict | RunSpec, *, output="saved_models", resume: bool = False,
                      overwrite: bool = True, verbose: int = 2, log=print) -> FineTuneResult:
    """Runs a recipe with `phases` (`recipe_config`): `dlzoo train my-finetune.yaml`."""
    source, data, cfg = recipe_config(recipe, output=output, resume=resume, overwrite=overwrite,
                                      verbose=verbose, log=log)
    return fine_tune(source, data, cfg)
