"""The three language models on the lectures' grammar (recipes lm_lstm-grammar, lm_gru-grammar,
lm_transformer-grammar): validation perplexity against the grammar's entropy floor and a unigram
model, and the share of 200 sentences sampled at temperature 1 that the grammar accepts, over
three training seeds (the corpus and its split stay the same)."""

from __future__ import annotations

import math
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from benchmarks import _common

MODELS = ("lm_lstm", "lm_gru", "lm_transformer")


def run(quick: bool = False) -> dict:
    from dlzoo.recipes import load_recipe
    from dlzoo.training import run_recipe

    seeds = (0,) if quick else (0, 1, 2)
    overrides = ["data.n=600", "train.epochs=3"] if quick else []
    load_before = _common.load_average()
    work = Path(tempfile.mkdtemp(prefix="dlzoo-lm-bench-"))
    rows, per_model = [], {}
    try:
        for name in MODELS:
            for seed in seeds:
                recipe = load_recipe(f"{name}-grammar", [*overrides, f"train.seed={seed}"])
                t0 = time.perf_counter()
                r = run_recipe(recipe, output=work, verbose=0, log=lambda *a: None)
                m = r.card["metrics"]
                rows.append({
                    "model": name, "seed": seed, "epochs run": r.epochs_run,
                    "train seconds": round(time.perf_counter() - t0, 1),
                    "val perplexity": m["val_perplexity"],
                    "grammar's own perplexity (val)": m["val_oracle_perplexity"],
                    "entropy floor": m["grammar_perplexity_floor"],
                    "unigram perplexity": m["val_unigram_perplexity"],
                    "grammatical share": m["grammatical_share"],
                })
                per_model.setdefault(name, []).append(m)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    floor, unigram = rows[0]["entropy floor"], rows[0]["unigram perplexity"]
    oracle = rows[0]["grammar's own perplexity (val)"]
    parts = []
    for name, ms in per_model.items():
        ppl = [m["val_perplexity"] for m in ms]
        share = [m["grammatical_share"] for m in ms]
        spread = (f" ± {statistics.stdev(ppl):.3f}" if len(ppl) > 1 else "")
        parts.append(f"{name} {statistics.mean(ppl):.3f}{spread} "
                     f"({statistics.mean(share):.0%} grammatical)")
    summary = (
        f"Validation perplexity, mean ± std over training seeds {', '.join(map(str, seeds))}: "
        + "; ".join(parts)
        + f". The grammar's entropy floor is {floor:.3f} (exp of {math.log(floor):.3f} nats per token, no model "
        f"beats it in expectation; on these validation sentences the grammar's own probabilities "
        f"give {oracle:.3f}) and a unigram model "
        f"reaches {unigram:.2f}. Grammatical share: of 200 sentences sampled at temperature 1 "
        f"(seed 0), those the grammar makes. {recipe['data']['n']} sentences, "
        f"20% held out. Load average (1 min) {load_before[0]} before, "
        f"{_common.load_average()[0]} after."
    )
    return {
        "title": "Language models on the lectures' grammar: perplexity and grammatical samples",
        "summary": summary,
        "rows": rows,
    }
