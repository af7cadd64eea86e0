"""The learning-rate range test: train briefly while the learning rate grows exponentially, watch
the loss, and pick a rate a little below where it is lowest.

Smith. Cyclical learning rates for training neural networks. WACV 2017 (arXiv:1506.01186),
section 3.3; as fastai's `lr_find` runs it: `steps` batches at learning rates spaced
geometrically from `start_lr` to `end_lr`, stopped once the loss, averaged by an exponential
moving average (bias-corrected, beta 0.98), passes 4 x its minimum (not watched in the first
tenth of the steps, where that average is noise). The suggestion is the rate of the lowest
smoothed loss divided by 10 (fastai's `lr_min`); the rate where the smoothed loss falls fastest
(`steepest`) is recorded beside it. For those two the curve is smoothed by a centred moving
average over a tenth of the steps, not by the moving average above: at 100 steps over eight
decades, beta 0.98 lags the batch losses by about four decades of learning rate, and its
minimum with them.

    >>> from dlzoo.lr_finder import find_lr
    >>> found = find_lr(model, train_data, png="lr_find.png")   # model compiled
    >>> found.suggestion

The test runs on a copy of the model (`keras.models.clone_model`, same weights) with a copy of its
optimizer, so the model passed in, its weights and its optimizer are exactly as they were.
Keras has no range test (its callbacks see the epoch's running mean of the loss, not each
batch's), so this one steps with `train_on_batch`, which returns each batch's own loss.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os

import numpy as np

from dlzoo.compiling import allow_jit
from dlzoo.spec import as_spec
from dlzoo.training import prepare_run
from dlzoo.transfer import finetune as ft

__all__ = ["LRFinderResult", "find_lr", "find_lr_for_run", "plot_lr_find"]

DIVERGE = 4.0  # stop once the moving average of the loss exceeds this multiple of its minimum
BETA = 0.98


@dataclasses.dataclass
class LRFinderResult:
    """What `find_lr` measured.

    Attributes:
        learning_rates: the rate of each step run.
        losses: each step's training loss (one batch).
        smoothed: `losses` averaged over a centred window of a tenth of the steps.
        suggestion: the rate of the lowest smoothed loss / 10 (fastai's `lr_min`).
        steepest: the rate where the smoothed loss falls fastest against log(rate).
        min_loss_lr: the rate of the lowest smoothed loss.
        diverged: the run stopped early because the loss blew up (as it should, near the end).
        png: the plot written, or None.
        trained: what the test trained, as the run's first phase will: "all" (a plain run, or
            a fine-tune whose network has random weights: every layer trains from the first
            epoch, no head phase), "head", or an unfreeze phase's "top:K".
    """

    learning_rates: list
    losses: list
    smoothed: list
    suggestion: float
    steepest: float
    min_loss_lr: float
    diverged: bool
    png: str | None = None
    trained: str = "all"

    def summary(self) -> dict:
        """The figures without the curve (what a model card records)."""
        return {"suggestion": self.suggestion, "steepest": self.steepest,
                "min_loss_lr": self.min_loss_lr, "diverged": self.diverged,
                "steps": len(self.losses), "trained": self.trained, "method": "Smith 2017 LR range test; suggestion = "
                "learning rate of the lowest smoothed loss / 10"}

    def to_dict(self) -> dict:
        """`summary()` and the curve (lr_find.json)."""
        return {**self.summary(), "learning_rates": self.learning_rates, "losses": self.losses,
                "smoothed": self.smoothed}


def _batches(data, batch_size: int):
    """Endless `(x, y)` numpy batches: from a `tf.data.Dataset`, an iterable of batches, or an
    `(x, y)` pair of arrays (shuffled each pass)."""
    if isinstance(data, tuple) and len(data) == 2 and hasattr(data[0], "shape"):
        x, y = data
        rng = np.random.default_rng(0)
        while True:
            order = rng.permutation(len(x))
            for i in range(0, len(x), batch_size):
                yield x[order[i:i + batch_size]], y[order[i:i + batch_size]]
    while True:
        found = False
        for batch in (data.as_numpy_iterator() if hasattr(data, "as_numpy_iterator") else data):
            found = True
            yield batch[0], batch[1]
        if not found:
            raise ValueError("find_lr: the training data is empty")


def _check(start_lr, end_lr, steps):
    for name, v in (("start_lr", start_lr), ("end_lr", end_lr)):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0:
            raise ValueError(f"{name} must be a positive number; received {v!r}")
    if not end_lr > start_lr:
        raise ValueError(f"end_lr must exceed start_lr; received {start_lr!r} .. {end_lr!r}")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 10:
        raise ValueError(f"steps must be an integer of at least 10; received {steps!r}")


def _probe(model):
    """A copy of the compiled `model` (same weights) with a fresh copy of its optimizer at a
    constant learning rate."""
    import keras

    if getattr(model, "optimizer", None) is None or getattr(model, "loss", None) is None:
        raise ValueError("find_lr needs a compiled model (its optimizer and loss are used)")
    probe = keras.models.clone_model(model)
    probe.set_weights(model.get_weights())
    config = model.optimizer.get_config()
    config["learning_rate"] = 1e-7
    optimizer = type(model.optimizer).from_config(config)

    allow_jit(probe)  # a clone's augmentation layers are new instances
    probe.compile(optimizer=optimizer, loss=model.loss)
    return probe


def _centred_average(values, window: int) -> list:
    """Each value averaged with its neighbours, `window // 2` each side (fewer at the ends)."""
    v = np.asarray(values, dtype="float64")
    half = window // 2
    kernel = np.ones(2 * half + 1)
    sums = np.convolve(v, kernel, mode="same")
    counts = np.convolve(np.ones_like(v), kernel, mode="same")
    return (sums / counts).tolist()


def _suggest(lrs, smoothed) -> tuple[float, float, float]:
    s = np.asarray(smoothed)
    log_lr = np.log10(lrs)
    best = int(np.argmin(s))
    slope = np.gradient(s, log_lr) if len(s) > 2 else np.zeros_like(s)
    # the steepest descent before the minimum, past the first steps where the average settles
    lo = min(len(s) // 10, best)
    steepest = lo + int(np.argmin(slope[lo:best + 1]))
    return float(lrs[best] / 10), float(lrs[steepest]), float(lrs[best])


def find_lr(model, data, *, start_lr: float = 1e-7, end_lr: float = 10.0, steps: int = 100,
            batch_size: int = 32, png=None, title: str | None = None) -> LRFinderResult:
    """Runs the learning-rate range test (Smith 2017) on a copy of the compiled `model`.

    Args:
        model: a compiled Keras model; it is left exactly as it was (weights, optimizer).
        data: training batches `(x, y)`: a `tf.data.Dataset`, any iterable of batches (repeated
            as needed), or an `(x, y)` pair of arrays (then batched by `batch_size`).
        start_lr, end_lr: the range, spaced geometrically (default 1e-7 to 10).
        steps: batches to run at most (default 100; fewer when the loss diverges first).
        batch_size: for `(x, y)` arrays only.
        png: write the loss curve here (optional).
        title: the plot's title.

    Returns:
        `LRFinderResult` (`suggestion`: the rate of the lowest smoothed loss / 10).

    Raises:
        ValueError: an uncompiled model, a bad range, empty data.

    Example:
        >>> model = dlzoo.build("lenet5", num_classes=10, input_shape=(32, 32, 1))
        >>> model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        >>> find_lr(model, (x, y), png="lr_find.png").suggestion
    """
    _check(start_lr, end_lr, steps)
    probe = _probe(model)
    factor = (end_lr / start_lr) ** (1.0 / (steps - 1))
    lrs, losses = [], []
    avg, best, diverged = 0.0, math.inf, False
    batches = _batches(data, batch_size)
    settle = steps // 10  # the first batches' average is too noisy to call a divergence
    for i in range(steps):
        lr = start_lr * factor ** i
        probe.optimizer.learning_rate.assign(lr)
        x, y = next(batches)
        loss = float(np.asarray(probe.train_on_batch(x, y)).reshape(-1)[0])
        if not math.isfinite(loss):
            diverged = True
            break
        avg = BETA * avg + (1 - BETA) * loss
        s = avg / (1 - BETA ** (i + 1))
        lrs.append(lr)
        losses.append(loss)
        if i >= settle:
            best = min(best, s)
            if s > DIVERGE * best:
                diverged = True
                break
    if len(lrs) < 3:
        raise ValueError(f"find_lr: the loss diverged within {len(lrs) + 1} steps at a learning "
                         f"rate of {start_lr:g}; start lower (start_lr)")
    smoothed = _centred_average(losses, max(3, steps // 10))
    skip = settle if len(lrs) - settle >= 3 else 0
    suggestion, steepest, min_loss_lr = _suggest(lrs[skip:], smoothed[skip:])
    result = LRFinderResult(lrs, losses, smoothed, suggestion, steepest, min_loss_lr, diverged)
    if png is not None:
        result.png = plot_lr_find(result, png, title=title)
    return result


def plot_lr_find(result: LRFinderResult, path, title: str | None = None) -> str:
    """The loss against the learning rate (log scale): each batch's loss faint, the smoothed
    loss bold, the suggestion and the steepest point marked; returns path."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5.0, 3.4))
    ax = fig.add_subplot()
    ax.plot(result.learning_rates, result.losses, color="tab:blue", alpha=0.25, linewidth=0.8,
            label="batch loss")
    ax.plot(result.learning_rates, result.smoothed, color="tab:blue", linewidth=1.6,
            label="smoothed")
    ax.set_xscale("log")
    for lr, colour, label in ((result.suggestion, "tab:red", "suggestion (min / 10)"),
                              (result.steepest, "tab:green", "steepest")):
        ax.axvline(lr, color=colour, linestyle="--", linewidth=1, label=f"{label} {lr:.2g}")
    start = float(np.median(result.smoothed[:max(1, len(result.smoothed) // 10)]))
    low, high = min(result.smoothed), min(max(result.smoothed), 1.5 * start)  # not the blow-up
    ax.set_ylim(low - 0.1 * (high - low), high + 0.1 * (high - low) + 1e-12)
    ax.set_xlabel("learning rate")
    ax.set_ylabel("training loss")
    ax.legend(fontsize=7)
    ax.set_title(title or "learning-rate range test", fontsize=9)
    fig.tight_layout()
    fig.savefig(os.fspath(path), dpi=80)
    return os.fspath(path)


def find_lr_for_run(run, *, out, steps: int = 100, log=print,
                    output="saved_models") -> LRFinderResult:
    """The learning-rate range test of a run's first phase: `dlzoo train RECIPE --find-lr`,
    `dlzoo finetune DIR --find-lr` and a fine-tune recipe's `--find-lr` alike.

    The model is built and compiled as the run's first phase would train it, and fed that
    phase's training data: a plain run's whole network (`dlzoo.training.prepare_run`); a
    fine-tune's new head on the frozen network (`train: head`), or the layers an unfreeze phase
    names (`all`, `top:K`). Writes `lr_find.png` and `lr_find.json` (the suggestion and the
    curve) in `out`; trains nothing else.

    Args:
        run: a `dlzoo.spec.RunSpec` (`RunSpec.from_recipe`, `RunSpec.from_finetune`) or a
            validated recipe.
        out: the folder for the plot and the figures.
        steps: batches the rate sweeps over (one rate each).
        output: where a fine-tune recipe's `model: run:NAME` is saved.
    """
    spec = as_spec(run)
    os.makedirs(out, exist_ok=True)
    if not spec.is_finetune:
        prepared = prepare_run(spec, log=log)
        return _write(find_lr(prepared.model, prepared.train, steps=steps,
                              batch_size=prepared.batch_size,
                              png=os.path.join(out, "lr_find.png"), title=_title(spec.name)),
                      out)
    return _find_lr_first_phase(spec, out=out, steps=steps, log=log, output=output)


def _title(name: str) -> str:
    return f"{name}: learning-rate range test"


def _write(result: LRFinderResult, out) -> LRFinderResult:
    with open(os.path.join(out, "lr_find.json"), "w") as f:
        json.dump(result.to_dict(), f, indent=2)
    return result


def _find_lr_first_phase(spec, *, out, steps: int, log, output) -> LRFinderResult:
    """A fine-tune's first phase: the head on the frozen network, or an unfreeze phase's
    layers, on the classifier `fine_tune` would build (`dlzoo.transfer.finetune`)."""
    import keras

    first = spec.phases[0]
    if spec.recipe is not None:  # a recipe's `run:NAME` is the model saved in `output`
        source, data, cfg = ft.recipe_config(spec, output=output, log=log)
    else:
        source, data = spec.model.name, spec.data.source
        cfg = ft.config_from_spec(spec, log=log)
    cfg.check()
    keras.utils.set_random_seed(cfg.seed)
    parts = ft._assemble(source, data, cfg)
    head = list(parts.head_layers)
    scratch = parts.src.weights is None and parts.src.card is None  # as fine_tune decides
    if scratch:  # random weights: fine_tune trains every layer, BatchNorm too, at phase 2's rate
        ft.set_trainable(parts.network, list(parts.network.layers), train_batchnorm=True)
        what, trained = "every layer (random weights: no frozen head phase)", "all"
    elif first.train == "head":
        ft.set_trainable(parts.network, head)
        what, trained = "phase 1 (head)", "head"
    else:  # as the unfreeze phase trains: the groups it names, and the head
        names = {h.name for h in head}
        body, _ = ft.unfreeze_layers(parts.network, parts.src.info, first.train, exclude=names)
        ft.set_trainable(parts.network, [lyr for lyr in body if lyr.name not in names] + head,
                         train_batchnorm=first.batchnorm == "train")
        what, trained = f"phase 1 (unfreeze {first.train})", first.train
    # the switches shape the loss (label smoothing, mixed labels); the test sets the rate itself
    ft._compile(parts.model, first.learning_rate or parts.learning_rate,
                dataclasses.replace(cfg, lr_schedule="constant"))
    name = spec.name or os.path.basename(os.path.normpath(os.fspath(out)))
    found = find_lr(parts.model, parts.bundle.train, steps=steps,
                    png=os.path.join(out, "lr_find.png"),
                    title=f"{name}: learning-rate range test, {what}")
    return _write(dataclasses.replace(found, trained=trained), out)
