"""Text to token ids for the sequence models: `TextVectorization` adapted on the training split only,
tf.data pipelines, and an end-to-end model that carries its vocabulary so it predicts on raw
strings after a reload.

This is data code and uses TensorFlow (tf.data; `TextVectorization` runs on tf.string tensors). The
vectorised datasets feed models on any backend; the end-to-end string model needs the TensorFlow
backend.

Example:
    >>> from dlzoo import build
    >>> from dlzoo.data.text import text_datasets, end_to_end
    >>> train, val, vectorizer = text_datasets((texts, labels), (val_texts, val_labels),
    ...                                        max_tokens=5000, sequence_length=100)
    >>> model = build("text_lstm", vocab_size=vectorizer.vocabulary_size(), input_shape=(100,))
    >>> ...compile, model.fit(train, validation_data=val)...
    >>> end_to_end(vectorizer, model).save("sentiment.keras")  # predicts on raw strings
"""

from __future__ import annotations

import keras
import numpy as np

try:
    import tensorflow as tf
except ImportError as e:  # pragma: no cover - exercised only where TensorFlow is absent
    raise ImportError(
        "dlzoo.data.text needs TensorFlow (tf.data and TextVectorization run on it). Install it "
        "with `pip install tensorflow`, or vectorise the text elsewhere and feed token ids."
    ) from e

__all__ = ["OOV", "PAD", "adapt_vectorizer", "as_strings", "end_to_end", "text_datasets"]

PAD, OOV = 0, 1  # TextVectorization's ids for padding ("") and out-of-vocabulary ("[UNK]")


def as_strings(texts):
    """A batch of Python/numpy strings as the object array Keras accepts for a string input."""
    if isinstance(texts, str):
        raise TypeError("as_strings: pass a list of strings, not one string; wrap it in a list.")
    return np.asarray(list(texts), dtype=object)


def _texts_only(data):
    """The text part of `data`: a list/array of strings, a (texts, labels) pair, or a tf.data
    Dataset of strings or of (text, label) pairs."""
    if isinstance(data, tf.data.Dataset):
        spec = data.element_spec
        if isinstance(spec, tuple):
            return data.map(tf.autograph.experimental.do_not_convert(lambda *parts: parts[0]))
        return data
    if isinstance(data, tuple) and len(data) == 2:
        data = data[0]
    if isinstance(data, str):
        raise TypeError("pass a list of strings (the training texts), not one string.")
    return tf.data.Dataset.from_tensor_slices(as_strings(data).astype(str))


def adapt_vectorizer(
    train_texts,
    *,
    max_tokens: int | None = 20000,
    sequence_length: int | None = 200,
    standardize="lower_and_strip_punctuation",
    split="whitespace",
    ngrams: int | None = None,
    batch_size: int = 1024,
    name: str = "text_vectorization",
) -> keras.layers.TextVectorization:
    """A `TextVectorization` layer whose vocabulary is learned from the training texts only.

    Adapting on validation or test text would leak their words into the vocabulary (and make the
    out-of-vocabulary rate look better than it will be in use), hence one function that takes the
    training split and nothing else.

    Args:
        train_texts: the training texts: a list/array of strings, a (texts, labels) pair, or a
            tf.data Dataset of strings or (text, label) pairs (unbatched or batched).
        max_tokens: vocabulary size including padding (id 0) and OOV (id 1); None keeps every word.
        sequence_length: pad or cut every text to this many tokens; None pads to the batch's
            longest.
        standardize, split, ngrams: as in `keras.layers.TextVectorization`.
        batch_size: texts per adapt batch.
        name: layer name.

    Returns:
        The adapted layer: `vectorizer(["some text"])` gives int64 ids, 0 for padding.
    """
    if max_tokens is not None and (isinstance(max_tokens, bool) or not isinstance(max_tokens, int)
                                   or max_tokens < 3):
        raise ValueError(
            f"adapt_vectorizer: max_tokens must be an integer >= 3 (padding, OOV and one word) or "
            f"None; received {max_tokens!r}."
        )
    if sequence_length is not None and (isinstance(sequence_length, bool)
                                        or not isinstance(sequence_length, int) or sequence_length < 1):
        raise ValueError(
            f"adapt_vectorizer: sequence_length must be an integer >= 1 or None; received "
            f"{sequence_length!r}."
        )
    texts = _texts_only(train_texts)
    if len(texts.element_spec.shape) == 0:
        texts = texts.batch(batch_size)
    vectorizer = keras.layers.TextVectorization(
        max_tokens=max_tokens,
        output_sequence_length=sequence_length,
        standardize=standardize,
        split=split,
        ngrams=ngrams,
        name=name,
    )
    vectorizer.adapt(texts)
    return vectorizer


def _dataset(data, vectorizer, *, batch_size, shuffle, seed):
    if isinstance(data, tf.data.Dataset):
        ds = data
    else:
        if not (isinstance(data, tuple) and len(data) == 2):
            raise TypeError(
                "text_datasets: each split must be a (texts, labels) pair or a tf.data Dataset of "
                f"(text, label) pairs; received {type(data).__name__}."
            )
        texts, labels = data
        if len(texts) != len(labels):
            raise ValueError(
                f"text_datasets: {len(texts)} texts but {len(labels)} labels; they must pair up."
            )
        ds = tf.data.Dataset.from_tensor_slices((as_strings(texts).astype(str), np.asarray(labels)))
    if shuffle:
        ds = ds.shuffle(10_000, seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size)
    # vectorise whole batches inside tf.data, in parallel with training
    ds = ds.map(tf.autograph.experimental.do_not_convert(lambda x, y: (vectorizer(x), y)),
                num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)


def text_datasets(
    train,
    validation=None,
    *,
    vectorizer: keras.layers.TextVectorization | None = None,
    max_tokens: int | None = 20000,
    sequence_length: int | None = 200,
    batch_size: int = 32,
    seed: int = 0,
    **vectorizer_kwargs,
):
    """Batched tf.data pipelines of (token ids, label), vectorised with a vocabulary learned on
    `train` alone.

    Args:
        train: (texts, labels) or a tf.data Dataset of unbatched (text, label) pairs.
        validation: the same for validation, or None.
        vectorizer: an adapted `TextVectorization` to reuse; by default one is adapted on `train`
            with `max_tokens`, `sequence_length` and `vectorizer_kwargs` (see `adapt_vectorizer`).
        batch_size: texts per batch.
        seed: shuffling seed (the training split is shuffled each epoch, validation is not).

    Returns:
        (train_ds, val_ds or None, vectorizer).
    """
    if vectorizer is None:
        vectorizer = adapt_vectorizer(train, max_tokens=max_tokens, sequence_length=sequence_length,
                                      **vectorizer_kwargs)
    train_ds = _dataset(train, vectorizer, batch_size=batch_size, shuffle=True, seed=seed)
    val_ds = None if validation is None else _dataset(
        validation, vectorizer, batch_size=batch_size, shuffle=False, seed=seed)
    return train_ds, val_ds, vectorizer


def end_to_end(vectorizer: keras.layers.TextVectorization, model: keras.Model, *,
               name: str | None = None) -> keras.Model:
    """A model that takes raw strings: `vectorizer` in front of `model`, sharing its weights.

    Saved as `.keras`, it keeps the vocabulary (TextVectorization stores it with the file), so the
    reloaded model predicts on text with no other file at hand:
    `keras.saving.load_model(path, safe_mode=True).predict(as_strings(["great film"]))`.

    Needs the TensorFlow backend: a string tensor exists only there.
    """
    if keras.backend.backend() != "tensorflow":
        raise RuntimeError(
            f"end_to_end: a model on raw strings needs the TensorFlow backend (this is "
            f"{keras.backend.backend()!r}). Vectorise in tf.data (text_datasets) and feed the "
            "model token ids, or set KERAS_BACKEND=tensorflow."
        )
    expected = tuple(model.inputs[0].shape[1:])
    length = vectorizer.get_config().get("output_sequence_length")
    if expected[0] is not None and length != expected[0]:
        raise ValueError(
            f"end_to_end: the vectorizer makes sequences of {length} tokens but the model takes "
            f"{expected[0]}. Adapt with sequence_length={expected[0]} or build the model for {length}."
        )
    inputs = keras.Input(shape=(), dtype="string", name="text")
    outputs = model(vectorizer(inputs))
    return keras.Model(inputs, outputs, name=name or f"{model.name}_on_text")
