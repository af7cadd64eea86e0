"""Ratings for recommenders: (user, item) id pairs and the rating each user gave each item.

    source                 what it is                                                needs
    "ratings:synthetic"    ratings made from known user and item factors plus noise:  nothing
                           r = mean + b_user + b_item + u . v + N(0, noise^2), so the
                           error a perfect model reaches (the noise floor) is known
    "ratings:PATH"         a CSV file of `user,item,rating` rows (a header line is    nothing
                           allowed); user and item names become ids 0.. in sorted order

x is int32 `(n, 2)` (user id, item id), y float32 `(n,)`; the split is a seeded shuffle of the
rows. `details["model_args"]` holds `num_users` and `num_items` for the recommender.

    >>> from dlzoo.data.ratings import load_ratings
    >>> data = load_ratings("ratings:synthetic", noise=0.5)
    >>> data.details["noise_floor_rmse"]      # ~0.5
"""

from __future__ import annotations

import csv
import hashlib
import math
from pathlib import Path

import numpy as np

from dlzoo.data.bundle import DataBundle, reject_unexpected

__all__ = ["factor_ratings", "is_ratings_source", "load_ratings", "read_ratings_csv"]

RATINGS_MAX_BYTES = 512 << 20


def is_ratings_source(source) -> bool:
    """Whether `source` is "ratings:synthetic" or "ratings:PATH"."""
    return isinstance(source, str) and source.startswith("ratings:")


def factor_ratings(*, num_users=200, num_items=100, factors=4, n=8000, noise=0.5, mean=3.0,
                   data_seed=0) -> dict:
    """Ratings from known factors: `n` distinct (user, item) pairs, each rated
    `mean + b_u + b_i + u . v + noise`, with u, v ~ N(0, factors^-1/2) per component (so u . v has
    unit variance) and biases ~ N(0, 0.5^2). Returns `{pairs int32 (n, 2), ratings float32 (n,),
    noise float32 (n,)}`, the noise drawn for each rating (what no model can predict)."""
    for key, value, low in (("num_users", num_users, 1), ("num_items", num_items, 1),
                            ("factors", factors, 1), ("n", n, 2)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"ratings:synthetic: {key} must be an integer >= {low}; received "
                             f"{value!r}.")
    if n > num_users * num_items:
        raise ValueError(f"ratings:synthetic: n ({n}) is more than the {num_users * num_items} "
                         "(user, item) pairs there are; lower n or raise num_users/num_items.")
    if isinstance(noise, bool) or not isinstance(noise, (int, float)) or not 0 <= noise < 100:
        raise ValueError(f"ratings:synthetic: noise must be a number from 0 to 100; received {noise!r}.")
    rng = np.random.default_rng(data_seed)
    scale = factors ** -0.25
    users = rng.normal(0, scale, size=(num_users, factors))
    items = rng.normal(0, scale, size=(num_items, factors))
    b_user, b_item = rng.normal(0, 0.5, num_users), rng.normal(0, 0.5, num_items)
    flat = rng.choice(num_users * num_items, size=n, replace=False)
    u, i = flat // num_items, flat % num_items
    eps = rng.normal(0, noise, n) if noise else np.zeros(n)
    r = mean + b_user[u] + b_item[i] + np.sum(users[u] * items[i], axis=1) + eps
    return {"pairs": np.stack([u, i], axis=1).astype(np.int32), "ratings": r.astype(np.float32),
            "noise": eps.astype(np.float32)}


def read_ratings_csv(path) -> tuple[list, list, np.ndarray, np.ndarray]:
    """`(user names, item names, pairs int32 (n, 2), ratings float32 (n,))` from a CSV of
    `user,item,rating` rows; a first row whose rating is not a number is a header.

    Raises:
        FileNotFoundError, ValueError: a missing file, a row without three fields or with a
            rating that is not a number (the message names the line), no rows.
    """
    p = Path(path).expanduser()
    if not p.is_file():
        raise FileNotFoundError(f"ratings:{path}: no such file; give a CSV of user,item,rating rows.")
    if p.stat().st_size > RATINGS_MAX_BYTES:
        raise ValueError(f"ratings:{path}: larger than {RATINGS_MAX_BYTES >> 20} MiB.")
    rows = []
    with open(p, newline="", encoding="utf-8-sig") as f:
        for line, row in enumerate(csv.reader(f), start=1):
            if not row or not "".join(row).strip():
                continue
            if len(row) < 3:
                raise ValueError(f"ratings:{path}: line {line} has {len(row)} field(s); each row "
                                 "is user,item,rating.")
            try:
                value = float(row[2])
            except ValueError:
                if not rows and line == 1:
                    continue  # a header
                raise ValueError(f"ratings:{path}: line {line}: rating {row[2]!r} is not a "
                                 "number.") from None
            if not math.isfinite(value):
                raise ValueError(f"ratings:{path}: line {line}: rating {row[2]!r} is not finite.")
            rows.append((row[0].strip(), row[1].strip(), value))
    if len(rows) < 2:
        raise ValueError(f"ratings:{path}: fewer than 2 ratings; nothing to learn from.")
    users = sorted({r[0] for r in rows})
    items = sorted({r[1] for r in rows})
    uid, iid = {u: k for k, u in enumerate(users)}, {i: k for k, i in enumerate(items)}
    pairs = np.array([(uid[u], iid[i]) for u, i, _ in rows], np.int32)
    return users, items, pairs, np.array([r[2] for r in rows], np.float32)


def load_ratings(source: str = "ratings:synthetic", *, validation_split=0.2, seed=0,
                 **kwargs) -> DataBundle:
    """Ratings as `(x int32 (n, 2), y float32 (n,))` train/validation arrays.

    Args:
        source: "ratings:synthetic" (keyword arguments of `factor_ratings`) or "ratings:PATH".
        validation_split: share of ratings held out (0.2); seed: the split's seed (0).

    Returns:
        A `DataBundle` (`value_range` "ids", no classes) whose `details` hold `model_args`
        (num_users, num_items), the rating mean and, for synthetic ratings, the noise and the
        validation ratings' noise floor (the RMSE of the known factors themselves).
    """
    what = source[len("ratings:"):].strip()
    details: dict = {}
    if what == "synthetic":
        made = factor_ratings(**kwargs)
        pairs, ratings, noise = made["pairs"], made["ratings"], made["noise"]
        num_users, num_items = kwargs.get("num_users", 200), kwargs.get("num_items", 100)
        details.update({k: v for k, v in kwargs.items()}, noise=kwargs.get("noise", 0.5))
        digest_src = repr(sorted(kwargs.items()))
    elif what:
        reject_unexpected(kwargs, source)
        users, items, pairs, ratings = read_ratings_csv(what)
        noise = None
        num_users, num_items = len(users), len(items)
        details.update(users=users, items=items)
        digest_src = pairs.tobytes() + ratings.tobytes()
    else:
        raise ValueError("ratings: needs synthetic or a CSV path after the colon "
                         "(ratings:synthetic, ratings:my_ratings.csv).")
    order = np.random.default_rng(seed).permutation(len(ratings))
    n_val = int(round(len(ratings) * validation_split))
    va, tr = np.sort(order[:n_val]), np.sort(order[n_val:])
    details.update(model_args={"num_users": int(num_users), "num_items": int(num_items)},
                   num_train=len(tr), num_val=len(va),
                   train_mean=round(float(ratings[tr].mean()), 6),
                   rating_range=[round(float(ratings.min()), 4), round(float(ratings.max()), 4)])
    if noise is not None and len(va):
        details["noise_floor_rmse"] = round(float(np.sqrt(np.mean(noise[va] ** 2))), 6)
    if len(va):  # the error of always predicting the training mean
        details["mean_baseline_rmse"] = round(float(np.sqrt(np.mean(
            (ratings[va] - ratings[tr].mean()) ** 2))), 6)
    digest = hashlib.sha256(digest_src if isinstance(digest_src, bytes)
                            else digest_src.encode()).hexdigest()
    return DataBundle(
        train=(pairs[tr], ratings[tr]),
        val=(pairs[va], ratings[va]) if len(va) else None,
        class_names=[], num_classes=0, input_shape=(2,), source=source,
        manifest_hash=digest, value_range="ids", details=details,
    )
