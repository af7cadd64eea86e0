"""Training switches (issue 27, item 2): label smoothing, weight EMA, cosine / one-cycle
schedules, gradient accumulation and decoupled weight decay, from a recipe key, a `finetune` flag
or a `fine_tune` keyword, recorded in the card. CI runs this file on both legs (TensorFlow, and
JAX without TensorFlow, where every switch must keep the step compiled)."""

import json
from pathlib import Path

import keras
import numpy as np
import pytest

from dlzoo.callbacks import backup_path, learning_rate, read_backup, standard
from dlzoo.cli import main
from dlzoo.compiling import compile_for_task
from dlzoo.losses import SmoothedCrossEntropy
from dlzoo.recipes import RecipeError, load_recipe
from dlzoo.switches import check_switches

BACKEND = keras.backend.backend()
ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "saved_models" / "lenet5-digits"


def _card(path):
    return json.loads((Path(path) / "card.json").read_text())


# --- checks, before any backend work ------------------------------------------------------------


@pytest.mark.parametrize("key, value, words", [
    ("label_smoothing", 1.5, "train.label_smoothing must be a number in [0, 1)"),
    ("ema", 2, "train.ema must be true, false or the EMA momentum in (0, 1)"),
    ("weight_decay", "lots", "train.weight_decay must be a number from 0 to 1"),
    ("gradient_accumulation", 0, "train.gradient_accumulation must be an integer from 1"),
])
def test_a_bad_switch_in_a_recipe_names_the_key_and_what_it_takes(key, value, words):
    with pytest.raises(RecipeError) as e:
        load_recipe("lenet5-digits", overrides=[f"train.{key}={value}"])
    assert words in str(e.value) and f"received {value!r}" in str(e.value)
    assert str(e.value).startswith("recipe lenet5-digits.yaml: ")


def test_a_switch_and_optimizer_args_saying_different_things_is_refused():
    with pytest.raises(RecipeError, match=r"train.optimizer_args.weight_decay \(0.1\) "
                                          r"contradicts the switch weight_decay \(0.05\)"):
        load_recipe("lenet5-digits", overrides=["train.weight_decay=0.05",
                                                "train.optimizer_args={weight_decay: 0.1}"])


def test_fine_tune_checks_its_switches_before_loading_anything(tmp_path):
    from dlzoo.transfer import fine_tune

    for kwargs, words in (({"ema": 1.2}, "fine_tune: ema must be"),
                          ({"optimizer": "adamm"}, "fine_tune: optimizer must be a Keras"),
                          ({"lr_schedule": "one-cycle"}, "fine_tune: lr_schedule must be one of"),
                          ({"label_smoothing": -0.1}, "fine_tune: label_smoothing must be")):
        with pytest.raises(ValueError, match=words):
            fine_tune("lenet5", tmp_path / "nothing-here", **kwargs)


# --- the parts ---------------------------------------------------------------------------------


def test_one_cycle_warms_up_to_the_rate_then_anneals_far_below_it():
    lr = learning_rate("one_cycle", learning_rate=0.01, epochs=10, steps_per_epoch=10)
    steps = (0, 10, 20, 29, 30, 31, 50, 70, 99, 100)
    at = dict(zip(steps, (float(keras.ops.convert_to_numpy(lr(s))) for s in steps)))
    assert at[0] == pytest.approx(0.01 / 25)
    assert at[30] == pytest.approx(0.01)  # the peak, at 30% of the steps
    up, down = [at[s] for s in steps[:5]], [at[s] for s in steps[4:]]
    assert up == sorted(up) and down == sorted(down, reverse=True) and at[29] < at[30] > at[31]
    assert at[99] < 0.01 / 1000
    assert at[100] == pytest.approx(0.01 / 25 / 1e4)  # lr / (div_factor * final_div_factor)
    warm = learning_rate({"type": "one_cycle", "warmup_epochs": 2}, learning_rate=0.01,
                         epochs=10, steps_per_epoch=10)
    assert [float(keras.ops.convert_to_numpy(warm(s))) for s in (19, 20, 21)][1] == (
        pytest.approx(0.01))


def test_label_smoothing_on_class_indices_is_keras_categorical_smoothing_on_one_hot():
    y = np.array([0, 2, 1])
    p = np.array([[0.9, 0.05, 0.05], [0.1, 0.1, 0.8], [0.3, 0.6, 0.1]], "float32")
    ours = float(SmoothedCrossEntropy(0.1)(y, p))
    keras_ = float(keras.losses.CategoricalCrossentropy(label_smoothing=0.1)(np.eye(3)[y], p))
    assert ours == pytest.approx(keras_, rel=1e-6)
    assert ours > float(keras.losses.SparseCategoricalCrossentropy()(y, p))  # smoothing costs
    assert float(SmoothedCrossEntropy(0.1)(y[:, None], p)) == pytest.approx(ours, rel=1e-6)


def _dense(seed=0, classes=3):
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((8,))
    x = keras.layers.Dense(16, activation="relu", name="hidden")(inputs)
    return keras.Model(inputs, keras.layers.Dense(classes, activation="softmax",
                                                  name="predictions")(x))


def _blobs(n=96, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    x = rng.normal(size=(n, 8)).astype("float32") + 1.5 * np.eye(3, 8)[y]
    return x, y


class _Record(keras.callbacks.Callback):
    """Per epoch: the raw weights and the optimizer's averages, read after every other
    callback."""

    def __init__(self):
        super().__init__()
        self.raw, self.ema = [], []

    def on_epoch_end(self, epoch, logs=None):
        opt = self.model.optimizer
        self.raw.append([keras.ops.convert_to_numpy(v) for v in opt._trainable_variables])
        self.ema.append([keras.ops.convert_to_numpy(v)
                         for v in opt._model_variables_moving_average])


def test_ema_weights_are_the_ones_validated_kept_by_early_stopping_and_left_in_the_model():
    x, y = _blobs()
    xv, yv = _blobs(48, seed=1)
    model = compile_for_task(_dense(), "classification", optimizer="sgd", learning_rate=0.5,
                             switches=check_switches({"ema": 0.9}))
    assert model.optimizer.use_ema and model.optimizer.ema_momentum == 0.9
    if BACKEND == "jax":
        assert model.jit_compile is True
    record = _Record()
    callbacks = standard(early_stopping={"patience": 2}, lr_schedule="constant") + [record]
    h = model.fit(x, y, validation_data=(xv, yv), epochs=12, batch_size=16, verbose=0,
                  callbacks=callbacks, shuffle=False).history
    best = int(np.argmin(h["val_loss"]))
    final = [keras.ops.convert_to_numpy(v) for v in model.trainable_variables]
    for got, ema, raw in zip(final, record.ema[best], record.raw[best]):
        np.testing.assert_allclose(got, ema, rtol=1e-6, atol=1e-7)  # the best epoch's average
        assert not np.allclose(ema, raw, atol=1e-4)  # which is not the raw weights
    # the logged val_loss of that epoch was measured with those same averaged weights
    assert model.evaluate(xv, yv, verbose=0, return_dict=True)["loss"] == pytest.approx(
        h["val_loss"][best], rel=1e-4)


def test_gradient_accumulation_updates_once_per_n_batches_and_its_backup_reads_back(tmp_path):
    x, y = _blobs(96)
    model = compile_for_task(_dense(), "classification", optimizer="adam",
                             switches=check_switches({"gradient_accumulation": 3}))
    if BACKEND == "jax":
        assert model.jit_compile is True
    before = [keras.ops.convert_to_numpy(v).copy() for v in model.trainable_variables]
    model.fit(x, y, epochs=1, batch_size=16, verbose=0, shuffle=False,
              callbacks=standard(run_dir=tmp_path, monitor="loss", early_stopping=False,
                                 lr_schedule="constant", checkpoint=False, csv_log=False))
    assert int(keras.ops.convert_to_numpy(model.optimizer.iterations)) == 2  # 6 batches / 3
    assert not all(np.allclose(a, keras.ops.convert_to_numpy(b))
                   for a, b in zip(before, model.trainable_variables))
    # the backup's step count is the optimizer's own counter (6), not iterations (2): a resume
    # takes it as whole instead of refusing it as torn
    assert read_backup(backup_path(tmp_path / "backup", 1))["epoch"] == 1


def test_weight_decay_is_decoupled_and_spares_biases():
    model = compile_for_task(_dense(), "classification", optimizer="adam",
                             switches=check_switches({"weight_decay": 0.05}))
    opt = model.optimizer
    assert opt.weight_decay == 0.05
    decayed = {v.path: opt._use_weight_decay(v) for v in model.trainable_variables}
    assert decayed == {"hidden/kernel": True, "hidden/bias": False,
                       "predictions/kernel": True, "predictions/bias": False}


def test_label_smoothing_refuses_a_loss_it_does_not_apply_to():
    with pytest.raises(ValueError, match="label_smoothing, mixup and cutmix apply to "
                                         "cross-entropy losses; the loss is 'mse'"):
        compile_for_task(_dense(), "classification", loss="mse",
                         switches=check_switches({"label_smoothing": 0.1}))


# --- as a user runs them ---------------------------------------------------------------------


def test_train_flags_set_the_switches_and_the_card_records_them(tmp_path, capsys):
    out = tmp_path / "models"
    code = main(["train", "lenet5-digits", "--set", "train.epochs=1", "--output", str(out),
                 "--quiet", "--label-smoothing", "0.1", "--ema", "0.9", "--weight-decay", "0.05",
                 "--grad-accum", "2", "--optimizer", "adamw", "--lr-schedule", "cosine",
                 "--warmup-epochs", "1", "--l2", "1e-4", "--max-norm", "3",
                 "--activity-l1", "1e-5", "--clipnorm", "1.0",
                 "--tensorboard", str(tmp_path / "tb")])
    assert code == 0
    card = _card(out / "lenet5-digits")
    t = card["training"]
    assert t["optimizer"] == "adamw"
    assert t["label_smoothing"] == 0.1
    assert t["ema"]["momentum"] == 0.9
    assert t["weight_decay"]["rate"] == 0.05
    assert t["gradient_accumulation"] == {"steps": 2, "effective_batch_size": 128}
    assert t["callbacks"]["lr_schedule"] == {"type": "cosine", "warmup_epochs": 1, "alpha": 0.0}
    assert t["l2"]["value"] == 1e-4 and t["max_norm"]["value"] == 3.0
    assert t["activity_l1"]["value"] == 1e-5
    assert t["gradient_clipping"] == {"by": "clipnorm", "value": 1.0}
    assert card["recipe"]["callbacks"]["tensorboard"] == str(tmp_path / "tb")
    assert len(_scalars(tmp_path / "tb" / "validation")["epoch_accuracy"]) == 1
    # the saved model is compiled with what trained it: it reloads with the smoothed loss
    from dlzoo import load

    model = load(out / "lenet5-digits")
    assert type(model.loss).__name__ == "SmoothedCrossEntropy"
    assert model.loss.label_smoothing == 0.1
    assert model.optimizer.use_ema and model.optimizer.gradient_accumulation_steps == 2
    assert model.optimizer.clipnorm == 1.0
    # the penalties and constraints are in the saved model: a reloaded model trains under them
    from dlzoo.regularization import kernel_layers

    kernels = kernel_layers(model)
    assert len(kernels) == 5  # lenet5: c1, c3, c5, f6, predictions
    assert all(type(k.kernel.regularizer).__name__ == "L1L2" and k.kernel.regularizer.l2 == (
        pytest.approx(1e-4)) and type(k.kernel.constraint).__name__ == "MaxNorm" for k in kernels)
    assert [k.name for k in kernels if k.activity_regularizer is not None] == ["f6"]
    if BACKEND == "jax":
        assert model.jit_compile is True


def test_a_bad_switch_flag_is_one_line_naming_the_key(capsys):
    assert main(["train", "lenet5-digits", "--label-smoothing", "1.5"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "train.label_smoothing must be a number in [0, 1)" in err[0]
    assert main(["finetune", str(SHIPPED), "--model", "lenet5", "--warmup-epochs", "2"]) == 2
    err = capsys.readouterr().err
    assert "--warmup-epochs goes with --lr-schedule cosine or one_cycle" in err


def test_finetune_flags_reach_both_phases_and_the_card(tmp_path, capsys):
    from tests.test_finetune_cli import _colour_folder

    folder = _colour_folder(tmp_path / "photos", n=6)
    out = tmp_path / "tuned"
    code = main(["finetune", str(folder), "--model", str(SHIPPED), "--head-epochs", "2",
                 "--epochs", "2", "--out", str(out), "--quiet",
                 "--label-smoothing", "0.1", "--ema", "--weight-decay", "0.01",
                 "--grad-accum", "2", "--lr-schedule", "one_cycle", "--l2", "1e-4",
                 "--global-clipnorm", "1.0",
                 "--augment", "mixup=0.2,cutmix=true,mix_off_epoch=1,erasing=0.5"])
    assert code == 0
    card = _card(out)
    assert card["transfer"]["augment"] == {"mixup": 0.2, "cutmix": 1.0, "mix_off_epoch": 1,
                                           "erasing": 0.5}
    t = card["training"]
    assert t["label_smoothing"] == 0.1 and t["ema"]["momentum"] == 0.99
    assert t["weight_decay"]["rate"] == 0.01 and t["gradient_accumulation"]["steps"] == 2
    assert t["lr_schedule"] == "one_cycle"
    assert t["l2"]["value"] == 1e-4
    assert t["gradient_clipping"] == {"by": "global_clipnorm", "value": 1.0}
    assert t["phase1"]["epochs_run"] == 2 and t["phase2"]["epochs_run"] == 2


# --- augmentation policies (item 1) ----------------------------------------------------------


@pytest.mark.parametrize("spec, words", [
    ({"rand_augment": 2}, "augment.rand_augment must be true or a number in (0, 1]"),
    ({"mixup": -1}, "augment.mixup must be true or the Beta distribution's alpha"),
    ({"mix_off_epoch": 3}, "augment.mix_off_epoch goes with mixup or cutmix"),
    ({"cutmix": True, "mix_off_epoch": "two"}, "augment.mix_off_epoch must be a positive "
                                               "integer"),
    ({"randaugment": True}, "unknown augment key 'randaugment'"),
])
def test_a_bad_policy_names_the_key(spec, words):
    from dlzoo.augmentation import normalize_augment

    with pytest.raises(ValueError) as e:
        normalize_augment(spec, "train.augment")
    assert words in str(e.value)


def test_true_means_kerass_own_strength():
    from dlzoo.augmentation import normalize_augment

    assert normalize_augment({"rand_augment": True, "augmix": True, "erasing": True,
                              "mixup": True, "cutmix": True}) == {
        "rand_augment": 0.5, "augmix": 0.3, "erasing": 0.25, "mixup": 0.2, "cutmix": 1.0}


# RandAugment and AugMix are big graphs: JAX compiles their eager ops for a minute on 2 cores
@pytest.mark.parametrize("key", [
    pytest.param("rand_augment", marks=pytest.mark.slow if BACKEND == "jax" else ()),
    pytest.param("augmix", marks=pytest.mark.slow if BACKEND == "jax" else ()),
    "erasing"])
def test_a_policy_changes_the_training_batch_and_leaves_inference_alone(key):
    from dlzoo.augmentation import augmentation_layers

    (layer,) = augmentation_layers({key: 1.0 if key == "erasing" else True})
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (8, 24, 24, 3)).astype("float32")
    out = keras.ops.convert_to_numpy(layer(images, training=True))
    changed = [not np.allclose(a, b) for a, b in zip(out, images)]
    assert sum(changed) >= 6, f"{key} changed {sum(changed)} of 8 images"
    assert out.min() >= 0 and out.max() <= 255  # stays in the pixel range
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer(images, training=False)),
                                  images)


def _labelled_batches(n=48, classes=4, batch=16):
    from dlzoo.data.neutral import Batches

    rng = np.random.default_rng(1)
    x = rng.integers(0, 256, (n, 16, 16, 3)).astype("uint8")
    y = rng.integers(0, classes, n).astype("int32")
    return x, y, Batches(x, y, batch_size=batch)


@pytest.mark.parametrize("pipeline", ["backend-neutral", "tf.data"])
@pytest.mark.parametrize("kind", ["mixup", "cutmix"])
def test_mixing_mixes_images_and_labels_until_the_off_epoch(kind, pipeline):
    from dlzoo.augmentation import BatchMixer

    x, y, batches = _labelled_batches()
    if pipeline == "tf.data":
        tf = pytest.importorskip("tensorflow")
        batches = tf.data.Dataset.from_tensor_slices((x, y)).batch(16)
    mixer = BatchMixer({kind: 1.0, "mix_off_epoch": 2}, num_classes=4, seed=0)
    data = mixer.mix(batches)

    def first():
        xb, yb = next(iter(data))
        return np.asarray(xb), np.asarray(yb)

    mixer.set_epoch(1)
    xb, yb = first()
    assert yb.shape == (16, 4) and np.allclose(yb.sum(axis=1), 1.0, atol=1e-5)
    # a partner of the same class (1 in 4 here) leaves a label whole
    assert (yb.max(axis=1) < 0.999).sum() >= 5, "labels are mixtures"
    assert (np.abs(xb - x[:16]).reshape(16, -1).max(axis=1) > 0).sum() >= 8
    # the mixture follows the labels: a mixed label's largest share is one of the classes
    # mixed, and the image's own class has a share
    assert all(yb[i, y[i]] > 0 for i in range(16))
    # the same seed mixes the same way (a seeded run is reproducible)
    keras.utils.set_random_seed(0)
    again = BatchMixer({kind: 1.0, "mix_off_epoch": 2}, num_classes=4, seed=0)
    keras.utils.set_random_seed(0)
    once = BatchMixer({kind: 1.0, "mix_off_epoch": 2}, num_classes=4, seed=0)
    labels = [np.concatenate([np.asarray(b[1]) for b in m.mix(batches)]) for m in (again, once)]
    np.testing.assert_allclose(labels[0], labels[1])
    mixer.set_epoch(2)  # timm's --mixup-off-epoch: from here on, plain one-hot batches
    xb, yb = first()
    np.testing.assert_array_equal(yb, np.eye(4)[y[:16]])
    np.testing.assert_array_equal(xb, x[:16].astype("float32"))


def test_soft_label_accuracy_reads_indices_and_mixtures_alike():
    from dlzoo.losses import SoftLabelAccuracy

    p = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]], "float32")
    for labels in (np.array([0, 1]), np.array([[0], [1]]),
                   np.array([[0.6, 0.4, 0.0], [0.0, 0.8, 0.2]], "float32")):
        m = SoftLabelAccuracy()
        m.update_state(labels, p)
        assert float(m.result()) == pytest.approx(0.5)


def test_training_with_mixup_cutmix_and_erasing_keeps_the_step_compiled(tmp_path, capsys):
    out = tmp_path / "models"
    code = main(["train", "lenet5-digits", "--set", "train.epochs=2", "--set",
                 "train.augment={mixup: 0.2, cutmix: true, mix_off_epoch: 1, erasing: 0.5}",
                 "--output", str(out), "--quiet"])
    assert code == 0
    card = _card(out / "lenet5-digits")
    assert card["training"]["augment"] == {"mixup": 0.2, "cutmix": 1.0, "mix_off_epoch": 1,
                                           "erasing": 0.5}
    assert card["metrics"]["val_accuracy"] > card["metrics"]["val_majority_baseline"]
    from dlzoo import load

    model = load(out / "lenet5-digits")
    assert type(model.loss).__name__ == "SmoothedCrossEntropy"  # takes the soft labels
    if BACKEND == "jax":
        assert model.jit_compile is True
    assert not model.run_eagerly


# --- regularisation and clipping (item 7) ----------------------------------------------------


def test_clipping_one_way_and_an_activity_layer_without_its_penalty_are_refused():
    with pytest.raises(RecipeError, match="clipnorm and train.clipvalue: Keras clips gradients "
                                          "one way at a time"):
        load_recipe("lenet5-digits", overrides=["train.clipnorm=1", "train.clipvalue=0.5"])
    with pytest.raises(RecipeError, match="train.activity_layer goes with activity_l1"):
        load_recipe("lenet5-digits", overrides=["train.activity_layer=f6"])
    with pytest.raises(RecipeError, match=r"train.max_norm must be a positive number"):
        load_recipe("lenet5-digits", overrides=["train.max_norm=0"])


def test_penalties_enter_the_loss_and_max_norm_binds_after_each_update():
    from dlzoo.regularization import regularize

    model = _dense()
    done = regularize(model, l2=0.01, max_norm=0.05, activity_l1=0.01)
    assert done == {"kernels": 2, "activity_layer": "hidden"}  # the layer feeding predictions
    compile_for_task(model, "classification", optimizer="sgd", learning_rate=0.5)
    x, y = _blobs(32)
    model(x[:4])  # a call records the activity penalty
    assert len(model.losses) == 3  # two kernels' L2, the hidden layer's activities
    model.fit(x, y, epochs=1, batch_size=16, verbose=0)
    for layer in (model.get_layer("hidden"), model.get_layer("predictions")):
        norms = np.linalg.norm(keras.ops.convert_to_numpy(layer.kernel), axis=0)
        assert norms.max() <= 0.05 + 1e-6  # each unit's incoming weights
    with pytest.raises(ValueError, match="activity_layer 'hiden' is not a layer of .*closest: "
                                         "hidden"):
        regularize(_dense(), activity_l1=0.01, activity_layer_name="hiden")


def test_a_rate_written_1e_4_is_a_number_in_a_recipe_and_in_set(tmp_path):
    # YAML 1.1 reads 1e-4 as the string '1e-4': the recipe was refused naming the key
    recipe = load_recipe("lenet5-digits", overrides=["train.learning_rate=1e-4",
                                                     "train.l2=1e-5"])
    assert recipe["train"]["learning_rate"] == 1e-4 and recipe["train"]["l2"] == 1e-5
    path = tmp_path / "r.yaml"
    path.write_text((ROOT / "dlzoo" / "recipes" / "lenet5-digits.yaml").read_text().replace(
        "learning_rate: 0.001", "learning_rate: 1e-3"))
    assert "1e-3" in path.read_text()
    assert load_recipe(path)["train"]["learning_rate"] == 1e-3


# --- TensorBoard (item 6) --------------------------------------------------------------------


def _scalars(folder) -> dict:
    """{tag: [values by step]} of every event file under `folder`, read with TensorBoard's own
    reader (no TensorFlow)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(folder))
    acc.Reload()
    out = {tag: [e.value for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}
    for tag in acc.Tags().get("tensors", []):  # tf.summary (Keras's callback) writes tensors
        if not tag.startswith("epoch_"):
            continue  # the model's summary, as text
        out[tag] = [float(np.asarray(
            __import__("tensorboard").util.tensor_util.make_ndarray(e.tensor_proto)))
            for e in acc.Tensors(tag)]
    return out


def test_tune_writes_each_trials_logs_and_hyperparameters_for_tensorboard(tmp_path, capsys):
    from tests._tuning import tiny_recipe

    recipe = tiny_recipe(tmp_path, trials=2, epochs=2)
    board = tmp_path / "tb"
    assert main(["tune", str(recipe), "--output", str(tmp_path / "out"), "--quiet",
                 "--tensorboard", str(board)]) == 0
    trials = sorted(p.name for p in board.iterdir())
    assert len(trials) == 2, trials  # one folder per trial, as keras-tuner names them
    for trial in trials:
        run = board / trial / "execution0"
        assert len(_scalars(run / "validation")["epoch_accuracy"]) == 2  # one point per epoch
        assert len(_scalars(run / "train")["epoch_loss"]) == 2
        from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

        acc = EventAccumulator(str(run))
        acc.Reload()
        plugins = acc.PluginTagToContent("hparams")  # the HParams view's session record
        assert plugins, f"trial {trial}: no hyperparameters for TensorBoard's HParams view"


def test_finetune_tensorboard_logs_each_phase(tmp_path, capsys):
    from tests.test_finetune_cli import _colour_folder

    folder = _colour_folder(tmp_path / "photos", n=6)
    board = tmp_path / "tb"
    assert main(["finetune", str(folder), "--model", str(SHIPPED), "--head-epochs", "2",
                 "--epochs", "1", "--out", str(tmp_path / "tuned"), "--quiet",
                 "--cache-dir", "", "--tensorboard", str(board)]) == 0
    assert len(_scalars(board / "phase1" / "validation")["epoch_loss"]) == 2
    assert len(_scalars(board / "phase2" / "train")["epoch_loss"]) == 1


def test_tune_trials_train_on_mixed_batches_and_stop_mixing_at_the_off_epoch(tmp_path, capsys):
    import copy

    import yaml

    from dlzoo.callbacks import MixingSchedule
    from dlzoo.tuning.runner import _trial_callbacks
    from tests._tuning import tiny_recipe

    path = tiny_recipe(tmp_path, trials=1, epochs=2)
    recipe = yaml.safe_load(path.read_text())
    recipe["train"]["augment"] = {"mixup": 0.2, "mix_off_epoch": 1}
    recipe["train"]["label_smoothing"] = 0.1
    path.write_text(yaml.safe_dump(recipe))
    assert main(["tune", str(path), "--output", str(tmp_path / "out"), "--quiet"]) == 0
    trials = list((tmp_path / "out" / ".tuning").rglob("trial.json"))
    assert trials and json.loads(trials[0].read_text())["status"] == "COMPLETED"
    # each trial's copy of the schedule drives the one mixer the pipeline holds
    mixer = object.__new__(__import__("dlzoo.augmentation").augmentation.BatchMixer)
    calls = []
    mixer.set_epoch = calls.append
    (schedule,) = _trial_callbacks(load_recipe(path), print, mixer)
    copied = copy.deepcopy(schedule)
    assert isinstance(copied, MixingSchedule) and copied.mixer is mixer
    copied.on_epoch_begin(1)
    assert calls == [1]


@pytest.mark.slow  # a 100-step range test
def test_finetune_find_lr_runs_on_mixed_batches_with_the_switches(tmp_path, capsys, monkeypatch):
    from tests.test_finetune_cli import _colour_folder

    folder = _colour_folder(tmp_path / "photos", n=6)
    monkeypatch.chdir(tmp_path)
    assert main(["finetune", str(folder), "--model", str(SHIPPED), "--find-lr", "--quiet",
                 "--out", str(tmp_path / "tuned"), "--augment", "mixup=0.2",
                 "--label-smoothing", "0.1", "--lr-schedule", "cosine"]) == 0
    assert "suggested learning rate" in capsys.readouterr().out


def test_a_fine_tune_recipe_passes_its_switches_to_fine_tune():
    from dlzoo.transfer.finetune import recipe_config

    recipe = load_recipe("lenet5-shapes-finetune", check_registry=False, overrides=[
        "train.label_smoothing=0.1", "train.ema=true", "train.l2=1e-4", "train.optimizer=adamw",
        "callbacks.tensorboard=runs"])
    _, _, cfg = recipe_config(recipe, output=ROOT / "saved_models")
    assert (cfg.label_smoothing, cfg.ema, cfg.l2, cfg.optimizer, cfg.tensorboard) == (
        0.1, 0.99, 1e-4, "adamw", "runs")
