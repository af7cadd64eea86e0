"""Compile settings by task: the default loss and metrics, and the optimizer from a name.

Recipes (`dlzoo.training`), hypermodels (`dlzoo.tuning`) and fine-tuning (`dlzoo.transfer`) all
compile through `compile_for_task`, so a task's defaults are written once.

    >>> from dlzoo.compiling import compile_for_task
    >>> compile_for_task(model, "image_classification", optimizer="adam", learning_rate=1e-3)
"""

from __future__ import annotations

from dlzoo.augmentation import mixes_labels
from dlzoo.switches import optimizer_arguments
from dlzoo.tasks import Task


__all__ = [
    "JAX_TRACEABLE_AUGMENTATION",
    "allow_jit",
    "compile_for_task",
    "default_loss",
    "default_metrics",
    "make_optimizer",
    "smoothed_loss",
]

MULTI_LABEL_TASK = Task.MULTI_LABEL_CLASSIFICATION  # a sigmoid head, binary cross-entropy


def has_sigmoid_head(model) -> bool:
    """Whether `model` ends in a Dense `predictions` layer of several sigmoid units."""
    import keras

    layer = _predictions(model)
    return (isinstance(layer, keras.layers.Dense) and int(layer.units) > 1
            and getattr(layer.activation, "__name__", None) == "sigmoid")


def _predictions(model):
    """The `predictions` layer of `model` or of a model inside it (a preprocessing wrapper)."""
    for layer in getattr(model, "layers", ()):
        if layer.name == "predictions":
            return layer
    for layer in getattr(model, "layers", ()):
        found = _predictions(layer) if hasattr(layer, "layers") else None
        if found is not None:
            return found
    return None


def is_classification(task: Task | str) -> bool:
    """`Task(task).is_classification`: whether `task` predicts one class label a sample."""
    return Task(task).is_classification


def default_loss(task: Task | str, output_units: int | None = None) -> str | None:
    """`Task(task).default_loss(output_units)`: the loss `task` compiles with by default."""
    return Task(task).default_loss(output_units)


def default_metrics(task: Task | str) -> list[str]:
    """`Task(task).default_metrics()`: `["accuracy"]` for classifiers, none otherwise."""
    return Task(task).default_metrics()


def make_optimizer(name: str, learning_rate=1e-3, **kwargs):
    """A fresh Keras optimizer of the class `keras.optimizers.get(name)` names.

    Args:
        name: a Keras optimizer name (`"adam"`, `"sgd"`, `"adamw"`, ...).
        learning_rate: a float or a `keras.optimizers.schedules.LearningRateSchedule`.
        **kwargs: the optimizer's own arguments (`momentum`, `weight_decay`, ...).

    Raises:
        ValueError: Keras does not know `name`.
    """
    import keras

    return type(keras.optimizers.get(name))(learning_rate=learning_rate, **kwargs)


# Keras marks its geometric image-augmentation layers `supports_jit = False`, a limit of
# TensorFlow's XLA (ImageProjectiveTransformV3 has no XLA kernel), and `Model.compile` then runs
# the *whole* model uncompiled on every backend: on JAX, op-by-op dispatch (7x slower for LeNet-5
# on 2 CPU cores). On JAX these layers are plain `keras.ops` (the affine warp is
# `jax.scipy.ndimage.map_coordinates`, the randomness a `SeedGenerator` whose state the JAX
# trainer threads through the jitted step), so they trace. Checked by
# tests/test_compiled_step.py for each class below: compiled, and still random per sample and
# per step. (RandomCrop is left out: its training-mode shape differs from its inference shape.)
JAX_TRACEABLE_AUGMENTATION = (
    "RandomTranslation",
    "RandomZoom",
    "RandomRotation",
    "RandomPerspective",
    "RandomShear",
)


def allow_jit(model):
    """On the JAX backend, marks `model`'s Keras augmentation layers that trace under `jax.jit`
    (`JAX_TRACEABLE_AUGMENTATION`) as jit-compatible, so that `compile(jit_compile="auto")`
    compiles the training, evaluation and prediction steps; and re-enables jit on a model that
    was compiled before (a model loaded with `compile=True`). On TensorFlow and PyTorch nothing
    changes (TensorFlow still traces a `tf.function` graph, without XLA for these layers).

    Returns:
        `model`, changed in place.
    """
    import keras

    if keras.backend.backend() != "jax":
        return model
    # `_flatten_layers` is what Keras's own `model_supports_jit` walks: nested models and the
    # sublayers of custom layers included.
    layers = list(model._flatten_layers(include_self=True))
    for layer in layers:
        if (type(layer).__name__ in JAX_TRACEABLE_AUGMENTATION
                and type(layer).__module__.startswith("keras.")):
            layer.supports_jit = True
    # A compiled model keeps the value compile() resolved, and a saved model the value of the
    # host it was trained on (False on a CPU-only TensorFlow host): recompute it for JAX.
    if (getattr(model, "compiled", False) and not model.run_eagerly and not model.jit_compile
            and all(layer.supports_jit for layer in layers)):
        model.jit_compile = True
        model.train_function = model.test_function = model.predict_function = None
    return model


def compile_for_task(model, task: Task | str, *, optimizer="adam", learning_rate=1e-3,
                     optimizer_args: dict | None = None, loss=None, metrics=None,
                     switches: dict | None = None):
    """Compiles `model` for `task` and returns it.

    Args:
        model: a built Keras model.
        task: a `dlzoo.tasks.Task` (or its string). A generative model (a GAN with its own
            `train_step`) is compiled with the optimizer only.
        optimizer: an optimizer name or instance.
        learning_rate: a float or schedule, used when `optimizer` is a name.
        optimizer_args: more arguments for a named optimizer.
        loss, metrics: None for the task's defaults (`default_loss`, `default_metrics`);
            metric names include dlzoo's `balanced_accuracy` and `macro_f1` (`dlzoo.metrics`).
        switches: training switches checked by `dlzoo.switches.check_switches` (label
            smoothing, EMA, weight decay, gradient accumulation), and `augment`: when it
            mixes labels (mixup / cutmix), the loss and `accuracy` take soft labels too.

    Raises:
        ValueError: `task` is no `Task`; a switch that does not fit (label smoothing on a task
            without a cross-entropy loss, an `optimizer_args` entry that contradicts a switch).
    """
    task = Task.parse(task, where="compile_for_task")
    switches = switches or {}
    if isinstance(optimizer, str):
        optimizer = make_optimizer(optimizer, learning_rate,
                                   **optimizer_arguments(switches, optimizer_args))
    if getattr(optimizer, "weight_decay", None):
        # no decay on biases and normalisation scales/offsets (1-D variables), as timm and
        # fastai do: decaying them only pulls activations towards zero
        optimizer.exclude_from_weight_decay(
            var_list=[v for v in model.weights if len(v.shape) <= 1])
    allow_jit(model)
    if task is Task.GENERATIVE:
        model.compile(optimizer=optimizer)
        return model
    # --- multi-label (dlzoo.multilabel): one sigmoid a label, binary cross-entropy. A classifier
    # whose head was made a sigmoid of several units (multi-label data) is one, whatever task
    # its caller names.
    if task.is_multi_label or (task.is_classification and has_sigmoid_head(model)):
        import keras

        # named "accuracy" (the share of right label decisions at 0.5), so the callbacks'
        # val_accuracy monitors find it
        model.compile(optimizer=optimizer, loss=loss or "binary_crossentropy",
                      metrics=metrics or [keras.metrics.BinaryAccuracy(name="accuracy")])
        return model
    soft = mixes_labels(switches.get("augment"))
    if switches.get("label_smoothing") or soft:  # mixed labels: a loss that takes soft ones
        loss = smoothed_loss(task, loss, switches.get("label_smoothing") or 0.0,
                             model.output_shape[-1])
    if loss is None:
        loss = task.default_loss(model.output_shape[-1])
    if metrics is None:
        metrics = task.default_metrics()
    from dlzoo.metrics import resolve_metrics

    metrics = resolve_metrics(metrics)
    if soft:
        from dlzoo.losses import SoftLabelAccuracy

        metrics = [SoftLabelAccuracy() if m in ("accuracy", "acc") else m for m in metrics]
    model.compile(optimizer=optimizer, loss=loss, metrics=metrics)
    return model


def smoothed_loss(task: Task | str, loss, label_smoothing: float, output_units: int | None):
    """The cross-entropy loss of `task` with `label_smoothing`: `dlzoo.losses.SmoothedCrossEntropy`
    for softmax classifiers (class-index or one-hot labels), Keras's `BinaryCrossentropy` for a
    single sigmoid unit.

    Raises:
        ValueError: `task` is no classification, or `loss` names a loss other than
            cross-entropy (label smoothing is defined for cross-entropy only).
    """
    import keras

    if not is_classification(task):
        raise ValueError(f"label_smoothing, mixup and cutmix apply to classifiers; this is a "
                         f"{task} model. Remove them.")
    name = loss if isinstance(loss, str) or loss is None else type(loss).__name__
    if name in (None, "sparse_categorical_crossentropy", "categorical_crossentropy",
                "SparseCategoricalCrossentropy", "CategoricalCrossentropy"):
        if output_units == 1:
            return keras.losses.BinaryCrossentropy(label_smoothing=label_smoothing)
        from dlzoo.losses import SmoothedCrossEntropy

        return SmoothedCrossEntropy(label_smoothing)
    if name in ("binary_crossentropy", "BinaryCrossentropy"):
        return keras.losses.BinaryCrossentropy(label_smoothing=label_smoothing)
    raise ValueError(f"label_smoothing, mixup and cutmix apply to cross-entropy losses; the loss "
                     f"is {name!r}. Remove them or the loss.")
