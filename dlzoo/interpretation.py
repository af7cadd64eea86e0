"""Where a classifier fails and whether its probabilities can be trusted: top losses, most-confused
pairs, calibration (expected calibration error, reliability diagram, temperature scaling).

    >>> from dlzoo.interpretation import expected_calibration_error, most_confused, top_losses
    >>> expected_calibration_error(labels, probabilities)          # 15 bins
    >>> most_confused(report.confusion, report.class_names)[:5]
    >>> top_losses(labels, probabilities, k=9)

fastai's `ClassificationInterpretation` (`plot_top_losses`, `most_confused`) is the model for the
first two. Calibration follows Guo, Pleiss, Sun, Weinberger. On calibration of modern neural
networks. ICML 2017 (arXiv:1706.04599): predictions are binned by confidence (the top
probability) into 15 equal-width bins on [0, 1]; ECE = sum over bins of |B|/n * |accuracy(B) -
confidence(B)|, and temperature scaling divides the logits by the one T > 0 that minimises the
negative log-likelihood.

`dlzoo evaluate` writes all of it (`dlzoo.evaluation.evaluate_saved_model`).
"""

from __future__ import annotations

import os

import numpy as np

from dlzoo.explain import _display, default_layer, grad_cam, overlay
from dlzoo.predicting import as_probabilities, predicted_batches

__all__ = [
    "CALIBRATION_BINS",
    "apply_temperature",
    "calibration",
    "expected_calibration_error",
    "fit_temperature",
    "interpret",
    "most_confused",
    "plot_reliability_diagram",
    "plot_top_losses",
    "predict_keeping_worst",
    "reliability_bins",
    "top_losses",
    "top_losses_table",
]

CALIBRATION_BINS = 15  # Guo et al. 2017's choice


def _check(y_true, probabilities) -> tuple[np.ndarray, np.ndarray]:

    probs = as_probabilities(probabilities)
    y = np.asarray(y_true).astype("int64").reshape(-1)
    if probs.ndim != 2 or len(probs) != len(y):
        raise ValueError(f"probabilities must be (N, classes) with one row per label; received "
                         f"{probs.shape} for {len(y)} labels")
    if y.size and (y.min() < 0 or y.max() >= probs.shape[1]):
        raise ValueError(f"labels must lie in 0..{probs.shape[1] - 1}; received "
                         f"{y.min()}..{y.max()}")
    return y, probs


def reliability_bins(y_true, probabilities, bins: int = CALIBRATION_BINS) -> list[dict]:
    """Predictions binned by confidence (top probability) into `bins` equal-width bins on [0, 1]
    (a confidence on an edge goes to the bin above it, 1.0 to the last).

    Returns:
        One dict per bin, low to high: `low`, `high`, `count`, `accuracy` and `confidence` (the
        bin's mean; None for an empty bin).
    """
    if isinstance(bins, bool) or not isinstance(bins, int) or bins < 1:
        raise ValueError(f"bins must be a positive integer; received {bins!r}")
    y, probs = _check(y_true, probabilities)
    conf = probs.max(axis=1)
    correct = probs.argmax(axis=1) == y
    which = np.minimum((conf * bins).astype("int64"), bins - 1)
    out = []
    for b in range(bins):
        sel = which == b
        n = int(sel.sum())
        out.append({"low": b / bins, "high": (b + 1) / bins, "count": n,
                    "accuracy": float(correct[sel].mean()) if n else None,
                    "confidence": float(conf[sel].mean()) if n else None})
    return out


def expected_calibration_error(y_true, probabilities, bins: int = CALIBRATION_BINS) -> float:
    """Expected calibration error (Guo et al. 2017): sum over confidence bins of
    `|B| / N * |accuracy(B) - mean confidence(B)|`, in [0, 1].

    Args:
        y_true: integer labels, shape (N,).
        probabilities: (N, classes) class probabilities (or (N, 1) sigmoid outputs).
        bins: equal-width confidence bins on [0, 1] (default 15).

    Example:
        >>> expected_calibration_error([0, 1], [[0.9, 0.1], [0.8, 0.2]])  # |1-.9|/2 + |0-.8|/2
        0.45
    """
    rows = reliability_bins(y_true, probabilities, bins)
    n = sum(r["count"] for r in rows)
    if not n:
        raise ValueError("expected_calibration_error: no predictions")
    return float(sum(r["count"] / n * abs(r["accuracy"] - r["confidence"])
                     for r in rows if r["count"]))


def _log_probs(probabilities) -> np.ndarray:

    return np.log(np.clip(as_probabilities(probabilities), 1e-12, 1.0))


def apply_temperature(probabilities, temperature: float) -> np.ndarray:
    """`softmax(log(p) / T)`: the probabilities with their logits divided by `temperature` (the
    same as dividing the model's logits, since log-softmax differs from them by a constant)."""
    z = _log_probs(probabilities) / float(temperature)
    z -= z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def fit_temperature(y_true, probabilities) -> float:
    """Temperature scaling (Guo et al. 2017): the T in [0.05, 20] that minimises the negative
    log-likelihood of `apply_temperature(probabilities, T)`; T > 1 softens an over-confident
    model. Fit it on held-out data, not on the data it will be judged on.
    """
    from scipy.optimize import minimize_scalar

    y, probs = _check(y_true, probabilities)
    logp = _log_probs(probs)

    def nll(log_t):
        z = logp / np.exp(log_t)
        z = z - z.max(axis=1, keepdims=True)
        return float(-np.mean(z[np.arange(len(y)), y] - np.log(np.exp(z).sum(axis=1))))

    found = minimize_scalar(nll, bounds=(np.log(0.05), np.log(20.0)), method="bounded",
                            options={"xatol": 1e-4})
    return float(np.exp(found.x))


def calibration(y_true, probabilities, bins: int = CALIBRATION_BINS) -> dict:
    """report.json's "calibration": `ece`, `bins`, the `reliability` rows, and the `temperature`
    that would minimise the NLL on this same data with the `ece_after_temperature` it gives (on
    the data it was fitted to: an optimistic figure, a hint of how much scaling could help)."""
    t = fit_temperature(y_true, probabilities)
    return {
        "ece": round(expected_calibration_error(y_true, probabilities, bins), 6),
        "bins": bins,
        "reliability": [{k: (round(v, 6) if isinstance(v, float) else v) for k, v in r.items()}
                        for r in reliability_bins(y_true, probabilities, bins)],
        "temperature": round(t, 4),
        "ece_after_temperature": round(expected_calibration_error(
            y_true, apply_temperature(probabilities, t), bins), 6),
    }


def plot_reliability_diagram(y_true, probabilities, path, *, bins: int = CALIBRATION_BINS,
                             title: str | None = None) -> str:
    """Reliability diagram: accuracy per confidence bin against the diagonal of perfect
    calibration, the gap shaded, with a histogram of confidences below; returns path."""
    from matplotlib.figure import Figure

    rows = reliability_bins(y_true, probabilities, bins)
    ece = expected_calibration_error(y_true, probabilities, bins)
    fig = Figure(figsize=(4.2, 5.0))
    top, bottom = fig.subplots(2, 1, gridspec_kw={"height_ratios": [3, 1]}, sharex=True)
    width = 1.0 / bins
    full = [r for r in rows if r["count"]]
    lows = [r["low"] for r in full]
    top.bar(lows, [r["accuracy"] for r in full], width=width, align="edge", color="tab:blue",
            edgecolor="black", linewidth=0.5, label="accuracy")
    top.bar(lows, [r["confidence"] - r["accuracy"] for r in full], bottom=[r["accuracy"]
            for r in full], width=width, align="edge", facecolor="none", hatch="///",
            edgecolor="tab:red", linewidth=0.5, label="gap to mean confidence")
    top.plot([0, 1], [0, 1], "--", color="gray", linewidth=1, label="perfect calibration")
    top.set_ylim(0, 1)
    top.set_xlim(0, 1)
    top.set_ylabel("accuracy")
    top.legend(loc="upper left", fontsize=7)
    top.set_title(title or "reliability diagram", fontsize=9)
    top.text(0.97, 0.05, f"ECE {ece:.3f} ({bins} bins)", ha="right", transform=top.transAxes,
             fontsize=8)
    bottom.bar([r["low"] for r in rows], [r["count"] for r in rows], width=width, align="edge",
               color="gray", edgecolor="black", linewidth=0.5)
    bottom.set_xlabel("confidence (top probability)")
    bottom.set_ylabel("count")
    fig.tight_layout()
    fig.savefig(os.fspath(path), dpi=80)
    return os.fspath(path)


# --- failures -----------------------------------------------------------------------------------


def most_confused(confusion, class_names, *, min_count: int = 1, limit: int | None = None
                  ) -> list[tuple[str, str, int]]:
    """The off-diagonal cells of a confusion matrix, largest first: `(true, predicted, count)`
    with `count >= min_count` (fastai's `most_confused`). Ties keep class order."""
    cm = np.asarray(confusion)
    pairs = [(str(class_names[i]), str(class_names[j]), int(cm[i, j]))
             for i in range(cm.shape[0]) for j in range(cm.shape[1])
             if i != j and cm[i, j] >= min_count]
    pairs.sort(key=lambda p: -p[2])
    return pairs[:limit] if limit is not None else pairs


def top_losses(y_true, probabilities, k: int = 9) -> tuple[np.ndarray, np.ndarray]:
    """The `k` samples with the highest cross-entropy `-log p(true class)`:
    `(indices, losses)`, highest first (probabilities clipped at 1e-7, as Keras does)."""
    y, probs = _check(y_true, probabilities)
    losses = 0.0 - np.log(np.clip(probs[np.arange(len(y)), y], 1e-7, 1.0))  # 0.0, not -0.0
    order = np.argsort(-losses, kind="stable")[:max(0, int(k))]
    return order, losses[order]


def top_losses_table(y_true, probabilities, class_names, k: int = 9, *, files=None) -> list[dict]:
    """report.json's "top_losses": `index` (in evaluation order), `true`, `predicted`,
    `probability` (of the predicted class), `true_probability`, `loss`, and `file` (the sample's
    path, relative to its folder) when `files` (one per sample, in evaluation order) is given."""
    y, probs = _check(y_true, probabilities)
    if files is not None and len(files) != len(y):
        raise ValueError(f"top_losses_table: {len(files)} file names for {len(y)} samples")
    idx, losses = top_losses(y, probs, k)
    return [{"index": int(i), **({"file": str(files[i])} if files is not None else {}),
             "true": str(class_names[y[i]]),
             "predicted": str(class_names[probs[i].argmax()]),
             "probability": round(float(probs[i].max()), 6),
             "true_probability": round(float(probs[i, y[i]]), 6), "loss": round(float(loss), 6)}
            for i, loss in zip(idx, losses)]


def plot_top_losses(images, rows: list[dict], path, *, heatmaps=None,
                    title: str | None = None) -> str:
    """A grid of images with `predicted / true / loss / probability` above each (fastai's
    `plot_top_losses`), with their Grad-CAM overlay when `heatmaps` (one per image) are given;
    `rows` as `top_losses_table` makes them. Returns path."""
    from matplotlib.figure import Figure


    n = len(rows)
    grid_rows = max(1, -(-n // 5))
    cols = max(1, -(-n // grid_rows))  # 6 as 2 x 3, 9 as 2 x 5
    fig = Figure(figsize=(cols * 1.9 + 0.2, grid_rows * 2.1 + 0.5))
    for i, (image, row) in enumerate(zip(images, rows)):
        ax = fig.add_subplot(grid_rows, cols, i + 1)
        pic = overlay(image, heatmaps[i]) if heatmaps is not None else _display(image)
        ax.imshow(pic, interpolation="nearest")
        ax.set_title(f"predicted {row['predicted']} ({row['probability']:.2f})\n"
                     f"true {row['true']}, loss {abs(row['loss']):.2f}", fontsize=7)
        ax.axis("off")
    fig.suptitle((title + "\n" if title else "") + "each: predicted class (its probability); "
                 "true class, loss = -log p(true)", fontsize=8)
    fig.tight_layout()
    fig.savefig(os.fspath(path), dpi=80)
    return os.fspath(path)


# --- what `dlzoo evaluate` adds -----------------------------------------------------------------

GRAD_CAM_SAMPLES = 6  # Grad-CAM for this many of the worst predictions


def predict_keeping_worst(model, parts, to_model, keep: int):
    """One pass over the labelled batches of each data set in `parts`: `(labels, probabilities,
    (indices, inputs))`, labels mapped to the model's classes by `to_model`, and the inputs of the
    `keep` highest-loss samples, highest first (the order `top_losses` gives), kept as the pass
    goes so a data set that reshuffles stays aligned."""

    labels, probs = [], []
    best_loss, best_idx, best_x = np.zeros(0), np.zeros(0, "int64"), None
    offset = 0
    for part in parts:
        for xb, yb, pb in predicted_batches(model, part):
            yb, pb = to_model[yb.astype("int64")], as_probabilities(pb)
            labels.append(yb)
            probs.append(pb)
            if keep:
                loss = -np.log(np.clip(pb[np.arange(len(yb)), yb], 1e-7, 1.0))
                xb = np.asarray(xb)
                cand_x = xb if best_x is None else np.concatenate([best_x, xb])
                cand_loss = np.concatenate([best_loss, loss])
                cand_idx = np.concatenate([best_idx, offset + np.arange(len(yb))])
                order = np.argsort(-cand_loss, kind="stable")[:keep]
                best_loss, best_idx, best_x = cand_loss[order], cand_idx[order], cand_x[order]
            offset += len(yb)
    if not labels:
        raise ValueError("evaluate: the data set is empty; there is nothing to evaluate.")
    return np.concatenate(labels), np.concatenate(probs), (best_idx, best_x)


def interpret(model, labels, probabilities, worst, report, *, folder, title: str,
              model_name: str | None = None, top_k: int = 9, files=None) -> tuple[dict, dict]:
    """What `dlzoo evaluate` adds to report.json and its folder: calibration and
    reliability.png, the most-confused pairs, the top losses (top_losses.png for image models;
    each named by its file when `files`, one per sample in evaluation order, are given) and
    Grad-CAM of the worst few (gradcam_worst.png, for convolutional image models).

    Returns:
        `(entries for report.json, {name: PNG path})`.
    """
    classes = report.class_names
    entries = {
        "calibration": calibration(labels, probabilities),
        "most_confused": [{"true": t, "predicted": p, "count": c}
                          for t, p, c in most_confused(report.confusion, classes, limit=10)],
        "top_losses": top_losses_table(labels, probabilities, classes, k=top_k, files=files),
    }
    paths = {"reliability": plot_reliability_diagram(
        labels, probabilities, os.path.join(folder, "reliability.png"), title=title)}
    idx, images = worst
    if images is None or np.ndim(images) != 4 or not len(idx):
        return entries, paths
    rows = entries["top_losses"]
    paths["top_losses"] = plot_top_losses(images, rows, os.path.join(folder, "top_losses.png"),
                                          title=f"{title}: top losses")
    n = min(GRAD_CAM_SAMPLES, len(rows))
    try:

        layer = default_layer(model, model_name)
        predicted = [classes.index(r["predicted"]) for r in rows[:n]]
        maps = grad_cam(model, images[:n], class_index=predicted, layer=layer,
                        model_name=model_name)
    except (ValueError, NotImplementedError) as e:  # not a convolutional network; no gradients
        entries["grad_cam"] = {"skipped": str(e).splitlines()[0]}
        return entries, paths
    paths["grad_cam"] = plot_top_losses(
        images[:n], rows[:n], os.path.join(folder, "gradcam_worst.png"), heatmaps=maps,
        title=f"Grad-CAM ({layer}) of the predicted class, worst {n}")
    entries["grad_cam"] = {"layer": layer, "samples": n, "class": "predicted",
                           "png": os.path.basename(paths["grad_cam"])}
    return entries, paths
