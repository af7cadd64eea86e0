"""The training, evaluation and prediction steps are compiled on JAX whatever the augmentation,
and augmentation inside a compiled step is still random per sample and per step.

Keras marks its geometric augmentation layers `supports_jit = False` (a limit of TensorFlow's
XLA), and `compile()` then ran the whole model uncompiled on every backend: on JAX op by op.
`dlzoo.compiling.allow_jit` marks the ones that trace on JAX. Every assertion here is on what
Keras reports (`model.jit_compile`, `run_eagerly`), not on a flag of ours. CI runs this file on
both legs: TensorFlow (the step is a graph, never eager) and JAX (the step is jitted).
"""

from types import SimpleNamespace

import keras
import numpy as np
import pytest
from keras import layers, ops

from dlzoo.augmentation import augmentation_layers
from dlzoo.compiling import JAX_TRACEABLE_AUGMENTATION, allow_jit, compile_for_task
from dlzoo.recipes import list_recipes, load_recipe
from dlzoo.registry import model_info

BACKEND = keras.backend.backend()
ROOT = __import__("pathlib").Path(__file__).resolve().parents[1]
jax_only = pytest.mark.skipif(BACKEND != "jax", reason="the jitted step is JAX's")


def _assert_compiled(model, what):
    if BACKEND == "jax":
        assert model.jit_compile is True, f"{what}: the step runs uncompiled on JAX"
    assert not model.run_eagerly, f"{what}: the step runs eagerly"


def _fake_bundle(recipe, info):
    """What `build_model` reads of the data, without reading any (tfds sets are offline)."""
    shape = recipe["model_args"].get("input_shape")
    if shape is None and info.input_kind == "image":
        size = recipe["data"].get("image_size") or info.default_input_shape[:2]
        channels = 1 if recipe["data"].get("color_mode") == "grayscale" else 3
        shape = (*size, channels)
    if shape is None:
        shape = info.default_input_shape
    return SimpleNamespace(input_shape=tuple(shape), num_classes=2, class_names=["a", "b"],
                           value_range="0-255" if info.input_kind == "image" else "raw",
                           details={"vocab_size": 50})


@pytest.mark.parametrize("name", [n for n in list_recipes() if not load_recipe(
    n, check_registry=False).get("phases")])  # a fine-tune: test_finetune_with_augmentation_compiles_both_phases
def test_every_shipped_recipe_builds_a_compiled_step(name):
    from dlzoo.training import build_model, compile_model

    recipe = load_recipe(name)
    recipe["model_args"].pop("weights", None)  # ImageNet files are offline here
    info = model_info(recipe["model"])
    model = build_model(recipe, _fake_bundle(recipe, info), info)
    compile_model(model, recipe, info, steps=10)
    _assert_compiled(model, name)
    if recipe["train"]["augment"] and BACKEND == "jax":
        kinds = {type(layer).__name__ for layer in model._flatten_layers()}
        assert kinds & set(JAX_TRACEABLE_AUGMENTATION) or "RandomFlip" in kinds


def _augmenting_probe(spec):
    """Input -> augmentation -> Flatten -> a frozen identity Dense: the prediction is the
    augmented image itself. The loss is each sample's squared distance from the batch mean (0
    when every sample of a batch of equal images was augmented alike), the metric the mean pixel
    (which moves when a step draws new random numbers)."""
    inputs = keras.Input((12, 12, 1))
    x = inputs
    for layer in augmentation_layers(spec):
        x = layer(x)
    x = layers.Flatten()(x)
    outputs = layers.Dense(144, kernel_initializer="identity", use_bias=False)(x)
    model = keras.Model(inputs, outputs)

    def spread(y_true, y_pred):
        return ops.mean(ops.square(y_pred - ops.mean(y_pred, axis=0, keepdims=True)), axis=-1)

    def mean_pixel(y_true, y_pred):
        return ops.mean(y_pred, axis=-1)

    allow_jit(model)
    model.compile(optimizer=keras.optimizers.SGD(0.0), loss=spread, metrics=[mean_pixel])
    return model


@pytest.mark.parametrize("spec", [{"translate": 0.2}, {"zoom": 0.2}, {"rotation": 0.1},
                                  {"flip": "horizontal", "translate": 0.1, "zoom": 0.1}])
def test_augmentation_in_the_compiled_step_differs_per_sample_and_per_step(spec):
    model = _augmenting_probe(spec)
    _assert_compiled(model, f"augment {spec}")
    ramp = np.linspace(0, 255, 144, dtype="float32").reshape(1, 12, 12, 1)
    x = np.repeat(ramp, 16, axis=0)  # sixteen copies of one asymmetric image
    h = model.fit(x, np.zeros((16, 144), "float32"), batch_size=16, epochs=3, verbose=0).history
    assert min(h["loss"]) > 1.0, f"{spec}: equal images stayed equal: augmentation is a no-op"
    assert len(set(np.round(h["mean_pixel"], 4))) == 3, \
        f"{spec}: every step drew the same augmentation: {h['mean_pixel']}"
    # and inference passes images through unchanged
    np.testing.assert_allclose(model.predict(x[:2], verbose=0), x[:2].reshape(2, -1), atol=1e-3)


def test_a_model_loaded_from_a_tensorflow_host_runs_jitted(tmp_path):
    """A model saved where compile() resolved jit to False (a CPU-only TensorFlow host, or any
    host before this fix) predicts and trains compiled when loaded on JAX."""
    from dlzoo.saving import load_model_file

    model = _augmenting_probe({"zoom": 0.1})
    model.jit_compile = False  # as a TensorFlow CPU host records it
    model.save(tmp_path / "m.keras")
    loaded = load_model_file(tmp_path / "m.keras", compile=True,
                             custom_objects={"spread": lambda a, b: a, "mean_pixel": lambda a, b: a})
    _assert_compiled(loaded, "the loaded model")


@pytest.mark.parametrize("kind", JAX_TRACEABLE_AUGMENTATION)
def test_each_marked_keras_layer_traces_under_jit(kind):
    """What the mark claims: each listed Keras layer runs inside a jitted training step."""
    layer = {"RandomTranslation": lambda: layers.RandomTranslation(0.1, 0.1),
             "RandomZoom": lambda: layers.RandomZoom(0.1),
             "RandomRotation": lambda: layers.RandomRotation(0.1),
             "RandomPerspective": lambda: layers.RandomPerspective(),
             "RandomShear": lambda: layers.RandomShear(0.1)}[kind]()
    model = keras.Sequential([keras.Input((8, 8, 3)), layer, layers.Flatten(), layers.Dense(2)])
    allow_jit(model)
    model.compile(optimizer="sgd", loss="mse")
    _assert_compiled(model, kind)
    model.fit(np.random.rand(4, 8, 8, 3).astype("float32"), np.zeros((4, 2)), verbose=0)


@jax_only
def test_finetune_with_augmentation_compiles_both_phases(tmp_path):
    from dlzoo.transfer import fine_tune
    from tests._imagefolders import write_good

    rng = np.random.default_rng(0)
    for label, cls in enumerate(["a", "b"]):
        for i in range(6):
            write_good(tmp_path / "data", cls, f"{i}", rng, label, size=(32, 32))
    seen = []

    class Spy(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            seen.append(self.model.jit_compile)

    original = keras.Model.fit

    def fit(self, *args, **kwargs):
        kwargs["callbacks"] = list(kwargs.get("callbacks") or []) + [Spy()]
        return original(self, *args, **kwargs)

    keras.Model.fit = fit
    try:
        # a pretrained source (the shipped model), so both phases run: from random weights a
        # fine-tune trains from scratch in one phase
        fine_tune(str(ROOT / "saved_models" / "lenet5-digits"), str(tmp_path / "data"),
                  augment=True, head_epochs=1, epochs=1, unfreeze="all", batch_size=4,
                  cache_dir=None, verbose=0, log=lambda *a: None)
    finally:
        keras.Model.fit = original
    assert seen == [True, True], f"fine_tune's phases ran with jit_compile {seen}"


@jax_only
def test_compiled_and_uncompiled_runs_of_one_seed_reach_the_same_accuracy():
    """The compiled step changes speed, not results: the quickstart's lenet5 on the digits with
    shifts and zooms, two epochs, seed 0, jitted and op by op."""
    from dlzoo.training import prepare_run

    accuracies = {}
    for jit in (True, False):
        keras.utils.set_random_seed(0)
        recipe = load_recipe("lenet5-digits")
        run = prepare_run(recipe, log=lambda *a: None)
        model = run.model
        if not jit:
            model.jit_compile = False
        else:
            _assert_compiled(model, "lenet5-digits")
        h = model.fit(run.train, validation_data=run.val, epochs=2, verbose=0, shuffle=False)
        accuracies[jit] = h.history["val_accuracy"][-1]
    assert accuracies[True] > 0.8 and abs(accuracies[True] - accuracies[False]) < 0.04, accuracies


def test_compile_for_task_on_a_model_with_every_augmentation():
    net = keras.Sequential([keras.Input((16, 16, 3)), layers.Flatten(),
                            layers.Dense(2, activation="softmax")])
    from dlzoo.preprocessing import with_preprocessing

    model = with_preprocessing(net, "unit", augment=augmentation_layers(
        {"flip": "horizontal", "translate": 0.1, "rotation": 0.1, "zoom": 0.1, "contrast": 0.2}))
    compile_for_task(model, "image_classification")
    _assert_compiled(model, "every augmentation")


def test_a_tune_trial_with_augmentation_builds_a_compiled_step():
    import keras_tuner

    from dlzoo.tuning.runner import recipe_hypermodel

    recipe = load_recipe("cnn-digits-tune")
    recipe["train"]["augment"] = {"translate": 0.1, "zoom": 0.1, "rotation": 0.05}
    info = model_info(recipe["model"])
    hypermodel = recipe_hypermodel(recipe, _fake_bundle(recipe, info), info)
    model = hypermodel.build(keras_tuner.HyperParameters())
    _assert_compiled(model, "a trial of cnn-digits-tune with augmentation")


def test_jax_processes_keep_their_compiled_steps_across_runs(tmp_path):
    """JAX's persistent compilation cache is on for dlzoo's JAX processes (so a second command
    reuses the jitted steps), in the user's folder when set, off with DLZOO_JAX_CACHE=0."""
    import os
    import subprocess
    import sys

    code = "import dlzoo, jax; print(jax.config.jax_compilation_cache_dir)"
    base = {k: v for k, v in os.environ.items() if not k.startswith(("JAX_", "DLZOO_JAX"))}
    base.update(KERAS_BACKEND="jax", XDG_CACHE_HOME=str(tmp_path / "xdg"))

    def folder(**env):
        out = subprocess.run([sys.executable, "-c", code], env={**base, **env},
                             capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr[-1000:]
        return out.stdout.strip().splitlines()[-1]

    assert folder() == str(tmp_path / "xdg" / "dlzoo" / "jax")
    assert folder(JAX_COMPILATION_CACHE_DIR=str(tmp_path / "mine")) == str(tmp_path / "mine")
    assert folder(DLZOO_JAX_CACHE="0") == "None"


@jax_only
def test_evaluation_runs_one_compiled_program_per_batch_shape():
    """`dlzoo.evaluation.evaluate` (and everything on `predicted_batches`: `dlzoo evaluate`,
    the quickstart's and every run's evaluation, TTA, perplexity) runs Keras's jitted predict
    step on JAX: one XLA compilation per batch shape. A direct `model(x)` there ran op by op,
    compiling each operation of the network for each new batch shape (LeNet-5 on the digits:
    1.4 s where TensorFlow takes 0.2 s)."""
    import jax

    from dlzoo.data.neutral import Batches
    from dlzoo.evaluation import evaluate
    from dlzoo.tta import TTA, tta_probabilities

    compiles = []

    def listen(event, duration, **kwargs):
        if event == "/jax/core/compile/backend_compile_duration":
            compiles.append(event)

    inputs = keras.Input((12, 12, 1))
    x = layers.Conv2D(4, 3, activation="relu")(inputs)
    x = layers.MaxPooling2D()(x)
    x = layers.Conv2D(6, 3, activation="relu")(x)
    x = layers.Flatten()(x)
    x = layers.Dense(8, activation="relu")(x)
    model = keras.Model(inputs, layers.Dense(3, activation="softmax")(x))
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 1, (21, 12, 12, 1)).astype("float32")
    data = Batches(images, rng.integers(0, 3, 21), batch_size=8)  # batches of 8, 8 and 5
    jax.monitoring.register_event_duration_secs_listener(listen)
    try:
        report = evaluate(model, data, class_names=["a", "b", "c"])
        during_evaluate = len(compiles)
        tta = tta_probabilities(model, images, TTA(flip="horizontal"), batch_size=8)
    finally:
        jax.monitoring.unregister_event_duration_listener(listen)
    assert report.num_samples == 21
    # the program for each of the two batch shapes (a few small helpers at most); op by op it
    # was more than 20
    assert during_evaluate <= 4, f"{during_evaluate} XLA compilations to evaluate 3 batches"
    assert len(compiles) - during_evaluate <= 2  # TTA's views: the same two shapes again
    # the same outputs as a direct call
    direct = keras.ops.convert_to_numpy(model(images, training=False))
    flipped = keras.ops.convert_to_numpy(model(images[:, :, ::-1], training=False))
    np.testing.assert_allclose(tta, (direct + flipped) / 2, rtol=1e-5, atol=1e-6)
    labels = np.concatenate([y for _, y in data])
    assert report.accuracy == pytest.approx(float(np.mean(direct.argmax(1) == labels)))
