"""Writing sentences with a language model, and measuring it: the lectures' "generate a sentence in
practice". Give START (and any first words), draw the next word from the model's probabilities,
feed it back, stop at STOP.

    >>> from dlzoo.generation import generate
    >>> for s in generate("saved_models/lm_lstm-grammar", start="a dog", n=3, seed=0):
    ...     print(s.text)
    a dog plays with a ball

Three ways to pick each word: greedy (the most probable), sampling with a temperature (T < 1
sharpens the distribution, T > 1 flattens it) and top-k sampling (only the k most probable words
compete). The same seed gives the same sentences, on every backend, from a model reloaded in a
fresh process: the draws are numpy's (`default_rng(seed)`), the model is only evaluated.
`language_model_metrics` gives what a trained model's card reports: validation perplexity against
a unigram model and, on the lectures' grammar, against the grammar's own entropy, and the share of
sampled sentences the grammar accepts.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import secrets

import numpy as np

from dlzoo.data.corpus import (
    LECTURE_GRAMMAR,
    SPECIALS,
    Vocabulary,
    detokenize,
    load_corpus,
    tokenize,
)
from dlzoo.predicting import batch_forward
from dlzoo.saving import load, read_card
from dlzoo.tasks import Task, with_article

__all__ = ["Sentence", "evaluate_language_model", "generate", "language_model_metrics", "perplexity",
           "unigram_perplexity"]

PAD_ID, UNK_ID, START_ID, STOP_ID = range(4)


@dataclasses.dataclass
class Sentence:
    """One generated sentence: its text (the start words included), tokens, whether the model
    ended it with STOP (False: it ran out of words or context), and its log-probability under
    the model (natural log, the drawn words after the start)."""

    text: str
    tokens: list
    stopped: bool
    log_prob: float
    seed: int

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _load(model, vocabulary):
    """(keras model, Vocabulary) from a saved model folder, or a model and its vocabulary."""
    if isinstance(model, (str, bytes)) or hasattr(model, "__fspath__"):
        card = read_card(model)
        if card.get("task") is not Task.TEXT_GENERATION:
            raise ValueError(f"{model}: {with_article(card.get('task'))} model, not a language "
                             "model (task text_generation); train one with `dlzoo train "
                             "lm_lstm-grammar`.")
        return load(model, compile=False), Vocabulary.from_card(card)
    if vocabulary is None:
        raise TypeError("generate(model, ...): pass vocabulary= (a dlzoo.data.corpus.Vocabulary "
                        "or the list of tokens by id) with a model object, or give a saved model "
                        "folder.")
    if not isinstance(vocabulary, Vocabulary):
        vocabulary = Vocabulary(tokens=tuple(vocabulary))
    return model, vocabulary


def _check_request(*, temperature, top_k, n, max_words, seed):
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or not (
            math.isfinite(temperature) and temperature > 0):
        raise ValueError(f"temperature must be a number > 0 (1 samples from the model as it is, "
                         f"lower is more conservative; for the most probable word use greedy / "
                         f"--greedy); received {temperature!r}.")
    for key, value, low in (("top_k", top_k, 1), ("n", n, 1), ("max_words", max_words, 1)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                  or value < low):
            raise ValueError(f"{key} must be an integer >= {low}; received {value!r}.")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)
                             or not 0 <= seed < 2**63):
        raise ValueError(f"seed must be a non-negative integer; received {seed!r}.")


def _start_ids(start: str, vocab: Vocabulary) -> list[int]:
    words = tokenize(start or "", vocab.level, lowercase=vocab.lowercase)
    index = vocab.index
    for w in words:
        if w not in index or w in SPECIALS:
            known = [t for t in vocab.tokens if t not in SPECIALS]
            close = difflib.get_close_matches(w, known, n=3, cutoff=0.0)
            raise ValueError(
                f"start: {w!r} is not in the model's vocabulary ({len(known)} "
                f"{'characters' if vocab.level == 'char' else 'words'}); closest: "
                f"{', '.join(close)}. Start with words the model was trained on.")
    return [START_ID] + [index[w] for w in words]


def generate(model, *, vocabulary=None, start: str = "", n: int = 1, temperature: float = 1.0,
             top_k: int | None = None, greedy: bool = False, max_words: int | None = None,
             seed: int | None = None) -> list[Sentence]:
    """Writes `n` sentences with a language model, each from START and the words of `start`.

    Args:
        model: a saved model folder (`saved_models/NAME`, task text_generation), or a Keras
            language model with `vocabulary`.
        vocabulary: with a model object, its `dlzoo.data.corpus.Vocabulary` (or tokens by id).
        start: the first words (a prefix the sentences continue); "" starts from START alone.
        n: sentences (1).
        temperature: > 0; the probabilities are raised to 1/T and renormalised (1).
        top_k: draw from the k most probable tokens only (None: all).
        greedy: take the most probable token each step (no drawing; temperature and top_k
            then do not matter).
        max_words: most tokens drawn after the start (default: as many as the model's context
            holds).
        seed: the draws' seed; None draws one (recorded in each `Sentence.seed`).

    Returns:
        A list of `Sentence` (text, tokens, stopped at STOP, log-probability, seed).

    Raises:
        ValueError: a start word the vocabulary lacks (the closest are named), temperature <= 0,
            top_k / n / max_words below 1, a start or max_words longer than the model's context.
    """
    _check_request(temperature=temperature, top_k=top_k, n=n, max_words=max_words, seed=seed)
    model, vocab = _load(model, vocabulary)
    vocab_size = int(model.output_shape[-1])
    if vocab_size != len(vocab):
        raise ValueError(f"the model scores {vocab_size} tokens but the vocabulary holds "
                         f"{len(vocab)}; pass the vocabulary it was trained with.")
    prefix = _start_ids(start, vocab)
    context = model.input_shape[1]
    room = (context - len(prefix) + 1) if context else None  # tokens after the prefix
    if room is not None and room < 1:
        raise ValueError(f"start: {len(prefix) - 1} token(s) leave no room in the model's context "
                         f"of {context} (START included); give a shorter start.")
    if max_words is None:
        max_words = room if room is not None else 100
    elif room is not None and max_words > room:
        raise ValueError(f"max_words {max_words} is more than the model's context allows after "
                         f"this start ({room}: it was trained on {context} tokens); ask for at "
                         f"most {room}.")
    seed = secrets.randbits(32) if seed is None else seed
    rng = np.random.default_rng(seed)
    seqs = np.zeros((n, len(prefix) + max_words), np.int32)
    seqs[:, : len(prefix)] = prefix
    alive = np.ones(n, bool)
    stopped = np.zeros(n, bool)
    log_prob = np.zeros(n)
    length = len(prefix)
    banned = [PAD_ID, START_ID]
    for _ in range(max_words):
        width = context or length
        window = np.zeros((n, width), np.int32)
        window[:, :length] = seqs[:, :length]
        probs = _as_numpy(model(window, training=False))[:, length - 1].astype("float64")
        probs[:, banned] = 0.0
        chosen = _choose(probs, rng, temperature=temperature, top_k=top_k, greedy=greedy)
        picked = probs[np.arange(n), chosen] / np.maximum(probs.sum(axis=1), 1e-300)
        log_prob += np.where(alive, np.log(np.maximum(picked, 1e-300)), 0.0)
        seqs[:, length] = np.where(alive, chosen, PAD_ID)
        stopped |= alive & (chosen == STOP_ID)
        alive &= chosen != STOP_ID
        length += 1
        if not alive.any():
            break
    out = []
    for row, done, lp in zip(seqs, stopped, log_prob):
        ids = [int(t) for t in row[1:length] if t not in (PAD_ID, STOP_ID)]
        tokens = vocab.decode(ids)
        out.append(Sentence(text=detokenize(tokens, vocab.level), tokens=tokens,
                            stopped=bool(done), log_prob=round(float(lp), 6), seed=seed))
    return out


def _as_numpy(tensor) -> np.ndarray:
    import keras

    return keras.ops.convert_to_numpy(tensor)


def _choose(probs, rng, *, temperature, top_k, greedy) -> np.ndarray:
    """One token id per row of `probs` (n, vocab)."""
    if greedy:
        return np.argmax(probs, axis=1)
    logp = np.log(np.maximum(probs, 1e-300)) / temperature
    logp[probs <= 0] = -np.inf
    if top_k is not None and top_k < probs.shape[1]:
        cut = np.sort(logp, axis=1)[:, -top_k][:, None]
        logp = np.where(logp >= cut, logp, -np.inf)
    p = np.exp(logp - logp.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    # one uniform per row against the cumulative distribution: the same draws on every host
    u = rng.random(len(p))[:, None]
    return np.minimum((np.cumsum(p, axis=1) < u).sum(axis=1), p.shape[1] - 1)


# --- measuring ----------------------------------------------------------------------------------


def _arrays(part):
    """`(x, y)` arrays of a data part: arrays, tf.data batches or a PyDataset of batches."""
    if isinstance(part, tuple):
        return np.asarray(part[0]), np.asarray(part[1])
    xs, ys = zip(*[(np.asarray(x), np.asarray(y)) for x, y in part])
    return np.concatenate(xs), np.concatenate(ys)


def perplexity(model, x, y, *, batch_size: int = 64) -> tuple[float, int]:
    """`(exp(mean -log p(target)), tokens)` over the real targets (not padding) of `(x, y)`
    int arrays `(n, length)`."""
    forward = batch_forward(model)  # compiled on JAX, not op by op
    total, count = 0.0, 0
    for i in range(0, len(x), batch_size):
        probs = _as_numpy(forward(x[i: i + batch_size])).astype("float64")
        yb = y[i: i + batch_size]
        picked = np.take_along_axis(probs, yb[..., None], axis=-1)[..., 0]
        real = yb != PAD_ID
        total += float(-np.log(np.maximum(picked[real], 1e-300)).sum())
        count += int(real.sum())
    return math.exp(total / max(count, 1)), count


def unigram_perplexity(y_train, y_val, vocab_size: int) -> float:
    """Perplexity on `y_val`'s real targets of the unigram model of `y_train`'s (add-one
    smoothed over every id but padding): the baseline a model that ignores context reaches."""
    counts = np.bincount(y_train[y_train != PAD_ID].ravel(), minlength=vocab_size).astype(float)
    counts[PAD_ID] = 0.0
    p = (counts + 1.0) / (counts.sum() + vocab_size - 1)
    p[PAD_ID] = 0.0
    targets = y_val[y_val != PAD_ID].ravel()
    return math.exp(float(-np.log(p[targets]).mean()))


def _sentence_words(tokens, level: str) -> tuple:
    return tuple(detokenize(tokens, level).split()) if level == "char" else tuple(tokens)


def language_model_metrics(model, bundle, *, samples: int = 200, seed: int = 0) -> dict:
    """The figures a language model's card reports, on the bundle's validation sentences.

    Returns `val_perplexity` (real tokens, STOP included), `val_unigram_perplexity` (the
    context-free baseline), `val_tokens` and, on the lectures' grammar, `grammar_perplexity_floor`
    (exp of the grammar's entropy per token: no model beats it in expectation),
    `val_oracle_perplexity` (the grammar's own probabilities on these sentences) and
    `grammatical_share` (of `samples` sentences drawn at temperature 1 with `seed`, the share
    the grammar makes; a sentence cut off without STOP counts as wrong).
    """
    x_val, y_val = _arrays(bundle.val)
    _, y_train = _arrays(bundle.train)
    vocab = Vocabulary(tokens=tuple(bundle.class_names), level=bundle.details.get("level", "word"),
                       lowercase=bundle.details.get("lowercase", True))
    ppl, count = perplexity(model, x_val, y_val)
    out = {"val_perplexity": round(ppl, 4),
           "val_unigram_perplexity": round(unigram_perplexity(y_train, y_val, len(vocab)), 4),
           "val_tokens": count}
    if bundle.details.get("grammar") == "LECTURE_GRAMMAR":
        if vocab.level == "word":
            floor = math.exp(LECTURE_GRAMMAR.entropy_per_token())
            out["grammar_perplexity_floor"] = round(floor, 4)
            probs = LECTURE_GRAMMAR.sentences()
            logp, tokens = 0.0, 0
            for row in y_val:
                words = tuple(vocab.decode([t for t in row if t not in (PAD_ID, STOP_ID)]))
                logp += math.log(probs[words])
                tokens += len(words) + 1
            out["val_oracle_perplexity"] = round(math.exp(-logp / tokens), 4)
        drawn = generate(model, vocabulary=vocab, n=samples, seed=seed)
        ok = sum(s.stopped and LECTURE_GRAMMAR.accepts(_sentence_words(s.tokens, vocab.level))
                 for s in drawn)
        out["grammatical_share"] = round(ok / samples, 4)
        out["grammatical_samples"] = {"n": samples, "temperature": 1.0, "seed": seed}
    return out


def evaluate_language_model(model_dir, data, *, split: str | None = None) -> dict:
    """A saved language model's figures (`language_model_metrics`) on a corpus, encoded with the
    model's own vocabulary and context: "grammar" or "text:PATH". On the corpus it was trained
    on (the same source, the card's options) the validation sentences are used, elsewhere every
    sentence (`split` "val", "train" or "all" chooses).

    Raises:
        ValueError: not a language model, an unknown source, an empty corpus, a bad split.
    """
    import dataclasses

    model, vocab = _load(model_dir, None)
    trained = read_card(model_dir).get("data") or {}
    same = data == trained.get("source")
    options = {k: v for k, v in (trained.get("recipe") or {}).items()
               if k not in ("source", "batch_size", "loader", "level", "lowercase", "min_count",
                            "max_vocab", "max_length")} if same else {}
    split = split or ("val" if same else "all")
    if split not in ("val", "train", "all"):
        raise ValueError(f"split must be val, train or all; received {split!r}.")
    bundle = load_corpus(data, vocabulary=vocab, max_length=int(model.input_shape[1]),
                         **options)
    parts = [p for p in {"val": [bundle.val], "train": [bundle.train],
                         "all": [bundle.train, bundle.val]}[split] if p is not None]
    if not parts:
        raise ValueError(f"{data}: no {split} sentences.")
    joined = tuple(np.concatenate([p[i] for p in parts]) for i in (0, 1))
    bundle = dataclasses.replace(bundle, val=joined)
    out = language_model_metrics(model, bundle)
    if not same:  # a unigram model of this corpus's own training side means nothing here
        out.pop("val_unigram_perplexity")
    out.update(split=split, sentences=int(len(joined[0])))
    return out
