"""Registry-driven: every registered model has the parameter count of this table at its defaults,
built and as `model_info` declares it. One table for the whole zoo (it replaced a copy of this test
in each family's file); a model that registers must add its row.

Sources: keras.applications for vgg16/vgg19, resnet50 ... resnet152v2 and inception_v3 (same
layers, same counts); torchvision's trainable counts for resnet18/34 (11,689,512 / 21,797,672)
and vgg*_bn (vgg16_bn: 138,365,992) plus BatchNormalization's moving statistics; He et al. 2016
for the CIFAR ResNets (within 3%, tests/test_resnet.py); Krizhevsky et al. 2012 for AlexNet's
two towers; LeCun et al. 1998 for LeNet-5. Keras counts BatchNormalization's moving statistics.
"""

import keras
import pytest

from dlzoo import build, catalog, list_models, model_info

PARAMS = {
    "alexnet": 60_965_224,
    "conv_dae": 74_497,
    "dcgan_28": 899_010,
    "dcgan_32": 1_733_956,
    "dcgan_64": 6_346_052,
    "dense_dae": 435_536,
    "googlenet": 6_998_552,
    "inception_v3": 23_851_784,
    "lenet5": 61_706,
    "mlp": 235_146,
    "mlp_gan": 34_435,
    "perceptron": 3,
    "plain_cnn": 814_122,
    "resnet18": 11_699_112,
    "resnet20": 271_098,
    "resnet32": 466_426,
    "resnet34": 21_814_696,
    "resnet44": 661_754,
    "resnet50": 25_636_712,
    "resnet50v2": 25_613_800,
    "resnet56": 857_082,
    "resnet101": 44_707_176,
    "resnet101v2": 44_675_560,
    "resnet110": 1_736_058,
    "resnet152": 60_419_944,
    "resnet152v2": 60_380_648,
    "sequence_gru": 12_994,
    "sequence_lstm": 17_026,
    "text_bigru": 2_634_754,
    "text_bilstm": 2_659_074,
    "text_gru": 2_597_378,
    "text_lstm": 2_609_538,
    "timeseries_lstm": 16_961,
    "transformer_encoder": 2_982_402,
    "vgg11": 132_863_336,
    "vgg11_bn": 132_874_344,
    "vgg13": 133_047_848,
    "vgg13_bn": 133_059_624,
    "vgg16": 138_357_544,
    "vgg16_bn": 138_374_440,
    "vgg19": 143_667_240,
    "vgg19_bn": 143_689_256,
    "vit_tiny": 1_205_642,
}


def test_every_registered_model_has_a_row():
    assert sorted(PARAMS) == sorted(list_models())


@pytest.mark.parametrize("name", list_models())
def test_parameter_count_at_the_defaults(name):
    model = build(name)
    assert model.count_params() == PARAMS[name]
    assert model_info(name).params == PARAMS[name]
    stored = catalog.entry(name)["params"] if name in catalog.load() else None
    assert stored == PARAMS[name], (
        f"dlzoo/models/catalog.json says {stored} for {name}: run `{catalog.REGENERATE}`")
    del model
    keras.backend.clear_session()
