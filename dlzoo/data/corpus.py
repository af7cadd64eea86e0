"""Text corpora for language models: the lectures' probabilistic grammar and a user's .txt files.

    source                 what it is                                               needs
    "grammar"              sentences drawn from `LECTURE_GRAMMAR` ("a dog plays     nothing
                           with a ball"), whose next-word distribution is known
    "text:PATH"            a .txt file, or a folder of them (recursively): one      nothing
                           sentence per non-empty line

Each sentence becomes `[START] w1 ... wn [STOP]`; the model reads `x = ids[:-1]` and learns to
predict `y = ids[1:]` at every position. Token ids: 0 is padding (after STOP, to the corpus's
`max_length`), 1 the unknown word (`[UNK]`: words seen fewer than `min_count` times in the
training sentences, or past `max_vocab`), 2 START, 3 STOP, then the vocabulary by frequency. The
vocabulary is the `DataBundle`'s `class_names` (id i is `class_names[i]`), so a saved model's card
holds it. Tokenisation is plain Python (lower-cased words and punctuation marks, or characters with
`level="char"`): no TensorFlow, the same on every host.

    >>> from dlzoo.data.corpus import load_corpus
    >>> data = load_corpus("grammar", n=2000)
    >>> x, y = data.train          # int32 (sentences, max_length), both
    >>> data.class_names[:5]       # ['[PAD]', '[UNK]', '[START]', '[STOP]', 'a']
"""

from __future__ import annotations

import collections
import dataclasses
import hashlib
import itertools
import math
import os
import re
from pathlib import Path

import numpy as np

from dlzoo.data.bundle import DataBundle, reject_unexpected

__all__ = [
    "LECTURE_GRAMMAR",
    "PAD",
    "SPECIALS",
    "START",
    "STOP",
    "UNK",
    "Grammar",
    "Vocabulary",
    "is_corpus_source",
    "load_corpus",
    "read_text_files",
    "tokenize",
]

PAD, UNK, START, STOP = "[PAD]", "[UNK]", "[START]", "[STOP]"
SPECIALS = (PAD, UNK, START, STOP)
LEVELS = ("word", "char")
_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)*|[^\w\s]", re.UNICODE)
TEXT_MAX_BYTES = 256 << 20  # a folder's .txt files together; larger corpora need a streaming loader


def is_corpus_source(source) -> bool:
    """Whether `source` names a corpus this module loads ("grammar" or "text:PATH")."""
    return isinstance(source, str) and (source == "grammar" or source.startswith("text:"))


def tokenize(text: str, level: str = "word", *, lowercase: bool = True) -> list[str]:
    """Splits one sentence into tokens: words (runs of letters and digits, with inner
    apostrophes) and single punctuation marks, or characters (`level="char"`, spaces kept)."""
    if lowercase:
        text = text.lower()
    if level == "char":
        return list(" ".join(text.split()))
    return _WORD.findall(text)


def detokenize(tokens, level: str = "word") -> str:
    """The text of tokens: joined by spaces (words) or nothing (characters)."""
    return ("" if level == "char" else " ").join(tokens)


# --- the lectures' grammar ------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Grammar:
    """A finite probabilistic grammar: `rules[symbol] = ((probability, (symbol, ...)), ...)`;
    a symbol without rules is a word. Finite (no recursion), so every sentence and its
    probability can be listed, and with them the exact entropy and the true next-word
    distribution after any prefix."""

    rules: dict
    start: str = "S"

    def sentences(self) -> dict:
        """`{sentence (tuple of words): probability}` over every sentence the grammar makes."""
        return dict(_expand(self.rules, (self.start,)))

    def entropy_per_token(self) -> float:
        """Nats per predicted token of the grammar itself: H(sentence) / E[words + 1] (the
        STOP is predicted too). No model can have a lower expected cross-entropy on its
        sentences; `exp` of it is the perplexity floor."""
        probs = self.sentences()
        h = -sum(p * math.log(p) for p in probs.values())
        tokens = sum(p * (len(s) + 1) for s, p in probs.items())
        return h / tokens

    def next_word_distribution(self, prefix) -> dict:
        """`{next word or STOP: probability}` after the words `prefix` (empty after START)."""
        prefix = tuple(prefix)
        out: dict = collections.defaultdict(float)
        for s, p in self.sentences().items():
            if s[: len(prefix)] == prefix:
                out[s[len(prefix)] if len(s) > len(prefix) else STOP] += p
        total = sum(out.values())
        return {w: p / total for w, p in out.items()} if total else {}

    def accepts(self, words) -> bool:
        """Whether the grammar can make exactly this sentence."""
        return tuple(words) in self.sentences()

    def sample(self, n: int, *, seed: int = 0) -> list[tuple]:
        """`n` sentences drawn independently with the grammar's probabilities."""
        items = sorted(self.sentences().items())
        p = np.array([q for _, q in items])
        picks = np.random.default_rng(seed).choice(len(items), size=n, p=p / p.sum())
        return [items[i][0] for i in picks]


def _expand(rules, symbols):
    """Yields (words, probability) for every way of rewriting `symbols`."""
    if not symbols:
        yield (), 1.0
        return
    head, rest = symbols[0], symbols[1:]
    heads = [((head,), 1.0)] if head not in rules else [
        (w, p * q) for p, rhs in rules[head] for w, q in _expand(rules, tuple(rhs))]
    tails = list(_expand(rules, rest))
    for (hw, hp), (tw, tp) in itertools.product(heads, tails):
        yield hw + tw, hp * tp


# "a dog plays with a ball": singular and plural subjects agree with their verb across an
# adjective, and what follows the verb depends on which verb it was.
LECTURE_GRAMMAR = Grammar({
    "S": ((0.6, ("NP_SG", "VP_SG")), (0.4, ("NP_PL", "VP_PL"))),
    "NP_SG": ((0.7, ("DET_SG", "N_SG")), (0.3, ("DET_SG", "ADJ", "N_SG"))),
    "NP_PL": ((0.7, ("DET_PL", "N_PL")), (0.3, ("DET_PL", "ADJ", "N_PL"))),
    "VP_SG": ((0.5, ("plays", "with", "OBJ")), (0.3, ("sees", "OBJ")), (0.2, ("sleeps",))),
    "VP_PL": ((0.5, ("play", "with", "OBJ")), (0.3, ("see", "OBJ")), (0.2, ("sleep",))),
    "OBJ": ((0.6, ("a", "TOY")), (0.4, ("the", "TOY"))),
    "DET_SG": ((0.5, ("a",)), (0.5, ("the",))),
    "DET_PL": ((0.6, ("the",)), (0.4, ("two",))),
    "ADJ": ((0.5, ("small",)), (0.5, ("happy",))),
    "N_SG": ((0.4, ("dog",)), (0.3, ("cat",)), (0.3, ("girl",))),
    "N_PL": ((0.4, ("dogs",)), (0.3, ("cats",)), (0.3, ("girls",))),
    "TOY": ((0.5, ("ball",)), (0.3, ("stick",)), (0.2, ("box",))),
})


# --- a user's text --------------------------------------------------------------------------------


def read_text_files(path) -> tuple[list[str], list[str], list[tuple[str, str]]]:
    """The non-empty lines of a .txt file, or of every .txt file under a folder (sorted by path).

    Returns:
        `(lines, files read, [(file, reason)] skipped)`: a file that is not UTF-8 text is skipped
        with its reason.

    Raises:
        FileNotFoundError: `path` does not exist.
        ValueError: no .txt file, or the files hold no text (an empty corpus), or more than
            TEXT_MAX_BYTES in all.
    """
    root = Path(os.path.expanduser(str(path)))
    if not root.exists():
        raise FileNotFoundError(f"text:{path}: no such file or folder; give a .txt file or a "
                                "folder of .txt files (text:PATH).")
    files = [root] if root.is_file() else sorted(
        p for p in root.rglob("*") if p.is_file() and p.suffix.lower() == ".txt")
    if not files:
        raise ValueError(f"text:{path}: no .txt file in this folder; put the corpus in .txt "
                         "files (one sentence per line).")
    lines, read, skipped, total = [], [], [], 0
    for f in files:
        total += f.stat().st_size
        if total > TEXT_MAX_BYTES:
            raise ValueError(f"text:{path}: more than {TEXT_MAX_BYTES >> 20} MiB of text; "
                             "train on a smaller selection of files.")
        try:
            text = f.read_text(encoding="utf-8-sig")
        except UnicodeDecodeError as e:
            skipped.append((str(f), f"not UTF-8 text ({e.reason} at byte {e.start})"))
            continue
        read.append(str(f))
        lines.extend(line.strip() for line in text.splitlines() if line.strip())
    if not lines:
        why = f"; skipped: {skipped[0][0]}: {skipped[0][1]}" if skipped else ""
        raise ValueError(f"text:{path}: the corpus is empty (no non-empty line in "
                         f"{len(files)} .txt file(s){why}); write one sentence per line.")
    return lines, read, skipped


# --- vocabulary and arrays ------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Vocabulary:
    """Token strings by id: `tokens[0:4]` are PAD, UNK, START, STOP."""

    tokens: tuple
    level: str = "word"
    lowercase: bool = True

    @classmethod
    def fit(cls, sentences, *, level="word", lowercase=True, min_count=1, max_vocab=None):
        """The training sentences' tokens seen at least `min_count` times, most frequent first
        (ties alphabetical), at most `max_vocab` ids in all."""
        counts = collections.Counter(t for s in sentences for t in s)
        for special in SPECIALS:
            counts.pop(special, None)
        kept = sorted((t for t, c in counts.items() if c >= min_count),
                      key=lambda t: (-counts[t], t))
        if max_vocab is not None:
            kept = kept[: max(0, max_vocab - len(SPECIALS))]
        return cls(tokens=SPECIALS + tuple(kept), level=level, lowercase=lowercase)

    @classmethod
    def from_card(cls, card: dict) -> Vocabulary:
        """The vocabulary a language model's card recorded (`class_names`, `data.level`)."""
        data = card.get("data") or {}
        tokens = tuple(card.get("class_names") or data.get("class_names") or ())
        if tokens[: len(SPECIALS)] != SPECIALS:
            raise ValueError("the card holds no language-model vocabulary (class_names must start "
                             f"with {', '.join(SPECIALS)}); is this a text_generation model?")
        return cls(tokens=tokens, level=data.get("level", "word"),
                   lowercase=bool(data.get("lowercase", True)))

    def __len__(self):
        return len(self.tokens)

    @property
    def index(self) -> dict:
        return _index(self.tokens)

    def encode(self, tokens) -> list[int]:
        index = self.index
        return [index.get(t, 1) for t in tokens]

    def decode(self, ids) -> list[str]:
        return [self.tokens[int(i)] for i in ids]


_INDEX_CACHE: dict = {}


def _index(tokens: tuple) -> dict:
    key = id(tokens)
    if key not in _INDEX_CACHE or _INDEX_CACHE[key][0] is not tokens:
        _INDEX_CACHE[key] = (tokens, {t: i for i, t in enumerate(tokens)})
    return _INDEX_CACHE[key][1]


def encode_sentences(sentences, vocab: Vocabulary, max_length: int) -> tuple:
    """`(x, y, truncated)`: int32 `(n, max_length)` inputs `[START] w1 ...` and targets
    `w1 ... [STOP]`, padded with 0; a sentence longer than `max_length - 1` tokens is cut
    (no STOP), and `truncated` counts them."""
    n = len(sentences)
    seq = np.zeros((n, max_length + 1), np.int32)
    truncated = 0
    for i, s in enumerate(sentences):
        ids = [2] + vocab.encode(s) + [3]
        if len(ids) > max_length + 1:
            ids, truncated = ids[: max_length + 1], truncated + 1
        seq[i, : len(ids)] = ids
    return seq[:, :-1].copy(), seq[:, 1:].copy(), truncated


def _split(n: int, validation_split: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    order = np.random.default_rng(seed).permutation(n)
    n_val = int(round(n * validation_split))
    return np.sort(order[n_val:]), np.sort(order[:n_val])


def load_corpus(source: str = "grammar", *, validation_split=0.2, seed=0, level="word",
                lowercase=True, min_count=1, max_vocab=20000, max_length=None, n=2000,
                data_seed=0, vocabulary: Vocabulary | None = None, **kwargs) -> DataBundle:
    """A corpus as `(x, y)` int32 arrays of next-token prediction, split into train/validation.

    Args:
        source: "grammar" (`LECTURE_GRAMMAR`) or "text:PATH" (a .txt file or a folder of them).
        validation_split: share of sentences held out (0.2); seed: the split's seed (0).
        level: "word" (default) or "char".
        lowercase: lower-case the text first (True).
        min_count: training-set count below which a token becomes `[UNK]` (1).
        max_vocab: most ids, the 4 special tokens included (20000).
        max_length: tokens per sequence (START + words, or words + STOP); default the longest
            sentence's length + 1, at most 256 (longer sentences are cut, and counted).
        n: sentences drawn from the grammar (2000); data_seed: their seed (0).
        vocabulary: encode with this `Vocabulary` (a trained model's) instead of fitting one;
            its level and lower-casing are used.

    Returns:
        A `DataBundle` with `train`/`val` = `(x, y)` int32 `(sentences, max_length)`,
        `class_names` = the vocabulary (id order), `value_range` "tokens", and `details` with
        level, lowercase, max_length, vocab_size, the special tokens, sentence and token counts
        and, for the grammar, its entropy per token (nats) and the perplexity floor.

    Raises:
        ValueError: an unknown source or level, an empty corpus, a bad number.
    """
    reject_unexpected(kwargs, source)
    if vocabulary is not None:
        level, lowercase = vocabulary.level, vocabulary.lowercase
    if level not in LEVELS:
        raise ValueError(f"{source}: level must be 'word' or 'char'; received {level!r}.")
    for key, value, low in (("min_count", min_count, 1), ("max_vocab", max_vocab, 5),
                            ("n", n, 2)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"{source}: {key} must be an integer >= {low}; received {value!r}.")
    if max_length is not None and (isinstance(max_length, bool) or not isinstance(max_length, int)
                                   or not 2 <= max_length <= 4096):
        raise ValueError(f"{source}: max_length must be an integer from 2 to 4096; received "
                         f"{max_length!r}.")
    details: dict = {}
    skipped: list = []
    if source == "grammar":
        if level == "char":
            raw = [detokenize(s) for s in LECTURE_GRAMMAR.sample(n, seed=data_seed)]
            sentences = [tokenize(s, "char", lowercase=lowercase) for s in raw]
        else:
            sentences = [list(s) for s in LECTURE_GRAMMAR.sample(n, seed=data_seed)]
        h = LECTURE_GRAMMAR.entropy_per_token()
        details.update(grammar="LECTURE_GRAMMAR", n=n, data_seed=data_seed)
        if level == "word":
            details.update(entropy_per_token=round(h, 6), perplexity_floor=round(math.exp(h), 6))
        digest_src = f"grammar:{n}:{data_seed}"
    elif isinstance(source, str) and source.startswith("text:") and source[5:].strip():
        lines, files, skipped = read_text_files(source[5:])
        sentences = [tokenize(line, level, lowercase=lowercase) for line in lines]
        sentences = [s for s in sentences if s]
        if not sentences:
            raise ValueError(f"{source}: the corpus is empty: its lines hold no words; write "
                             "one sentence per line.")
        details["files"] = len(files)
        digest_src = "\n".join(lines)
    else:
        raise ValueError(f"unknown corpus source {source!r}; use 'grammar' or 'text:PATH' (a .txt "
                         "file or a folder of them).")
    tr, va = _split(len(sentences), validation_split, seed)
    train_sents = [sentences[i] for i in tr]
    vocab = vocabulary or Vocabulary.fit(train_sents, level=level, lowercase=lowercase,
                                         min_count=min_count, max_vocab=max_vocab)
    if len(vocab) == len(SPECIALS):
        raise ValueError(f"{source}: the training sentences leave no token with min_count="
                         f"{min_count}; lower min_count or give more text.")
    longest = max(len(s) for s in sentences) + 1
    length = max_length or min(longest, 256)
    x, y, truncated = encode_sentences(sentences, vocab, length)
    val_tokens = [t for i in va for t in sentences[i]]
    unknown = sum(1 for t in val_tokens if t not in vocab.index)
    details.update(
        level=level, lowercase=lowercase, max_length=length, vocab_size=len(vocab),
        pad_token=PAD, unknown_token=UNK, start_token=START, stop_token=STOP,
        min_count=min_count, max_vocab=max_vocab, sentences=len(sentences),
        num_train=len(tr), num_val=len(va), truncated=truncated,
        val_unknown_rate=round(unknown / max(1, len(val_tokens)), 6),
    )
    digest = hashlib.sha256(f"{digest_src}|{level}|{lowercase}".encode()).hexdigest()
    return DataBundle(
        train=(x[tr], y[tr]),
        val=(x[va], y[va]) if len(va) else None,
        class_names=list(vocab.tokens),
        num_classes=len(vocab),
        input_shape=(length,),
        source=source,
        manifest_hash=digest,
        skipped=skipped,
        value_range="tokens",
        details=details,
    )
