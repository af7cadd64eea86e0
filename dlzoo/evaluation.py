"""Classifier evaluation: accuracy, per-class precision / recall / F1, confusion matrix, plots.

    >>> from dlzoo.evaluation import evaluate
    >>> report = evaluate(model, bundle.val, class_names=bundle.class_names)
    >>> report.accuracy, report.confusion
    >>> report.plot_confusion_matrix("confusion_matrix.png")

`evaluate_saved_model` is `dlzoo evaluate` in Python: a saved model on a data source, with
report.json, the confusion matrix and, on request, accuracy under attack; `predict_files` is
`dlzoo predict`.

The metrics come from `sklearn.metrics` and the confusion matrix is drawn by its
`ConfusionMatrixDisplay` (`dlzoo.plots`).
"""

from __future__ import annotations

import dataclasses
import json
import os

import numpy as np

from dlzoo.data.datasets import load as load_data
from dlzoo.data.images import color_mode_for
from dlzoo.data.labelfile import csv_source, is_label_file, parse_csv_source
from dlzoo.data.manifest import content_digest
from dlzoo.interpretation import interpret, predict_keeping_worst
from dlzoo.multilabel import (
    card_thresholds,
    has_sigmoid_head,
    is_multi_label_task,
    labels_above,
    multilabel_report,
)

# The plots live in dlzoo.plots; imported here too, where saving and training have found them.
from dlzoo.plots import plot_confusion_matrix, plot_history, read_history
# Running a model over inputs, shared with dlzoo.explain and dlzoo.interpretation (public here too)
from dlzoo.predicting import as_probabilities as _as_probabilities
from dlzoo.predicting import labels_of as _labels
from dlzoo.predicting import predicted_batches, read_images
from dlzoo.saving import folder_name, read_card
from dlzoo.saving import load as load_model
from dlzoo.tta import TTA, tta_probabilities
from dlzoo.tasks import Task

__all__ = [
    "FilePredictions",
    "Report",
    "SavedModelEvaluation",
    "classification_report",
    "is_training_file",
    "evaluate",
    "evaluate_saved_model",
    "plot_confusion_matrix",
    "plot_history",
    "predict_dataset",
    "predict_files",
    "read_history",
    "read_images",
    "summary_metrics",
    "top_k",
    "training_digests",
    "tta_report",
]


@dataclasses.dataclass
class Report:
    """What `evaluate` measured on one data set.

    Attributes:
        accuracy: fraction of samples whose top class is right.
        loss: mean cross-entropy of the predicted probabilities (what Keras reports as loss).
        class_names: names in label order.
        precision, recall, f1: per class, in label order.
        support: samples per class.
        confusion: `confusion[i, j]` counts samples of class i predicted as j.
    """

    accuracy: float
    loss: float
    class_names: list
    precision: list
    recall: list
    f1: list
    support: list
    confusion: np.ndarray

    @property
    def num_samples(self) -> int:
        return int(sum(self.support))

    @property
    def balanced_accuracy(self) -> float:
        """Mean recall over the classes present (scikit-learn's `balanced_accuracy_score`)."""
        present = [r for r, s in zip(self.recall, self.support) if s > 0]
        return float(np.mean(present)) if present else float("nan")

    @property
    def majority_class(self) -> str | None:
        """The most frequent class among the samples (the first of equals)."""
        return str(self.class_names[int(np.argmax(self.support))]) if self.num_samples else None

    @property
    def majority_baseline(self) -> float:
        """The accuracy of always answering `majority_class`: what a model must beat."""
        return max(self.support) / self.num_samples if self.num_samples else float("nan")

    @property
    def beats_baseline(self) -> bool:
        """Whether accuracy is above `majority_baseline` (a tie is not beating it)."""
        return self.accuracy > self.majority_baseline + 1e-9

    def to_dict(self) -> dict:
        """JSON-ready: the summary figures and a per-class table."""
        per_class = {
            name: {
                "precision": round(float(p), 6),
                "recall": round(float(r), 6),
                "f1": round(float(f), 6),
                "support": int(s),
            }
            for name, p, r, f, s in zip(
                self.class_names, self.precision, self.recall, self.f1, self.support
            )
        }
        return {
            "accuracy": round(self.accuracy, 6),
            "loss": round(self.loss, 6),
            "macro_precision": round(float(np.mean(self.precision)), 6),
            "macro_recall": round(float(np.mean(self.recall)), 6),
            "macro_f1": round(float(np.mean(self.f1)), 6),
            "balanced_accuracy": round(self.balanced_accuracy, 6),
            "majority_baseline": round(self.majority_baseline, 6),
            "majority_class": self.majority_class,
            "samples": self.num_samples,
            "per_class": per_class,
            "confusion_matrix": self.confusion.tolist(),
        }

    def table(self, title: str = "per-class metrics"):
        """A `rich.table.Table` of the per-class figures, with accuracy in the caption."""
        from rich.table import Table

        table = Table(
            title=title,
            caption=f"accuracy {self.accuracy:.4f} on {self.num_samples} samples, "
            f"loss {self.loss:.4f}",
        )
        table.add_column("class")
        for col in ("precision", "recall", "f1", "support"):
            table.add_column(col, justify="right")
        for name, p, r, f, s in zip(
            self.class_names, self.precision, self.recall, self.f1, self.support
        ):
            table.add_row(str(name), f"{p:.3f}", f"{r:.3f}", f"{f:.3f}", str(int(s)))
        return table

    def plot_confusion_matrix(self, path, title: str | None = None) -> str:
        return plot_confusion_matrix(self.confusion, self.class_names, path, title=title)


def predict_dataset(model, data) -> tuple[np.ndarray, np.ndarray]:
    """Runs `model` over labelled data in one pass; returns `(labels, probabilities)`.

    `data` is a `tf.data.Dataset` (or any iterable) of `(x, y)` batches, or a tuple of arrays
    `(x, y)`. One pass over the batches keeps labels and predictions aligned even if the data
    set reshuffles on each iteration.
    """
    if isinstance(data, tuple) and len(data) == 2:
        x, y = data
        return _labels(y), _as_probabilities(model.predict(x, verbose=0))
    labels, probs = [], []
    for _, yb, pb in predicted_batches(model, data):
        labels.append(yb)
        probs.append(pb)
    if not labels:
        raise ValueError("evaluate: the data set is empty; there is nothing to evaluate.")
    return np.concatenate(labels), _as_probabilities(np.concatenate(probs))


def classification_report(y_true, probabilities, class_names=None) -> Report:
    """Builds a `Report` from integer labels and predicted class probabilities."""
    from sklearn.metrics import (
        accuracy_score,
        confusion_matrix,
        precision_recall_fscore_support,
    )

    y_true = np.asarray(y_true).astype(int).reshape(-1)
    probs = _as_probabilities(probabilities)
    n = probs.shape[1]
    if class_names is None:
        class_names = [str(i) for i in range(n)]
    class_names = [str(c) for c in class_names]
    if len(class_names) != n:
        raise ValueError(
            f"evaluate: the model predicts {n} classes but {len(class_names)} class names were "
            f"given ({class_names[:5]}...). Evaluate with data that has the model's classes."
        )
    if y_true.size and (y_true.min() < 0 or y_true.max() >= n):
        raise ValueError(
            f"evaluate: labels range over {y_true.min()}..{y_true.max()} but the model has {n} "
            "classes. The data's classes do not match the model's."
        )
    y_pred = probs.argmax(axis=1)
    labels = list(range(n))
    p, r, f, s = precision_recall_fscore_support(
        y_true, y_pred, labels=labels, zero_division=0
    )
    # Clipped at Keras's epsilon (1e-7), so the figure is the loss Keras reports;
    # sklearn.metrics.log_loss clips at machine epsilon and would differ on confident mistakes.
    picked = np.clip(probs[np.arange(len(y_true)), y_true], 1e-7, 1.0)
    return Report(
        accuracy=float(accuracy_score(y_true, y_pred)) if y_true.size else float("nan"),
        loss=float(-np.mean(np.log(picked))),
        class_names=class_names,
        precision=[float(v) for v in p],
        recall=[float(v) for v in r],
        f1=[float(v) for v in f],
        support=[int(v) for v in s],
        confusion=confusion_matrix(y_true, y_pred, labels=labels),
    )


def evaluate(model, data, class_names=None, thresholds=None) -> Report:
    """Evaluates a classifier on labelled data (see `predict_dataset`) and returns a `Report`.

    A multi-label model (a sigmoid `predictions` head) on multi-hot label rows gives a
    `dlzoo.multilabel.MultiLabelReport` instead, at `thresholds` per label (default: chosen on
    this data to maximise each label's F1); one-hot rows for a softmax model are their classes.

    Example:
        >>> report = evaluate(model, (x_val, y_val), class_names=["cat", "dog"])
        >>> print(report.accuracy)
    """
    y_true, probs = predict_dataset(model, data)
    if y_true.ndim == 2 and has_sigmoid_head(model):
        return multilabel_report(y_true, probs, class_names, thresholds)
    if y_true.ndim == 2:  # one-hot (or mixed, soft) labels of a single-label model: the class
        y_true = y_true.argmax(axis=1)
    return classification_report(y_true, probs, class_names)


def summary_metrics(report: Report, prefix: str = "val_") -> dict:
    """The figures a card's `metrics` keeps from a `Report`: accuracy, loss, balanced accuracy,
    macro-F1, the majority-class baseline (and its class), whether the model beats it, the sample
    count, each named `prefix + name`; then `per_class` and `confusion_matrix`."""
    d = report.to_dict()
    if d.get("task") == Task.MULTI_LABEL_CLASSIFICATION:  # dlzoo.multilabel.MultiLabelReport
        out = {f"{prefix}{k}": d[k] for k in ("accuracy", "loss", "mean_average_precision",
                                              "macro_f1", "micro_f1", "samples")}
        out.update(per_class=d["per_class"], confusion_matrix=d["confusion_matrix"])
        return out
    out = {f"{prefix}{k}": d[k] for k in ("accuracy", "loss", "balanced_accuracy", "macro_f1",
                                          "majority_baseline", "majority_class")}
    out[f"{prefix}beats_majority_baseline"] = report.beats_baseline
    out[f"{prefix}samples"] = d["samples"]
    out.update(per_class=d["per_class"], confusion_matrix=d["confusion_matrix"])
    return out


def top_k(probabilities, class_names, k: int = 3) -> list[list[tuple[str, float]]]:
    """For each row of probabilities, the `k` most likely `(class name, probability)` pairs."""
    probs = _as_probabilities(probabilities)
    k = max(1, min(int(k), probs.shape[1]))
    order = np.argsort(-probs, axis=1, kind="stable")[:, :k]
    return [[(str(class_names[j]), float(row[j])) for j in idx] for row, idx in zip(probs, order)]


# --- reading files for prediction ---------------------------------------------------------------


@dataclasses.dataclass
class FilePredictions:
    """What `predict_files` found: `rows` `[(path, [(class, probability)])]`, `skipped`
    `[(path, reason)]`; with test-time augmentation `rows` are the averaged views' figures,
    `plain` the same rows without it and `tta` the `dlzoo.tta.TTA` used (else None)."""

    rows: list
    skipped: list
    plain: list | None = None
    tta: object = None
    multi_label: bool = False  # rows hold every label at or above its threshold, not the top k


def image_paths(paths) -> list[str]:
    """`paths` with each folder replaced by the files under it, recursively (sorted; hidden
    entries left out; symbolic links to folders not followed).

    Every file is listed whatever its name: `read_images` tells an image by its header, so a
    phone's `IMG_0001.HEIC` or a JPEG saved as `photo.jpeg.bak` is read, and a file that is not
    an image is skipped by name with the reason, never silently passed over.
    """
    out = []
    for path in map(os.fspath, paths):
        if not os.path.isdir(path):
            out.append(path)
            continue
        found = []
        for folder, dirs, files in os.walk(path):
            dirs[:] = [d for d in dirs if not d.startswith(".")]
            found += [os.path.join(folder, f) for f in files if not f.startswith(".")]
        out += sorted(found)
    return out


def predict_files(model_dir, paths, *, k: int = 3, batch_size: int = 64,
                  tta=None) -> FilePredictions:
    """The `k` most likely classes of each image file, by the saved model at `model_dir`
    (what `dlzoo predict` prints).

    Files are read as `read_images` reads them; a file that is not an image is skipped and named.
    A folder stands for every file under it, recursively (`image_paths`): the ones that are not
    images are skipped by name, with the reason.

    A multi-label model (its card's task "multi_label_classification") gives every label whose
    probability is at or above the label's threshold in the card, most likely first (`k` does not
    apply; a file may get none).

    tta: a `dlzoo.tta.TTA` (or its `--tta` words, "flip,crops=5") to average the model's
        probabilities over flipped and cropped views of each image (default None: the image
        alone); `plain` then holds the figures without it.

    Returns:
        `FilePredictions`: `rows` `[(path, [(class name, probability), ...])]` for the files read,
        `skipped` `[(path, reason)]` for the others.

    Example:
        >>> for path, top in predict_files("saved_models/lenet5-digits", ["7.png"]).rows:
        ...     print(path, top[0])
    """
    tta = _tta_spec(tta)
    card = read_card(model_dir)
    model = load_model(model_dir, compile=False)
    _require_images(card, tta)
    images, kept, skipped = read_images(image_paths(paths), card["input_shape"])
    if not kept:
        return FilePredictions(rows=[], skipped=skipped, tta=tta,
                               multi_label=is_multi_label_task(card.get("task")))
    if is_multi_label_task(card.get("task")):  # every label at or above its card threshold
        thresholds = card_thresholds(card)

        def pick(p):
            return labels_above(p, card["class_names"], thresholds)
    else:
        def pick(p):
            return top_k(p, card["class_names"], k=k)
    probs = model.predict(images, verbose=0, batch_size=batch_size)
    rows = list(zip(kept, pick(probs)))
    multi = is_multi_label_task(card.get("task"))
    if tta is None:
        return FilePredictions(rows=rows, skipped=skipped, multi_label=multi)
    averaged = tta_probabilities(model, images, tta, batch_size=batch_size)
    return FilePredictions(rows=list(zip(kept, pick(averaged))), skipped=skipped, plain=rows,
                           tta=tta, multi_label=multi)


def _tta_spec(tta):
    """A `dlzoo.tta.TTA` from one or its `--tta` words; None stays None."""
    if tta is None or isinstance(tta, TTA):
        return tta
    if isinstance(tta, str):
        return TTA.parse(tta)
    raise TypeError(f"tta must be a dlzoo.tta.TTA, words such as 'flip,crops=5', or None; "
                    f"received {type(tta).__name__}")


def _require_images(card: dict, tta) -> None:
    """ValueError when test-time augmentation is asked of a model that does not take images."""
    if tta is not None and len(card.get("input_shape") or ()) != 3:
        raise ValueError(f"--tta flips and crops images; {card.get('name')} takes inputs of shape "
                         f"{card.get('input_shape')}, not images. Drop --tta.")


def tta_report(model, parts, to_model, classes, tta, *, batch_size=None, thresholds=None):
    """The `Report` of `model` on the labelled batches of `parts` (labels mapped to the model's
    classes by `to_model`) with its probabilities averaged over `tta`'s views (`dlzoo.tta`);
    for multi-label data a `MultiLabelReport` at `thresholds`."""
    labels, probs = [], []
    for part in parts:
        batches = part.as_numpy_iterator() if hasattr(part, "as_numpy_iterator") else part
        for batch in batches:
            x, y = np.asarray(batch[0]), _labels(batch[1])
            labels.append(_to_model_columns(y, to_model, len(classes)) if y.ndim == 2
                          else to_model[y.astype("int64")])
            probs.append(_as_probabilities(tta_probabilities(model, x, tta, batch_size=batch_size)))
    if not labels:
        raise ValueError("evaluate: the data set is empty; there is nothing to evaluate.")
    if labels[0].ndim == 2:
        return multilabel_report(np.concatenate(labels), np.concatenate(probs), classes,
                                 thresholds)
    return classification_report(np.concatenate(labels), np.concatenate(probs), classes)


# --- a saved model on a data source: `dlzoo evaluate` ----------------------------------------------

SPLITS = ("val", "train", "all")


@dataclasses.dataclass
class SavedModelEvaluation:
    """What `evaluate_saved_model` measured and wrote.

    Attributes:
        report: the per-class `Report`, in the model's class order.
        model_name: the card's name.
        source: the data source evaluated ("digits", "folder:/abs/path", ...).
        split: "val", "train" or "all".
        manifest_hash: the data's manifest hash.
        out: the folder written.
        paths: what was written: "report" (report.json), "confusion_matrix", "reliability" (PNGs)
            and, for image models, "top_losses", "grad_cam" (convolutional networks) and, under
            attack, "adversarial" (PNGs).
        adversarial: None, or `{"method", "value_range", "samples", "rows"}` (rows as
            `dlzoo.robustness.accuracy_under_attack` gives them), as in report.json.
        skipped: the files the data loader skipped, `[(path, reason)]`.
        card_val_accuracy: the card's validation accuracy when this evaluation is on the same
            data and split as training (so the two figures should agree), else None.
        interpretation: report.json's "calibration" (ECE in 15 bins, reliability rows,
            temperature), "most_confused", "top_losses" (with each sample's `file` on an image
            folder) and "grad_cam" entries (`dlzoo.interpretation.interpret`).
        samples_in_split: the images of the split before any was left out.
        training_files_left_out: the images left out because the model trained on them
            (recognised by content, `training_files`); 0 when none or `include_training_files`.
        training_files_included: the images scored although the model trained on them (only
            with `include_training_files`).
        knows_training_files: whether the card names its training files (cards from before
            dlzoo recorded them do not, and nothing can be left out).
        tta: with test-time augmentation, report.json's "tta" entry: the views (`dlzoo.tta.TTA`
            `to_dict()`) and the figures with them (accuracy, loss, balanced_accuracy,
            macro_f1), beside the plain ones at the top of the report; else None.
    """

    report: Report
    model_name: str
    source: str
    split: str
    manifest_hash: str | None
    out: str
    paths: dict
    adversarial: dict | None = None
    skipped: list = dataclasses.field(default_factory=list)
    card_val_accuracy: float | None = None
    interpretation: dict = dataclasses.field(default_factory=dict)
    samples_in_split: int = 0
    training_files_left_out: int = 0
    training_files_included: int = 0
    knows_training_files: bool = False
    tta: dict | None = None

    @property
    def title(self) -> str:
        return f"{self.model_name} on {self.source} ({self.split})"

    def to_dict(self) -> dict:
        """The content of report.json."""
        out = {"model": self.model_name, "data": self.source, "split": self.split,
               "manifest_hash": self.manifest_hash, **self.report.to_dict()}
        if self.knows_training_files:
            out["training_files"] = {"left_out": self.training_files_left_out,
                                     "included": self.training_files_included,
                                     "samples_in_split": self.samples_in_split}
        out.update(self.interpretation)
        if self.tta is not None:
            out["tta"] = self.tta
        if self.adversarial is not None:
            out["adversarial"] = self.adversarial
        return out


def _source_of(data, labels=None) -> str:
    """A folder path is the source "folder:PATH", a CSV file (or a folder with `labels`, a CSV
    whose paths are relative to it) "csv:LABELS[?root=FOLDER]"; anything else is a source name as
    it is."""
    text = os.fspath(data)
    if labels is not None:
        return csv_source(labels, text)
    if is_label_file(text):
        return csv_source(text)
    return f"folder:{text}" if os.path.isdir(text) else text


def _same_source(a: str | None, b: str | None) -> bool:
    if a and b and a.startswith("folder:") and b.startswith("folder:"):
        return os.path.realpath(a[7:]) == os.path.realpath(b[7:])
    if a and b and a.startswith("csv:") and b.startswith("csv:"):
        (la, ra), (lb, rb) = parse_csv_source(a[4:]), parse_csv_source(b[4:])
        return (os.path.realpath(la) == os.path.realpath(lb)
                and os.path.realpath(ra or os.path.dirname(la))
                == os.path.realpath(rb or os.path.dirname(lb)))
    return a == b


def training_digests(card: dict) -> set:
    """The sha256 of each file the card's model trained on (`data.training_files`; empty for
    data that is not files and for cards written before dlzoo recorded them)."""
    return set(((card.get("data") or {}).get("training_files") or {}).get("sha256") or ())


def is_training_file(path, digests: set) -> bool:
    """Whether the file at `path` has the bytes of one the model trained on (False when it
    cannot be read)."""
    if not digests:
        return False
    try:
        with open(path, "rb") as f:
            return content_digest(f.read()) in digests
    except OSError:
        return False


class _Kept:
    """The labelled batches of `parts` (in order) with only the samples where `keep` is True;
    iterable any number of times, as `predicted_batches` and the attack iterate."""

    def __init__(self, parts, keep: np.ndarray):
        self.parts, self.keep = parts, keep

    def __iter__(self):
        offset = 0
        for part in self.parts:
            batches = part.as_numpy_iterator() if hasattr(part, "as_numpy_iterator") else part
            for batch in batches:
                x, y = np.asarray(batch[0]), np.asarray(batch[1])
                mask = self.keep[offset:offset + len(y)]
                offset += len(y)
                if mask.any():
                    yield x[mask], y[mask]


def _image_options(card: dict) -> dict:
    """The image size and colour mode a saved image model reads (none for other inputs)."""
    shape = card.get("input_shape") or []
    if len(shape) != 3:
        return {}
    return {"image_size": tuple(shape[:2]), "color_mode": color_mode_for(shape[2])}


def _model_labels(data_classes, model_classes) -> np.ndarray:
    """`to_model[i]`: the model's index of the data's i-th class, matched by name."""
    model_classes = [str(c) for c in model_classes]
    unknown = [str(c) for c in data_classes if str(c) not in model_classes]
    if unknown:
        raise ValueError(
            f"the data has class(es) the model does not know: {', '.join(unknown[:5])}; "
            f"the model's classes are {', '.join(model_classes[:10])}"
        )
    return np.array([model_classes.index(str(c)) for c in data_classes], dtype="int64")


def _check_options(split, adversarial, epsilons, max_samples) -> list | None:
    if split is not None and split not in SPLITS:
        raise ValueError(f"split must be one of {', '.join(SPLITS)} or None; received {split!r}")
    if adversarial is None:
        return None
    if adversarial != "fgsm":
        raise ValueError(f"adversarial must be 'fgsm' or None; received {adversarial!r}")
    from dlzoo.robustness import check_epsilon

    epsilons = [check_epsilon(e) for e in epsilons]
    if not epsilons:
        raise ValueError("epsilons needs at least one value, e.g. (0.01, 0.03, 0.1)")
    if max_samples is not None and max_samples < 0:
        raise ValueError(f"max_samples must be a positive count (or 0 / None for all); received "
                         f"{max_samples!r}")
    return epsilons


def evaluate_saved_model(model_dir, data, *, split: str | None = None, batch_size: int = 64,
                         out=None, adversarial: str | None = None,
                         epsilons=(0.01, 0.03, 0.1), max_samples: int | None = 2000,
                         top_losses: int = 9,
                         include_training_files: bool = False,
                         labels=None, tta=None) -> SavedModelEvaluation:
    """Evaluates the saved model at `model_dir` on `data` and writes its report: what
    `dlzoo evaluate` does.

    The data is read as the model was trained (its card's image size and colour mode, its
    recipe's validation split and seed), and its classes are matched to the model's by name, so a
    folder holding some of the model's classes, in any order, is evaluated correctly.

    Files the model was trained on are recognised by their content (the card's
    `data.training_files`, the sha256 of each), wherever they are now (a copy of the training
    folder, a folder mixing old and new images), and left out unless `include_training_files`:
    the figures are then those of images the model has not seen.

    Args:
        model_dir: a dlzoo saved model (`saved_models/NAME`).
        data: a folder of class subfolders, a label file (CSV of file,label rows, paths relative
            to its folder), or a source name ("digits", "folder:PATH", "csv:LABELS", "mnist").
        split: "val", "train" or "all"; default "val" for the data the model was trained on,
            else "all".
        batch_size: batch size for reading and predicting.
        out: folder for report.json and confusion_matrix.png; default `evaluations/NAME`.
        adversarial: "fgsm" to also measure accuracy under the fast gradient sign method
            (`dlzoo.robustness`), in the model's input range; None (default) not to.
        epsilons: attack strengths as fractions of the input range, each in [0, 1]; epsilon 0
            (the clean accuracy) is always measured first.
        max_samples: attack at most this many samples (a fixed random subset); 0 or None for all.
        top_losses: how many of the highest-loss samples to list and draw (0: none); Grad-CAM
            is drawn for the worst six of them.
        include_training_files: score the files the model was trained on too (default False:
            they are left out and counted in `training_files_left_out`).
        labels: a label file (CSV) labelling the images under the folder `data`, instead of
            class subfolders (default None).
        tta: a `dlzoo.tta.TTA` (or its words, "flip,crops=5"): also score the model with its
            probabilities averaged over flipped and cropped views of each image, reported beside
            the plain figures (report.json's "tta"); None (default) not to.

    Returns:
        `SavedModelEvaluation`; report.json holds `to_dict()`, written once.

    Raises:
        FileNotFoundError: `model_dir` is not a saved model.
        ValueError: the data has classes the model does not know, or no such split; every
            image is a file the model was trained on (without `include_training_files`); a bad
            option.

    Example:
        >>> result = evaluate_saved_model("saved_models/lenet5-digits", "digits", out="ev")
        >>> result.report.accuracy, result.paths["report"]
    """
    epsilons = _check_options(split, adversarial, epsilons, max_samples)
    if isinstance(top_losses, bool) or not isinstance(top_losses, int) or top_losses < 0:
        raise ValueError(f"top_losses must be a count, 0 or more; received {top_losses!r}")
    tta = _tta_spec(tta)
    card = read_card(model_dir)
    _require_images(card, tta)
    model = load_model(model_dir, compile=False)
    source = _source_of(data, labels)
    trained = card.get("data", {})
    same = _same_source(source, trained.get("source"))
    split = split or ("val" if same else "all")
    recipe_data = trained.get("recipe", {})
    # unshuffled, so that sample i of the evaluation is file i of the folder's lists
    # split "all" reads the whole folder as one side (no split to warn about)
    bundle = load_data(source, **_image_options(card), batch_size=batch_size,
                  validation_split=0.0 if split == "all" else recipe_data.get(
                      "validation_split", 0.2),
                  seed=recipe_data.get("seed", 0), shuffle=False)
    classes = [str(c) for c in card.get("class_names", [])]
    to_model = _model_labels(bundle.class_names, classes)
    parts = [p for p in {"val": [bundle.val], "train": [bundle.train],
                         "all": [bundle.train, bundle.val]}[split] if p is not None]
    if not parts:
        raise ValueError(f"the data has no {split!r} split to evaluate; try --split all "
                         "(split='all')")
    files = None
    if bundle.files is not None:
        files = {"val": bundle.files["val"], "train": bundle.files["train"],
                 "all": bundle.files["train"] + bundle.files["val"]}[split]
    seen, digests = training_digests(card), ((bundle.files or {}).get("sha256") or {})
    known = bool(seen and digests and files is not None)
    left_out = included = total = 0
    if known:
        trained_on = np.array([digests.get(f) in seen for f in files], bool)
        total = len(files)
        if include_training_files:
            included = int(trained_on.sum())
        elif trained_on.all():
            raise ValueError(
                f"{os.fspath(data)}: all {total} images of the {split!r} split are files "
                f"{card.get('name')} was trained on (recognised by their content), so none is "
                "held out to score; give images it has not seen, or pass "
                "--include-training-files (include_training_files=True) to score them anyway")
        elif trained_on.any():
            left_out = int(trained_on.sum())
            parts = [_Kept(parts, ~trained_on)]
            files = [f for f, t in zip(files, trained_on) if not t]
    folder = os.fspath(out) if out is not None else os.path.join(
        "evaluations", folder_name(model_dir))
    if is_multi_label_task(card.get("task")):  # --- several labels a file (dlzoo.multilabel)
        if epsilons is not None:
            raise ValueError("--adversarial measures a single-label classifier's accuracy; "
                             f"{card.get('name')} is multi-label. Drop --adversarial.")
        if not bundle.details.get("multi_label"):
            raise ValueError(
                f"{card.get('name')} is multi-label (several labels a file) but {os.fspath(data)} "
                "gives one class a file; evaluate it on a label file with a 'labels' column")
        report = multilabel_report(*_multi_hot_pass(model, parts, to_model, len(classes)),
                                   classes, card_thresholds(card))
        os.makedirs(folder, exist_ok=True)
        result = SavedModelEvaluation(
            report=report, model_name=card.get("name"), source=source, split=split,
            manifest_hash=bundle.manifest_hash, out=folder, paths={},
            skipped=list(bundle.skipped), samples_in_split=total, training_files_left_out=left_out,
            training_files_included=included, knows_training_files=known)
        return _write_report(result, model, parts, to_model, classes, tta, batch_size)
    keep = top_losses if len(model.input_shape) == 4 else 0
    labels, probs, worst = predict_keeping_worst(model, parts, to_model, keep)
    report = classification_report(labels, probs, classes)
    os.makedirs(folder, exist_ok=True)
    result = SavedModelEvaluation(
        report=report, model_name=card.get("name"), source=source, split=split,
        manifest_hash=bundle.manifest_hash, out=folder, paths={}, skipped=list(bundle.skipped),
        card_val_accuracy=(card.get("metrics", {}).get("val_accuracy")
                           if same and split == "val" and not left_out else None),
        samples_in_split=total, training_files_left_out=left_out,
        training_files_included=included, knows_training_files=known,
    )
    result.paths["confusion_matrix"] = report.plot_confusion_matrix(
        os.path.join(folder, "confusion_matrix.png"), title=result.title)
    result.interpretation, pngs = interpret(model, labels, probs, worst, report, folder=folder,
                                            title=result.title, model_name=card.get("model"),
                                            top_k=top_losses, files=files)
    result.paths.update(pngs)
    if epsilons is not None:
        result.adversarial, png = _attack(model, bundle.value_range, parts, to_model, classes,
                                          epsilons, max_samples, folder)
        if png is not None:
            result.paths["adversarial"] = png
    return _write_report(result, model, parts, to_model, classes, tta, batch_size)


def _write_report(result, model, parts, to_model, classes, tta, batch_size):
    """Adds the figures with test-time augmentation (when asked) and writes report.json."""
    if tta is not None:
        thresholds = getattr(result.report, "thresholds", None)  # multi-label: the card's
        with_tta = tta_report(model, parts, to_model, classes, tta, batch_size=batch_size,
                              thresholds=thresholds).to_dict()
        keys = ("accuracy", "loss", "macro_f1", "samples") + (
            ("mean_average_precision", "micro_f1") if thresholds is not None
            else ("balanced_accuracy",))
        result.tta = {**tta.to_dict(), **{k: with_tta[k] for k in keys}}
    if "confusion_matrix" not in result.paths:
        result.paths["confusion_matrix"] = result.report.plot_confusion_matrix(
            os.path.join(result.out, "confusion_matrix.png"), title=result.title)
    result.paths["report"] = os.path.join(result.out, "report.json")
    with open(result.paths["report"], "w") as f:
        json.dump(result.to_dict(), f, indent=2)
    return result


def _multi_hot_pass(model, parts, to_model, n) -> tuple[np.ndarray, np.ndarray]:
    """`(multi-hot labels in the model's label order, probabilities)` over `parts`' batches."""
    labels, probs = [], []
    for part in parts:
        for _, yb, pb in predicted_batches(model, part):
            labels.append(_to_model_columns(yb, to_model, n))
            probs.append(np.asarray(pb, np.float64))
    if not labels:
        raise ValueError("evaluate: the data set is empty; there is nothing to evaluate.")
    return np.concatenate(labels), np.concatenate(probs)


def _to_model_columns(y, to_model, n) -> np.ndarray:
    """Multi-hot rows in the data's label order as rows in the model's (`to_model[i]`: the
    model's index of the data's label i)."""
    y = np.asarray(y).reshape(len(y), -1)
    out = np.zeros((len(y), n), np.float32)
    out[:, to_model] = y
    return out


def _attack(model, value_range, parts, to_model, classes, epsilons, max_samples, folder
            ) -> tuple[dict, str | None]:
    """FGSM at each epsilon on (at most `max_samples` of) the labelled batches in `parts`, in
    the input scale the model takes (raw [0, 255] pixels for dlzoo's image models, whose
    preprocessing is inside the model). Returns report.json's "adversarial" entry and the path of
    adversarial.png, drawn for image models (else None)."""
    from dlzoo.robustness import (
        accuracy_under_attack,
        plot_adversarial_examples,
        value_range_of,
    )

    batches = [(np.asarray(x), np.asarray(y)) for part in parts for x, y in part]
    x = np.concatenate([b[0] for b in batches])
    y = to_model[np.concatenate([b[1] for b in batches]).astype("int64")]
    if max_samples and len(x) > max_samples:
        keep = np.sort(np.random.default_rng(0).choice(len(x), max_samples, replace=False))
        x, y = x[keep], y[keep]
    value_range = value_range_of(value_range, x)
    rows = accuracy_under_attack(model, x, y, [0.0] + [e for e in epsilons if e != 0],
                                 value_range=value_range)
    png = None
    if len(model.input_shape) == 4:
        png = plot_adversarial_examples(
            model, x, y, epsilon=max(epsilons), path=os.path.join(folder, "adversarial.png"),
            class_names=classes, value_range=value_range)
    return {"method": "fgsm", "value_range": list(value_range), "samples": len(x),
            "rows": rows}, png
