"""Registry-driven: every registered model has the parameter count of this table at its defaults,
built and as `model_info` declares it. One table for the whole zoo (it replaced a copy of this test
in each family's file); a model that registers must add its row.

Sources: keras.applications for vgg16/vgg19, resnet50 ... resnet152v2 and inception_v3 (same
layers, same counts); torchvision's trainable counts for resnet18/34 (11,689,512 / 21,797,672)
and vgg*_bn (vgg16_bn: 138,365,992) plus BatchNormalization's moving statistics; He et al. 2016
for the CIFAR ResNets (within 3%, tests/test_resnet.py); keras.applications for every model of
dlzoo.models.applications (mobilenet_v1 ... inception_resnet_v2: counted with weights=None, e.g.
EfficientNetB0 5,330,571, MobileNetV2 3,538,984, ConvNeXtTiny 28,589,128, DenseNet121 8,062,504); Krizhevsky et al. 2012 for AlexNet's
two towers; LeCun et al. 1998 for LeNet-5. Keras counts BatchNormalization's moving statistics.
Language models, counted by hand at vocab 10,000: lm_lstm = embedding 10000x128 + LSTM
4*256*(128+256+1) + LSTM 4*256*(256+256+1) + softmax 256*10000+10000; lm_gru the same with GRU's
3*256*(in+256+2); lm_transformer = tied embedding 10000x128 + 10000 output biases + 32x128
positions + 2 blocks of 198,272 (attention 66,048, FFN 131,712, two LayerNorms) + a LayerNorm.
embedding_recommender: (1000 + 1000) x (16 + 1) + the affine output's 2; adaline: 2 weights + bias.
"""

import keras
import pytest

from dlzoo import build, catalog, list_models, model_info

PARAMS = {
    "adaline": 3,
    "alexnet": 60_965_224,
    "conv_dae": 74_497,
    "convnext_base": 88_591_464,
    "convnext_large": 197_767_336,
    "convnext_small": 50_223_688,
    "convnext_tiny": 28_589_128,
    "convnext_xlarge": 350_196_968,
    "dcgan_28": 899_010,
    "dcgan_32": 1_733_956,
    "dcgan_64": 6_346_052,
    "dense_dae": 435_536,
    "densenet121": 8_062_504,
    "densenet169": 14_307_880,
    "densenet201": 20_242_984,
    "efficientnet_b0": 5_330_571,
    "embedding_recommender": 34_002,
    "efficientnet_b1": 7_856_239,
    "efficientnet_b2": 9_177_569,
    "efficientnet_b3": 12_320_535,
    "efficientnet_b4": 19_466_823,
    "efficientnet_b5": 30_562_527,
    "efficientnet_b6": 43_265_143,
    "efficientnet_b7": 66_658_687,
    "efficientnet_v2_b0": 7_200_312,
    "efficientnet_v2_b1": 8_212_124,
    "efficientnet_v2_b2": 10_178_374,
    "efficientnet_v2_b3": 14_467_622,
    "efficientnet_v2_l": 119_027_848,
    "efficientnet_v2_m": 54_431_388,
    "efficientnet_v2_s": 21_612_360,
    "googlenet": 6_998_552,
    "inception_resnet_v2": 55_873_736,
    "inception_v3": 23_851_784,
    "lenet5": 61_706,
    "lm_gru": 4_541_200,
    "lm_lstm": 4_769_552,
    "lm_transformer": 1_690_896,
    "mlp": 235_146,
    "mlp_gan": 34_435,
    "mobilenet_v1": 4_253_864,
    "mobilenet_v2": 3_538_984,
    "mobilenet_v3_large": 5_507_432,
    "mobilenet_v3_small": 2_554_968,
    "nasnet_large": 88_949_818,
    "nasnet_mobile": 5_326_716,
    "perceptron": 3,
    "plain_cnn": 814_122,
    "resnet101": 44_707_176,
    "resnet101v2": 44_675_560,
    "resnet110": 1_736_058,
    "resnet152": 60_419_944,
    "resnet152v2": 60_380_648,
    "resnet18": 11_699_112,
    "resnet20": 271_098,
    "resnet32": 466_426,
    "resnet34": 21_814_696,
    "resnet44": 661_754,
    "resnet50": 25_636_712,
    "resnet50v2": 25_613_800,
    "resnet56": 857_082,
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
    "xception": 22_910_480,
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
