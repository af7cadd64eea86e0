"""Predicting and evaluating ratings with a trained recommender (task rating_prediction) from
(user, item) pairs: the library side of `dlzoo predict MODEL_DIR USER,ITEM ...` and
`dlzoo evaluate MODEL_DIR ratings:...`.

    >>> from dlzoo.recommendation import predict_ratings, evaluate_ratings
    >>> predict_ratings("saved_models/recommender-ratings", [(3, 7), (4, 1)])
    [(3, 7, 3.41), (4, 1, 2.87)]
    >>> evaluate_ratings("saved_models/recommender-ratings", "ratings:synthetic")["rmse"]

User and item names are the ids the model was trained with: integers for `ratings:synthetic`,
the names in the CSV file for `ratings:PATH` (the card records them).
"""

from __future__ import annotations

import math

import numpy as np

from dlzoo.data.ratings import load_ratings
from dlzoo.saving import load, read_card
from dlzoo.tasks import Task, with_article

__all__ = ["evaluate_ratings", "parse_pairs", "predict_ratings", "rating_metrics"]


def _rmse(a, b) -> float:
    return float(np.sqrt(np.mean((np.asarray(a, "float64") - np.asarray(b, "float64")) ** 2)))


def _arrays(part):
    if isinstance(part, tuple):
        return np.asarray(part[0]), np.asarray(part[1])
    xs, ys = zip(*[(np.asarray(x), np.asarray(y)) for x, y in part])
    return np.concatenate(xs), np.concatenate(ys)


def rating_metrics(model, bundle) -> dict:
    """A recommender's card figures on the validation ratings: `val_rmse`, `val_mae`, the RMSE
    of predicting the training mean (`val_mean_baseline_rmse`) and, for ratings made from known
    factors, the noise floor (`val_noise_floor_rmse`: the error of the true factors themselves)."""
    x, y = _arrays(bundle.val)
    pred = np.asarray(model.predict(x, verbose=0, batch_size=1024)).reshape(-1)
    out = {"val_rmse": round(_rmse(pred, y), 6),
           "val_mae": round(float(np.mean(np.abs(pred - y))), 6)}
    for key in ("mean_baseline_rmse", "noise_floor_rmse"):
        if key in bundle.details:
            out[f"val_{key}"] = bundle.details[key]
    return out


def _load(model_dir):
    card = read_card(model_dir)
    if card.get("task") is not Task.RATING_PREDICTION:
        raise ValueError(f"{model_dir}: {with_article(card.get('task'))} model, not a "
                         "recommender (task rating_prediction); train one with `dlzoo train "
                         "recommender-ratings`.")
    return load(model_dir, compile=False), card


def parse_pairs(texts) -> list[tuple[str, str]]:
    """`"USER,ITEM"` strings as (user, item) name pairs; ValueError naming a malformed one."""
    pairs = []
    for t in texts:
        parts = [p.strip() for p in str(t).split(",")]
        if len(parts) != 2 or not all(parts):
            raise ValueError(f"{t!r} is not a USER,ITEM pair; give pairs such as 3,7 (user 3, "
                             "item 7).")
        pairs.append((parts[0], parts[1]))
    return pairs


def _ids(card, pairs) -> np.ndarray:
    """Names to the model's ids: the CSV's names when the card holds them, else integers in
    range; ValueError naming an unknown user or item."""
    data = card.get("data") or {}
    sizes = data.get("model_args") or {}
    out = []
    for user, item in pairs:
        row = []
        for kind, name, names, count in (
                ("user", user, data.get("users"), sizes.get("num_users")),
                ("item", item, data.get("items"), sizes.get("num_items"))):
            if names is not None:
                index = {str(n): i for i, n in enumerate(names)}
                if str(name) not in index:
                    raise ValueError(f"unknown {kind} {name!r}: the model knows {len(names)} "
                                     f"{kind}s from its training file (e.g. {names[0]!r}).")
                row.append(index[str(name)])
                continue
            try:
                k = int(name)
            except (TypeError, ValueError):
                raise ValueError(f"{kind} {name!r} is not an id: this model's {kind}s are "
                                 f"numbered 0 to {count - 1}.") from None
            if count is not None and not 0 <= k < count:
                raise ValueError(f"{kind} {k} is out of range: this model's {kind}s are numbered "
                                 f"0 to {count - 1}.")
            row.append(k)
        out.append(row)
    return np.asarray(out, np.int32).reshape(-1, 2)


def predict_ratings(model_dir, pairs) -> list[tuple]:
    """`[(user, item, predicted rating)]` for (user, item) pairs (names or ids, or "USER,ITEM"
    strings) with a saved recommender.

    Raises:
        ValueError: not a recommender, a malformed pair, an unknown user or item.
    """
    pairs = [parse_pairs([p])[0] if isinstance(p, str) else tuple(p) for p in pairs]
    if not pairs:
        raise ValueError("give at least one USER,ITEM pair.")
    model, card = _load(model_dir)
    pred = np.asarray(model.predict(_ids(card, pairs), verbose=0)).reshape(-1)
    return [(u, i, float(r)) for (u, i), r in zip(pairs, pred)]


def evaluate_ratings(model_dir, data, *, split: str | None = None) -> dict:
    """RMSE and MAE of a saved recommender on ratings: a source (`ratings:synthetic` with the
    card's options, `ratings:PATH`) whose pairs use the model's ids.

    Args:
        model_dir: the saved recommender.
        data: a ratings source; for the source the model was trained on the validation split
            is used (its held-out ratings) unless `split` says otherwise.
        split: "val", "train" or "all".

    Returns:
        `{rmse, mae, samples, split, mean_baseline_rmse[, noise_floor_rmse]}`.
    """
    model, card = _load(model_dir)
    trained = card.get("data") or {}
    recipe_data = dict(trained.get("recipe") or {})
    same = data == trained.get("source")
    if same:
        options = {k: v for k, v in recipe_data.items() if k not in ("source", "batch_size",
                                                                      "loader")}
    else:
        options = {"validation_split": recipe_data.get("validation_split", 0.2),
                   "seed": recipe_data.get("seed", 0)}
    bundle = load_ratings(data, **options)
    if trained.get("users") is not None and not same:  # a CSV of names: the model's ids
        x_names = [(bundle.details["users"][u], bundle.details["items"][i])
                   for part in (bundle.train, bundle.val) if part is not None for u, i in part[0]]
        ids = iter(_ids(card, x_names))
        bundle.train = (np.array([next(ids) for _ in bundle.train[0]]), bundle.train[1])
        if bundle.val is not None:
            bundle.val = (np.array([next(ids) for _ in bundle.val[0]]), bundle.val[1])
    split = split or ("val" if same else "all")
    if split not in ("val", "train", "all"):
        raise ValueError(f"split must be val, train or all; received {split!r}.")
    parts = {"val": [bundle.val], "train": [bundle.train],
             "all": [bundle.train, bundle.val]}[split]
    parts = [p for p in parts if p is not None]
    if not parts:
        raise ValueError(f"{data}: no {split} ratings.")
    x = np.concatenate([p[0] for p in parts])
    y = np.concatenate([p[1] for p in parts])
    sizes = trained.get("model_args") or {}
    if sizes and (x[:, 0].max() >= sizes.get("num_users", math.inf)
                  or x[:, 1].max() >= sizes.get("num_items", math.inf)):
        raise ValueError(f"{data}: user or item ids beyond the model's ({sizes}); evaluate on "
                         "ratings of the users and items it was trained on.")
    pred = np.asarray(model.predict(x, verbose=0, batch_size=1024)).reshape(-1)
    out = {"rmse": round(_rmse(pred, y), 6), "mae": round(float(np.mean(np.abs(pred - y))), 6),
           "samples": int(len(y)), "split": split,
           "mean_baseline_rmse": round(_rmse(np.full_like(y, np.mean(bundle.train[1])), y), 6)}
    if "noise_floor_rmse" in bundle.details and split == "val":
        out["noise_floor_rmse"] = bundle.details["noise_floor_rmse"]
    return out
