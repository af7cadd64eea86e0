"""Transfer learning: cached feature extraction and staged fine-tuning of a pretrained network.

    >>> from dlzoo.transfer import feature_extractor, extract_features, fine_tune
    >>> ext = feature_extractor("vgg16", weights="imagenet")            # feature layer from the registry
    >>> feats = extract_features(ext, bundle, cache_dir=".dlzoo-cache")  # run once, cached on disk
    >>> result = fine_tune("saved_models/lenet5-digits", "my_photos/", out="saved_models/mine")

`fine_tune` runs two phases. Phase 1 trains a new head (pooling, dropout, `predictions`) on features
the frozen network computed once and cached, which costs a fraction of an epoch through the network
(or, with augmentation, with the frozen network in the loop, because each epoch sees new images).
Phase 2 unfreezes the top block groups (`"top:K"`, `"all"`) that
`dlzoo.registry.unfreeze_groups(info, network)` reads off the network as built, and trains on the
images with a lower learning rate. Every cut point is a layer *name* from the registry
(`dlzoo.registry.feature_layers`, right for any depth override); nothing here indexes
`model.layers`.

BatchNormalization layers stay frozen (inference mode, moving statistics untouched) in both phases
unless `train_batchnorm=True`: in Keras 3 a BatchNormalization layer with `trainable=False` runs in
inference mode, so a few small fine-tuning batches cannot overwrite the statistics the pretrained
weights depend on (the classic trap of keras-team/keras#9965).

The model `fine_tune` returns takes raw [0, 255] images: `image -> [augmentation] -> Preprocess(mode)
-> network`, where `network` is the pretrained network cut at the feature layer with the new head on
top, under the pretrained network's own name and layer names.
"""

from dlzoo.transfer.extract import (
    CACHE_VERSION,
    FeatureExtractor,
    Features,
    Source,
    extract_features,
    feature_extractor,
    resolve_source,
)
from dlzoo.transfer.finetune import (
    DEFAULT_AUGMENT,
    FineTuneResult,
    augment_layers,
    classifier,
    fine_tune,
    phase2_learning_rate,
    set_trainable,
    unfreeze_layers,
)

__all__ = [
    "CACHE_VERSION",
    "DEFAULT_AUGMENT",
    "FeatureExtractor",
    "Features",
    "FineTuneResult",
    "Source",
    "augment_layers",
    "classifier",
    "extract_features",
    "feature_extractor",
    "fine_tune",
    "phase2_learning_rate",
    "resolve_source",
    "set_trainable",
    "unfreeze_layers",
]
