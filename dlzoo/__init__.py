"""dlzoo: a Keras 3 model zoo and transfer-learning toolkit.

    >>> from dlzoo import build, list_models, model_info
    >>> model = build("vgg16", num_classes=5, input_shape=(64, 64, 3))
    >>> model = dlzoo.load("saved_models/lenet5-digits")   # a trained model and its card
"""

from dlzoo.backends import choose_backend
from dlzoo.quiet import quiet_tensorflow_import

# TensorFlow's native start-up lines (absl's notice, oneDNN, CUDA probes) at the CLI's level, 2,
# unless TF_CPP_MIN_LOG_LEVEL says otherwise: `import dlzoo; dlzoo.build(...)` prints none of them
quiet_tensorflow_import(default_level=2)
choose_backend()  # JAX (else PyTorch) where TensorFlow is absent and nothing else was chosen

from dlzoo.registry import ModelInfo, Task, list_models, model_info, register_model
from dlzoo.saving import load, save
from dlzoo.version import __version__
from dlzoo.weights import build

__all__ = [
    "ModelInfo",
    "Task",
    "__version__",
    "build",
    "list_models",
    "load",
    "model_info",
    "register_model",
    "save",
]
