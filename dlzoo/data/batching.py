"""Batches of in-memory `(x, y)` arrays whose targets are not class labels (next-token ids of a
corpus, float ratings): `tf.data` where TensorFlow is installed, the backend-neutral PyDataset
(`dlzoo.data.neutral.Batches`) elsewhere, the targets' dtype kept.

    >>> from dlzoo.data.batching import batch_bundle
    >>> data = batch_bundle(load_corpus("grammar"), batch_size=64, seed=0)
"""

from __future__ import annotations

import dataclasses

import numpy as np

from dlzoo.backends import resolve_loader
from dlzoo.data.neutral import Batches

__all__ = ["TargetBatches", "batch_bundle"]


class TargetBatches(Batches):
    """`Batches` whose x and y keep their own dtypes (token ids stay int32, ratings float32)
    instead of float32 images and int32 labels."""

    def __init__(self, x, y, index=None, **kwargs):
        super().__init__(x, np.zeros(len(y), np.int32), index, **kwargs)
        self.targets = np.asarray(y)

    def _batch(self, i, shard=None):
        rows = self._rows(i, shard)
        return self.images[rows], self.targets[rows]

    def divisible(self, replicas: int, *, drop_remainder: bool, shard=None):
        index = self.index
        if not drop_remainder:
            index = index[: len(index) - len(index) % replicas]
        out = TargetBatches(self.images, self.targets, index, batch_size=self.batch_size,
                            shuffle=self.shuffle, seed=self.seed)
        out.drop_remainder = drop_remainder
        out.shard = None if shard is None else (int(shard[0]), int(shard[1]))
        return out


def batch_bundle(bundle, *, batch_size: int = 32, seed: int = 0, loader: str = "auto",
                 shuffle: bool = True):
    """`bundle` (with `(x, y)` array parts) with its parts batched for `fit`: the training side
    reshuffled each epoch from `seed`, the validation side in order."""
    path = resolve_loader(loader)
    if path == "pydataset":
        def make(part, mix):
            return None if part is None else TargetBatches(*part, batch_size=batch_size,
                                                           shuffle=mix, seed=seed)
    else:
        import tensorflow as tf

        def make(part, mix):
            if part is None:
                return None
            ds = tf.data.Dataset.from_tensor_slices(part)
            if mix:
                ds = ds.shuffle(len(part[0]), seed=seed, reshuffle_each_iteration=True)
            return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)
    return dataclasses.replace(bundle, train=make(bundle.train, shuffle), val=make(bundle.val, False))
