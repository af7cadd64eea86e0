"""dlzoo: a Keras 3 model zoo and transfer-learning toolkit.

    >>> from dlzoo import build, list_models, model_info
    >>> model = build("vgg16", num_classes=5, input_shape=(64, 64, 3))
    >>> model = dlzoo.load("saved_models/lenet5-digits")   # a trained model and its card
"""

__version__ = "0.1.0"

from dlzoo.registry import ModelInfo, build, list_models, model_info, register_model
from dlzoo.saving import load, save

__all__ = [
    "__version__",
    "ModelInfo",
    "build",
    "list_models",
    "model_info",
    "register_model",
    "load",
    "save",
]
