"""Adversarial examples: the fast gradient sign method and adversarial training.

Goodfellow, Shlens, Szegedy. Explaining and harnessing adversarial examples. ICLR 2015: a step of
size epsilon along the sign of the loss gradient with respect to the *input* turns a confident,
correct prediction into a wrong one ("panda" to "gibbon" at epsilon 0.007).

Keras has no input-gradient API shared by its backends, so `input_gradient` asks the backend
directly: `tf.GradientTape` on TensorFlow, `jax.grad` over `model.stateless_call` on JAX, autograd on
PyTorch. Everything else here is backend-agnostic.

Epsilon is a fraction of the model's input range (`value_range`), so the same epsilon means the same
thing for a model that takes raw [0, 255] pixels and one that takes [0, 1]: with value_range=(0, 255),
epsilon=0.1 moves each pixel by 25.5.
"""

from __future__ import annotations

import math

import keras
import numpy as np
from keras import ops

__all__ = [
    "SUPPORTED_BACKENDS",
    "AdversarialBatches",
    "accuracy_under_attack",
    "check_epsilon",
    "fgsm",
    "input_gradient",
    "plot_adversarial_examples",
    "value_range_of",
]

SUPPORTED_BACKENDS = ("tensorflow", "jax", "torch")


def _loss_fn(model):
    """Sparse cross-entropy on the model's output; logits when the head has no softmax/sigmoid.

    A softmax head's probabilities are turned back into logits, `log(p)`: Keras's cross-entropy on
    probabilities clips them at 1e-7 (on TensorFlow too, for a model called directly), so a sample
    the model is sure of (p = 1.0 in float32) had no gradient at all and FGSM left it unchanged.
    `log(p)` differs from the logits by a constant per sample, which softmax cross-entropy
    ignores; the other classes' tiny probabilities keep the gradient's sign.
    """
    probabilities = _outputs_probabilities(model)
    recover = probabilities

    def loss(y_true, y_pred):
        if y_pred.shape[-1] == 1:
            return ops.mean(keras.losses.binary_crossentropy(
                ops.cast(ops.reshape(y_true, (-1, 1)), y_pred.dtype), y_pred,
                from_logits=not probabilities))
        if recover:  # in float32: a float16 head would round the floor to 0 and log(0) to -inf
            y_pred = ops.log(ops.maximum(ops.cast(y_pred, "float32"), _FLOAT32_TINY))
        return ops.mean(keras.losses.sparse_categorical_crossentropy(
            y_true, y_pred, from_logits=not probabilities or recover))

    return loss


_FLOAT32_TINY = 1.1754944e-38  # the smallest normal float32: log() of it is finite


def _outputs_probabilities(model) -> bool:
    """Whether the model ends in softmax/sigmoid (else its outputs are logits). Looks through
    nested models: dlzoo's saved models wrap the network behind its preprocessing."""
    last = model
    while getattr(last, "layers", None):
        last = last.layers[-1]
    act = getattr(getattr(last, "activation", None), "__name__", None)
    return act in ("softmax", "sigmoid")


def input_gradient(model, x, y):
    """Gradient of the classification loss with respect to the input batch `x` (numpy array).

    The model runs in inference mode (dropout off, BatchNorm on its moving statistics), as it would
    when attacked.
    """
    backend = keras.backend.backend()
    loss_fn = _loss_fn(model)
    x = np.asarray(x, dtype="float32")
    y = np.asarray(y)
    if backend == "tensorflow":
        import tensorflow as tf

        xt = tf.convert_to_tensor(x)
        with tf.GradientTape() as tape:
            tape.watch(xt)
            loss = loss_fn(y, model(xt, training=False))
        return tape.gradient(loss, xt).numpy()
    if backend == "jax":
        import jax

        trainable, non_trainable = _jax_weights(model)

        def loss_of_input(xj):
            y_pred, _ = model.stateless_call(trainable, non_trainable, xj, training=False)
            return loss_fn(y, y_pred)

        return np.asarray(jax.grad(loss_of_input)(x))
    if backend == "torch":
        import torch

        xt = torch.tensor(x, requires_grad=True)
        loss = loss_fn(torch.as_tensor(y), model(xt, training=False))
        loss.backward()
        return xt.grad.detach().cpu().numpy()
    raise NotImplementedError(
        f"FGSM needs input gradients, which dlzoo computes on the {', '.join(SUPPORTED_BACKENDS)} "
        f"backends; the current backend is {backend!r}. Set KERAS_BACKEND=tensorflow or jax."
    )


def _jax_weights(model):
    """The model's weights as JAX arrays: `(trainable, non_trainable)`.

    Inside `fit` the JAX trainer detaches the weights from the variables while it steps
    (keras/src/backend/jax/trainer.py); `AdversarialBatches.callback` keeps a snapshot taken at the
    start of each batch, when the variables are attached, and that snapshot is used here.
    """
    snapshot = getattr(model, "_dlzoo_weight_snapshot", None)
    if snapshot is not None:
        return snapshot
    try:
        return ([v.value for v in model.trainable_variables],
                [v.value for v in model.non_trainable_variables])
    except TypeError:
        raise RuntimeError(
            "The model's weights are detached by the JAX trainer inside fit(). Pass the adversarial "
            "data's callback to fit: model.fit(data, callbacks=[data.callback])."
        ) from None


def check_epsilon(epsilon) -> float:
    """`epsilon` as a float if it is a number in [0, 1] (a fraction of the input range); else
    ValueError."""
    if isinstance(epsilon, bool) or not isinstance(epsilon, (int, float)) or not math.isfinite(
        epsilon) or not 0 <= epsilon <= 1:
        raise ValueError(
            f"epsilon must be a number in [0, 1], a fraction of the input range; received {epsilon!r}. "
            "Typical values are 0.01 to 0.1."
        )
    return float(epsilon)


def _check_range(value_range) -> tuple[float, float]:
    try:
        lo, hi = (float(v) for v in value_range)
    except (TypeError, ValueError):
        raise ValueError(
            f"value_range must be (low, high), e.g. (0, 255) or (0, 1); received {value_range!r}."
        ) from None
    if not hi > lo:
        raise ValueError(f"value_range must have high > low; received {value_range!r}.")
    return lo, hi


def fgsm(model, x, y, *, epsilon: float, value_range=(0.0, 255.0), batch_size: int = 256):
    """Fast gradient sign method: `clip(x + epsilon * (high - low) * sign(grad_x loss), low, high)`.

    Args:
        model: a Keras classifier (softmax/sigmoid head, or logits).
        x: input batch as the model takes it, numpy.
        y: integer labels.
        epsilon: step as a fraction of the input range, in [0, 1].
        value_range: (low, high) of the model's inputs; (0, 255) for dlzoo's saved image models.
        batch_size: gradient batches, to bound memory.

    Returns:
        The adversarial batch, same shape and dtype float32.

    Example:
        >>> x_adv = fgsm(model, x_val[:64], y_val[:64], epsilon=0.05)
        >>> (model.predict(x_adv).argmax(1) == y_val[:64]).mean()
    """
    epsilon = check_epsilon(epsilon)
    lo, hi = _check_range(value_range)
    x = np.asarray(x, dtype="float32")
    if epsilon == 0:
        return x.copy()
    step = epsilon * (hi - lo)
    out = np.empty_like(x)
    for start in range(0, len(x), batch_size):
        sl = slice(start, start + batch_size)
        grad = input_gradient(model, x[sl], np.asarray(y)[sl])
        out[sl] = np.clip(x[sl] + step * np.sign(grad), lo, hi)
    return out


def _predict_labels(model, x, batch_size=256):
    """`(predicted labels, the model's output for the predicted class)`; for one sigmoid unit the
    output for class 0 is `1 - p`."""
    p = model.predict(x, batch_size=batch_size, verbose=0)
    if p.shape[-1] == 1:
        threshold = 0.5 if _outputs_probabilities(model) else 0.0
        pred = (p[:, 0] > threshold).astype("int64")
        return pred, np.where(pred == 1, p[:, 0], 1 - p[:, 0])
    return p.argmax(axis=-1), p.max(axis=-1)


def accuracy_under_attack(model, x, y, epsilons, *, value_range=(0.0, 255.0), batch_size=256):
    """Accuracy on `x` perturbed by FGSM at each epsilon (0 is the clean accuracy).

    Returns:
        A list of dicts `{"epsilon", "accuracy", "mean_confidence"}`, one per epsilon, in order.
    """
    y = np.asarray(y).reshape(-1)
    rows = []
    for eps in epsilons:
        x_adv = fgsm(model, x, y, epsilon=eps, value_range=value_range, batch_size=batch_size)
        pred, conf = _predict_labels(model, x_adv, batch_size)
        rows.append({
            "epsilon": float(eps),
            "accuracy": float((pred == y).mean()),
            "mean_confidence": float(np.mean(conf)),
        })
    return rows


class AdversarialBatches(keras.utils.PyDataset):
    """Adversarial training data: each batch of `base` with a share `ratio` of its examples replaced
    by FGSM examples made against the model as it is at that step.

    A `PyDataset` rather than a custom `train_step`, so it composes with `fit`, every callback,
    checkpoints and resume, on every backend that `input_gradient` supports. Pass its `callback` to
    `fit` (`model.fit(data, callbacks=[data.callback])`): on JAX it keeps the attack on the current
    weights. Keep `workers=0` (the default): the attack must see the current weights.

    Args:
        model: the model being trained (its current weights make the attack).
        base: a sequence of `(x, y)` numpy batches: a list, a `PyDataset`, or anything indexable with
            `len()`; `from_arrays` builds one from arrays.
        epsilon: FGSM step as a fraction of the input range.
        ratio: share of each batch replaced by adversarial examples, in [0, 1].
        value_range: (low, high) of the model's inputs.
        seed: which examples of a batch are attacked.
    """

    def __init__(self, model, base, *, epsilon: float, ratio: float = 0.5,
                 value_range=(0.0, 255.0), seed: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.model = model
        self.base = base
        self.epsilon = check_epsilon(epsilon)
        if isinstance(ratio, bool) or not isinstance(ratio, (int, float)) or not 0 <= ratio <= 1:
            raise ValueError(f"ratio must be a fraction in [0, 1]; received {ratio!r}.")
        self.ratio = float(ratio)
        self.value_range = _check_range(value_range)
        self.rng = np.random.default_rng(seed)
        self.attacked = 0
        self._callback = None

    @classmethod
    def from_arrays(cls, model, x, y, *, batch_size: int = 64, shuffle_seed: int | None = 0, **kwargs):
        """From numpy arrays, in shuffled batches (reshuffled each epoch)."""
        return cls(model, _ArrayBatches(x, y, batch_size, shuffle_seed), **kwargs)

    @classmethod
    def from_dataset(cls, model, dataset, *, steps: int | None = None, **kwargs):
        """From a finite, batched `tf.data.Dataset` of `(x, y)`, read in order once per epoch."""
        return cls(model, _DatasetBatches(dataset, steps), **kwargs)

    def __len__(self):
        return len(self.base)

    def __getitem__(self, index):
        x, y = self.base[index]
        x = np.array(x, dtype="float32", copy=True)
        y = np.asarray(y)
        n = round(self.ratio * len(x))
        if n and self.epsilon > 0:
            idx = self.rng.choice(len(x), size=n, replace=False)
            x[idx] = fgsm(self.model, x[idx], y[idx], epsilon=self.epsilon,
                          value_range=self.value_range)
            self.attacked += n
        return x, y

    def on_epoch_end(self):
        if hasattr(self.base, "on_epoch_end"):
            self.base.on_epoch_end()

    @property
    def callback(self) -> keras.callbacks.Callback:
        """Pass to `fit` with this data: keeps the attack on the current weights on JAX too."""
        if self._callback is None:
            self._callback = _CurrentWeights()
        return self._callback


class _CurrentWeights(keras.callbacks.Callback):
    """On JAX, `fit` detaches the weights from the variables while it steps. After each step this
    re-attaches them (`jax_state_sync`, the trainer's hook for callbacks) and, at the start of the
    next, snapshots them for the attack. On TensorFlow the variables are always live: nothing to do."""

    def on_train_batch_begin(self, batch, logs=None):
        if keras.backend.backend() == "jax":
            self.model._dlzoo_weight_snapshot = (
                [v.value for v in self.model.trainable_variables],
                [v.value for v in self.model.non_trainable_variables],
            )

    def on_train_batch_end(self, batch, logs=None):
        if keras.backend.backend() == "jax":
            self.model.jax_state_sync()

    def on_train_end(self, logs=None):
        self.model._dlzoo_weight_snapshot = None


class _DatasetBatches:
    """Index access over a batched tf.data pipeline, for a PyDataset read in order (index 0 starts
    a new pass, so a pipeline that reshuffles each iteration reshuffles each epoch)."""

    def __init__(self, dataset, steps=None):
        self.dataset = dataset
        if steps is None:
            steps = int(dataset.cardinality())
            if steps < 0:
                steps = sum(1 for _ in dataset)
        self.steps = int(steps)
        self._it, self._next = None, 0

    def __len__(self):
        return self.steps

    def __getitem__(self, i):
        if i == 0 or self._it is None:
            self._it, self._next = iter(self.dataset), 0
        if i != self._next:
            raise RuntimeError(
                f"adversarial batches over a tf.data pipeline are read in order; batch {i} was asked "
                f"for after batch {self._next - 1}. Fit with shuffle=False (the pipeline shuffles)."
            )
        x, y = next(self._it)
        self._next += 1
        return np.asarray(x), np.asarray(y)


class _ArrayBatches:
    """Shuffled fixed-size batches over arrays, reshuffled each epoch."""

    def __init__(self, x, y, batch_size, seed):
        self.x, self.y = np.asarray(x), np.asarray(y)
        self.batch_size = int(batch_size)
        self.rng = np.random.default_rng(seed) if seed is not None else None
        self.order = np.arange(len(self.x))
        self.on_epoch_end()

    def __len__(self):
        return math.ceil(len(self.x) / self.batch_size)

    def __getitem__(self, i):
        idx = self.order[i * self.batch_size:(i + 1) * self.batch_size]
        return self.x[idx], self.y[idx]

    def on_epoch_end(self):
        if self.rng is not None:
            self.rng.shuffle(self.order)


def value_range_of(value_range, x=None) -> tuple[float, float]:
    """The input range FGSM clips to: (0, 255) for dlzoo's image data ("0-255", or None with no
    samples), `(low, high)` as given, and for "raw" data the range of the values seen in `x`."""
    if value_range == "0-255" or (value_range is None and x is None):
        return (0.0, 255.0)
    if isinstance(value_range, (tuple, list)):
        return _check_range(value_range)
    if x is None:
        raise ValueError("raw-valued data needs samples to find its range; pass x.")
    x = np.asarray(x)
    return float(x.min()), float(x.max())


def plot_adversarial_examples(model, x, y, *, epsilon: float, path, class_names=None,
                              value_range=(0.0, 255.0), n: int = 6):
    """Saves a PNG: clean images (top row) and their FGSM versions (bottom row), each titled with
    the predicted class and its confidence. Returns the path."""
    from matplotlib.figure import Figure

    lo, hi = _check_range(value_range)
    y_all = np.asarray(y).reshape(-1)
    # one example per class first, so the figure is not n images of the same class
    _, first = np.unique(y_all, return_index=True)
    pick = list(np.sort(first))[:n]
    chosen = set(pick)
    pick += [i for i in range(len(y_all)) if i not in chosen][: n - len(pick)]
    x = np.asarray(x, dtype="float32")[pick]
    y = y_all[pick]
    x_adv = fgsm(model, x, y, epsilon=epsilon, value_range=value_range)
    names = class_names or [str(i) for i in range(int(max(2, model.output_shape[-1])))]
    # constrained layout keeps each title clear of the row above (tight_layout let them overlap)
    fig = Figure(figsize=(1.9 * len(x), 4.2), layout="constrained")
    axes = fig.subplots(2, len(x), squeeze=False)
    for row, batch, label in ((0, x, "clean"), (1, x_adv, f"FGSM eps={epsilon:g}")):
        pred, conf = _predict_labels(model, batch)
        for i in range(len(x)):
            ax = axes[row][i]
            img = (batch[i] - lo) / (hi - lo)
            if img.ndim == 3 and img.shape[-1] == 1:
                ax.imshow(img[..., 0], cmap="gray", vmin=0, vmax=1)
            elif img.ndim == 3:
                ax.imshow(np.clip(img, 0, 1))
            else:
                ax.imshow(img.reshape(1, -1), cmap="gray", aspect="auto")
            ok = pred[i] == y[i]
            ax.set_title(f"{names[pred[i]]} ({conf[i]:.0%})", fontsize=9, color="green" if ok else "red")
            ax.set_xticks([])
            ax.set_yticks([])
        axes[row][0].set_ylabel(label, fontsize=9)
    fig.suptitle("Clean (top) and adversarial (bottom) predictions", fontsize=10)
    fig.savefig(path, dpi=100)
    return path
