"""The zoo's families. Importing this package registers every model in it.

Each module holds one configurable builder per family and one small registered function per
variant (timm's layout); registration happens in the module, which is listed here explicitly.
"""

from dlzoo.models import (  # noqa: F401
    adaline,
    alexnet,
    applications,
    autoencoder,
    gan,
    inception,
    language_model,
    lenet,
    mlp,
    recommender,
    resnet,
    text_rnn,
    transformer,
    vgg,
)
