"""Recommendation with embeddings: users and items as learned vectors, a rating as their dot
product plus a user bias and an item bias (the lectures' movie example; matrix factorisation as
in Koren, Bell, Volinsky 2009)."""

from __future__ import annotations

import keras
from keras import layers

from dlzoo.registry import register_model
from dlzoo.validation import check_int

PAPER = ("Koren, Bell, Volinsky. Matrix factorization techniques for recommender systems. "
         "IEEE Computer 2009.")


def EmbeddingRecommender(
    *,
    num_users: int = 1000,
    num_items: int = 1000,
    input_shape=(2,),
    embedding_dim: int = 16,
    l2: float = 1e-4,
    name: str = "embedding_recommender",
) -> keras.Model:
    """Rating = w * (u . v + b_user + b_item) + b: learned user vectors u and item vectors v,
    one bias per user and per item, and an affine output (`predictions`, whose bias learns the
    mean rating).

    Reference: Koren et al. 2009 (biased matrix factorisation).

    Args:
        num_users: user ids 0 .. num_users - 1 (default 1000).
        num_items: item ids 0 .. num_items - 1 (default 1000).
        input_shape: must be (2,): a (user id, item id) pair per example.
        embedding_dim: size of the user and item vectors (default 16).
        l2: L2 penalty on the vectors and biases (default 1e-4), so users and items with few
            ratings stay near the mean.
        name: model name.

    Returns:
        An uncompiled `keras.Model`: int32 `(batch, 2)` pairs in, float32 `(batch, 1)` ratings out.

    Example:
        >>> from dlzoo import build
        >>> model = build("embedding_recommender", num_users=50, num_items=20, embedding_dim=4)
        >>> model.output_shape
        (None, 1)
    """
    check_int(num_users, arg="num_users", name=name)
    check_int(num_items, arg="num_items", name=name)
    check_int(embedding_dim, arg="embedding_dim", name=name)
    if tuple(input_shape) != (2,):
        raise ValueError(f"{name}: input_shape must be (2,), a (user id, item id) pair; received "
                         f"{input_shape!r}.")
    if isinstance(l2, bool) or not isinstance(l2, (int, float)) or l2 < 0:
        raise ValueError(f"{name}: l2 must be a number >= 0; received {l2!r}.")
    reg = keras.regularizers.L2(l2) if l2 else None
    pairs = keras.Input(shape=(2,), dtype="int32", name="pairs")
    user, item = pairs[:, 0], pairs[:, 1]
    u = layers.Embedding(num_users, embedding_dim, embeddings_initializer="random_normal",
                         embeddings_regularizer=reg, name="user_embedding")(user)
    v = layers.Embedding(num_items, embedding_dim, embeddings_initializer="random_normal",
                         embeddings_regularizer=reg, name="item_embedding")(item)
    b_user = layers.Embedding(num_users, 1, embeddings_initializer="zeros",
                              embeddings_regularizer=reg, name="user_bias")(user)
    b_item = layers.Embedding(num_items, 1, embeddings_initializer="zeros",
                              embeddings_regularizer=reg, name="item_bias")(item)
    dot = layers.Dot(axes=1, name="dot")([u, v])
    score = layers.Add(name="score")([dot, b_user, b_item])
    outputs = layers.Dense(1, kernel_initializer="ones", name="predictions")(score)
    return keras.Model(pairs, outputs, name=name)


@register_model(
    family="recommender",
    task="rating_prediction",
    input_kind="pairs",
    default_input_shape=(2,),
    params=34_002,
    paper=PAPER,
    smoke_overrides={"num_users": 10, "num_items": 12, "embedding_dim": 3},
    description="Embedding recommender: user . item vectors plus user and item biases -> rating",
)
def embedding_recommender(**kwargs):
    """User and item embeddings, dot product plus biases: a rating per (user, item) pair."""
    return EmbeddingRecommender(**kwargs)
