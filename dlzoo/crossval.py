"""Cross-validation folds and a K-fold runner.

The folds come from scikit-learn (`StratifiedKFold` for independent samples, `TimeSeriesSplit` for
ordered data), which already get the details right; dlzoo adds the choice between them, checks the
arguments, and `cross_validate`, which trains one fresh model per fold and summarises a metric.

Never shuffle a time series: a model validated on the past after training on the future looks better
than it will ever be. Forward-chaining folds train on a prefix and validate on what follows it.
"""

from __future__ import annotations

import dataclasses
import statistics
from collections.abc import Callable

import numpy as np

__all__ = [
    "CVResult",
    "FoldResult",
    "cross_validate",
    "forward_chaining_folds",
    "make_folds",
    "stratified_folds",
]


def _check_k(k, n: int) -> int:
    if isinstance(k, bool) or not isinstance(k, int) or k < 2:
        raise ValueError(f"folds must be an integer >= 2; received {k!r}.")
    if k > n:
        raise ValueError(f"folds={k} is more than the {n} samples; use at most {n} folds.")
    return k


def stratified_folds(y, k: int, *, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """K folds whose validation parts are disjoint, cover every sample once, and keep each class's
    share. Returns `[(train_indices, val_indices), ...]`."""
    from sklearn.model_selection import StratifiedKFold

    y = np.asarray(y).reshape(-1)
    k = _check_k(k, len(y))
    smallest = int(np.bincount(np.unique(y, return_inverse=True)[1]).min())
    if smallest < k:
        raise ValueError(
            f"folds={k} needs at least {k} samples of every class; the smallest class has {smallest}. "
            "Use fewer folds or collect more data for that class."
        )
    skf = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    return [(tr, va) for tr, va in skf.split(np.zeros(len(y)), y)]


def forward_chaining_folds(n: int, k: int, *, gap: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """K forward-chaining folds over `n` time-ordered samples: fold i trains on samples before its
    validation block (less `gap` samples between them) and validates on the block; never shuffled."""
    from sklearn.model_selection import TimeSeriesSplit

    if isinstance(n, bool) or not isinstance(n, int) or n < 2:
        raise ValueError(f"n must be the number of samples (>= 2); received {n!r}.")
    k = _check_k(k, n - 1)
    tss = TimeSeriesSplit(n_splits=k, gap=gap)
    return [(tr, va) for tr, va in tss.split(np.zeros(n))]


def make_folds(y, k: int, *, ordered: bool, seed: int = 0):
    """Stratified folds for independent samples, forward-chaining folds for ordered ones."""
    if ordered:
        return forward_chaining_folds(len(np.asarray(y)), k)
    return stratified_folds(y, k, seed=seed)


@dataclasses.dataclass
class FoldResult:
    fold: int
    train_size: int
    val_size: int
    metrics: dict


@dataclasses.dataclass
class CVResult:
    metric: str
    folds: list[FoldResult]
    kind: str  # "stratified" or "forward-chaining"

    @property
    def values(self) -> list[float]:
        return [f.metrics[self.metric] for f in self.folds]

    @property
    def mean(self) -> float:
        return float(statistics.fmean(self.values))

    @property
    def std(self) -> float:
        return float(statistics.pstdev(self.values))

    @property
    def best_fold(self) -> int:
        higher_is_better = "loss" not in self.metric and "error" not in self.metric
        vals = self.values
        return int(np.argmax(vals) if higher_is_better else np.argmin(vals))

    def to_dict(self) -> dict:
        return {
            "metric": self.metric,
            "kind": self.kind,
            "mean": self.mean,
            "std": self.std,
            "folds": [dataclasses.asdict(f) for f in self.folds],
            "best_fold": self.best_fold,
        }

    def summary(self) -> str:
        per_fold = ", ".join(f"{v:.4f}" for v in self.values)
        return (f"{len(self.folds)}-fold {self.kind} {self.metric}: {self.mean:.4f} ± {self.std:.4f} "
                f"(folds: {per_fold})")


def cross_validate(
    train_fold: Callable[[int, np.ndarray, np.ndarray], dict],
    y,
    k: int,
    *,
    ordered: bool = False,
    metric: str = "val_accuracy",
    seed: int = 0,
) -> CVResult:
    """Runs `train_fold(fold, train_indices, val_indices) -> metrics` on each of K folds.

    `train_fold` builds a fresh model, trains it on the training indices and returns its metrics on
    the validation indices (a dict containing `metric`). The folds are stratified, or
    forward-chaining when `ordered` (time series, sequences in time order).
    """
    folds = make_folds(y, k, ordered=ordered, seed=seed)
    results = []
    for i, (tr, va) in enumerate(folds):
        metrics = dict(train_fold(i, tr, va))
        if metric not in metrics:
            raise KeyError(
                f"cross_validate: the fold's metrics have no {metric!r}; they have {sorted(metrics)}."
            )
        results.append(FoldResult(fold=i, train_size=len(tr), val_size=len(va), metrics=metrics))
    return CVResult(metric=metric, folds=results, kind="forward-chaining" if ordered else "stratified")
