"""Text pipeline: the vocabulary comes from the training split only, tf.data batches feed a text
model that learns, and the end-to-end model predicts on raw strings after a safe reload."""

import keras
import numpy as np
import pytest

from dlzoo import build
from dlzoo.data.text import OOV, adapt_vectorizer, as_strings, end_to_end, text_datasets

tf = pytest.importorskip("tensorflow")
TF_BACKEND = keras.backend.backend() == "tensorflow"

POSITIVE = ["great", "good", "lovely", "superb"]
NEGATIVE = ["awful", "bad", "dull", "poor"]
FILLER = ["the", "film", "was", "a", "plot", "and", "actor", "music", "story", "ending", "quite"]


def reviews(n, seed, extra_words=()):
    """Short 'reviews': filler words with one positive or one negative word; label 1 = positive."""
    rng = np.random.default_rng(seed)
    filler = FILLER + list(extra_words)
    texts, labels = [], []
    for _ in range(n):
        words = list(rng.choice(filler, size=rng.integers(3, 9)))
        label = int(rng.integers(0, 2))
        words.insert(int(rng.integers(0, len(words) + 1)), rng.choice(POSITIVE if label else NEGATIVE))
        texts.append(" ".join(words).capitalize() + ".")
        labels.append(label)
    return texts, np.array(labels, dtype="int32")


def test_vocabulary_comes_from_the_training_split_only():
    train = reviews(200, seed=0)
    vectorizer = adapt_vectorizer(train, max_tokens=100, sequence_length=12)
    vocabulary = vectorizer.get_vocabulary()
    assert vocabulary[:2] == ["", "[UNK]"]
    assert "great" in vocabulary and "film" in vocabulary  # lower-cased, punctuation stripped
    ids = np.array(vectorizer(["The film was unseenword"]))[0]
    assert ids.shape == (12,)
    assert ids[3] == OOV and ids[4:].tolist() == [0] * 8  # unknown word, then padding
    assert "unseenword" not in vocabulary


def test_adapt_accepts_a_tf_data_dataset_of_pairs():
    texts, labels = reviews(50, seed=0)
    ds = tf.data.Dataset.from_tensor_slices((texts, labels))
    vectorizer = adapt_vectorizer(ds, max_tokens=None, sequence_length=None)
    assert set(adapt_vectorizer((texts, labels), max_tokens=None).get_vocabulary()) == set(
        vectorizer.get_vocabulary())


def test_text_model_learns_from_the_pipeline_and_predicts_raw_strings_after_reload(tmp_path):
    train, val, vectorizer = text_datasets(
        reviews(1000, seed=0), reviews(200, seed=1, extra_words=["cinema", "scene"]),
        max_tokens=64, sequence_length=12, batch_size=32)
    ids, labels = next(iter(train))
    assert ids.shape == (32, 12) and ids.dtype == tf.int64 and labels.shape == (32,)
    # words only the validation split uses are out of vocabulary
    assert "cinema" not in vectorizer.get_vocabulary()

    model = build("text_gru", vocab_size=vectorizer.vocabulary_size(), input_shape=(12,),
                  embedding_dim=8, units=8)
    model.compile(keras.optimizers.Adam(1e-2), "sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(train, validation_data=val, epochs=2, verbose=0)
    assert max(history.history["val_accuracy"]) >= 0.9, history.history["val_accuracy"]

    if not TF_BACKEND:
        with pytest.raises(RuntimeError, match="needs the TensorFlow backend"):
            end_to_end(vectorizer, model)
        return
    texts = ["What a superb film.", "The ending was awful and dull.", "lovely music, great story"]
    e2e = end_to_end(vectorizer, model)
    expected = e2e.predict(as_strings(texts), verbose=0)
    np.testing.assert_allclose(expected, model.predict(vectorizer(texts), verbose=0), atol=1e-6)
    assert expected.argmax(axis=1).tolist() == [1, 0, 1]

    path = tmp_path / "reviews.keras"
    e2e.save(path)
    del e2e, model, vectorizer
    keras.backend.clear_session()
    loaded = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_allclose(loaded.predict(as_strings(texts), verbose=0), expected, atol=1e-6)


@pytest.mark.skipif(not TF_BACKEND, reason="string inputs exist on the TensorFlow backend only")
def test_end_to_end_checks_the_sequence_length():
    vectorizer = adapt_vectorizer(reviews(20, seed=0), max_tokens=50, sequence_length=10)
    model = build("text_lstm", vocab_size=50, input_shape=(12,), units=4, embedding_dim=4)
    with pytest.raises(ValueError, match="sequences of 10 tokens but the model takes 12"):
        end_to_end(vectorizer, model)


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda: adapt_vectorizer("just one string"), "list of strings"),
        (lambda: adapt_vectorizer(["a b"], max_tokens=2), "max_tokens must be an integer >= 3"),
        (lambda: text_datasets((["a", "b"], [1])), "2 texts but 1 labels"),
    ],
)
def test_bad_arguments(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()
