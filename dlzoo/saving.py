"""The saved_models/NAME/ format: a model with its card, written whole or not at all.

    saved_models/lenet5-digits/
      model.keras            the model (raw [0, 255] images in, its preprocessing inside)
      card.json              what it is, what it was trained on, how well it does, sha256 of model.keras
      README.md              the card for people
      history.csv            one row per epoch
      curves.png             loss / metrics / learning rate per epoch
      confusion_matrix.png   on the validation data (classifiers)

    >>> import dlzoo
    >>> dlzoo.save(model, "saved_models/mine", {"model": "lenet5", "class_names": [...]})
    >>> model = dlzoo.load("saved_models/mine")
    >>> card = dlzoo.saving.read_card("saved_models/mine")

Everything is written into a temporary folder beside the target and moved into place at the end;
an existing model is swapped out in one step (`renameat2(RENAME_EXCHANGE)` on Linux, two renames
elsewhere) and deleted only once the new one is in place. Loading uses `safe_mode=True` and
refuses a `model.keras` whose sha256 differs from the card's.
"""

from __future__ import annotations

import csv
import ctypes
import dataclasses
import datetime
import hashlib
import json
import os
import shlex
import shutil
import uuid
import warnings
from pathlib import Path

from dlzoo.compiling import allow_jit
from dlzoo.files import json_default
from dlzoo.registry import ensure_loaded, list_models
from dlzoo.tasks import Task
from dlzoo import userfiles
from dlzoo.userfiles import read_text
from dlzoo.version import __version__

__all__ = [
    "CARD_SCHEMA_VERSION",
    "FORMAT",
    "ModelCard",
    "all_layers",
    "check_loadable",
    "default_finetune_out",
    "folder_name",
    "is_saved_model",
    "load",
    "load_card",
    "load_model_file",
    "read_card",
    "render_readme",
    "safe_name",
    "save",
    "saved_model_folder",
    "sha256",
    "unknown_classes",
]

FORMAT = "dlzoo-saved-model/1"
MODEL_FILE = "model.keras"
CARD_FILE = "card.json"
# 1: the first versioned card (the keys below). A card without `schema_version` predates it and
# reads as version 1 unchanged: no key was renamed when the version was introduced.
CARD_SCHEMA_VERSION = 1


@dataclasses.dataclass
class ModelCard:
    """What card.json records about a saved model: one typed place for its keys.

    The fields a run sets come first; `save` fills the ones after `path` (format, shapes,
    parameter count, versions, sha256, files). Keys this class does not name (`transfer`,
    `search`, `transfer_demo`, ...) travel in `extra` and are written at the top level, so
    `to_dict()` gives exactly the JSON keys card.json has always had, plus `schema_version`.
    A field left at None is not written.

        >>> card = ModelCard(name="mine", model="lenet5", task="image_classification")
        >>> ModelCard.from_dict(card.to_dict()) == card
        True
    """

    name: str | None = None
    description: str | None = None
    model: str | None = None
    model_args: dict | None = None
    task: Task | None = None
    preprocessing: str | None = None
    preprocessing_where: str | None = None
    class_names: list | None = None
    metrics: dict | None = None
    expect: dict | None = None
    data: dict | None = None
    training: dict | None = None
    seed: int | None = None
    recipe: dict | None = None
    path: str | None = None
    # written by `save`
    format: str | None = None
    input_shape: list | None = None
    output_shape: list | None = None
    params: int | None = None
    preprocessing_applied: str | None = None
    versions: dict | None = None
    saved_at: str | None = None
    sha256: str | None = None
    files: list | None = None
    extra: dict = dataclasses.field(default_factory=dict)
    schema_version: int = CARD_SCHEMA_VERSION

    def __post_init__(self):
        if self.task is not None:  # a task's string (an older card, a caller's dict) as its Task
            self.task = Task.parse(self.task, where="card")

    @classmethod
    def field_names(cls) -> tuple:
        return tuple(f.name for f in dataclasses.fields(cls) if f.name != "extra")

    @classmethod
    def from_dict(cls, d) -> ModelCard:
        """Reads a card.json mapping, of this schema or an older one (no `schema_version`).

        Raises:
            TypeError: `d` is not a mapping.
            ValueError: the card says a schema newer than this dlzoo reads.
        """
        if isinstance(d, ModelCard):
            return dataclasses.replace(d, extra=dict(d.extra))
        if not isinstance(d, dict):
            raise TypeError(f"a model card must be a mapping; received {type(d).__name__}.")
        d = dict(d)
        version = d.pop("schema_version", CARD_SCHEMA_VERSION)  # older cards: the same keys
        if not isinstance(version, int) or version > CARD_SCHEMA_VERSION:
            raise ValueError(f"card schema_version {version!r} is newer than this dlzoo reads "
                             f"({CARD_SCHEMA_VERSION}); upgrade dlzoo.")
        names = cls.field_names()
        known = {k: d.pop(k) for k in list(d) if k in names}
        return cls(**known, extra=d, schema_version=CARD_SCHEMA_VERSION)

    def to_dict(self) -> dict:
        """The card.json mapping: the named fields that are set, then `extra`."""
        out = {k: getattr(self, k) for k in self.field_names()
               if k != "schema_version" and getattr(self, k) is not None}
        out.update(self.extra)
        out["schema_version"] = self.schema_version
        return out

    def get(self, key, default=None):
        """A card key, named field or extra (so code written for dict cards reads this too)."""
        value = getattr(self, key, None) if key in self.field_names() else self.extra.get(key)
        return default if value is None else value


def training_files_record(bundle) -> dict | None:
    """What identifies the files a model trained on, for its card's `data.training_files`:
    their count and the sorted sha256 of each file's bytes (an image folder's scan hashes every
    file; `dlzoo evaluate` recognises them by content wherever they are later). None for data
    that is not files (digits, tfds, synthetic)."""
    files = getattr(bundle, "files", None) or {}
    digests = files.get("sha256")
    if not digests or files.get("train") is None:
        return None
    seen = sorted({digests[f] for f in files["train"] if f in digests})
    return {"count": len(files["train"]), "sha256": seen}


def sha256(path) -> str:
    """Hex sha256 of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _versions() -> dict:
    import keras

    versions = {"dlzoo": __version__, "keras": keras.__version__,
                "backend": keras.backend.backend()}
    try:
        import tensorflow as tf

        versions["tensorflow"] = tf.__version__
    except ImportError:
        pass
    if versions["backend"] == "jax":
        import jax

        versions["jax"] = jax.__version__
    return versions


def save(model, directory, card: ModelCard | dict | None = None, *, history=None, report=None,
         overwrite: bool = True, extra_files: dict | None = None,
         custom_objects: dict | None = None) -> Path:
    """Writes `model` and its card to `directory` in the saved_models format.

    Args:
        model: a built Keras model (no `Lambda` layers, so it loads with `safe_mode=True`).
        directory: the model's folder, e.g. `saved_models/lenet5-digits`.
        card: a `ModelCard` (or a mapping of its keys): model name, task, class names, data
            source, metrics, training config, seed... `save` adds the format, input/output shapes, parameter count,
            the preprocessing the model applies, versions, time and the sha256 of model.keras.
        history: per-epoch figures, `{name: [values]}` or the path of a CSV log; gives
            history.csv and curves.png.
        report: a `dlzoo.evaluation.Report`; gives confusion_matrix.png.
        overwrite: replace an existing model at `directory` (default True).
        extra_files: `{file name: path}` of more files to put in the folder (plots of an
            experiment the card reports); PNG files are shown in README.md.
        custom_objects: unregistered custom classes `{name: class}` that `load` will be given
            too (registered ones need nothing).

    Returns:
        The folder's path.

    Raises:
        ValueError: `load` could not read the model back (a `Lambda` layer, an unregistered
            custom layer, a layer whose config does not rebuild it); nothing is written.
    """
    # Imported here, not at the top: `dlzoo list` imports this module (dlzoo.load) and needs
    # neither NumPy (dlzoo.plots: about 90 modules, a third of its start-up) nor Keras.
    from dlzoo.plots import phase_marks, plot_history, read_history
    from dlzoo.preprocessing import applied_mode

    target = Path(directory)
    check_loadable(model, custom_objects)
    if target.exists() and not overwrite:
        raise FileExistsError(
            f"{target} already exists; pass overwrite=True or choose another folder."
        )
    if target.exists() and not (target / CARD_FILE).exists() and any(target.iterdir()):
        raise FileExistsError(
            f"{target} exists and is not a dlzoo saved model (no {CARD_FILE}); refusing to "
            "replace it. Choose another folder."
        )
    parent = target.parent
    parent.mkdir(parents=True, exist_ok=True)
    for stale in parent.glob(f".{target.name}.tmp-*"):  # left by a save that was killed
        shutil.rmtree(stale, ignore_errors=True)
    tmp = parent / f".{target.name}.tmp-{uuid.uuid4().hex[:12]}"
    tmp.mkdir()  # not mkdtemp: that makes the folder private (0700) whatever the umask
    try:
        model.save(tmp / MODEL_FILE)
        try:  # the round trip `load` will make, before anything is moved into place
            load_model_file(tmp / MODEL_FILE, compile=False, custom_objects=custom_objects)
        except ValueError as e:
            raise ValueError(f"dlzoo.save: refusing to save {model.name}: dlzoo.load could not "
                             f"read it back: {e}") from e
        card = ModelCard.from_dict(card or {})
        card = dataclasses.replace(
            card,
            format=FORMAT,
            input_shape=list(model.input_shape[1:]),
            output_shape=list(model.output_shape[1:]),
            params=int(model.count_params()),
            preprocessing_applied=applied_mode(model),
            versions=_versions(),
            saved_at=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            sha256=sha256(tmp / MODEL_FILE),
        ).to_dict()
        files = [MODEL_FILE, CARD_FILE, "README.md"]
        if history is not None:
            hist = read_history(history) if isinstance(history, (str, os.PathLike)) else history
            if hist and any(len(v) for v in hist.values()):
                _write_history(hist, tmp / "history.csv")
                plot_history(hist, tmp / "curves.png", title=card.get("name"),
                             marks=phase_marks(card))
                files += ["history.csv", "curves.png"]
        if report is not None:
            report.plot_confusion_matrix(
                tmp / "confusion_matrix.png", title=f"{card.get('name', '')} (validation)".strip()
            )
            files.append("confusion_matrix.png")
        for fname, src in (extra_files or {}).items():
            if os.path.basename(fname) != fname or fname in files:
                raise ValueError(f"extra_files: {fname!r} must be a plain file name not used by "
                                 f"the format ({', '.join(files)}).")
            shutil.copyfile(src, tmp / fname)
            files.append(fname)
        card["files"] = files
        (tmp / CARD_FILE).write_text(json.dumps(card, indent=2, default=json_default) + "\n")
        (tmp / "README.md").write_text(render_readme(card))
        _fsync_dir(tmp)
        _move_into_place(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def _write_history(history: dict, path: Path) -> None:
    keys = [k for k in history if k != "epoch"]
    n = max(len(history[k]) for k in keys)
    epochs = history.get("epoch") or list(range(n))
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["epoch"] + keys)
        for i in range(n):
            row = [int(epochs[i])] + [history[k][i] if i < len(history[k]) else "" for k in keys]
            writer.writerow(row)


def _fsync_dir(folder: Path) -> None:
    for p in folder.iterdir():
        with open(p, "rb") as f:
            os.fsync(f.fileno())


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swaps two paths (Linux renameat2); False where that is not available."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return False
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    return fn(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0


def _move_into_place(tmp: Path, target: Path) -> None:
    if not target.exists():
        os.rename(tmp, target)
        return
    if _exchange(tmp, target):  # tmp now holds the old model
        shutil.rmtree(tmp, ignore_errors=True)
        return
    old = target.parent / f".{target.name}.old-{uuid.uuid4().hex[:8]}"
    os.rename(target, old)
    os.rename(tmp, target)
    shutil.rmtree(old, ignore_errors=True)


# A name that is safe as one path component: what recipes require of `name`.
NAME_PATTERN = r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}"


def safe_name(text, fallback: str = "model") -> str:
    """`text` as one safe path component: kept when it matches `NAME_PATTERN` (no separator,
    no leading dot, so never `..`), else every other character becomes `_`; `fallback` when
    nothing usable is left. Output folders are built from this, never from raw text read from
    a file (a card's `model` field is not covered by the sha256 check)."""
    import re

    text = text if isinstance(text, str) else ""
    if re.fullmatch(NAME_PATTERN, text):
        return text
    cleaned = re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("._-")[:128]
    return cleaned if cleaned and re.fullmatch(NAME_PATTERN, cleaned) else fallback


def folder_name(path, fallback: str = "model") -> str:
    """The name of the folder `path` names, as a `safe_name` (`..` and `.` are resolved first, so
    `exports/<folder_name(..)>` is the parent's name, never the parent itself)."""
    return safe_name(Path(os.path.abspath(os.fspath(path))).name, fallback)


def default_finetune_out(data_dir, source, *, root="saved_models") -> Path:
    """`root/FOLDER-MODEL` for `dlzoo finetune DATA --model SOURCE`: FOLDER is the data folder's
    name, MODEL the registry name (a registry name given, or a saved model's card naming one)
    or else the saved model's folder name, each made a safe name (`safe_name`), so the result is
    always one folder directly inside `root`."""
    folder = folder_name(data_dir, "data")
    saved = saved_model_folder(source)
    if saved is None:
        model = safe_name(os.fspath(source))
    else:
        named = read_card(saved).get("model")
        known = isinstance(named, str) and named in list_models()
        model = named if known else folder_name(saved)
    return Path(root) / f"{folder}-{model}"


def is_saved_model(path) -> bool:
    """Whether `path` is a dlzoo saved-model folder (it holds a card.json)."""
    try:
        return path is not None and (Path(path) / CARD_FILE).is_file()
    except (TypeError, OSError):
        return False


def read_card(directory) -> dict:
    """The card.json of a saved model, with a clear error if the folder is not one; its `task`
    read as a `dlzoo.tasks.Task`.

    Raises:
        FileNotFoundError: no card.json in `directory`.
        ValueError: the card is not a JSON mapping, or names a task dlzoo does not know (the
            message names the allowed values and the closest).
    """
    folder = Path(directory)
    path = folder / CARD_FILE
    if not path.is_file():
        hint = ""
        leftovers = sorted(folder.parent.glob(f".{folder.name}.old-*")) if folder.parent.exists() else []
        if leftovers:
            hint = (f" A save was interrupted while replacing it; the previous model is in "
                    f"{leftovers[-1]}: rename that folder to {folder} to get it back.")
        raise FileNotFoundError(
            f"{folder} is not a dlzoo saved model: {CARD_FILE} not found.{hint} "
            "Train one with `dlzoo train RECIPE` or `dlzoo quickstart`."
        )
    try:
        card = json.loads(read_text(path, max_bytes=userfiles.CARD_MAX_BYTES, what="card"))
    except json.JSONDecodeError as e:
        raise ValueError(f"{path} is not valid JSON ({e}); the card is damaged.") from None
    if not isinstance(card, dict):
        raise ValueError(f"{path} holds a JSON {type(card).__name__}, not a mapping; the card "  # noqa: TRY004
                         "is damaged.")
    if card.get("task") is not None:  # read as its Task (written back as the same string)
        try:
            card["task"] = Task.parse(card["task"], where=str(path))
        except ValueError as e:
            raise ValueError(f"{e} Correct the card's \"task\".") from None
    return card


def load_card(directory) -> ModelCard:
    """The card of a saved model as a `ModelCard` (old cards included); errors as `read_card`."""
    return ModelCard.from_dict(read_card(directory))


def saved_model_folder(path) -> Path | None:
    """The saved-model folder `path` names: the folder itself, or the folder of its
    `model.keras` (`saved_models/x/model.keras` -> `saved_models/x`); None for anything else."""
    if path is None or not isinstance(path, (str, os.PathLike)):
        return None
    p = Path(path)
    if is_saved_model(p):
        return p
    if p.name == MODEL_FILE and is_saved_model(p.parent):
        return p.parent
    return None


def load(directory, *, compile: bool = True, custom_objects: dict | None = None):
    """Loads a saved model with `safe_mode=True` after checking model.keras against its card.

    Every path that reads a saved model (`dlzoo.load`, `evaluate`, `predict`, `finetune`,
    `export`, `build(weights=FOLDER)`) comes here: one sha256 check, one kind of error.

    Args:
        directory: the saved model's folder (or the path of its `model.keras`).
        compile: restore the optimizer, loss and metrics it was saved with.
        custom_objects: `{name: class}` for custom layers that are not registered with
            `@keras.saving.register_keras_serializable` (registered ones need nothing).

    Raises:
        FileNotFoundError: the folder, card.json or model.keras is missing.
        ValueError: model.keras's sha256 differs from the card's (changed or damaged file), or
            the file cannot be read (not a Keras archive, or a class Keras cannot find: the
            message names it and its module).
    """
    folder = saved_model_folder(directory) or Path(directory)
    card = read_card(folder)
    model_path = folder / MODEL_FILE
    if not model_path.is_file():
        raise FileNotFoundError(f"{model_path} not found; the saved model is incomplete.")
    expected = card.get("sha256")
    actual = sha256(model_path)
    if expected != actual:
        raise ValueError(
            f"{model_path} does not match its card: sha256 {actual[:16]}... but card.json says "
            f"{str(expected)[:16]}.... The file was changed or damaged; restore it or retrain."
        )
    return load_model_file(model_path, compile=compile, custom_objects=custom_objects)


def load_model_file(path, *, compile: bool = False, custom_objects: dict | None = None):
    """`keras.saving.load_model(path, safe_mode=True)` with one-line errors: a file that is not a
    Keras archive, or one naming a class Keras cannot find (named with its module, refused).

    This checks no card: `load` (a saved-model folder) checks the sha256 first.

    Raises:
        ValueError: the file cannot be read as a Keras model.
    """
    import zipfile

    import keras

    import dlzoo.layers  # noqa: F401  (registers the zoo's layers; imports Keras)
    import dlzoo.losses  # noqa: F401  (the losses and metrics a trained model compiles with)

    ensure_loaded()  # the families' own classes (dlzoo.models.gan.GAN)

    path = Path(path)
    if not zipfile.is_zipfile(path):
        raise ValueError(f"{path} is not a Keras model archive (.keras is a zip file); it is "
                         "damaged or another kind of file. Restore it or save the model again.")
    try:
        with warnings.catch_warnings():
            # a model trained with jit on JAX recompiles here before `allow_jit` (below) has
            # marked its augmentation layers: Keras warns, and jit is turned back on below
            warnings.filterwarnings("ignore", message="Model doesn't support `jit_compile=True`")
            model = keras.saving.load_model(path, compile=compile, safe_mode=True,
                                            custom_objects=custom_objects)
    except Exception as e:  # Keras raises TypeError/ValueError/KeyError/BadZipFile/OSError here
        unknown = unknown_classes(path, custom_objects)
        if unknown:
            listed = ", ".join(f"{name} (module {module})" for name, module in unknown)
            raise ValueError(
                f"{path} uses a class Keras cannot find: {listed}; refusing to load it. If you "
                "trust the file, import the module that registers it "
                "(@keras.saving.register_keras_serializable) or pass custom_objects={name: class}."
            ) from e
        first = str(e).strip().splitlines()[0] if str(e).strip() else ""
        raise ValueError(f"{path} could not be loaded: {type(e).__name__}: {first[:300]}") from e
    return allow_jit(model)  # models saved with augmentation layers run jitted on JAX too


def unknown_classes(path, custom_objects: dict | None = None) -> list[tuple[str, str]]:
    """`(registered or class name, module)` of every object in a `.keras` file's config that
    neither the Keras registry, `custom_objects` nor a Keras module provides (what
    `safe_mode=True` refuses), in the order they appear."""
    import importlib
    import zipfile

    import keras

    try:
        with zipfile.ZipFile(path) as z:
            config = json.loads(z.read("config.json"))
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return []
    found = []

    def known(entry) -> bool:
        name, module = entry["class_name"], entry.get("module") or ""
        registered = entry.get("registered_name") or name
        if keras.saving.get_registered_object(registered, custom_objects=custom_objects):
            return True
        if module.split(".")[0] not in ("keras", "keras_hub", "keras_cv", "keras_nlp"):
            return False
        try:
            return isinstance(vars(importlib.import_module(module)).get(name), type)
        except ImportError:
            return False

    def walk(node):
        if isinstance(node, dict):
            if (isinstance(node.get("class_name"), str) and "config" in node
                    and not node["class_name"].startswith("__") and not known(node)):
                item = (node.get("registered_name") or node["class_name"], node.get("module"))
                if item not in found:
                    found.append(item)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(config)
    return found


def all_layers(model):
    """Every layer of `model`, nested models' layers included (depth first)."""
    for layer in model.layers:
        yield layer
        if hasattr(layer, "layers"):
            yield from all_layers(layer)


def check_loadable(model, custom_objects: dict | None = None) -> None:
    """Raises `ValueError` with the reason when `model` could not be loaded back by `load`:
    a `Lambda` layer (refused by `safe_mode=True`) or a class Keras cannot find again (a custom
    layer not registered with `@keras.saving.register_keras_serializable`)."""
    import keras

    for layer in all_layers(model):
        if isinstance(layer, keras.layers.Lambda):
            raise ValueError(  # noqa: TRY004  (a model that cannot be saved, as dlzoo.save's other refusals)
                f"layer {layer.name!r} is a Lambda layer: dlzoo.load (safe_mode=True) cannot read "
                "it back. Write it as a small custom layer registered with "
                "@keras.saving.register_keras_serializable(package=...) instead."
            )
        cls = type(layer)
        if cls.__module__.split(".")[0] in ("keras", "keras_hub", "keras_cv", "keras_nlp"):
            continue
        registered = keras.saving.get_registered_name(cls)
        if keras.saving.get_registered_object(registered, custom_objects=custom_objects) is not cls:
            raise ValueError(
                f"layer {layer.name!r} is of class {cls.__name__} (module {cls.__module__}), which "
                "is not registered: dlzoo.load could not find it again. Decorate the class with "
                "@keras.saving.register_keras_serializable(package=...), or pass the same "
                "custom_objects to dlzoo.save and dlzoo.load."
            )



def _class_weights_text(record: dict | None) -> str | None:
    """The card's `training.class_weight` in words: "balanced (ok 0.55, defect 5.33)"."""
    if not record:
        return None
    weights = ", ".join(f"{c} {w:.3g}" for c, w in record["weights"].items())
    return f"{record['mode']} ({weights})"


def render_readme(card: ModelCard | dict) -> str:
    """The card as Markdown for people."""
    if isinstance(card, ModelCard):
        card = card.to_dict()
    name = card.get("name", "model")
    lines = [f"# {name}", ""]
    if card.get("description"):
        lines += [card["description"], ""]
    metrics = card.get("metrics", {})
    expect = card.get("expect") or {}
    facts = [
        ("model", f"`{card.get('model', '?')}`" + (
            f" with {card['model_args']}" if card.get("model_args") else "")),
        ("task", card.get("task")),
        ("input", " x ".join(str(s) for s in card.get("input_shape", []))
         + " (raw 0-255 pixels)" if card.get("preprocessing_applied") not in (None, "none")
         else " x ".join(str(s) for s in card.get("input_shape", []))),
        ("preprocessing", f"`{card.get('preprocessing_applied', 'none')}`, inside the model"),
        ("parameters", f"{card.get('params', 0):,}"),
        ("classes", ", ".join(map(str, card.get("class_names", []))) or None),
        ("data", card.get("data", {}).get("source")),
        ("data manifest sha256", card.get("data", {}).get("manifest_hash")),
        ("training files", f"{card['data']['training_files']['count']} (the sha256 of each in "
         "card.json: `dlzoo evaluate` leaves them out)"
         if (card.get("data") or {}).get("training_files") else None),
        ("seed", card.get("seed")),
        ("epochs run", card.get("training", {}).get("epochs_run")),
        ("class weights", _class_weights_text((card.get("training") or {}).get("class_weight"))),
        ("training time", f"{card['training']['seconds']:.0f} s"
         if card.get("training", {}).get("seconds") is not None else None),
        ("model.keras sha256", card.get("sha256")),
    ]
    lines += ["| | |", "| --- | --- |"]
    lines += [f"| {k} | {v} |" for k, v in facts if v not in (None, "")]
    lines.append("")
    summary = {k: v for k, v in metrics.items() if isinstance(v, (int, float))}
    if summary:
        lines += ["## Results", "", "| metric | value |", "| --- | --- |"]
        lines += [f"| {k} | {v:.4f} |" if isinstance(v, float) else f"| {k} | {v} |"
                  for k, v in summary.items()]
        lines.append("")
    if expect:
        figures = ", ".join(f"{k} {v}" for k, v in expect.items() if k != "source")
        source = str(expect.get("source", "no source given")).rstrip(".")
        lines += [f"Expected from the recipe: {figures} ({source}).", ""]
    per_class = metrics.get("per_class") or {}
    if per_class:
        lines += ["| class | precision | recall | f1 | support |", "| --- | --- | --- | --- | --- |"]
        lines += [f"| {c} | {m['precision']:.3f} | {m['recall']:.3f} | {m['f1']:.3f} | "
                  f"{m['support']} |" for c, m in per_class.items()]
        lines.append("")
    skipped = card.get("data", {}).get("skipped") or []
    if skipped:
        lines += [f"{len(skipped)} file(s) were skipped while reading the data; see card.json.", ""]
    files = card.get("files", [])
    if "curves.png" in files:
        lines += ["![training curves](curves.png)", ""]
    if "confusion_matrix.png" in files:
        lines += ["![confusion matrix](confusion_matrix.png)", ""]
    standard = {MODEL_FILE, CARD_FILE, "README.md", "history.csv", "curves.png",
                "confusion_matrix.png"}
    for extra in files:
        if extra not in standard and extra.endswith(".png"):
            lines += [f"![{extra[:-4].replace('_', ' ')}]({extra})", ""]
    lines += [
        "## Use it", "",
        "```python",
        "import dlzoo",
        f'model = dlzoo.load("{card.get("path", "saved_models/" + name)}")',
        "```", "",
        "```bash",
        f"dlzoo predict {shlex.quote(str(card.get('path', 'saved_models/' + name)))} image.png",
        f"dlzoo evaluate {shlex.quote(str(card.get('path', 'saved_models/' + name)))} DATA",
        "```", "",
    ]
    versions = card.get("versions", {})
    if versions:
        lines += ["Made with " + ", ".join(f"{k} {v}" for k, v in versions.items())
                  + f" on {card.get('saved_at', '?')}.", ""]
    return "\n".join(lines)
