"""Training: compile defaults, fit with resume, evaluate, save; the recipe runner.

    >>> from dlzoo.recipes import load_recipe
    >>> from dlzoo.training import run_recipe
    >>> result = run_recipe(load_recipe("lenet5-digits"))
    >>> result.card["metrics"]["val_accuracy"], result.saved_dir

A run is four steps, each a function, so later features (adversarial training, K-fold,
distribution strategies) slot in around them: `load_data` (a `DataBundle`), `build_model` (the
network behind its augmentation and preprocessing layers), `compile_model` (optimizer, LR schedule,
loss and metrics from the recipe and the task) and `fit` (the standard callbacks, resumable).
`prepare_run` does the first three once, with the seed, the strategy and the batching, and
returns a `RunInputs`: what `run_recipe`, `cross_validate_recipe` and `dlzoo.tuning.tune_recipe`
start from. Every card is a `dlzoo.saving.ModelCard` made by `run_card`.

Preprocessing is applied **inside the model** (`dlzoo.preprocessing.with_preprocessing`): the data
pipeline yields raw [0, 255] images, and so do evaluate, predict and any export.

Resuming: each run keeps its state in `OUTPUT/.runs/NAME/` (the recipe it runs, the Keras backup of
weights + optimizer + epoch, the counters of the callbacks, the CSV log). `resume=True` continues
from the last finished epoch; the log is trimmed to the epochs the backup holds, so no epoch is
logged twice. The folder is removed once the model is saved.
"""

from __future__ import annotations

import contextlib
import dataclasses
import sys
import time
from pathlib import Path

import numpy as np

from dlzoo import saving
from dlzoo.augmentation import BatchMixer, augmentation_layers, mixes_labels
from dlzoo.callbacks import RunBackup, learning_rate, standard
from dlzoo.compiling import compile_for_task
from dlzoo.crossval import cross_validate
from dlzoo.data.batching import batch_bundle
from dlzoo.data.corpus import is_corpus_source, load_corpus
from dlzoo.data.datasets import load, load_arrays
from dlzoo.data.images import color_mode_for
from dlzoo.data.ratings import is_ratings_source, load_ratings
from dlzoo.distribution import divisible_batches, replica_count, strategy_for, strategy_scope
from dlzoo.evaluation import evaluate, summary_metrics
from dlzoo.files import write_weights
from dlzoo.generation import language_model_metrics
from dlzoo.metrics import class_counts, class_weights
from dlzoo.multilabel import check_options, finish_card, sigmoid_head
from dlzoo.plots import read_history
from dlzoo.precision import float32_outputs, precision_scope, resolve_precision
from dlzoo.preprocessing import applied_mode, with_preprocessing
from dlzoo.recommendation import rating_metrics
from dlzoo.registry import model_info
from dlzoo.regularization import regularize_from
from dlzoo.robustness import AdversarialBatches, accuracy_under_attack, value_range_of
from dlzoo.runs import prepare_run_dir, refuse_existing, remove_run_dir, run_dir_for, run_lock
from dlzoo.saving import ModelCard, training_files_record
from dlzoo.spec import RunSpec, as_spec
from dlzoo.switches import card_record
from dlzoo.tasks import Task, with_article
from dlzoo.transfer.finetune import fine_tune, recipe_config, run_phased_recipe, source_input_shape
from dlzoo.weights import build

__all__ = [
    "RunInputs",
    "RunResult",
    "build_and_compile",
    "build_model",
    "compile_model",
    "cross_validate_recipe",
    "fit",
    "load_array_data",
    "load_data",
    "prepare_run",
    "run_dir_for",
    "run_recipe",
]


@dataclasses.dataclass
class RunResult:
    """What `run_recipe` did: the trained model, its card, evaluation and where things are."""

    model: object
    card: dict
    report: object | None
    history: dict
    saved_dir: Path
    epochs_run: int
    resumed_from: int
    seconds: float


@dataclasses.dataclass
class RunInputs:
    """Everything a run of a recipe needs, made once by `prepare_run`.

    `train` / `val` are what `fit` takes: batched `tf.data` pipelines of (inputs, targets), or
    `(x, y)` numpy arrays (`arrays=True`), batched by `model.fit(batch_size=...)`.
    `model` is None when the caller builds its own (a hypermodel's trials, one model per fold).
    """

    recipe: dict  # the validated recipe, as run folders and cards store it
    info: object  # dlzoo.registry.ModelInfo
    bundle: object  # dlzoo.data.DataBundle
    train: object
    val: object | None
    strategy: object | None  # tf.distribute.Strategy, or None
    steps: int  # training batches per epoch
    batch_size: int  # the global batch: split over `replicas` devices
    model: object | None = None
    precision: str = "float32"  # resolved `train.precision` (dlzoo.precision)
    replicas: int = 1  # devices each batch is split over
    class_weight: dict | None = None  # {label: weight} for fit (train.class_weight)
    spec: RunSpec | None = None  # the run as typed fields (`dlzoo.spec`); from `recipe` if None

    def __post_init__(self):
        if self.spec is None:
            self.spec = as_spec(self.recipe)

    @property
    def name(self) -> str:
        return self.spec.name

# --- 1. data -----------------------------------------------------------------------------------

def data_arguments(recipe: dict | RunSpec, info=None) -> tuple[str, dict]:
    """`(source, keyword arguments)` for `dlzoo.data.load` from the recipe's `data:` section.

    For image models without an explicit `data.image_size` / `data.color_mode`, the size and
    colour mode follow `model_args.input_shape` when the recipe gives one; otherwise the data's
    own size is kept and the model is built for it. Unset (None) entries are left out.
    """

    spec = as_spec(recipe)
    data = spec.data.load_arguments()
    shape = (spec.model.args or {}).get("input_shape")
    if info is not None and info.input_kind == "image" and shape and len(shape) == 3:
        if data.get("image_size") is None:
            data["image_size"] = list(shape[:2])
        if data.get("color_mode") is None:
            data["color_mode"] = color_mode_for(shape[2])
    kwargs = {k: v for k, v in data.items() if k != "source" and v is not None}
    if "image_size" in kwargs:
        kwargs["image_size"] = tuple(kwargs["image_size"])
    return data["source"], kwargs


def load_data(recipe: dict, info=None):
    """Loads the recipe's data with `dlzoo.data.datasets.load` (see `data_arguments`)."""

    source, kwargs = data_arguments(recipe, info)
    own = _task_source(source)
    if own is not None:  # corpora and ratings: arrays of the task's own (inputs, targets)

        options = {k: kwargs.pop(k) for k in ("batch_size", "loader") if k in kwargs}
        return batch_bundle(own(source, **kwargs), seed=kwargs.get("seed", 0), **options)
    return load(source, **kwargs)


def _task_source(source):
    """The loader of a source whose examples are not images or labelled vectors: a text corpus
    (`grammar`, `text:PATH`; dlzoo.data.corpus) or ratings (`ratings:...`; dlzoo.data.ratings)."""

    if is_corpus_source(source):
        return load_corpus
    return load_ratings if is_ratings_source(source) else None


def load_array_data(recipe: dict, info=None, *, where: str = "this run"):
    """The recipe's data as numpy arrays (`dlzoo.data.load_arrays`): a `DataBundle` whose
    `train` / `val` are `(x, y)` tuples. Only for data held in memory (digits, synthetic:NAME,
    folder:PATH); ValueError naming them otherwise."""

    source, kwargs = data_arguments(recipe, info)
    kwargs.pop("batch_size", None)
    kwargs.pop("data_dir", None)
    try:
        return load_arrays(source, **kwargs)
    except ValueError as e:
        raise ValueError(f"{where} needs data held in memory (digits, synthetic:NAME, "
                         f"folder:PATH): {e}") from None


def describe_data(bundle) -> str:
    """One line about the loaded data, for the log."""
    return (f"data: {bundle.source}: {len(bundle.class_names)} classes, input "
            f"{'x'.join(map(str, bundle.input_shape))}"
            + (f", {len(bundle.skipped)} file(s) skipped" if bundle.skipped else ""))

# --- 2. model ----------------------------------------------------------------------------------

def _model_args(recipe: dict, bundle, info) -> dict:
    """The builder arguments: the recipe's, with `num_classes`, `input_shape` (and a text
    model's `vocab_size`) from the data; a recipe value that disagrees with the data raises."""
    spec = as_spec(recipe)
    args = dict(spec.model.args or {})
    if info.task.is_classification:
        given = args.get("num_classes")
        if given is not None and given != bundle.num_classes:
            raise ValueError(
                f"recipe {spec.name}: model_args.num_classes is {given} but the data has "
                f"{bundle.num_classes} classes ({', '.join(map(str, bundle.class_names[:10]))}). "
                "Remove model_args.num_classes or fix the data."
            )
        args["num_classes"] = bundle.num_classes
    if info.input_kind != "latent":
        given = args.get("input_shape")
        data_shape = tuple(bundle.input_shape)
        if given is not None and tuple(given) != data_shape:
            raise ValueError(
                f"recipe {spec.name}: model_args.input_shape is {list(given)} but the data "
                f"gives {list(data_shape)}. Set data.image_size / data.color_mode to match, or "
                "remove model_args.input_shape."
            )
        args["input_shape"] = data_shape
    if info.input_kind == "tokens" and "vocab_size" not in args:
        vocab = getattr(bundle, "details", {}).get("vocab_size")
        if vocab:  # the vectoriser's vocabulary sizes the embedding
            args["vocab_size"] = vocab
    for key, value in getattr(bundle, "details", {}).get("model_args", {}).items():
        args.setdefault(key, value)  # sizes only the data knows (a recommender's user count)
    return args


def build_model(recipe: dict, bundle, info):
    """Builds the recipe's network for the data, behind its augmentation and preprocessing.

    `num_classes` and `input_shape` come from the data unless `model_args` sets them, in which
    case they must agree with it.
    """

    spec = as_spec(recipe)
    network = build(spec.model.name, **_model_args(spec, bundle, info))
    if getattr(bundle, "details", {}).get("multi_label"):  # --- multi-label data ---

        check_options(class_weight=spec.class_weight)
        sigmoid_head(network)  # one sigmoid a label; compile_for_task gives it binary CE
    regularize_from(network, spec.switch_values())  # train.l1 / l2 / max_norm / activity_l1
    wrap = info.input_kind == "image" and info.task is not Task.GENERATIVE and (
        getattr(bundle, "value_range", "0-255") == "0-255"
    )
    if not wrap:
        return network
    return with_preprocessing(
        network,
        info.preprocessing,
        augment=augmentation_layers(spec.augment),
        name=spec.name.replace("-", "_").replace(".", "_"),
    )

# --- 3. compile --------------------------------------------------------------------------------

def steps_per_epoch(dataset) -> int:
    """Batches per epoch of a finite `tf.data.Dataset` (counted when TF does not know it)."""
    n = int(dataset.cardinality())
    if n == -1:  # INFINITE_CARDINALITY
        raise ValueError("the training data set repeats forever; give it a finite length.")
    if n < 0:  # UNKNOWN_CARDINALITY: count once
        n = sum(1 for _ in dataset)
    if n == 0:
        raise ValueError("the training data set is empty; there is nothing to train on.")
    return n


def compile_model(model, recipe: dict, info, steps: int):
    """Compiles with the recipe's optimizer, LR schedule, loss and metrics
    (`dlzoo.compiling.compile_for_task`: the task's defaults where the recipe gives none)."""

    spec = as_spec(recipe)
    phase = spec.phases[0]  # a plain run is one phase: every layer, on the images
    lr = learning_rate(
        spec.callbacks.lr_schedule,
        learning_rate=phase.learning_rate,
        epochs=phase.epochs,
        steps_per_epoch=steps,
    )
    loss = spec.loss  # None: the task's (Task.default_loss)
    return compile_for_task(model, info.task, optimizer=phase.optimizer, learning_rate=lr,
                            optimizer_args=phase.optimizer_args, loss=loss,
                            metrics=None if spec.metrics is None else list(spec.metrics),
                            switches=spec.switch_values())

# --- 4. fit ------------------------------------------------------------------------------------

def training_data(bundle, info):
    """The (inputs, targets) the task trains on: labels for classifiers, the images themselves
    for autoencoders (scaled as the model's preprocessing scales its input, since the targets
    do not pass through it), images alone for generative models. A `tf.data` pipeline in, a
    pipeline out; `(x, y)` arrays (from `load_array_data`) are for classifiers only."""
    if info.task.is_supervised:  # inputs and targets as the data has them
        return bundle.train, bundle.val
    if isinstance(bundle.train, tuple):
        raise TypeError(f"{info.name} is {with_article(info.task)} model; in-memory arrays "
                        "are read for classifiers only.")
    scaled = _target_scaling(info.preprocessing)
    if info.task is Task.AUTOENCODER:
        pair = _not_autographed(lambda x, y: (x, scaled(x)))
        return bundle.train.map(pair), bundle.val.map(pair) if bundle.val is not None else None
    return bundle.train.map(_not_autographed(lambda x, y: scaled(x))), None


def _not_autographed(fn):
    """`fn`, marked for tf.data not to convert it with AutoGraph (which parses this module's
    source, about a second); as is where TensorFlow is not loaded (a PyDataset's map)."""
    tf = sys.modules.get("tensorflow")
    return fn if tf is None else tf.autograph.experimental.do_not_convert(fn)


def _target_scaling(mode: str):
    """A Keras `Rescaling` layer (it runs in tf.data on every backend) to float32 in the range
    of `dlzoo.preprocessing`'s "unit" ([0, 1]) or "tf" ([-1, 1]) mode; other modes' targets
    stay in [0, 255]."""
    import keras

    scale, offset = {"unit": (1 / 255.0, 0.0), "tf": (1 / 127.5, -1.0)}.get(mode, (1.0, 0.0))
    return keras.layers.Rescaling(scale, offset=offset, dtype="float32")


def fit(model, recipe: dict, train_data, val_data, run_dir: Path, *, verbose: int = 2,
        extra_callbacks=(), log=print, class_weight: dict | None = None):
    """Fits with the standard callbacks in `run_dir`; returns the Keras `History`.

    `train_data` / `val_data` are batched pipelines, or `(x, y)` arrays, which Keras batches
    (`data.batch_size`) and shuffles each epoch. A resumed run needs nothing more:
    `dlzoo.callbacks.RunBackup` finds the newest whole backup in `run_dir` and restores weights,
    optimizer state, random-number state, the pipeline's shuffle order and the epoch to start
    from. `class_weight` (`{label: weight}`, see `run_class_weights`) goes to Keras's `fit`.
    """

    spec = as_spec(recipe)
    cb = spec.callbacks
    has_val = val_data is not None
    monitor = cb.monitor if has_val or not cb.monitor.startswith("val_") else cb.monitor[4:]
    callbacks = standard(
        run_dir=run_dir,
        monitor=monitor,
        early_stopping=cb.early_stopping,
        lr_schedule=cb.lr_schedule,
        checkpoint=cb.checkpoint,
        backup=cb.backup,
        csv_log=cb.csv_log,
        terminate_on_nan=cb.terminate_on_nan,
        log=log,
        tensorboard=cb.tensorboard,
    )
    for c in callbacks:
        if isinstance(c, RunBackup) and not isinstance(train_data, tuple):
            c.replay = train_data
    common = {"validation_data": val_data, "epochs": spec.epochs,
              "callbacks": list(callbacks) + list(extra_callbacks), "verbose": verbose,
              "class_weight": class_weight}
    if isinstance(train_data, tuple):
        x, y = train_data
        return model.fit(x, y, batch_size=spec.data.batch_size, shuffle=True, **common)
    # the pipeline shuffles (tf.data); Keras would only warn
    return model.fit(train_data, shuffle=False, **common)

# --- adversarial training (dlzoo.robustness) ---------------------------------------------------

def _input_range(bundle, data=None):
    value_range = getattr(bundle, "value_range", "0-255")
    samples = None  # only raw-valued data needs its values read to find the range
    if value_range != "0-255" and data is not None:
        samples = np.concatenate([np.asarray(x) for x, _ in data])
    return value_range_of(value_range, samples)


def adversarial_batches(model, train_data, adversarial: dict, bundle, steps: int):
    """Wraps the training pipeline so each batch mixes clean and FGSM examples made against the
    model as it trains (`train.adversarial`); the validation data stays clean."""

    return AdversarialBatches.from_dataset(
        model, train_data, steps=steps, epsilon=adversarial["epsilon"],
        ratio=adversarial["ratio"], value_range=_input_range(bundle, train_data),
        seed=0,
    )


def robustness_metrics(model, val_data, bundle, adversarial: dict) -> dict:
    """Clean and FGSM accuracy on the validation data at the training epsilon, for the card."""

    xs, ys = zip(*[(np.asarray(x), np.asarray(y)) for x, y in val_data])
    x, y = np.concatenate(xs), np.concatenate(ys)
    eps = adversarial["epsilon"]
    rows = accuracy_under_attack(model, x, y, [0.0, eps], value_range=_input_range(bundle, val_data))
    return {**adversarial, "val_accuracy_clean": rows[0]["accuracy"],
            "val_accuracy_under_attack": rows[1]["accuracy"], "attack": f"FGSM epsilon={eps}"}


def prepare_run(recipe: dict, *, build: bool = True, arrays: bool = False, bundle=None,
                log=print) -> RunInputs:
    """Turns a validated recipe into the inputs of its run: what `run_recipe`,
    `cross_validate_recipe` and `dlzoo.tuning.tune_recipe` start from.

    Seeds every generator (`train.seed`), loads the data (`load_data`, or `load_array_data`
    when `arrays`), makes the task's (inputs, targets) (`training_data`), sets up
    `train.strategy`, makes the batches split evenly over its devices, counts the steps per
    epoch and, when `build`, builds and compiles the model under the strategy's scope.

    Args:
        recipe: a validated recipe (`dlzoo.recipes.load_recipe`).
        build: build and compile the recipe's model (False: the caller builds, e.g. a
            hypermodel's trials or one model per fold).
        arrays: read the data as `(x, y)` numpy arrays (small in-memory sources only).
        bundle: data already loaded (a `DataBundle`; `(x, y)` parts with `arrays`).
        log: where progress lines go.
    """
    import keras

    spec = as_spec(recipe)
    recipe = spec.recipe
    info = model_info(spec.model.name)
    keras.utils.set_random_seed(spec.seed)
    if bundle is None:
        bundle = load_array_data(spec, info) if arrays else load_data(spec, info)
    log(describe_data(bundle))
    if not build and (getattr(bundle, "details", None) or {}).get("multi_label"):  # multi-label
        raise ValueError(
            f"recipe {spec.name}: {bundle.source} has several labels a file (multi-label); "
            "`dlzoo train` and `dlzoo finetune` train on it, `tune` and `--folds` take "
            "single-label data (a label file with a 'label' column, or class subfolders).")
    batch_size = spec.data.batch_size
    train, val = training_data(bundle, info)
    strategy = None
    if arrays:  # as before this function: folds on arrays train on one device
        if spec.strategy:
            log(f"note: train.strategy {spec.strategy} is not used on in-memory "
                "arrays")
        steps = -(-len(train[0]) // batch_size)
    else:
        strategy = strategy_for(spec.strategy, devices=spec.devices, log=log)
        train, val = divisible_batches(train, val, batch_size, log=log)
        steps = steps_per_epoch(train)

    precision = resolve_precision(spec.precision)
    if precision != "float32":
        log(f"precision: {precision} mixed (train.precision {spec.precision})")
    inputs = RunInputs(recipe=recipe, spec=spec, info=info, bundle=bundle, train=train, val=val,
                       strategy=strategy, steps=steps, batch_size=batch_size,
                       precision=precision, replicas=replica_count(strategy))
    if spec.class_weight and info.task.is_classification:
        inputs.class_weight = run_class_weights(spec.class_weight, bundle, train, log=log)
    mixer = _batch_mixer(spec, info, bundle, arrays)
    if mixer is not None:  # after the class weights, which count the unmixed labels
        inputs.train = mixer.mix(inputs.train)
        inputs.mixer = mixer  # for a caller that builds its own models (tune trials)
    if build:
        inputs.model = build_and_compile(spec, bundle, info, steps, strategy)
        inputs.model.dlzoo_batch_mixer = mixer  # for MixingSchedule (mix_off_epoch)
    return inputs


def _batch_mixer(spec: RunSpec, info, bundle, arrays: bool):
    """The `dlzoo.augmentation.BatchMixer` of `train.augment`'s mixup / cutmix, or None."""

    augment = spec.augment
    if not mixes_labels(augment):
        return None
    if not info.task.is_classification or info.input_kind != "image":
        raise ValueError(f"recipe {spec.name}: train.augment mixup / cutmix mix images and "
                         f"their class labels; {info.name} is {with_article(info.task)} model.")
    if arrays:
        raise ValueError(f"recipe {spec.name}: train.augment mixup / cutmix mix the "
                         "batches of a pipeline; --folds trains on in-memory arrays. Drop "
                         "mixup / cutmix for the cross-validation.")
    return BatchMixer(augment, bundle.num_classes, seed=spec.seed)


def run_class_weights(mode: str, bundle, train, *, log=print) -> dict[int, float]:
    """`train.class_weight` as Keras's `fit(class_weight=...)`: "balanced" weighs each class
    `n / (k * n_c)` (`dlzoo.metrics.class_weights`); logs the weights in one line."""

    weights = class_weights(class_counts(bundle, train), mode)
    log(f"class weights ({mode}): " + ", ".join(
        f"{c} {weights[i]:.3g}" for i, c in enumerate(bundle.class_names)))
    return weights


def class_weight_record(mode: str | None, weights: dict | None, class_names) -> dict | None:
    """The card's `training.class_weight`: the mode and each class's weight, by name."""
    if not weights:
        return None
    return {"mode": mode, "weights": {str(c): weights[i] for i, c in enumerate(class_names)}}


def build_and_compile(recipe: dict, bundle, info, steps: int, strategy=None):
    """`build_model` then `compile_model`, under `strategy`'s scope and `train.precision`'s
    dtype policy (the output layer in float32: `dlzoo.precision.float32_outputs`)."""

    spec = as_spec(recipe)
    with strategy_scope(strategy), precision_scope(spec.precision):
        model = float32_outputs(build_model(spec, bundle, info))
        compile_model(model, spec, info, steps)
    return model

# --- the recipe runner ------------------------------------------------------------------------

def run_recipe(recipe: dict, *, output="saved_models", resume: bool = False, verbose: int = 2,
               log=print, extra_callbacks=(), card_extra: dict | None = None,
               overwrite: bool = True) -> RunResult:
    """Trains, evaluates and saves a validated recipe (see `dlzoo.recipes.load_recipe`).

    Args:
        recipe: a validated recipe.
        output: folder that receives `NAME/` (the saved model) and `.runs/NAME/` (the
            resumable state while training).
        resume: continue the unfinished run of this recipe from its last finished epoch.
        verbose: Keras fit verbosity (2: one line per epoch).
        log: where progress lines go (`print`; pass `lambda *a: None` for silence).
        extra_callbacks: more Keras callbacks for `fit`.
        card_extra: more entries for the model card (an architecture search adds `search`).
        overwrite: replace a saved model already at `output/NAME` (the default, as `dlzoo.save`
            and `keras.Model.save`); `False` refuses it before anything is built or trained
            (`dlzoo train` passes its `--overwrite`; a resumed run may replace it).

    Raises:
        FileExistsError: `output/NAME` holds files, `overwrite` is False and this is no resume.
    """

    spec = as_spec(recipe)
    recipe = spec.recipe  # what the run folder stores, and a resume compares
    if spec.is_finetune:  # a fine-tune: the same run folder, lock, backups and card
        return _run_phased(spec, output=output, resume=resume, verbose=verbose, log=log,
                           overwrite=overwrite, extra_callbacks=extra_callbacks,
                           card_extra=card_extra)
    start = time.perf_counter()
    out = Path(output)
    lock = run_lock(out, spec.name, log=log).acquire()  # before anything is read or built
    try:
        if not (overwrite or resume):
            refuse_existing([out / spec.name])
        run = prepare_run(spec, log=log)
        run_dir = run_dir_for(out, run.name)
        done = prepare_run_dir(run_dir, recipe, resume, log=log)
        if resume:
            log(f"resuming {run.name} after epoch {done} of {spec.epochs} "
                f"({run_dir})")
        history = _train(run, run_dir, resume=resume, verbose=verbose, log=log,
                         extra_callbacks=extra_callbacks)
        report, metrics = evaluate_run(run, history)
        epochs_run = len(next(iter(history.values()), []))
        seconds = time.perf_counter() - start
        saved_dir = out / run.name
        card = run_card(run, metrics, saved_dir, training={
            "epochs_run": epochs_run, "steps_per_epoch": run.steps,
            "resumed_from_epoch": done if resume else None, "seconds": round(seconds, 1)})
        card.extra.update(card_extra or {})
        if run.bundle.details.get("multi_label"):  # --- multi-label: task, thresholds ---

            finish_card(card, report, [str(c) for c in run.bundle.class_names])
        saving.save(run.model, saved_dir, card, history=history or None, report=report)
        remove_run_dir(run_dir, lock)
    finally:
        lock.release()
    return RunResult(model=run.model, card=saving.read_card(saved_dir), report=report,
                     history=history, saved_dir=saved_dir, epochs_run=epochs_run,
                     resumed_from=done, seconds=seconds)


def _run_phased(spec: RunSpec, *, output, resume: bool, verbose: int, log, overwrite: bool,
                extra_callbacks=(), card_extra=None) -> RunResult:
    """A recipe with `phases`: `dlzoo.transfer.finetune.run_phased_recipe`, as a `RunResult`."""

    if extra_callbacks or card_extra:
        raise ValueError(f"recipe {spec.name}: a recipe with phases (a fine-tune) takes no "
                         "extra callbacks or card entries here; run it with `dlzoo train`.")
    result = run_phased_recipe(spec, output=output, resume=resume, overwrite=overwrite,
                               verbose=verbose, log=log)
    return RunResult(model=result.model, card=result.card, report=result.report,
                     history=result.history, saved_dir=result.saved_dir,
                     epochs_run=sum(result.phase_epochs), resumed_from=0,
                     seconds=result.seconds)


def _train(run: RunInputs, run_dir: Path, *, resume: bool, verbose: int, log,
           extra_callbacks=()) -> dict:
    """Fits (adversarially when the recipe says so) unless a resumed run had finished; returns
    the per-epoch history (from the run's CSV log, which spans a resume)."""

    final_weights = run_dir / "final.weights.h5"
    train_data, callbacks = run.train, list(extra_callbacks)
    adversarial = run.spec.adversarial
    if adversarial:
        train_data = adversarial_batches(run.model, train_data, adversarial, run.bundle, run.steps)
        callbacks.append(train_data.callback)
        log(f"adversarial training: FGSM at epsilon {adversarial['epsilon']} on "
            f"{adversarial['ratio']:.0%} of each batch")
    fit_history = {}
    if resume and final_weights.exists() and _load_final(run.model, final_weights, log):
        pass  # training had finished; only saving was lost
    else:
        fit_history = fit(run.model, run.spec, train_data, run.val, run_dir, verbose=verbose,
                          extra_callbacks=callbacks, log=log,
                          class_weight=run.class_weight).history
        write_weights(run.model, final_weights)
    history_path = run_dir / "history.csv"
    return read_history(history_path) if history_path.exists() else dict(fit_history)


def _load_final(model, path: Path, log) -> bool:
    """Loads the finished run's weights; False (with a note, the file removed) when they are
    unreadable, so the resume continues from the backup instead."""
    try:
        if model.optimizer is not None and not model.optimizer.built:
            # its variables must exist, or load_weights skips the optimizer state (step count,
            # moments) and the saved model starts its next fit from scratch
            model.optimizer.build(model.trainable_variables)
        model.load_weights(path)
        return True
    except (OSError, ValueError, KeyError) as e:
        log(f"note: {path.name} is unreadable ({str(e).splitlines()[0]}); continuing from the "
            "last epoch backed up")
        path.unlink(missing_ok=True)
        return False


def evaluate_run(run: RunInputs, history: dict) -> tuple:
    """`(report, metrics)` of the trained model on the validation data: the classification
    report (classifiers), Keras's metrics otherwise, accuracy under FGSM after adversarial
    training, and the best epoch of the monitored metric."""

    model, val, spec = run.model, run.val, run.spec
    classifier = run.info.task.is_classification
    report, metrics = None, {}
    if classifier and val is not None:
        report = evaluate(model, val, class_names=run.bundle.class_names)
        metrics = summary_metrics(report)
    elif val is not None:
        values = model.evaluate(val, verbose=0, return_dict=True)
        metrics = {f"val_{k}": round(float(v), 6) for k, v in values.items()}
    task_metrics = _task_metrics(run.info.task)
    if task_metrics is not None and val is not None:
        metrics.update(task_metrics(model, run.bundle))
    adversarial = spec.adversarial
    if adversarial and val is not None and classifier:
        metrics["adversarial"] = robustness_metrics(model, val, run.bundle, adversarial)
    monitor = spec.callbacks.monitor
    if history.get(monitor):
        series = history[monitor]
        pick = max if "acc" in monitor or "f1" in monitor else min
        metrics["best_epoch"] = int(series.index(pick(series))) + 1
    return report, metrics


def _task_metrics(task: Task):
    """`fn(model, bundle) -> dict` of the figures a task's card reports beyond Keras's: a
    language model's perplexity against its baselines (dlzoo.generation), a recommender's error
    against the noise floor (dlzoo.recommendation)."""
    if task is Task.TEXT_GENERATION:
        return language_model_metrics
    if task is Task.RATING_PREDICTION:
        return rating_metrics
    return None


def run_card(run: RunInputs, metrics: dict, saved_dir: Path, *, training: dict,
             data: dict | None = None, name: str | None = None):
    """The `dlzoo.saving.ModelCard` of a recipe's trained model.

    Args:
        run: the run's inputs (recipe, model info, data).
        metrics: `evaluate_run`'s (or a fold's) figures.
        saved_dir: where the model is saved (the card's `path`).
        training: entries added to the card's `training` (epochs run, seconds, ...).
        data: entries added to the card's `data` (the folds of a cross-validation).
        name: the saved model's name (default the recipe's).
    """

    spec, info = run.spec, run.info
    phase = spec.phases[0]
    weights = class_weight_record(spec.class_weight, run.class_weight, run.bundle.class_names)
    seen = training_files_record(run.bundle)
    return ModelCard(
        name=name or spec.name,
        description=spec.description,
        model=info.name,
        model_args={k: (list(v) if isinstance(v, tuple) else v)
                    for k, v in (spec.model.args or {}).items()},
        task=info.task,
        preprocessing=info.preprocessing,
        preprocessing_where="model" if applied_mode(run.model) != "none" else "none",
        class_names=[str(c) for c in run.bundle.class_names],
        metrics=metrics,
        expect=spec.expect,
        data={**_bundle_dict(run.bundle), "recipe": spec.data.load_arguments(), **(data or {}),
              **({"training_files": seen} if seen and not (data or {}).get("folds") else {})},
        training={"optimizer": phase.optimizer, "learning_rate": phase.learning_rate,
                  "epochs": spec.epochs, "precision": run.precision,
                  "devices": run.replicas, "global_batch_size": run.batch_size,
                  **card_record(spec.switch_values(), batch_size=run.batch_size),
                  **training, "callbacks": dataclasses.asdict(spec.callbacks),
                  "phases": [{"train": p.train, "epochs": p.epochs,
                              "epochs_run": training.get("epochs_run"),
                              "learning_rate": p.learning_rate} for p in spec.phases],
                  **({"class_weight": weights} if weights else {})},
        seed=spec.seed,
        recipe=run.recipe,
        path=saved_dir.as_posix(),
    )


def _bundle_dict(bundle) -> dict:
    d = bundle.to_dict() if hasattr(bundle, "to_dict") else {}
    d.setdefault("source", bundle.source)
    d.setdefault("manifest_hash", getattr(bundle, "manifest_hash", None))
    d.setdefault("skipped", [list(s) for s in getattr(bundle, "skipped", [])])
    return d

# --- K-fold cross-validation (dlzoo.crossval) ---------------------------------------------------

@dataclasses.dataclass
class CVRunResult:
    """What `cross_validate_recipe` did: the per-fold result and where the model(s) went."""

    cv: object  # dlzoo.crossval.CVResult
    saved_dirs: list
    saved: str  # "best" or "all"
    seconds: float


def cross_validate_recipe(recipe: dict, folds: int, *, output="saved_models", save: str = "best",
                          verbose: int = 0, log=print, overwrite: bool = True) -> CVRunResult:
    """Trains one fresh model per fold and reports the mean and spread of the monitored metric.

    The recipe's train and validation splits are pooled and re-split into `folds` folds:
    stratified for independent samples; forward-chaining (train on the past, validate on what
    follows, never shuffled) for sequence and time-series models. Needs data that fits in memory:
    `digits`, `synthetic:NAME` or `folder:PATH` (`dlzoo.data.load_arrays`).

    Args:
        recipe: a validated recipe.
        folds: K >= 2.
        output: where the saved model(s) go.
        save: "best" (the best fold's model as `NAME/`) or "all" (`NAME-fold1/` ... `NAME-foldK/`).
        overwrite: replace saved models already there (the default, as `run_recipe`); False
            refuses them before any fold trains (`dlzoo train --folds` passes its --overwrite).

    Raises:
        FileExistsError: a folder the folds save to holds files and `overwrite` is False.
    """

    if save not in ("best", "all"):
        raise ValueError(f"save must be 'best' or 'all'; received {save!r}.")
    start = time.perf_counter()
    spec = as_spec(recipe)
    if not overwrite:
        refuse_existing([Path(output) / (f"{spec.name}-fold{i + 1}" if save == "all"
                                         else spec.name) for i in range(folds)])
    if spec.is_finetune:  # each fold runs the phases: head, then the unfrozen network
        with run_lock(output, spec.name, log=log):
            result = _cross_validate_phases(spec, folds, output=output, save=save,
                                            verbose=verbose, log=log, start=start)
        with contextlib.suppress(OSError):
            (Path(output) / ".runs").rmdir()
        return result
    info = model_info(spec.model.name)
    if not info.task.is_classification:
        raise ValueError(f"--folds reports classification accuracy; {info.name} is "
                         f"{with_article(info.task)} model.")
    with run_lock(output, spec.name, log=log):  # the folds' run folders are this run's
        result = _cross_validate(spec, folds, info, output=output, save=save,
                                 verbose=verbose, log=log, start=start)
    with contextlib.suppress(OSError):  # .runs/ once empty (another run may hold a lock there)
        (Path(output) / ".runs").rmdir()
    return result


def _cross_validate(spec: RunSpec, folds: int, info, *, output, save: str, verbose: int, log,
                    start: float) -> CVRunResult:
    bundle = load_array_data(spec, info, where="--folds")
    run = prepare_run(spec, build=False, arrays=True, bundle=bundle, log=log)
    parts = [run.train] + ([run.val] if run.val is not None else [])
    x, y = (np.concatenate([p[i] for p in parts]) for i in (0, 1))
    ordered = info.input_kind == "sequence" or info.task.is_sequence
    seed, out = spec.seed, Path(output)
    models = {}

    def train_fold(i, tr, va):
        model, report = _train_fold(run, i, (x[tr], y[tr]), (x[va], y[va]), out, verbose)
        models[i] = (model, report)
        log(f"fold {i + 1}/{folds}: {len(tr)} train, {len(va)} val, "
            f"val_accuracy {report.accuracy:.4f}")
        return {"val_accuracy": float(report.accuracy), "val_loss": float(report.loss)}

    cv = cross_validate(train_fold, y, folds, ordered=ordered, metric="val_accuracy", seed=seed)
    keep = range(folds) if save == "all" else [cv.best_fold]
    saved_dirs = []
    for i in keep:
        model, report = models[i]
        target = out / (f"{run.name}-fold{i + 1}" if save == "all" else run.name)
        run.model = model
        card = run_card(
            run, {**summary_metrics(report), "fold": i + 1, "cross_validation": cv.to_dict()},
            target, name=target.name,
            data={"folds": folds, "fold_kind": cv.kind},
            training={"saved": "all folds" if save == "all" else f"best fold ({i + 1})"})
        saving.save(model, target, card, report=report)
        saved_dirs.append(target)
    return CVRunResult(cv=cv, saved_dirs=saved_dirs, saved=save,
                       seconds=time.perf_counter() - start)


def _cross_validate_phases(spec: RunSpec, folds: int, *, output, save: str, verbose: int, log,
                           start: float) -> CVRunResult:
    """K-fold cross-validation of a fine-tune: each fold runs the spec's phases
    (`dlzoo.transfer.fine_tune`) on its own split of the pooled data, seed + fold; the best
    fold's model (or every fold's) is saved with the folds' figures in its card."""

    source, _, cfg = recipe_config(spec, output=output, verbose=verbose, log=log)
    shape = source_input_shape(source, cfg)  # read at the network's size, as fine_tune does
    data = dataclasses.replace(spec.data, image_size=spec.data.image_size or list(shape[:2]),
                               color_mode=spec.data.color_mode or color_mode_for(shape[2]))
    bundle = load_array_data(spec.replace(data=data), None, where="--folds")
    log(describe_data(bundle))
    parts = [bundle.train] + ([bundle.val] if bundle.val is not None else [])
    x, y = (np.concatenate([p[i] for p in parts]) for i in (0, 1))
    out, results = Path(output), {}

    def train_fold(i, tr, va):
        fold = dataclasses.replace(bundle, train=(x[tr], y[tr]), val=(x[va], y[va]))
        fold = batch_bundle(fold, batch_size=spec.data.batch_size, seed=spec.seed + i)
        result = fine_tune(source, fold, dataclasses.replace(
            cfg, out=None, seed=spec.seed + i, cache_dir=None, name=spec.name))
        results[i] = result
        report = result.report
        log(f"fold {i + 1}/{folds}: {len(tr)} train, {len(va)} val, "
            f"val_accuracy {report.accuracy:.4f}")
        return {"val_accuracy": float(report.accuracy), "val_loss": float(report.loss)}

    cv = cross_validate(train_fold, y, folds, ordered=False, metric="val_accuracy",
                        seed=spec.seed)
    saved_dirs = []
    for i in range(folds) if save == "all" else [cv.best_fold]:
        result = results[i]
        target = out / (f"{spec.name}-fold{i + 1}" if save == "all" else spec.name)
        card = dict(result.card)
        card["name"] = target.name
        card["metrics"] = {**card.get("metrics", {}), "fold": i + 1,
                           "cross_validation": cv.to_dict()}
        card["data"] = {**card.get("data", {}), "folds": folds, "fold_kind": cv.kind}
        card["training"] = {**card.get("training", {}), "saved": "all folds" if save == "all"
                            else f"best fold ({i + 1})"}
        saving.save(result.model, target, card, history=result.history or None,
                    report=result.report)
        saved_dirs.append(target)
    return CVRunResult(cv=cv, saved_dirs=saved_dirs, saved=save,
                       seconds=time.perf_counter() - start)


def _train_fold(run: RunInputs, i: int, train, val, out: Path, verbose: int):
    """One fold: a fresh model (seed + fold), fitted on `train` arrays, evaluated on `val`."""
    import keras

    spec = run.spec
    keras.utils.set_random_seed(spec.seed + i)
    steps = -(-len(train[0]) // run.batch_size)
    model = build_and_compile(spec, run.bundle, run.info, steps, run.strategy)
    run_dir = run_dir_for(out, f"{run.name}-fold{i + 1}")
    prepare_run_dir(run_dir, run.recipe, resume=False, log=lambda *a: None)
    weights = None
    if spec.class_weight:
        weights = class_weights(class_counts(run.bundle, train), spec.class_weight)
    try:  # a fold's run folder is scratch: a cross-validation does not resume
        fit(model, spec, train, val, run_dir, verbose=verbose, class_weight=weights)
        report = evaluate(model, val, class_names=run.bundle.class_names)
    finally:
        remove_run_dir(run_dir)
    return model, report
