"""The lectures' first lesson: the perceptron, its learning rule, and why XOR needs a hidden layer.

Rosenblatt's rule (1958) updates the weights only on mistakes, `w += lr * (y - step(w.x + b)) * x`,
and converges in finitely many steps when the classes are linearly separable (Novikoff 1962); on XOR
it never settles. Gradient descent on a logistic unit minimises cross-entropy instead and also
reaches a separating line, smoothly. Neither can pass 75% on XOR, since no line separates it; one
hidden layer can (Minsky & Papert 1969; Rumelhart et al. 1986).

Widrow and Hoff's ADALINE (1960) is a linear unit trained with the least-mean-squares (LMS) rule,
`w += lr * (t - w.x - b) * x` with targets t = +-1, on every sample, right or wrong: gradient descent
on the squared error of the linear sum, classifying by its sign. It learns separable points and,
being one line, fails XOR as the perceptron does. MADALINE ("many ADALINEs", Widrow 1962; rule II
of Winter & Widrow 1988) puts several ADALINEs in a hidden layer under a fixed majority vote; its
training rule adapts, for each mistake, the hidden ADALINE whose sum is closest to zero if flipping
it corrects the vote (minimal disturbance). Three of them solve XOR.

Keras trains the logistic unit, the ADALINE and the MLP (`build("perceptron")`, `build("adaline")`,
`build("mlp")`); the perceptron rule and MADALINE's rule are not gradient methods, so they (and
LMS, one sample at a time) are written here in numpy.
"""

from __future__ import annotations

import dataclasses

import keras
import numpy as np

from dlzoo import build
from dlzoo.compiling import compile_for_task
from dlzoo.data import synthetic
from dlzoo.tasks import Task

__all__ = [
    "AdalineResult",
    "MadalineResult",
    "PerceptronRuleResult",
    "adaline_lms",
    "compare_learning_rules",
    "madaline_rule",
    "perceptron_rule",
    "separable_points",
    "xor_points",
]


def xor_points(n: int = 200, *, noise: float = 0.1, seed: int = 0):
    """XOR points (`synthetic:xor`): `(x float32 (n, 2), y int (n,))`."""
    x, y, _, _ = synthetic.generate("xor", n=n, data_seed=seed, noise=noise)
    return x, y


def separable_points(n: int = 200, *, margin: float = 0.2, seed: int = 0):
    """Linearly separable points (`synthetic:separable`): `(x float32 (n, 2), y int (n,))`."""
    x, y, _, _ = synthetic.generate("separable", n=n, data_seed=seed, margin=margin)
    return x, y


@dataclasses.dataclass
class PerceptronRuleResult:
    weights: np.ndarray
    bias: float
    errors_per_epoch: list[int]
    converged_epoch: int | None  # first epoch with no mistake, 1-based; None if never

    def predict(self, x) -> np.ndarray:
        return (np.asarray(x) @ self.weights + self.bias > 0).astype("int64")

    def accuracy(self, x, y) -> float:
        return float((self.predict(x) == np.asarray(y)).mean())


def perceptron_rule(x, y, *, epochs: int = 100, lr: float = 1.0, seed: int = 0) -> PerceptronRuleResult:
    """Rosenblatt's perceptron learning rule, one sample at a time in a shuffled order each epoch.

    Stops at the first epoch without a mistake (convergence), else after `epochs`.
    """
    x, y = _check_xy(x, y, "the perceptron rule")
    rng = np.random.default_rng(seed)
    w = np.zeros(x.shape[1])
    b = 0.0
    errors = []
    converged = None
    for epoch in range(1, epochs + 1):
        mistakes = 0
        for i in rng.permutation(len(x)):
            pred = 1 if x[i] @ w + b > 0 else 0
            if pred != y[i]:
                w += lr * (y[i] - pred) * x[i]
                b += lr * (y[i] - pred)
                mistakes += 1
        errors.append(mistakes)
        if mistakes == 0:
            converged = epoch
            break
    return PerceptronRuleResult(weights=w, bias=b, errors_per_epoch=errors, converged_epoch=converged)


def _check_xy(x, y, what):
    x = np.asarray(x, dtype="float64")
    y = np.asarray(y).reshape(-1)
    if x.ndim != 2 or len(x) != len(y):
        raise ValueError(f"x must be (samples, features) matching y; received x {x.shape}, y {y.shape}.")
    if not set(np.unique(y)) <= {0, 1}:
        raise ValueError(f"{what} is for labels 0/1; received {sorted(set(np.unique(y)))}.")
    return x, y


@dataclasses.dataclass
class AdalineResult:
    weights: np.ndarray
    bias: float
    mse_per_epoch: list[float]  # mean squared error of the linear sum against +-1 targets

    def predict(self, x) -> np.ndarray:
        return (np.asarray(x) @ self.weights + self.bias > 0).astype("int64")

    def accuracy(self, x, y) -> float:
        return float((self.predict(x) == np.asarray(y)).mean())


def adaline_lms(x, y, *, epochs: int = 50, lr: float = 0.01, seed: int = 0) -> AdalineResult:
    """Widrow & Hoff's ADALINE trained with the LMS rule, one sample at a time in a shuffled order
    each epoch: `e = t - (w.x + b)`, `w += lr * e * x`, `b += lr * e`, targets t = 2y - 1.

    Unlike the perceptron rule it adapts on every sample (the error of the linear sum, not of
    the decision), so it settles near the least-squares line even on data no line separates.

    Args:
        x: float (samples, features); y: labels 0/1.
        epochs: passes over the data (50); lr: step size (0.01; LMS is stable for
            lr < 2 / the largest eigenvalue of E[x x^T]); seed: the order's seed.

    Raises:
        ValueError: x and y do not match, or labels other than 0/1.
    """
    x, y = _check_xy(x, y, "ADALINE")
    t = 2.0 * y - 1.0
    rng = np.random.default_rng(seed)
    w, b = np.zeros(x.shape[1]), 0.0
    mse = []
    for _ in range(epochs):
        for i in rng.permutation(len(x)):
            e = t[i] - (x[i] @ w + b)
            w += lr * e * x[i]
            b += lr * e
        mse.append(float(np.mean((t - (x @ w + b)) ** 2)))
    return AdalineResult(weights=w, bias=b, mse_per_epoch=mse)


@dataclasses.dataclass
class MadalineResult:
    weights: np.ndarray  # (features, hidden ADALINEs)
    biases: np.ndarray  # (hidden,)
    errors_per_epoch: list[int]
    converged_epoch: int | None

    def hidden(self, x) -> np.ndarray:
        return np.where(np.asarray(x) @ self.weights + self.biases > 0, 1, -1)

    def predict(self, x) -> np.ndarray:
        return (self.hidden(x).sum(axis=1) > 0).astype("int64")  # majority vote

    def accuracy(self, x, y) -> float:
        return float((self.predict(x) == np.asarray(y)).mean())


def madaline_rule(x, y, *, hidden: int = 3, epochs: int = 100, lr: float = 0.5,
                  seed: int = 0) -> MadalineResult:
    """MADALINE: `hidden` ADALINEs (odd, so the vote has no tie) under a fixed majority vote,
    trained with Widrow's rule II (minimal disturbance): for a sample the vote gets wrong, try
    the wrong-voting ADALINEs in order of |sum| (least confident first); the first whose flip
    makes the vote right is adapted toward the flipped sign with normalised LMS
    (`w += lr * (t - s) * x / (1 + |x|^2)`). Stops after the first epoch without a mistake.

    Raises:
        ValueError: x and y do not match, labels other than 0/1, or an even / < 1 `hidden`.
    """
    x, y = _check_xy(x, y, "MADALINE")
    if isinstance(hidden, bool) or not isinstance(hidden, int) or hidden < 1 or hidden % 2 == 0:
        raise ValueError(f"hidden must be an odd number of ADALINEs (a majority vote without "
                         f"ties); received {hidden!r}.")
    t = 2 * y - 1
    rng = np.random.default_rng(seed)
    w = rng.normal(0, 0.5, size=(x.shape[1], hidden))
    b = rng.normal(0, 0.5, size=hidden)
    errors, converged = [], None
    for epoch in range(1, epochs + 1):
        mistakes = 0
        for i in rng.permutation(len(x)):
            s = x[i] @ w + b
            h = np.where(s > 0, 1, -1)
            if np.sign(h.sum()) == t[i]:
                continue
            mistakes += 1
            for j in np.argsort(np.abs(s)):
                if h[j] == t[i]:
                    continue
                h[j] = t[i]
                if np.sign(h.sum()) == t[i]:  # this flip corrects the vote: adapt unit j
                    step = lr * (t[i] - s[j]) / (1.0 + x[i] @ x[i])
                    w[:, j] += step * x[i]
                    b[j] += step
                    break
        errors.append(mistakes)
        if mistakes == 0:
            converged = epoch
            break
    return MadalineResult(weights=w, biases=b, errors_per_epoch=errors, converged_epoch=converged)


class _StopWhenPerfect(keras.callbacks.Callback):
    """Ends training after the first epoch without a training mistake, as `perceptron_rule` stops
    (keras.callbacks.EarlyStopping stops on a plateau, not on reaching a value)."""

    def on_epoch_end(self, epoch, logs=None):
        if (logs or {}).get("accuracy", 0.0) >= 1.0:
            self.model.stop_training = True


def _fit_keras(name, x, y, *, epochs, lr, seed, **kwargs):
    keras.utils.set_random_seed(seed)
    model = build(name, input_shape=(x.shape[1],), num_classes=1, **kwargs)
    # one sigmoid unit: binary cross-entropy and accuracy, the classification defaults
    compile_for_task(model, Task.CLASSIFICATION, learning_rate=lr,
                     optimizer="sgd" if name == "perceptron" else "adam")
    history = model.fit(x, y, epochs=epochs, batch_size=len(x) if name == "perceptron" else 16,
                        verbose=0, callbacks=[_StopWhenPerfect()])
    acc = history.history["accuracy"]
    first_perfect = next((i + 1 for i, a in enumerate(acc) if a >= 1.0), None)
    final = float(model.evaluate(x, y, verbose=0)[1])
    return final, first_perfect


def compare_learning_rules(*, seed: int = 0, epochs: int = 300) -> list[dict]:
    """The lecture's table: the perceptron rule and gradient descent on a logistic unit, on linearly
    separable points and on XOR, ADALINE's LMS rule on both, MADALINE and a one-hidden-layer MLP on
    XOR. Accuracies are on the training points (the question is what each can represent and
    whether it converges); every method stops at its first epoch without a mistake, else after
    `epochs` (the MLP after at most 200, LMS after at most 50: it adapts on every sample, so it
    has no mistake-free epoch to stop at)."""
    rows = []
    for task, (x, y) in (("separable", separable_points(seed=seed)), ("xor", xor_points(seed=seed))):
        rule = perceptron_rule(x, y, epochs=epochs, seed=seed)
        rows.append({"task": task, "method": "perceptron rule (Rosenblatt)",
                     "accuracy": rule.accuracy(x, y), "converged_epoch": rule.converged_epoch})
        acc, first = _fit_keras("perceptron", x, y, epochs=epochs, lr=1.0, seed=seed)
        rows.append({"task": task, "method": "logistic unit, gradient descent",
                     "accuracy": acc, "converged_epoch": first})
    for task, (x, y) in (("separable", separable_points(seed=seed)), ("xor", xor_points(seed=seed))):
        ada = adaline_lms(x, y, epochs=min(epochs, 50), seed=seed)
        rows.append({"task": task, "method": "ADALINE, LMS rule (Widrow-Hoff)",
                     "accuracy": ada.accuracy(x, y), "converged_epoch": None})
    x, y = xor_points(seed=seed)
    mad = madaline_rule(x, y, epochs=epochs, seed=seed)
    rows.append({"task": "xor", "method": "MADALINE, 3 ADALINEs and a majority vote (rule II)",
                 "accuracy": mad.accuracy(x, y), "converged_epoch": mad.converged_epoch})
    acc, first = _fit_keras("mlp", x, y, epochs=min(epochs, 200), lr=0.02, seed=seed,
                            hidden_units=(8,), activation="tanh")
    rows.append({"task": "xor", "method": "MLP, one hidden layer of 8 (Adam)",
                 "accuracy": acc, "converged_epoch": first})
    return rows
