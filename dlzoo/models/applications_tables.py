"""Data of dlzoo.models.applications: keras.applications' ImageNet files, its published parameter
counts, and each variant's feature layers and unfreeze groups (made by `applications.layout_of` at the variant's defaults;
tests/models/test_layer_names.py and test_applications.py check them against the built models)."""

from dlzoo.weights import WeightsFile

# keras.applications' ImageNet files, as its constructors fetch them (same names, URLs and hashes;
# MobileNet v1/v2 publish no hash, and keras checks none): the 224-pixel, width-1.0 files.
IMAGENET_WEIGHTS = {
    "mobilenet_v1": (WeightsFile(
        "mobilenet_1_0_224_tf.h5",
        "https://storage.googleapis.com/tensorflow/keras-applications/mobilenet/mobilenet_1_0_224_tf.h5",
        ""), WeightsFile(
        "mobilenet_1_0_224_tf_no_top.h5",
        "https://storage.googleapis.com/tensorflow/keras-applications/mobilenet/mobilenet_1_0_224_tf_no_top.h5",
        "")),
    "mobilenet_v2": (WeightsFile(
        "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224.h5",
        "https://storage.googleapis.com/tensorflow/keras-applications/mobilenet_v2/mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224.h5",
        ""), WeightsFile(
        "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5",
        "https://storage.googleapis.com/tensorflow/keras-applications/mobilenet_v2/mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5",
        "")),
    "mobilenet_v3_small": (WeightsFile(
        "weights_mobilenet_v3_small_224_1.0_float.h5",
        "https://storage.googleapis.com/tensorflow/keras-applications/mobilenet_v3/weights_mobilenet_v3_small_224_1.0_float.h5",
        "8768d4c2e7dee89b9d02b2d03d65d862"), WeightsFile(
        "weights_mobilenet_v3_small_224_1.0_float_no_top_v2.h5",
        "https://storage.googleapis.com/tensorflow/keras-applications/mobilenet_v3/weights_mobilenet_v3_small_224_1.0_float_no_top_v2.h5",
        "d3e8ec802a04aa4fc771ee12a9a9b836")),
    "mobilenet_v3_large": (WeightsFile(
        "weights_mobilenet_v3_large_224_1.0_float.h5",
        "https://storage.googleapis.com/tensorflow/keras-applications/mobilenet_v3/weights_mobilenet_v3_large_224_1.0_float.h5",
        "59e551e166be033d707958cf9e29a6a7"), WeightsFile(
        "weights_mobilenet_v3_large_224_1.0_float_no_top_v2.h5",
        "https://storage.googleapis.com/tensorflow/keras-applications/mobilenet_v3/weights_mobilenet_v3_large_224_1.0_float_no_top_v2.h5",
        "07fb09a5933dd0c8eaafa16978110389")),
    "efficientnet_b0": (WeightsFile(
        "efficientnetb0.h5",
        "https://storage.googleapis.com/keras-applications/efficientnetb0.h5",
        "902e53a9f72be733fc0bcb005b3ebbac"), WeightsFile(
        "efficientnetb0_notop.h5",
        "https://storage.googleapis.com/keras-applications/efficientnetb0_notop.h5",
        "50bc09e76180e00e4465e1a485ddc09d")),
    "efficientnet_b1": (WeightsFile(
        "efficientnetb1.h5",
        "https://storage.googleapis.com/keras-applications/efficientnetb1.h5",
        "1d254153d4ab51201f1646940f018540"), WeightsFile(
        "efficientnetb1_notop.h5",
        "https://storage.googleapis.com/keras-applications/efficientnetb1_notop.h5",
        "74c4e6b3e1f6a1eea24c589628592432")),
    "efficientnet_b2": (WeightsFile(
        "efficientnetb2.h5",
        "https://storage.googleapis.com/keras-applications/efficientnetb2.h5",
        "b15cce36ff4dcbd00b6dd88e7857a6ad"), WeightsFile(
        "efficientnetb2_notop.h5",
        "https://storage.googleapis.com/keras-applications/efficientnetb2_notop.h5",
        "111f8e2ac8aa800a7a99e3239f7bfb39")),
    "efficientnet_b3": (WeightsFile(
        "efficientnetb3.h5",
        "https://storage.googleapis.com/keras-applications/efficientnetb3.h5",
        "ffd1fdc53d0ce67064dc6a9c7960ede0"), WeightsFile(
        "efficientnetb3_notop.h5",
        "https://storage.googleapis.com/keras-applications/efficientnetb3_notop.h5",
        "af6d107764bb5b1abb91932881670226")),
    "efficientnet_b4": (WeightsFile(
        "efficientnetb4.h5",
        "https://storage.googleapis.com/keras-applications/efficientnetb4.h5",
        "18c95ad55216b8f92d7e70b3a046e2fc"), WeightsFile(
        "efficientnetb4_notop.h5",
        "https://storage.googleapis.com/keras-applications/efficientnetb4_notop.h5",
        "ebc24e6d6c33eaebbd558eafbeedf1ba")),
    "efficientnet_b5": (WeightsFile(
        "efficientnetb5.h5",
        "https://storage.googleapis.com/keras-applications/efficientnetb5.h5",
        "ace28f2a6363774853a83a0b21b9421a"), WeightsFile(
        "efficientnetb5_notop.h5",
        "https://storage.googleapis.com/keras-applications/efficientnetb5_notop.h5",
        "38879255a25d3c92d5e44e04ae6cec6f")),
    "efficientnet_b6": (WeightsFile(
        "efficientnetb6.h5",
        "https://storage.googleapis.com/keras-applications/efficientnetb6.h5",
        "165f6e37dce68623721b423839de8be5"), WeightsFile(
        "efficientnetb6_notop.h5",
        "https://storage.googleapis.com/keras-applications/efficientnetb6_notop.h5",
        "9ecce42647a20130c1f39a5d4cb75743")),
    "efficientnet_b7": (WeightsFile(
        "efficientnetb7.h5",
        "https://storage.googleapis.com/keras-applications/efficientnetb7.h5",
        "8c03f828fec3ef71311cd463b6759d99"), WeightsFile(
        "efficientnetb7_notop.h5",
        "https://storage.googleapis.com/keras-applications/efficientnetb7_notop.h5",
        "cbcfe4450ddf6f3ad90b1b398090fe4a")),
    "efficientnet_v2_b0": (WeightsFile(
        "efficientnetv2-b0.h5",
        "https://storage.googleapis.com/tensorflow/keras-applications/efficientnet_v2/efficientnetv2-b0.h5",
        "21ecbf6da12460d5c40bb2f29ceb2188"), WeightsFile(
        "efficientnetv2-b0_notop.h5",
        "https://storage.googleapis.com/tensorflow/keras-applications/efficientnet_v2/efficientnetv2-b0_notop.h5",
        "893217f2bb855e2983157299931e43ff")),
    "efficientnet_v2_b1": (WeightsFile(
        "efficientnetv2-b1.h5",
        "https://storage.googleapis.com/tensorflow/keras-applications/efficientnet_v2/efficientnetv2-b1.h5",
        "069f0534ff22adf035c89e2d9547a9dc"), WeightsFile(
        "efficientnetv2-b1_notop.h5",
        "https://storage.googleapis.com/tensorflow/keras-applications/efficientnet_v2/efficientnetv2-b1_notop.h5",
        "0e80663031ca32d657f9caa404b6ec37")),
    "efficientnet_v2_b2": (WeightsFile(
        "efficientnetv2-b2.h5",
        "https://storage.googleapis.com/tensorflow/keras-applications/efficientnet_v2/efficientnetv2-b2.h5",
        "424e49f28180edbde1e94797771950a7"), WeightsFile(
        "efficientnetv2-b2_notop.h5",
        "https://storage.googleapis.com/tensorflow/keras-applications/efficientnet_v2/efficientnetv2-b2_notop.h5",
        "1dfe2e7a5d45b6632553a8961ea609eb")),
    "efficientnet_v2_b3": (WeightsFile(
        "efficientnetv2-b3.h5",
        "https://storage.googleapis.com/tensorflow/keras-applications/efficientnet_v2/efficientnetv2-b3.h5",
        "1f1fc43bd98a6e4fd8fdfd551e02c7a0"), WeightsFile(
        "efficientnetv2-b3_notop.h5",
        "https://storage.googleapis.com/tensorflow/keras-applications/efficientnet_v2/efficientnetv2-b3_notop.h5",
        "f6abf7b5849ac99a89b50dd3fd532856")),
    "efficientnet_v2_s": (WeightsFile(
        "efficientnetv2-s.h5",
        "https://storage.googleapis.com/tensorflow/keras-applications/efficientnet_v2/efficientnetv2-s.h5",
        "e1d88a8495beba45748fedd0cecbe016"), WeightsFile(
        "efficientnetv2-s_notop.h5",
        "https://storage.googleapis.com/tensorflow/keras-applications/efficientnet_v2/efficientnetv2-s_notop.h5",
        "af0682fb74e8c54910f2d4393339c070")),
    "efficientnet_v2_m": (WeightsFile(
        "efficientnetv2-m.h5",
        "https://storage.googleapis.com/tensorflow/keras-applications/efficientnet_v2/efficientnetv2-m.h5",
        "a3bf6aa3276309f4fc6a34aa114c95cd"), WeightsFile(
        "efficientnetv2-m_notop.h5",
        "https://storage.googleapis.com/tensorflow/keras-applications/efficientnet_v2/efficientnetv2-m_notop.h5",
        "1b8dc055df72dde80d614482840fe342")),
    "efficientnet_v2_l": (WeightsFile(
        "efficientnetv2-l.h5",
        "https://storage.googleapis.com/tensorflow/keras-applications/efficientnet_v2/efficientnetv2-l.h5",
        "27e6d408b53c7ebc868fefa357689935"), WeightsFile(
        "efficientnetv2-l_notop.h5",
        "https://storage.googleapis.com/tensorflow/keras-applications/efficientnet_v2/efficientnetv2-l_notop.h5",
        "b0b66b5c863aef5b46e8608fe1711615")),
    "convnext_tiny": (WeightsFile(
        "convnext_tiny.h5",
        "https://storage.googleapis.com/tensorflow/keras-applications/convnext/convnext_tiny.h5",
        "8ae6e78ce2933352b1ef4008e6dd2f17bc40771563877d156bc6426c7cf503ff"), WeightsFile(
        "convnext_tiny_notop.h5",
        "https://storage.googleapis.com/tensorflow/keras-applications/convnext/convnext_tiny_notop.h5",
        "d547c096cabd03329d7be5562c5e14798aa39ed24b474157cef5e85ab9e49ef1")),
    "convnext_small": (WeightsFile(
        "convnext_small.h5",
        "https://storage.googleapis.com/tensorflow/keras-applications/convnext/convnext_small.h5",
        "ce1277d8f1ee5a0ef0e171469089c18f5233860ceaf9b168049cb9263fd7483c"), WeightsFile(
        "convnext_small_notop.h5",
        "https://storage.googleapis.com/tensorflow/keras-applications/convnext/convnext_small_notop.h5",
        "6fc8009faa2f00c1c1dfce59feea9b0745eb260a7dd11bee65c8e20843da6eab")),
    "convnext_base": (WeightsFile(
        "convnext_base.h5",
        "https://storage.googleapis.com/tensorflow/keras-applications/convnext/convnext_base.h5",
        "52cbb006d3dadd03f6e095a8ca1aca47aecdd75acb4bc74bce1f5c695d0086e6"), WeightsFile(
        "convnext_base_notop.h5",
        "https://storage.googleapis.com/tensorflow/keras-applications/convnext/convnext_base_notop.h5",
        "40a20c5548a5e9202f69735ecc06c990e6b7c9d2de39f0361e27baeb24cb7c45")),
    "convnext_large": (WeightsFile(
        "convnext_large.h5",
        "https://storage.googleapis.com/tensorflow/keras-applications/convnext/convnext_large.h5",
        "070c5ed9ed289581e477741d3b34beffa920db8cf590899d6d2c67fba2a198a6"), WeightsFile(
        "convnext_large_notop.h5",
        "https://storage.googleapis.com/tensorflow/keras-applications/convnext/convnext_large_notop.h5",
        "96f02b6f0753d4f543261bc9d09bed650f24dd6bc02ddde3066135b63d23a1cd")),
    "convnext_xlarge": (WeightsFile(
        "convnext_xlarge.h5",
        "https://storage.googleapis.com/tensorflow/keras-applications/convnext/convnext_xlarge.h5",
        "c1f5ccab661354fc3a79a10fa99af82f0fbf10ec65cb894a3ae0815f17a889ee"), WeightsFile(
        "convnext_xlarge_notop.h5",
        "https://storage.googleapis.com/tensorflow/keras-applications/convnext/convnext_xlarge_notop.h5",
        "de3f8a54174130e0cecdc71583354753d557fcf1f4487331558e2a16ba0cfe05")),
    "densenet121": (WeightsFile(
        "densenet121_weights_tf_dim_ordering_tf_kernels.h5",
        "https://storage.googleapis.com/tensorflow/keras-applications/densenet/densenet121_weights_tf_dim_ordering_tf_kernels.h5",
        "9d60b8095a5708f2dcce2bca79d332c7"), WeightsFile(
        "densenet121_weights_tf_dim_ordering_tf_kernels_notop.h5",
        "https://storage.googleapis.com/tensorflow/keras-applications/densenet/densenet121_weights_tf_dim_ordering_tf_kernels_notop.h5",
        "30ee3e1110167f948a6b9946edeeb738")),
    "densenet169": (WeightsFile(
        "densenet169_weights_tf_dim_ordering_tf_kernels.h5",
        "https://storage.googleapis.com/tensorflow/keras-applications/densenet/densenet169_weights_tf_dim_ordering_tf_kernels.h5",
        "d699b8f76981ab1b30698df4c175e90b"), WeightsFile(
        "densenet169_weights_tf_dim_ordering_tf_kernels_notop.h5",
        "https://storage.googleapis.com/tensorflow/keras-applications/densenet/densenet169_weights_tf_dim_ordering_tf_kernels_notop.h5",
        "b8c4d4c20dd625c148057b9ff1c1176b")),
    "densenet201": (WeightsFile(
        "densenet201_weights_tf_dim_ordering_tf_kernels.h5",
        "https://storage.googleapis.com/tensorflow/keras-applications/densenet/densenet201_weights_tf_dim_ordering_tf_kernels.h5",
        "1ceb130c1ea1b78c3bf6114dbdfd8807"), WeightsFile(
        "densenet201_weights_tf_dim_ordering_tf_kernels_notop.h5",
        "https://storage.googleapis.com/tensorflow/keras-applications/densenet/densenet201_weights_tf_dim_ordering_tf_kernels_notop.h5",
        "c13680b51ded0fb44dff2d8f86ac8bb1")),
    "xception": (WeightsFile(
        "xception_weights_tf_dim_ordering_tf_kernels.h5",
        "https://storage.googleapis.com/tensorflow/keras-applications/xception/xception_weights_tf_dim_ordering_tf_kernels.h5",
        "0a58e3b7378bc2990ea3b43d5981f1f6"), WeightsFile(
        "xception_weights_tf_dim_ordering_tf_kernels_notop.h5",
        "https://storage.googleapis.com/tensorflow/keras-applications/xception/xception_weights_tf_dim_ordering_tf_kernels_notop.h5",
        "b0042744bf5b25fce3cb969f33bebb97")),
    "nasnet_mobile": (WeightsFile(
        "nasnet_mobile.h5",
        "https://storage.googleapis.com/tensorflow/keras-applications/nasnet/NASNet-mobile.h5",
        "020fb642bf7360b370c678b08e0adf61"), WeightsFile(
        "nasnet_mobile_no_top.h5",
        "https://storage.googleapis.com/tensorflow/keras-applications/nasnet/NASNet-mobile-no-top.h5",
        "1ed92395b5b598bdda52abe5c0dbfd63")),
    "nasnet_large": (WeightsFile(
        "nasnet_large.h5",
        "https://storage.googleapis.com/tensorflow/keras-applications/nasnet/NASNet-large.h5",
        "11577c9a518f0070763c2b964a382f17"), WeightsFile(
        "nasnet_large_no_top.h5",
        "https://storage.googleapis.com/tensorflow/keras-applications/nasnet/NASNet-large-no-top.h5",
        "d81d89dc07e6e56530c4e77faddd61b5")),
    "inception_resnet_v2": (WeightsFile(
        "inception_resnet_v2_weights_tf_dim_ordering_tf_kernels.h5",
        "https://storage.googleapis.com/tensorflow/keras-applications/inception_resnet_v2/inception_resnet_v2_weights_tf_dim_ordering_tf_kernels.h5",
        "e693bd0210a403b3192acc6073ad2e96"), WeightsFile(
        "inception_resnet_v2_weights_tf_dim_ordering_tf_kernels_notop.h5",
        "https://storage.googleapis.com/tensorflow/keras-applications/inception_resnet_v2/inception_resnet_v2_weights_tf_dim_ordering_tf_kernels_notop.h5",
        "d19885ff4a710c122648d3b5c3b684e4")),
}


# keras.applications' parameter counts (its constructors with weights=None; the same as the
# counts its documentation lists), checked against a build by tests/models/test_param_counts.py.
PARAMS = {
    "mobilenet_v1": 4_253_864,
    "mobilenet_v2": 3_538_984,
    "mobilenet_v3_small": 2_554_968,
    "mobilenet_v3_large": 5_507_432,
    "efficientnet_b0": 5_330_571,
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
    "efficientnet_v2_s": 21_612_360,
    "efficientnet_v2_m": 54_431_388,
    "efficientnet_v2_l": 119_027_848,
    "convnext_tiny": 28_589_128,
    "convnext_small": 50_223_688,
    "convnext_base": 88_591_464,
    "convnext_large": 197_767_336,
    "convnext_xlarge": 350_196_968,
    "densenet121": 8_062_504,
    "densenet169": 14_307_880,
    "densenet201": 20_242_984,
    "xception": 22_910_480,
    "nasnet_mobile": 5_326_716,
    "nasnet_large": 88_949_818,
    "inception_resnet_v2": 55_873_736,
}

LAYOUT = {  # name: (feature layers, unfreeze groups); `a{1-3}_` is a1_ a2_ a3_ (see _names)
    "mobilenet_v1": ("conv_pw_1_relu conv_pw_3_relu conv_pw_5_relu conv_pw_11_relu conv_pw_13_relu",
        ("conv1 conv_dw_1 conv_pw_1 conv_dw_2 conv_pw_2 conv_dw_3 conv_pw_3 conv_dw_4 conv_pw_4 "
         "conv_dw_5 conv_pw_5 conv_dw_6 conv_pw_6 conv_dw_7 conv_pw_7 conv_dw_8 conv_pw_8 "
         "conv_dw_9 conv_pw_9 conv_dw_10 conv_pw_10 conv_dw_11 conv_pw_11 conv_dw_12 conv_pw_12 "
         "conv_dw_13 conv_pw_13")),
    "mobilenet_v2": (("block_1_expand_relu block_3_expand_relu block_6_expand_relu block_13_expand_relu "
         "out_relu"),
        "Conv1 bn_Conv1 expanded_conv_ block_{1-16}_ Conv_1"),
    "mobilenet_v3_small": ("expanded_conv_project_bn expanded_conv_2_add expanded_conv_7_add conv_1_activation",
        "conv expanded_conv_ expanded_conv_{1-10}_ conv_1"),
    "mobilenet_v3_large": (("expanded_conv_add expanded_conv_2_add expanded_conv_5_add expanded_conv_11_add "
         "conv_1_activation"),
        "conv expanded_conv_ expanded_conv_{1-14}_ conv_1"),
    "efficientnet_b0": (("block1a_project_bn block2b_add block3b_add block4c_add block5c_add block6d_add "
         "block7a_project_bn top_activation"),
        ("stem_ block1a_ block2a_ block2b_ block3a_ block3b_ block4{a-c}_ block5{a-c}_ "
         "block6{a-d}_ block7a_ top_")),
    "efficientnet_b1": (("block1b_add block2c_add block3c_add block4d_add block5d_add block6e_add block7b_add "
         "top_activation"),
        ("stem_ block1a_ block1b_ block2{a-c}_ block3{a-c}_ block4{a-d}_ block5{a-d}_ "
         "block6{a-e}_ block7a_ block7b_ top_")),
    "efficientnet_b2": (("block1b_add block2c_add block3c_add block4d_add block5d_add block6e_add block7b_add "
         "top_activation"),
        ("stem_ block1a_ block1b_ block2{a-c}_ block3{a-c}_ block4{a-d}_ block5{a-d}_ "
         "block6{a-e}_ block7a_ block7b_ top_")),
    "efficientnet_b3": (("block1b_add block2c_add block3c_add block4e_add block5e_add block6f_add block7b_add "
         "top_activation"),
        ("stem_ block1a_ block1b_ block2{a-c}_ block3{a-c}_ block4{a-e}_ block5{a-e}_ "
         "block6{a-f}_ block7a_ block7b_ top_")),
    "efficientnet_b4": (("block1b_add block2d_add block3d_add block4f_add block5f_add block6h_add block7b_add "
         "top_activation"),
        ("stem_ block1a_ block1b_ block2{a-d}_ block3{a-d}_ block4{a-f}_ block5{a-f}_ "
         "block6{a-h}_ block7a_ block7b_ top_")),
    "efficientnet_b5": (("block1c_add block2e_add block3e_add block4g_add block5g_add block6i_add block7c_add "
         "top_activation"),
        ("stem_ block1{a-c}_ block2{a-e}_ block3{a-e}_ block4{a-g}_ block5{a-g}_ block6{a-i}_ "
         "block7{a-c}_ top_")),
    "efficientnet_b6": (("block1c_add block2f_add block3f_add block4h_add block5h_add block6k_add block7c_add "
         "top_activation"),
        ("stem_ block1{a-c}_ block2{a-f}_ block3{a-f}_ block4{a-h}_ block5{a-h}_ block6{a-k}_ "
         "block7{a-c}_ top_")),
    "efficientnet_b7": (("block1d_add block2g_add block3g_add block4j_add block5j_add block6m_add block7d_add "
         "top_activation"),
        ("stem_ block1{a-d}_ block2{a-g}_ block3{a-g}_ block4{a-j}_ block5{a-j}_ block6{a-m}_ "
         "block7{a-d}_ top_")),
    "efficientnet_v2_b0": (("block1a_project_bn block2b_add block3b_add block4c_add block5e_add block6h_add "
         "top_activation"),
        ("stem_ block1a_ block2a_ block2b_ block3a_ block3b_ block4{a-c}_ block5{a-e}_ "
         "block6{a-h}_ top_")),
    "efficientnet_v2_b1": ("block1b_add block2c_add block3c_add block4d_add block5f_add block6i_add top_activation",
        ("stem_ block1a_ block1b_ block2{a-c}_ block3{a-c}_ block4{a-d}_ block5{a-f}_ "
         "block6{a-i}_ top_")),
    "efficientnet_v2_b2": ("block1b_add block2c_add block3c_add block4d_add block5f_add block6j_add top_activation",
        ("stem_ block1a_ block1b_ block2{a-c}_ block3{a-c}_ block4{a-d}_ block5{a-f}_ "
         "block6{a-j}_ top_")),
    "efficientnet_v2_b3": ("block1b_add block2c_add block3c_add block4e_add block5g_add block6l_add top_activation",
        ("stem_ block1a_ block1b_ block2{a-c}_ block3{a-c}_ block4{a-e}_ block5{a-g}_ "
         "block6{a-l}_ top_")),
    "efficientnet_v2_s": ("block1b_add block2d_add block3d_add block4f_add block5i_add block6o_add top_activation",
        ("stem_ block1a_ block1b_ block2{a-d}_ block3{a-d}_ block4{a-f}_ block5{a-i}_ "
         "block6{a-o}_ top_")),
    "efficientnet_v2_m": (("block1c_add block2e_add block3e_add block4g_add block5n_add block6r_add block7e_add "
         "top_activation"),
        ("stem_ block1{a-c}_ block2{a-e}_ block3{a-e}_ block4{a-g}_ block5{a-n}_ block6{a-r}_ "
         "block7{a-e}_ top_")),
    "efficientnet_v2_l": (("block1d_add block2g_add block3g_add block4j_add block5s_add block6y_add block7g_add "
         "top_activation"),
        ("stem_ block1{a-d}_ block2{a-g}_ block3{a-g}_ block4{a-j}_ block5{a-s}_ block6{a-y}_ "
         "block7{a-g}_ top_")),
    "convnext_tiny": (("convnext_tiny_stage_0_block_2_identity convnext_tiny_stage_1_block_2_identity "
         "convnext_tiny_stage_2_block_8_identity convnext_tiny_stage_3_block_2_identity"),
        ("convnext_tiny_stem convnext_tiny_stage_0_ convnext_tiny_downsampling_block_0 "
         "convnext_tiny_stage_1_ convnext_tiny_downsampling_block_1 convnext_tiny_stage_2_ "
         "convnext_tiny_downsampling_block_2 convnext_tiny_stage_3_")),
    "convnext_small": (("convnext_small_stage_0_block_2_identity convnext_small_stage_1_block_2_identity "
         "convnext_small_stage_2_block_26_identity convnext_small_stage_3_block_2_identity"),
        ("convnext_small_stem convnext_small_stage_0_ convnext_small_downsampling_block_0 "
         "convnext_small_stage_1_ convnext_small_downsampling_block_1 convnext_small_stage_2_ "
         "convnext_small_downsampling_block_2 convnext_small_stage_3_")),
    "convnext_base": (("convnext_base_stage_0_block_2_identity convnext_base_stage_1_block_2_identity "
         "convnext_base_stage_2_block_26_identity convnext_base_stage_3_block_2_identity"),
        ("convnext_base_stem convnext_base_stage_0_ convnext_base_downsampling_block_0 "
         "convnext_base_stage_1_ convnext_base_downsampling_block_1 convnext_base_stage_2_ "
         "convnext_base_downsampling_block_2 convnext_base_stage_3_")),
    "convnext_large": (("convnext_large_stage_0_block_2_identity convnext_large_stage_1_block_2_identity "
         "convnext_large_stage_2_block_26_identity convnext_large_stage_3_block_2_identity"),
        ("convnext_large_stem convnext_large_stage_0_ convnext_large_downsampling_block_0 "
         "convnext_large_stage_1_ convnext_large_downsampling_block_1 convnext_large_stage_2_ "
         "convnext_large_downsampling_block_2 convnext_large_stage_3_")),
    "convnext_xlarge": (("convnext_xlarge_stage_0_block_2_identity convnext_xlarge_stage_1_block_2_identity "
         "convnext_xlarge_stage_2_block_26_identity convnext_xlarge_stage_3_block_2_identity"),
        ("convnext_xlarge_stem convnext_xlarge_stage_0_ convnext_xlarge_downsampling_block_0 "
         "convnext_xlarge_stage_1_ convnext_xlarge_downsampling_block_1 convnext_xlarge_stage_2_ "
         "convnext_xlarge_downsampling_block_2 convnext_xlarge_stage_3_")),
    "densenet121": ("conv2_block6_concat conv3_block12_concat conv4_block24_concat relu",
        ("conv1_ conv2_block{1-6}_ pool2_ conv3_block{1-12}_ pool3_ conv4_block{1-24}_ pool4_ "
         "conv5_block{1-16}_ bn")),
    "densenet169": ("conv2_block6_concat conv3_block12_concat conv4_block32_concat relu",
        ("conv1_ conv2_block{1-6}_ pool2_ conv3_block{1-12}_ pool3_ conv4_block{1-32}_ pool4_ "
         "conv5_block{1-32}_ bn")),
    "densenet201": ("conv2_block6_concat conv3_block12_concat conv4_block48_concat relu",
        ("conv1_ conv2_block{1-6}_ pool2_ conv3_block{1-12}_ pool3_ conv4_block{1-48}_ pool4_ "
         "conv5_block{1-32}_ bn")),
    "xception": ("block1_conv2_act block2_add block3_add block12_add block14_sepconv2_act",
        "block{1-14}_"),
    "nasnet_mobile": ("cell_stem_1_reduction_concat cell_3_normal_concat cell_8_normal_concat final_relu",
        ("stem_ cell_stem_1_ cell_stem_2_ cell_{0-3}_ cell_reduce_4_ cell_{5-8}_ cell_reduce_8_ "
         "cell_{9-12}_")),
    "nasnet_large": ("cell_stem_1_reduction_concat cell_5_normal_concat cell_12_normal_concat final_relu",
        ("stem_ cell_stem_1_ cell_stem_2_ cell_{0-5}_ cell_reduce_6_ cell_{7-12}_ "
         "cell_reduce_12_ cell_{13-18}_")),
    "inception_resnet_v2": ("block35_10_ac block17_20_ac conv_7b_ac",
        "mixed_5b_ block35_{1-10}_ mixed_6a_ block17_{1-20}_ mixed_7a_ block8_{1-10}_ conv_7b"),
}
