"""What a model does: the `Task` type, and the questions the code asks of a task, answered once.

A task is a `str` enum: a member *is* its string (`Task.AUTOENCODER == "autoencoder"`), so cards
(`card.json`), the catalog and recipes keep the plain string on disk, byte for byte, and JSON
writes it unchanged. Code never compares a task with a string literal: it asks the type
(`info.task.is_classification`, `task is Task.TEXT_GENERATION`); `tests/test_tasks.py` fails
when a comparison against a task's string creeps back into dlzoo/.

    >>> from dlzoo.tasks import Task
    >>> Task("image_classification").is_classification, Task.AUTOENCODER.default_loss()
    (True, 'mse')
    >>> Task.parse("image_clasification", where="register_model")
    ValueError: register_model: task must be one of image_classification, ...; received
    'image_clasification' (closest: image_classification).

This module imports nothing of dlzoo's (it sits at the bottom of the core layer).
"""

from __future__ import annotations

import difflib
import enum

__all__ = ["MODEL_TASKS", "Task", "with_article"]


def with_article(word) -> str:
    """`word` (a task, a name) after "a" or "an" as its first letter asks: "an
    image_classification", "a text_generation" (by the letter, which fits these words)."""
    text = str(word)
    return f"{'an' if text[:1].lower() in 'aeiou' else 'a'} {text}"


class Task(str, enum.Enum):
    """The task of a registered model (`ModelInfo.task`) or of a saved one (its card's `task`).

    `Task(value)` and `Task.parse(value)` take the string (or a member) and raise `ValueError`
    naming the allowed values and the closest one for anything else.
    """

    IMAGE_CLASSIFICATION = "image_classification"
    CLASSIFICATION = "classification"  # flat feature vectors
    TEXT_CLASSIFICATION = "text_classification"
    SEQUENCE_CLASSIFICATION = "sequence_classification"
    SEQUENCE_REGRESSION = "sequence_regression"
    AUTOENCODER = "autoencoder"
    GENERATIVE = "generative"  # a GAN: its own train_step, no targets
    TEXT_GENERATION = "text_generation"  # next-token language models (dlzoo.generation)
    RATING_PREDICTION = "rating_prediction"  # (user, item) id pairs -> a rating
    # a card's task only: an image classifier whose head became one sigmoid a label
    # (dlzoo.multilabel); no builder registers under it
    MULTI_LABEL_CLASSIFICATION = "multi_label_classification"

    # a member formats and prints as its string (as Python 3.11's StrEnum does), so messages,
    # README cards and tables read as before
    __str__ = str.__str__
    __format__ = str.__format__

    @classmethod
    def _missing_(cls, value):
        raise ValueError(_refusal(value, tuple(cls)))

    @classmethod
    def parse(cls, value, *, where: str = "", model: bool = False) -> Task:
        """`value` (a task's string or a member) as a member.

        Args:
            where: what is being read, put in front of the error (`"register_model"`, a card's
                path).
            model: accept only the tasks a builder registers under (`MODEL_TASKS`).

        Raises:
            ValueError: one line: `where`, the allowed values, what was received, the closest.
        """
        allowed = MODEL_TASKS if model else tuple(cls)
        found = value if isinstance(value, cls) else (
            cls._value2member_map_.get(value) if isinstance(value, str) else None)
        prefix = f"{where}: " if where else ""
        if found is not None and found not in allowed:
            raise ValueError(f"{prefix}task {found.value!r} is a saved model's task (a classifier "
                             f"trained on multi-label data), not a builder's; use "
                             f"{Task.IMAGE_CLASSIFICATION.value}. Allowed: "
                             f"{', '.join(t.value for t in allowed)}.")
        if found is None:
            raise ValueError(prefix + _refusal(value, allowed))
        return found

    # --- the questions ----------------------------------------------------------------------

    @property
    def is_classification(self) -> bool:
        """Predicts one class a sample (a softmax head, or one sigmoid unit for two classes)
        from labels the data gives. Multi-label models ask `is_multi_label`."""
        return self in (Task.IMAGE_CLASSIFICATION, Task.CLASSIFICATION,
                        Task.TEXT_CLASSIFICATION, Task.SEQUENCE_CLASSIFICATION)

    @property
    def is_multi_label(self) -> bool:
        """Several labels a sample, one sigmoid each (dlzoo.multilabel)."""
        return self is Task.MULTI_LABEL_CLASSIFICATION

    @property
    def is_sequence(self) -> bool:
        """Reads ordered sequences (time steps): folds and splits must keep their order."""
        return self in (Task.SEQUENCE_CLASSIFICATION, Task.SEQUENCE_REGRESSION)

    @property
    def has_own_data(self) -> bool:
        """Trains, predicts and evaluates on data of its own kind (a corpus of sentences,
        USER,ITEM rating pairs), not on image files: no test-time augmentation, no video, its own
        figures (perplexity, RMSE)."""
        return self in (Task.TEXT_GENERATION, Task.RATING_PREDICTION)

    @property
    def is_supervised(self) -> bool:
        """The data gives the targets (labels, values, next tokens, ratings). An autoencoder's
        targets are its inputs; a generative model has none."""
        return self not in (Task.AUTOENCODER, Task.GENERATIVE)

    @property
    def is_model_task(self) -> bool:
        """A builder may register under it (`register_model(task=...)`, `list_models(task=...)`)."""
        return self is not Task.MULTI_LABEL_CLASSIFICATION

    def default_loss(self, output_units: int | None = None) -> str | None:
        """The Keras loss name this task compiles with when none is given: sparse categorical
        cross-entropy for classifiers (binary cross-entropy for a single sigmoid unit,
        `output_units == 1`) and language models (a softmax over the vocabulary per step),
        binary cross-entropy for multi-label, None for a generative model (its `train_step` has
        its own losses), mean squared error for everything else."""
        if self.is_classification:
            return "binary_crossentropy" if output_units == 1 else "sparse_categorical_crossentropy"
        if self is Task.TEXT_GENERATION:
            return "sparse_categorical_crossentropy"
        if self.is_multi_label:
            return "binary_crossentropy"
        if self is Task.GENERATIVE:
            return None
        return "mse"

    def default_metrics(self) -> list[str]:
        """`["accuracy"]` for classifiers, none otherwise (`dlzoo.compiling` gives a multi-label
        model the share of right label decisions, a Keras `BinaryAccuracy` named accuracy)."""
        return ["accuracy"] if self.is_classification else []

    @property
    def default_objective(self) -> str:
        """What a search maximises or minimises by default: `"accuracy"` for classifiers,
        `"loss"` otherwise (the `val_` form when there is validation data)."""
        return "accuracy" if self.is_classification else "loss"


MODEL_TASKS = tuple(t for t in Task if t.is_model_task)


def _refusal(value, allowed) -> str:
    names = [t.value for t in allowed]
    close = difflib.get_close_matches(str(value).strip().lower(), names, n=1, cutoff=0.5)
    return (f"task must be one of {', '.join(names)}; received {value!r}"
            + (f" (closest: {close[0]})" if close else "") + ".")
