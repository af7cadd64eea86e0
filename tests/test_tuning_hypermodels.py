"""dlzoo.tuning.hypermodels: every hyperparameter has a default, the defaults build the registry's
own model, and a space that cannot be built is refused before any trial runs."""

import keras_tuner as kt
import pytest

from dlzoo import build
from dlzoo.tuning import HYPERMODELS, get_hypermodel
from dlzoo.tuning.hypermodels import COMMON


def defaults(hm):
    hp = kt.HyperParameters()
    hm.values(hp)
    return hp.values


def test_cnn_defaults_are_documented_and_build_plain_cnn():
    hm = get_hypermodel("cnn", input_shape=(16, 16, 1), num_classes=10)
    assert defaults(hm) == {
        "stages": 2, "convs": 2, "filters": 32, "kernel_size": 3, "batch_norm": False,
        "dropout": 0.3, "fc_units": 128, "optimizer": "adam", "learning_rate": 1e-3,
    }
    model = hm.build(kt.HyperParameters())
    # The hypermodel calls the registry builder: same network as dlzoo.build with those values
    # (the preprocessing wrapper adds no weights).
    reference = build("plain_cnn", input_shape=(16, 16, 1), num_classes=10, stages=(2, 2),
                      filters=(32, 64), kernel_size=3, batch_norm=False, dropout=0.3,
                      fc_units=(128,))
    assert model.count_params() == reference.count_params()
    inner = model.get_layer("plain_cnn")
    assert [w.shape for w in inner.weights] == [w.shape for w in reference.weights]
    assert model.optimizer.__class__.__name__ == "Adam"
    assert float(model.optimizer.learning_rate) == pytest.approx(1e-3)
    assert model.loss == "sparse_categorical_crossentropy"


def test_rnn_and_transformer_defaults():
    rnn = get_hypermodel("rnn", input_shape=(20,), num_classes=2, model_args={"vocab_size": 50})
    assert defaults(rnn) == {
        "cell": "lstm", "bidirectional": False, "layers": 1, "units": 64, "dropout": 0.0,
        "embedding_dim": 128, "optimizer": "adam", "learning_rate": 1e-3,
    }
    model = rnn.build(kt.HyperParameters())
    assert model.name == "text_lstm"
    assert model.count_params() == build("text_lstm", vocab_size=50, input_shape=(20,),
                                         num_classes=2).count_params()
    seq = get_hypermodel("rnn", model="sequence_gru", input_shape=(12, 3), num_classes=4)
    assert "embedding_dim" not in defaults(seq)

    tf_hm = get_hypermodel("transformer", input_shape=(20,), num_classes=2,
                           model_args={"vocab_size": 50})
    assert defaults(tf_hm) == {
        "layers": 2, "heads": 4, "key_dim": 32, "ff_dim": 256, "dropout": 0.1,
        "optimizer": "adam", "learning_rate": 1e-3,
    }
    spec = tf_hm.spec(kt.HyperParameters())
    # the width is heads x key_dim, so every head count divides it
    assert spec.model == "transformer_encoder"
    assert spec.model_args == {"vocab_size": 50, "depth": 2, "num_heads": 4, "embed_dim": 128,
                               "ff_dim": 256, "dropout": 0.1}
    vit = get_hypermodel("transformer", model="vit_tiny", input_shape=(16, 16, 1), num_classes=3)
    assert defaults(vit)["patch_size"] == 4


def test_resnet_defaults_build_the_registry_resnet():
    hm = get_hypermodel("resnet", input_shape=(16, 16, 3), num_classes=10)
    assert defaults(hm) == {
        "stages": 3, "blocks": 2, "width": 16, "block": "basic", "version": "v1",
        "stem": "cifar", "optimizer": "adam", "learning_rate": 1e-3,
    }
    spec = hm.spec(kt.HyperParameters())
    assert spec.model == "resnet20"
    assert spec.model_args == {"depths": (2, 2, 2), "widths": (16, 32, 64), "block": "basic",
                               "preact": False, "stem": "cifar"}
    model = hm.build(kt.HyperParameters())
    reference = build("resnet20", input_shape=(16, 16, 3), num_classes=10, **spec.model_args)
    assert model.count_params() == reference.count_params()
    # v2 and bottleneck blocks go through the same builder
    v2 = get_hypermodel("resnet", input_shape=(16, 16, 3), num_classes=10,
                        space={"version": "v2", "block": "bottleneck", "stages": 2,
                               "blocks": 1, "width": 8})
    net = v2.build(kt.HyperParameters()).get_layer("resnet20")
    assert "post_relu" in [layer.name for layer in net.layers]  # the pre-activation head


def test_every_hypermodel_shares_optimizer_and_learning_rate():
    assert COMMON["optimizer"].default == "adam"
    assert COMMON["learning_rate"].default == 1e-3 and COMMON["learning_rate"].sampling == "log"
    assert set(HYPERMODELS) == {"cnn", "resnet", "rnn", "transformer"}


def test_space_overrides_choices_ranges_and_fixed_values():
    hm = get_hypermodel("cnn", input_shape=(16, 16, 1), num_classes=10, space={
        "stages": [1, 3], "dropout": {"min": 0.1, "max": 0.4, "step": 0.1},
        "batch_norm": True, "learning_rate": {"min": 1e-3, "max": 1e-1, "sampling": "log"},
    })
    values = defaults(hm)
    assert values["stages"] == 1  # 2 (the default) is not a choice: the first is
    assert values["dropout"] == pytest.approx(0.3) and values["batch_norm"] is True
    assert values["learning_rate"] == pytest.approx(1e-3)
    space = hm.describe()["space"]
    assert space["stages"] == {"choice": [1, 3], "default": 1}
    assert space["batch_norm"] is True


@pytest.mark.parametrize("kwargs, message", [
    # four pooling stages need 16x16 pixels: digits at 8x8 cannot take them
    (dict(name="cnn", input_shape=(8, 8, 1), space={"stages": [2, 4]}),
     "stages=4 cannot be built for input [8, 8, 1]"),
    (dict(name="cnn", input_shape=(16, 16, 1), space={"kernel_size": [3, 4]}),
     "kernel_size=4"),
    (dict(name="cnn", input_shape=(16, 16, 1), space={"depth": [1, 2]}),
     "unknown hyperparameter(s) depth"),
    (dict(name="cnn", input_shape=(16, 16, 1), space={"filters": []}), "empty"),
    (dict(name="cnn", input_shape=(16, 16, 1), space={"dropout": {"min": 0.5, "max": 0.1}}),
     "min (0.5) must be below max"),
    (dict(name="cnn", input_shape=(16, 16, 1), space={"dropout": [0.2, 1.5]}), "< 1.0"),
    (dict(name="cnn", input_shape=(16, 16, 1), space={"optimizer": ["adam", "lbfgs"]}),
     "one of adam"),
    (dict(name="cnn", input_shape=(16, 16, 1), model_args={"filters": (8,)}),
     "model_args filters name searched"),
    (dict(name="rnn", input_shape=(20,), space={"cell": ["lstm", "rnn"]}), "one of lstm, gru"),
    (dict(name="transformer", model="vit_tiny", input_shape=(12, 12, 1),
          space={"patch_size": [4, 8]}), "patch_size 8 does not divide the image"),
    (dict(name="transformer", input_shape=(16, 16, 1), model="plain_cnn"),
     "builds transformer_encoder or vit_tiny"),
    (dict(name="nas", input_shape=(16, 16, 1)), "unknown hypermodel 'nas'"),
    (dict(name="resnet", input_shape=(16, 16, 3), space={"version": ["v1", "v3"]}),
     "one of v1, v2"),
    (dict(name="resnet", input_shape=(16, 16, 3), model="vgg16"), "builds through a ResNet"),
])
def test_invalid_spaces_are_refused_before_any_trial(kwargs, message):
    name = kwargs.pop("name")
    with pytest.raises(ValueError) as e:
        get_hypermodel(name, num_classes=10, **kwargs)
    assert message in str(e.value)


def test_a_combination_that_slips_through_fails_the_trial_without_training():
    hm = get_hypermodel("cnn", input_shape=(16, 16, 1), num_classes=10)
    hp = kt.HyperParameters()
    hm.values(hp)
    hp.values["stages"] = 5  # not in the space: as if an old project held it
    with pytest.raises(kt.errors.FailedTrialError, match="5 stages"):
        hm.build(hp)


def test_a_continued_trial_restores_its_optimizer_from_the_checkpoint(tmp_path):
    # hyperband continues a trial from an earlier one's checkpoint (weights and optimizer state);
    # the optimizer of a freshly built trial model must take that state, not skip it
    import warnings

    import numpy as np

    hm = get_hypermodel("cnn", input_shape=(8, 8, 1), num_classes=3,
                        space={"stages": 1, "convs": 1, "filters": 4, "fc_units": 8})
    rng = np.random.default_rng(0)
    x, y = rng.uniform(0, 255, (16, 8, 8, 1)).astype("float32"), rng.integers(0, 3, 16)
    first = hm.build(kt.HyperParameters())
    first.fit(x, y, batch_size=8, epochs=1, verbose=0)
    first.save_weights(tmp_path / "checkpoint.weights.h5")
    continued = hm.build(kt.HyperParameters())
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "Skipping variable loading for optimizer" fails here
        continued.load_weights(tmp_path / "checkpoint.weights.h5")
    assert int(continued.optimizer.iterations) == int(first.optimizer.iterations) == 2
    for a, b in zip(continued.optimizer.variables, first.optimizer.variables):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
