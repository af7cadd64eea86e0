"""The split of a scanned image folder: which file trains and which validates, and the
`FolderInfo` that records it. One split for both loaders, the tf.data pipeline
(`dlzoo.data.folders`) and the backend-neutral PyDataset (`dlzoo.data.neutral`), below both.

The sides come from `dlzoo.data.scan.split_sides` (stratified per class, decided per file by a hash
of its relative path and the seed, so adding files never moves an existing one).
"""

from __future__ import annotations

import dataclasses
import warnings

from dlzoo.data.bundle import DataInfo
from dlzoo.data.images import channels_for
from dlzoo.data.scan import ScanReport, split_sides

__all__ = ["FolderInfo", "require_training_images", "split_scan"]


@dataclasses.dataclass(kw_only=True)
class FolderInfo(DataInfo):
    """What `image_folder` used: classes, counts, the split, and every file it skipped and why.

    A `DataInfo` (class_names, num_classes, input_shape, source "folder:ROOT", manifest_hash over
    the files used, skipped, value_range, details) with the folder's own facts below.
    """

    root: str
    counts: dict[str, int]  # usable files per class
    train_files: list[str]  # relative paths, in the order of the unshuffled train set
    val_files: list[str]  # relative paths, in the order of the validation set
    empty_classes: list[str]  # class folders with no usable file (not in class_names)
    image_size: tuple[int, int]
    color_mode: str
    channels: int
    validation_split: float = 0.2
    seed: int = 0
    train_labels: list[int] = dataclasses.field(default_factory=list)
    val_labels: list[int] = dataclasses.field(default_factory=list)
    # relative path -> sha256 of the file's bytes, from the scan (not in a card: what a card
    # keeps of the training files is dlzoo.saving.training_files_record)
    digests: dict[str, str] = dataclasses.field(default_factory=dict, repr=False)

    @classmethod
    def from_scan(cls, report: ScanReport, order: dict[str, list[int]], *, image_size, color_mode,
                  validation_split, seed) -> FolderInfo:
        """The info of a scanned folder; `order[group]` are record indices in pipeline order."""
        label_of = {c: i for i, c in enumerate(report.class_names)}
        files = {g: [report.records[i].path for i in order[g]] for g in ("train", "val")}
        labels = {g: [label_of[report.records[i].label] for i in order[g]] for g in ("train", "val")}
        channels = channels_for(color_mode)
        return cls(
            class_names=report.class_names,
            num_classes=len(report.class_names),
            input_shape=(*image_size, channels),
            source=f"folder:{report.root}",
            manifest_hash=report.manifest_hash,
            skipped=list(report.skipped),
            value_range="0-255",
            details={"num_train": len(files["train"]), "num_val": len(files["val"]),
                     "empty_classes": report.empty_classes, "color_mode": color_mode},
            root=report.root,
            counts={c: n for c, n in report.counts.items() if n > 0},
            train_files=files["train"],
            val_files=files["val"],
            empty_classes=report.empty_classes,
            image_size=image_size,
            color_mode=color_mode,
            channels=channels,
            validation_split=validation_split,
            seed=seed,
            train_labels=labels["train"],
            val_labels=labels["val"],
            digests={r.path: r.sha256 for r in report.records},
        )

    def to_dict(self) -> dict:
        """JSON-able summary for a model card (file lists reduced to their counts)."""
        return {
            "root": self.root,
            "class_names": list(self.class_names),
            "num_classes": self.num_classes,
            "counts": dict(self.counts),
            "num_train": len(self.train_files),
            "num_val": len(self.val_files),
            "skipped": [list(s) for s in self.skipped],
            "empty_classes": list(self.empty_classes),
            "image_size": list(self.image_size),
            "color_mode": self.color_mode,
            "channels": self.channels,
            "manifest_hash": self.manifest_hash,
            "validation_split": self.validation_split,
            "seed": self.seed,
        }


def split_scan(report, kept, *, image_size, color_mode, validation_split, seed):
    """`(order, info)` of a scanned folder: each side's record indices in pipeline order and its
    `FolderInfo`; raises when a class or the training side is empty, warns about the gaps. One
    split for the tf.data and the PyDataset paths (dlzoo.data.neutral)."""
    report.require_classes()
    sides = split_sides([(r.path, r.label) for r in report.records], validation_split, seed)
    order = _split_order(report, kept, sides, validation_split)
    info = FolderInfo.from_scan(report, order, image_size=image_size, color_mode=color_mode,
                                validation_split=validation_split, seed=seed)
    _warn_about_gaps(report, order, validation_split)
    return order, info


def _split_order(report, kept, sides, validation_split) -> dict[str, list[int]]:
    """Record indices of each side, in the order its pipeline yields them (unshuffled)."""
    everything = kept["order"] if kept is not None else range(len(report.records))
    order = {g: [i for i in everything if sides[report.records[i].path] == g] for g in ("train", "val")}
    if not order["train"]:
        raise ValueError(
            f"{report.root}: every usable file fell in the validation split "
            f"(validation_split={validation_split}); lower validation_split or add images."
        )
    require_training_images(report.root, report.class_names,
                            [report.records[i].label for i in order["train"]])
    return order


def require_training_images(root, class_names, train_labels) -> None:
    """ValueError naming every class with usable images but none on the training side."""
    missing = sorted(set(class_names) - set(train_labels))
    if missing:
        raise ValueError(
            f"{root}: class(es) {', '.join(map(repr, missing))} have no training image (every "
            "usable file is in the validation split); a model cannot learn a class it never "
            "sees. Add images to the class, lower validation_split, or remove the folder."
        )


def _warn_about_gaps(report, order, validation_split) -> None:
    """Warns about class folders left out and an empty validation side."""
    if report.empty_classes:
        warnings.warn(
            f"{report.root}: class folder(s) with no usable image left out: "
            f"{', '.join(report.empty_classes)}", stacklevel=3,
        )
    if validation_split > 0 and not order["val"]:
        warnings.warn(
            f"{report.root}: no file fell in the validation split ({validation_split}); val is None",
            stacklevel=3,
        )
