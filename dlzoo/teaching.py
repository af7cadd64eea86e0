"""The lectures' first lesson: the perceptron, its learning rule, and why XOR needs a hidden layer.

Rosenblatt's rule (1958) updates the weights only on mistakes, `w += lr * (y - step(w.x + b)) * x`,
and converges in finitely many steps when the classes are linearly separable (Novikoff 1962); on XOR
it never settles. Gradient descent on a logistic unit minimises cross-entropy instead and also
reaches a separating line, smoothly. Neither can pass 75% on XOR, since no line separates it; one
hidden layer can (Minsky & Papert 1969; Rumelhart et al. 1986).

Keras trains the logistic unit and the MLP (`build("perceptron")`, `build("mlp")`); the
perceptron rule is not a gradient method, so it is written here in numpy.
"""

from __future__ import annotations

import dataclasses

import keras
import numpy as np

__all__ = [
    "PerceptronRuleResult",
    "compare_learning_rules",
    "perceptron_rule",
    "separable_points",
    "xor_points",
]


def xor_points(n: int = 200, *, noise: float = 0.1, seed: int = 0):
    """XOR points (`synthetic:xor`): `(x float32 (n, 2), y int (n,))`."""
    from dlzoo.data import synthetic

    x, y, _, _ = synthetic.generate("xor", n=n, data_seed=seed, noise=noise)
    return x, y


def separable_points(n: int = 200, *, margin: float = 0.2, seed: int = 0):
    """Linearly separable points (`synthetic:separable`): `(x float32 (n, 2), y int (n,))`."""
    from dlzoo.data import synthetic

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
    x = np.asarray(x, dtype="float64")
    y = np.asarray(y).reshape(-1)
    if x.ndim != 2 or len(x) != len(y):
        raise ValueError(f"x must be (samples, features) matching y; received x {x.shape}, y {y.shape}.")
    if not set(np.unique(y)) <= {0, 1}:
        raise ValueError(f"the perceptron rule is for labels 0/1; received {sorted(set(np.unique(y)))}.")
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


class _StopWhenPerfect(keras.callbacks.Callback):
    """Ends training after the first epoch without a training mistake, as `perceptron_rule` stops
    (keras.callbacks.EarlyStopping stops on a plateau, not on reaching a value)."""

    def on_epoch_end(self, epoch, logs=None):
        if (logs or {}).get("accuracy", 0.0) >= 1.0:
            self.model.stop_training = True


def _fit_keras(name, x, y, *, epochs, lr, seed, **kwargs):
    from dlzoo import build
    from dlzoo.compiling import compile_for_task

    keras.utils.set_random_seed(seed)
    model = build(name, input_shape=(x.shape[1],), num_classes=1, **kwargs)
    # one sigmoid unit: binary cross-entropy and accuracy, the classification defaults
    compile_for_task(model, "classification", learning_rate=lr,
                     optimizer="sgd" if name == "perceptron" else "adam")
    history = model.fit(x, y, epochs=epochs, batch_size=len(x) if name == "perceptron" else 16,
                        verbose=0, callbacks=[_StopWhenPerfect()])
    acc = history.history["accuracy"]
    first_perfect = next((i + 1 for i, a in enumerate(acc) if a >= 1.0), None)
    final = float(model.evaluate(x, y, verbose=0)[1])
    return final, first_perfect


def compare_learning_rules(*, seed: int = 0, epochs: int = 300) -> list[dict]:
    """The lecture's table: the perceptron rule and gradient descent on a logistic unit, on linearly
    separable points and on XOR, and a one-hidden-layer MLP on XOR. Accuracies are on the training
    points (the question is what each can represent and whether it converges); every method stops
    at its first epoch without a mistake, else after `epochs` (the MLP after at most 200)."""
    rows = []
    for task, (x, y) in (("separable", separable_points(seed=seed)), ("xor", xor_points(seed=seed))):
        rule = perceptron_rule(x, y, epochs=epochs, seed=seed)
        rows.append({"task": task, "method": "perceptron rule (Rosenblatt)",
                     "accuracy": rule.accuracy(x, y), "converged_epoch": rule.converged_epoch})
        acc, first = _fit_keras("perceptron", x, y, epochs=epochs, lr=1.0, seed=seed)
        rows.append({"task": task, "method": "logistic unit, gradient descent",
                     "accuracy": acc, "converged_epoch": first})
    x, y = xor_points(seed=seed)
    acc, first = _fit_keras("mlp", x, y, epochs=min(epochs, 200), lr=0.02, seed=seed,
                            hidden_units=(8,), activation="tanh")
    rows.append({"task": "xor", "method": "MLP, one hidden layer of 8 (Adam)",
                 "accuracy": acc, "converged_epoch": first})
    return rows
