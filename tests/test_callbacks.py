"""dlzoo.callbacks: exact learning rates (plateau, cosine with warmup, step, exponential), early
stopping that restores the best epoch's weights, and a run interrupted and resumed in-process."""

import csv
import math

import keras
import numpy as np
import pytest

from dlzoo.callbacks import (
    LearningRateLogger,
    ResumeState,
    check_schedule,
    learning_rate,
    standard,
)


class RecordLR(keras.callbacks.Callback):
    """The learning rate each training step runs with (read before the step)."""

    def __init__(self):
        super().__init__()
        self.steps = []

    def on_train_batch_begin(self, batch, logs=None):
        self.steps.append(float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate)))


def tiny_model(lr, zeros=False):
    init = "zeros" if zeros else "glorot_uniform"
    model = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(1, kernel_initializer=init, name="out")]
    )
    model.compile(optimizer=keras.optimizers.SGD(lr), loss="mse")
    return model


def data(n=8, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4)).astype("float32")
    return x, (x @ np.float32([1, -2, 0.5, 3]))[:, None]


def test_cosine_with_warmup_follows_the_formula_step_by_step():
    epochs, spe, peak, warm, alpha = 5, 4, 0.1, 1, 0.1
    sched = learning_rate(
        {"type": "cosine", "warmup_epochs": warm, "alpha": alpha},
        learning_rate=peak, epochs=epochs, steps_per_epoch=spe,
    )
    model = tiny_model(sched)
    rec = RecordLR()
    x, y = data(8)
    hist = model.fit(x, y, batch_size=2, epochs=epochs, verbose=0,
                     callbacks=standard(early_stopping=False, lr_schedule="cosine") + [rec])
    w, decay = warm * spe, epochs * spe - warm * spe
    expected = [
        peak * t / w if t < w
        else peak * ((1 - alpha) * 0.5 * (1 + math.cos(math.pi * (t - w) / decay)) + alpha)
        for t in range(epochs * spe)
    ]
    np.testing.assert_allclose(rec.steps, expected, rtol=1e-6, atol=1e-9)
    assert rec.steps[0] == 0.0 and rec.steps[w] == pytest.approx(peak)
    # The CSV/curves column is the LR each epoch started with.
    np.testing.assert_allclose(hist.history["learning_rate"], expected[::spe], rtol=1e-6, atol=1e-9)


def test_step_and_exponential_change_at_epoch_boundaries():
    spe = 4
    step = learning_rate({"type": "step", "boundaries": [2, 4], "factor": 0.1},
                         learning_rate=1.0, epochs=6, steps_per_epoch=spe)
    got = [float(step(t)) for t in range(6 * spe)]
    assert got == pytest.approx([1.0] * 8 + [0.1] * 8 + [0.01] * 8)
    exp = learning_rate({"type": "exponential", "decay_rate": 0.5, "staircase": True},
                        learning_rate=1.0, epochs=3, steps_per_epoch=spe)
    assert [float(exp(e * spe)) for e in range(3)] == pytest.approx([1.0, 0.5, 0.25])
    assert float(exp(spe - 1)) == pytest.approx(1.0)


def test_plateau_halves_the_lr_exactly_after_patience_epochs():
    # Zero weights, zero targets: the loss is 0.0 from the start and never improves.
    model = tiny_model(0.01, zeros=True)
    x = np.ones((8, 4), "float32")
    y = np.zeros((8, 1), "float32")
    cbs = standard(monitor="loss", early_stopping=False,
                   lr_schedule={"type": "plateau", "patience": 2, "factor": 0.5})
    hist = model.fit(x, y, batch_size=4, epochs=6, verbose=0, callbacks=cbs)
    f = np.float32
    assert [f(v) for v in hist.history["learning_rate"]] == [
        f(0.01), f(0.01), f(0.01), f(0.005), f(0.005), f(0.0025)
    ]
    assert f(keras.ops.convert_to_numpy(model.optimizer.learning_rate)) == f(0.0025)


class Snapshots(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.weights = []

    def on_epoch_end(self, epoch, logs=None):
        self.weights.append([np.array(w) for w in self.model.get_weights()])


def test_early_stopping_restores_the_best_epochs_weights():
    x, y = data(32)
    rng = np.random.default_rng(3)
    xv = rng.normal(size=(16, 4)).astype("float32")
    # Validation targets that the training data does not predict: val_loss bottoms out early.
    yv = (xv @ np.float32([1, -2, 0.5, 3]))[:, None] * 0.2
    model = tiny_model(0.05)
    snaps = Snapshots()
    cbs = standard(early_stopping={"patience": 2}, lr_schedule=None)
    hist = model.fit(x, y, validation_data=(xv, yv), batch_size=8, epochs=30, verbose=0,
                     callbacks=[snaps] + cbs)
    val = hist.history["val_loss"]
    best = int(np.argmin(val))
    assert len(val) == best + 3 < 30, "stopped patience epochs after the best"
    for got, want in zip(model.get_weights(), snaps.weights[best]):
        np.testing.assert_array_equal(got, want)
    assert not np.array_equal(model.get_weights()[0], snaps.weights[-1][0])


class Interrupt(keras.callbacks.Callback):
    def __init__(self, at):
        super().__init__()
        self.at = at

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.at:
            raise KeyboardInterrupt


def test_interrupted_run_resumes_with_its_counters_and_log(tmp_path):
    x, y = data(32)
    xv, yv = data(16, seed=1)
    yv = yv * 0.2
    spec = {"patience": 3}

    def run(extra):
        keras.utils.set_random_seed(0)
        model = tiny_model(0.05)
        cbs = standard(run_dir=tmp_path, early_stopping=spec, lr_schedule="plateau")
        hist = model.fit(x, y, validation_data=(xv, yv), batch_size=8, epochs=30, verbose=0,
                         callbacks=cbs + extra)
        return model, cbs, hist

    ref_model, ref_cbs, ref_hist = run([])  # uninterrupted reference
    n = len(ref_hist.history["loss"])
    assert n < 30
    for p in tmp_path.iterdir():  # start over in a clean run folder
        if p.is_dir():
            import shutil
            shutil.rmtree(p)
        else:
            p.unlink()

    with pytest.raises(KeyboardInterrupt):
        run([Interrupt(at=2)])
    model, cbs, hist = run([])
    assert len(hist.history["loss"]) == n - 2
    with open(tmp_path / "history.csv") as f:
        epochs = [int(r["epoch"]) for r in csv.DictReader(f)]
    assert epochs == list(range(n)), "every epoch logged once"
    es = next(c for c in cbs if isinstance(c, keras.callbacks.EarlyStopping))
    ref_es = next(c for c in ref_cbs if isinstance(c, keras.callbacks.EarlyStopping))
    assert es.best_epoch == ref_es.best_epoch
    assert int(model.optimizer.iterations) == int(ref_model.optimizer.iterations)
    for a, b in zip(model.get_weights(), ref_model.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_bad_specs_name_the_key():
    with pytest.raises(ValueError, match="lr_schedule must be one of"):
        check_schedule("linear")
    with pytest.raises(ValueError, match=r"callbacks.lr_schedule.warmup_epochs"):
        check_schedule({"type": "cosine", "warmup_epochs": -1}, "callbacks.lr_schedule")
    with pytest.raises(ValueError, match="unknown option"):
        check_schedule({"type": "step", "gamma": 0.1})
    with pytest.raises(ValueError, match="need run_dir"):
        standard(backup=True)


def test_standard_order_and_contents(tmp_path):
    cbs = standard(run_dir=tmp_path)
    kinds = [type(c).__name__ for c in cbs]
    # mixup's off-epoch and the weight EMA (both inert unless asked for); the EMA is swapped in
    # for early stopping and the checkpoint, and out again before the log and the backup
    assert kinds == [
        "TerminateOnNaN", "LearningRateLogger", "MixingSchedule", "EMAWeights",
        "EarlyStopping", "ReduceLROnPlateau", "AtomicModelCheckpoint", "_EMASwapBack",
        "CSVLogger", "ResumeState", "RunBackup",
    ]
    assert cbs[4].restore_best_weights
    assert isinstance(cbs[1], LearningRateLogger) and isinstance(cbs[9], ResumeState)
    assert [type(c).__name__ for c in standard(lr_schedule="cosine", early_stopping=False)] == [
        "TerminateOnNaN", "LearningRateLogger", "MixingSchedule", "EMAWeights", "_EMASwapBack"
    ]
