"""Compile settings by task: the default loss and metrics, and the optimizer from a name.

Recipes (`dlzoo.training`), hypermodels (`dlzoo.tuning`) and fine-tuning (`dlzoo.transfer`) all
compile through `compile_for_task`, so a task's defaults are written once.

    >>> from dlzoo.compiling import compile_for_task
    >>> compile_for_task(model, "image_classification", optimizer="adam", learning_rate=1e-3)
"""

from __future__ import annotations

__all__ = [
    "CLASSIFICATION_TASKS",
    "compile_for_task",
    "default_loss",
    "default_metrics",
    "make_optimizer",
]

CLASSIFICATION_TASKS = (
    "image_classification",
    "classification",
    "text_classification",
    "sequence_classification",
)


def is_classification(task: str) -> bool:
    """Whether `task` (a `dlzoo.registry.TASKS` entry) predicts class labels."""
    return task in CLASSIFICATION_TASKS


def default_loss(task: str, output_units: int | None = None) -> str:
    """Sparse categorical cross-entropy for classifiers (binary cross-entropy for a single
    sigmoid unit, `output_units == 1`), mean squared error for everything else."""
    if is_classification(task):
        return "binary_crossentropy" if output_units == 1 else "sparse_categorical_crossentropy"
    return "mse"


def default_metrics(task: str) -> list[str]:
    """`["accuracy"]` for classifiers, none otherwise."""
    return ["accuracy"] if is_classification(task) else []


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


def compile_for_task(model, task: str, *, optimizer="adam", learning_rate=1e-3,
                     optimizer_args: dict | None = None, loss=None, metrics=None):
    """Compiles `model` for `task` and returns it.

    Args:
        model: a built Keras model.
        task: a `dlzoo.registry.TASKS` entry. A `"generative"` model (a GAN with its own
            `train_step`) is compiled with the optimizer only.
        optimizer: an optimizer name or instance.
        learning_rate: a float or schedule, used when `optimizer` is a name.
        optimizer_args: more arguments for a named optimizer.
        loss, metrics: None for the task's defaults (`default_loss`, `default_metrics`);
            metric names include dlzoo's `balanced_accuracy` and `macro_f1` (`dlzoo.metrics`).
    """
    if isinstance(optimizer, str):
        optimizer = make_optimizer(optimizer, learning_rate, **(optimizer_args or {}))
    if task == "generative":
        model.compile(optimizer=optimizer)
        return model
    if loss is None:
        loss = default_loss(task, model.output_shape[-1])
    if metrics is None:
        metrics = default_metrics(task)
    from dlzoo.metrics import resolve_metrics

    metrics = resolve_metrics(metrics)
    model.compile(optimizer=optimizer, loss=loss, metrics=metrics)
    return model
