"""The one shape every dlzoo data loader returns, and the checks every loader makes first.

`DataInfo` is what a model card needs to know about a data set: its classes, the shape of one
example, where it came from and the hash of exactly what was read. `DataBundle` is a `DataInfo`
with the data: `train` and `val` are batched `tf.data` datasets from `dlzoo.data.load`, `(x, y)`
numpy arrays from `dlzoo.data.load_arrays` (`val` is None when nothing is held out).
`dlzoo.data.folders.FolderInfo` is a `DataInfo` with the folder's file lists.

    >>> from dlzoo.data import load_arrays
    >>> data = load_arrays("digits", image_size=(16, 16))
    >>> x, y = data.train
    >>> data.num_classes, data.to_dict()["manifest_hash"]

Nothing here needs TensorFlow.
"""

from __future__ import annotations

import dataclasses

__all__ = ["DataBundle", "DataInfo", "reject_unexpected", "require_tensorflow"]


@dataclasses.dataclass(kw_only=True)
class DataInfo:
    """What a data set holds and where it came from, as a model card records it."""

    class_names: list[str]  # label i is class_names[i]
    num_classes: int
    input_shape: tuple  # shape of one example's x
    source: str  # "digits", "mnist", "folder:/path", "synthetic:shapes", ...
    manifest_hash: str  # dlzoo.data.manifest: the files or arrays read
    skipped: list[tuple[str, str]] = dataclasses.field(default_factory=list)  # (file, reason)
    value_range: str = "0-255"  # "0-255" for images, "raw" otherwise
    details: dict = dataclasses.field(default_factory=dict)  # source-specific (split sizes, ...)

    def metadata(self) -> dict:
        """The `DataInfo` fields as keyword arguments, e.g. for `DataBundle(train=..., val=...,
        **info.metadata())`; the lists and the dict are copies."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(DataInfo)}
        out.update(class_names=list(self.class_names), skipped=list(self.skipped),
                   details=dict(self.details))
        return out

    def to_dict(self) -> dict:
        """JSON-able summary for a model card's `data` section (`details` merged in)."""
        return {
            "source": self.source,
            "class_names": list(self.class_names),
            "num_classes": self.num_classes,
            "input_shape": list(self.input_shape),
            "manifest_hash": self.manifest_hash,
            "skipped": [list(s) for s in self.skipped],
            "value_range": self.value_range,
            **self.details,
        }


@dataclasses.dataclass(kw_only=True)
class DataBundle(DataInfo):
    """Train/validation data and what a model card needs to know about them.

    `train`/`val`: batched `tf.data.Dataset`s of `(x, y)` (from `load`) or `(x, y)` numpy arrays
    (from `load_arrays`); `val` is None when there is no validation split.
    """

    train: object
    val: object = None
    # image folders: {"train": [...], "val": [...]} relative paths in the order the unshuffled
    # pipelines yield them (what `dlzoo evaluate` names its top losses by), and "sha256":
    # {relative path: content sha256}; not in a card
    files: dict | None = dataclasses.field(default=None, repr=False)


def reject_unexpected(kwargs: dict, source: str) -> None:
    """TypeError naming the keyword arguments a loader was given but does not take."""
    if kwargs:
        raise TypeError(f"unexpected argument(s) for {source!r}: {', '.join(sorted(kwargs))}.")


def require_tensorflow(what: str):
    """The `tensorflow` module; ImportError saying what needs it and what works without it."""
    try:
        import tensorflow as tf
    except ImportError:
        raise ImportError(
            f"{what} builds tf.data pipelines and needs TensorFlow (pip install \"dlzoo[tf]\"); "
            "without it digits, synthetic:NAME and folder:PATH load with loader='pydataset'."
        ) from None
    return tf
