"""The zoo's registry metadata, stored: what `dlzoo list` and `dlzoo info` show, without importing
Keras or a backend and without building a model.

`dlzoo/models/catalog.json` holds, for every model the zoo itself registers, `ModelInfo.as_dict()`
with the parameter count at the defaults filled in (counted by a build where the family does not
declare it). It is generated, never edited by hand:

    python -m dlzoo.catalog            # rewrite dlzoo/models/catalog.json from the live registry
    python -m dlzoo.catalog --check    # exit 1 and name the stale entries

`tests/test_catalog.py` compares the stored file with the live registry, and
`tests/models/test_param_counts.py` compares its parameter counts with a real build of every model;
both name this command when the file is stale. Models a user registers in their own code are not
in the file (the CLI never imports user code); the library's `list_models`/`model_info` see them.

    >>> from dlzoo import catalog
    >>> catalog.entry("vgg16")["params"]
    138357544
"""

from __future__ import annotations

import difflib
import fnmatch
import functools
import json
import os
import sys

from dlzoo.registry import (
    _REGISTRY,
    Task,
    _natural_key,
    ensure_loaded,
    model_info,
    normalize_name,
)

__all__ = ["CATALOG_PATH", "REGENERATE", "entry", "generate", "list_names", "load", "stale", "write"]

CATALOG_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "models", "catalog.json")
REGENERATE = "python -m dlzoo.catalog"


@functools.lru_cache(maxsize=1)
def load() -> dict:
    """The stored catalog: `{name: ModelInfo.as_dict()}` with `params` filled in.

    Raises:
        OSError: the file is missing (a broken install); the message names the command.
    """
    try:
        with open(CATALOG_PATH, encoding="utf-8") as f:
            return json.load(f)["models"]
    except FileNotFoundError:
        raise OSError(f"{CATALOG_PATH} is missing; run `{REGENERATE}` in the source tree") from None


def _normalize(name: str) -> str:
    return normalize_name(name)


def entry(name: str) -> dict:
    """One model's stored metadata; the name is case-insensitive, `-`/`_` ignored.

    Raises:
        ValueError: unknown name; the message lists the three closest names, as `model_info` does.
    """
    models = load()
    by_key = {_normalize(n): n for n in models}
    key = _normalize(name)
    if key in by_key:
        return dict(models[by_key[key]])
    close = difflib.get_close_matches(key, list(by_key), n=3, cutoff=0.0)
    raise ValueError(
        f"Unknown model {name!r}. Closest names: {', '.join(by_key[k] for k in close)}. "
        "Run `dlzoo list` to see every model."
    )


def list_names(pattern: str = "*", task: str | None = None, family: str | None = None) -> list[str]:
    """`dlzoo.list_models`'s filter over the stored catalog (same order, same errors)."""
    if task is not None:
        task = Task.parse(task, where="list_models", model=True)
    pat = pattern.lower()
    out = [
        n for n, e in load().items()
        if (fnmatch.fnmatch(n, pat) or fnmatch.fnmatch(_normalize(n), pat))
        and (task is None or Task(e["task"]) is task)
        and (family is None or e["family"] == family.lower())
    ]
    return sorted(out, key=_natural_key)


def generate() -> dict:
    """The catalog as the live registry gives it (imports Keras; builds the models that declare no
    parameter count, at their defaults)."""
    ensure_loaded()
    models = {}
    for info in _REGISTRY.values():
        if not info.module.startswith("dlzoo."):
            continue  # registered by a user or a test, not shipped
        models[info.name] = json.loads(json.dumps(model_info(info.name).as_dict(), default=str))
    return dict(sorted(models.items()))


def write(models: dict | None = None) -> str:
    """Writes the catalog (by default `generate()`'s) atomically; returns its path."""
    models = generate() if models is None else models
    text = json.dumps({"generated_by": REGENERATE, "models": models}, indent=1, sort_keys=True) + "\n"
    tmp = CATALOG_PATH + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, CATALOG_PATH)
    load.cache_clear()
    return CATALOG_PATH


def stale(models: dict | None = None) -> list[str]:
    """Names whose stored entry differs from `models` (default: `generate()`), plus names only one
    side has; empty when the stored file is current."""
    live = generate() if models is None else models
    try:
        stored = load()
    except OSError:
        return sorted(live)
    return sorted(n for n in set(stored) | set(live) if stored.get(n) != live.get(n))


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv == ["--check"]:
        names = stale()
        if names:
            print(f"{CATALOG_PATH} is stale for {', '.join(names)}; run `{REGENERATE}`")
            return 1
        print(f"{CATALOG_PATH} is current")
        return 0
    if argv:
        print(f"usage: {REGENERATE} [--check]", file=sys.stderr)
        return 2
    print(f"wrote {write()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
