"""The model registry: one `ModelInfo` per variant, `@register_model`, `list_models()`.

Modelled on timm's registry (a dict, a decorator and an fnmatch filter). Every tool in dlzoo (the
CLI, the tests, transfer learning, the tuner) finds models through this table, so a builder that a
user registers gets all of them for free. `build()` (`dlzoo.weights.build`, exported as
`dlzoo.build`) builds from it and loads weights.

The registry sits in the bottom layer, below the families that register into it (as timm's
`_registry.py` sits below `timm.models`): it imports none of them. The zoo's own families are
loaded by name the first time the table is read (`ensure_loaded`, the packages in
`ZOO_PACKAGES`), the way entry points are, so `dlzoo list` (which reads the stored catalog) never
imports Keras.
"""

from __future__ import annotations

import ast
import dataclasses
import difflib
import fnmatch
import functools
import importlib
import inspect
import re
import textwrap
from collections.abc import Callable
from typing import Any

from dlzoo.tasks import MODEL_TASKS, Task
from dlzoo.validation import unknown_arguments

__all__ = [
    "ZOO_PACKAGES",
    "ModelInfo",
    "TASKS",
    "Task",
    "builder_arguments",
    "check_model_args",
    "ensure_loaded",
    "feature_layers",
    "last_per_stage",
    "layers_matching",
    "list_models",
    "model_info",
    "normalize_name",
    "prefixes_matching",
    "register_model",
    "unfreeze_groups",
    "unregister_model",
]

TASKS = MODEL_TASKS  # the `Task`s a builder registers under (dlzoo.tasks)
INPUT_KINDS = ("image", "flat", "tokens", "sequence", "latent", "pairs")


@dataclasses.dataclass(frozen=True)
class ModelInfo:
    """What the zoo knows about one registered model.

    Attributes:
        name: canonical registry name, lower case (`"vgg16"`).
        family: builder family (`"vgg"`, `"resnet"`, ...).
        task: a `Task` (one of `TASKS`); a task's string given here is read as its `Task`.
        input_kind: one of `INPUT_KINDS`.
        default_input_shape: input shape (without batch) used when `build` gets none.
        default_num_classes: classes used when `build` gets none.
        params: parameter count at the defaults; `None` means "count it on first request".
        paper: the reference the architecture follows.
        weights: named weight sets `build(weights=...)` accepts besides None and file paths.
        preprocessing: the input convention the weights expect: `"caffe"` (BGR, mean-centred),
            `"tf"` (scaled to [-1, 1]), `"torch"`, `"unit"` (scaled to [0, 1]) or `"none"`.
        feature_layers: names of layers whose outputs are useful features for transfer learning,
            shallow to deep, at the default arguments; the last is the default feature layer.
            For a built model (any depth override) ask `feature_layers(info, model)`.
        unfreeze_groups: layer-name prefixes of block groups, bottom to top, at the default
            arguments; fine-tuning with `unfreeze="top:K"` makes the last K groups trainable.
            For a built model ask `unfreeze_groups(info, model)`.
        min_input_size: smallest spatial size the network accepts, computed from its strides.
        smoke_overrides: small arguments the registry-driven test suite builds with, so every
            model is exercised in seconds on a CPU.
        description: one line for `dlzoo list`.
        builder: the callable that builds the model.
        module: the module that defines (and registered) the builder, e.g. `"dlzoo.models.vgg"`.
        feature_rule: `rule(layer_names) -> names` giving the feature layers of a built model;
            None: the declared `feature_layers` hold for every build.
        unfreeze_rule: `rule(layer_names) -> prefixes` giving the unfreeze groups of a built
            model; None: the declared `unfreeze_groups` hold for every build.
    """

    name: str
    family: str
    task: Task
    input_kind: str
    default_input_shape: tuple
    default_num_classes: int | None = None
    params: int | None = None
    paper: str = ""
    weights: tuple = ()
    preprocessing: str = "none"
    feature_layers: tuple = ()
    unfreeze_groups: tuple = ()
    min_input_size: int | None = None
    smoke_overrides: dict = dataclasses.field(default_factory=dict)
    description: str = ""
    builder: Callable[..., Any] | None = dataclasses.field(default=None, repr=False, compare=False)
    module: str = ""
    feature_rule: Callable[[list], list] | None = dataclasses.field(
        default=None, repr=False, compare=False)
    unfreeze_rule: Callable[[list], list] | None = dataclasses.field(
        default=None, repr=False, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "task", Task.parse(self.task, where=f"model {self.name}",
                                                    model=True))

    def as_dict(self) -> dict:
        d = dataclasses.asdict(self)
        for key in ("builder", "feature_rule", "unfreeze_rule"):
            d.pop(key)
        d["default_input_shape"] = list(self.default_input_shape)
        return d


_REGISTRY: dict[str, ModelInfo] = {}
_PARAM_CACHE: dict[str, int] = {}


def normalize_name(name: str) -> str:
    """`"VGG-16"`, `"vgg_16"` and `"vgg16"` all name the same model."""
    if not isinstance(name, str):
        raise TypeError(f"A model name must be a string; received {type(name).__name__}: {name!r}.")
    return name.strip().lower().replace("-", "").replace("_", "").replace(" ", "")


def register_model(
    name: str | None = None,
    *,
    family: str,
    task: Task | str = Task.IMAGE_CLASSIFICATION,
    input_kind: str = "image",
    default_input_shape: tuple,
    default_num_classes: int | None = None,
    params: int | None = None,
    paper: str = "",
    weights: tuple = (),
    preprocessing: str = "none",
    feature_layers: tuple = (),
    unfreeze_groups: tuple = (),
    min_input_size: int | None = None,
    smoke_overrides: dict | None = None,
    description: str = "",
    feature_rule: Callable[[list], list] | None = None,
    unfreeze_rule: Callable[[list], list] | None = None,
    overwrite: bool = False,
):
    """Decorator that adds a builder function to the zoo: the one way a variant registers.

    The decorated function takes keyword arguments (`num_classes`, `input_shape`, `include_top`,
    `pooling`, ...) and returns an uncompiled `keras.Model`; in the zoo's families it is a small
    function per variant holding only its config (timm's layout). Its name (or `name`) becomes
    the registry name and its module is recorded as `ModelInfo.module`. Facts shared by a
    family's variants are passed as keyword arguments like any other (`**FAMILY_FACTS`).
    `feature_rule`/`unfreeze_rule` (see `layers_matching`, `last_per_stage`,
    `prefixes_matching`) derive the feature layers and unfreeze groups from a built model's layer
    names, so they stay right after depth overrides; without them the declared tuples are used.

    Example:
        >>> @register_model(family="mine", default_input_shape=(32, 32, 3), default_num_classes=10)
        ... def tiny_cnn(*, num_classes=10, input_shape=(32, 32, 3), **kw):
        ...     inputs = keras.Input(input_shape)
        ...     x = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(8, 3)(inputs))
        ...     return keras.Model(inputs, keras.layers.Dense(num_classes, name="predictions")(x))

    Raises:
        ValueError: `task` is not one of `TASKS` (a `Task` or its string; the message names the
            allowed values and the closest), or `input_kind` not one of `INPUT_KINDS`.
        TypeError: `fn` is not callable, or (a builder outside dlzoo, read from its source) never
            returns a value. A builder that returns anything but a `keras.Model` raises TypeError
            when it builds.
    """
    task = Task.parse(task, where="register_model", model=True)
    if input_kind not in INPUT_KINDS:
        raise ValueError(
            f"register_model: input_kind must be one of {INPUT_KINDS}; received {input_kind!r}."
        )

    def decorator(fn):
        canonical = (name or fn.__name__).lower()
        key = normalize_name(canonical)
        _check_builder(fn, canonical)
        checked = _returning_a_model(fn, canonical)
        if key in _REGISTRY and not overwrite:
            raise ValueError(
                f"A model named {canonical!r} is already registered (as {_REGISTRY[key].name!r}). "
                "Pick another name or pass overwrite=True."
            )
        _REGISTRY[key] = ModelInfo(
            name=canonical,
            family=family,
            task=task,
            input_kind=input_kind,
            default_input_shape=tuple(default_input_shape),
            default_num_classes=default_num_classes,
            params=params,
            paper=paper,
            weights=tuple(weights),
            preprocessing=preprocessing,
            feature_layers=tuple(feature_layers),
            unfreeze_groups=tuple(unfreeze_groups),
            min_input_size=min_input_size,
            smoke_overrides=dict(smoke_overrides or {}),
            description=description or (inspect.getdoc(fn) or "").split("\n")[0],
            builder=checked,
            module=getattr(fn, "__module__", "") or "",
            feature_rule=feature_rule,
            unfreeze_rule=unfreeze_rule,
        )
        _PARAM_CACHE.pop(key, None)
        return checked  # so that calling the function directly is checked too

    return decorator


def _check_builder(fn, name: str) -> None:
    """TypeError for a builder that cannot return a model: not callable, or (read from its source,
    for builders outside dlzoo, whose own are tested by the registry-driven suite) a function
    with no `return` of a value, such as a stub whose body is `...`."""
    if not callable(fn):
        raise TypeError(f"register_model({name!r}): the builder must be a function returning a "
                        f"keras.Model; received {type(fn).__name__}.")
    if not inspect.isfunction(fn) or (fn.__module__ or "").startswith("dlzoo."):
        return
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
    except (OSError, TypeError, SyntaxError):  # no source (a REPL, a lambda): checked when built
        return
    func = tree.body[0] if tree.body else None
    if not isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return
    todo = list(func.body)
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            continue  # a nested function's return is not the builder's
        if isinstance(node, ast.Return) and node.value is not None and not (
                isinstance(node.value, ast.Constant) and node.value.value is None):
            return
        todo.extend(ast.iter_child_nodes(node))
    raise TypeError(
        f"register_model({name!r}): {fn.__qualname__} never returns a value, so building it "
        "would give None; a builder returns its keras.Model (`return keras.Model(inputs, outputs)`)."
    )


def _returning_a_model(fn, name: str):
    """`fn`, checked each time it builds: TypeError, naming the model, when it returns anything
    but a keras.Model (None from a forgotten `return`), instead of an AttributeError later."""

    @functools.wraps(fn)
    def builder(*args, **kwargs):
        import keras

        model = fn(*args, **kwargs)
        if not isinstance(model, keras.Model):
            raise TypeError(
                f"the builder of {name!r} ({getattr(fn, '__qualname__', fn)!r}) returned "
                f"{type(model).__name__}, not a keras.Model; it must `return` the model it builds."
            )
        return model

    return builder


def unregister_model(name: str) -> None:
    """Removes a model from the zoo (mostly for tests and notebooks that re-register)."""
    _REGISTRY.pop(_lookup_key(name), None)


# The packages whose import registers the zoo's own families (each module registers its variants).
ZOO_PACKAGES = ("dlzoo.models",)


def ensure_loaded() -> None:
    """Registers the zoo's own families (imports `ZOO_PACKAGES`, which imports Keras) if they are
    not yet: every lookup calls it, so `model_info("vgg16")` works with nothing else imported."""
    for package in ZOO_PACKAGES:
        importlib.import_module(package)


def _lookup_key(name: str) -> str:
    ensure_loaded()
    key = normalize_name(name)
    if key in _REGISTRY:
        return key
    close = difflib.get_close_matches(key, list(_REGISTRY), n=3, cutoff=0.0)
    suggestions = ", ".join(_REGISTRY[k].name for k in close)
    raise ValueError(
        f"Unknown model {name!r}. Closest names: {suggestions}. "
        "Run `dlzoo list` to see every model."
    )


def model_info(name: str) -> ModelInfo:
    """Returns the `ModelInfo` of a registered model (name case-insensitive, `-`/`_` ignored).

    If the builder did not declare its parameter count, it is counted once by building the model
    at its defaults and cached.
    """
    key = _lookup_key(name)
    info = _REGISTRY[key]
    if info.params is None:
        if key not in _PARAM_CACHE:
            model = info.builder()
            _PARAM_CACHE[key] = int(model.count_params())
        info = dataclasses.replace(info, params=_PARAM_CACHE[key])
    return info


def list_models(pattern: str = "*", task: Task | str | None = None,
                family: str | None = None) -> list[str]:
    """Names of registered models matching an fnmatch `pattern`, a `task` and a `family`, sorted.

    Raises:
        ValueError: `task` is not one of `TASKS` (the message names the closest)."""
    ensure_loaded()
    if task is not None:
        task = Task.parse(task, where="list_models", model=True)
    pat = pattern.lower()
    out = []
    for info in _REGISTRY.values():
        if not (fnmatch.fnmatch(info.name, pat) or fnmatch.fnmatch(normalize_name(info.name), pat)):
            continue
        if task is not None and info.task is not task:
            continue
        if family is not None and info.family != family.lower():
            continue
        out.append(info.name)
    return sorted(out, key=_natural_key)


def _natural_key(s: str):
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", s)]


def _check_overrides(info: ModelInfo, kwargs: dict) -> None:
    accepted = builder_arguments(info)
    if accepted is None:  # open: the builder checks its own (Application does)
        return
    unknown = set(kwargs) - set(accepted)
    if unknown:
        raise unknown_arguments(info.name, unknown, accepted)


def builder_arguments(info_or_name) -> tuple | None:
    """The keyword arguments a model's builder takes, read from its signature; where a variant
    forwards `**kwargs` to its family's builder (`def lenet5(**kwargs): return LeNet(**kwargs)`),
    from that builder's signature too. None when the chain ends in a `**kwargs` it cannot follow
    (the builder then checks its arguments itself).

    Example:
        >>> "activation" in builder_arguments("lenet5")
        True
    """
    info = _info(info_or_name)
    return _arguments(info.builder, depth=0)


def _arguments(fn, depth: int) -> tuple | None:
    fn = inspect.unwrap(fn)
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return None
    named = [p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    var_kw = [p.name for p in params if p.kind == p.VAR_KEYWORD]
    if not var_kw:
        return tuple(named)
    callees = _forwarded_to(fn, var_kw[0]) if depth < 4 else None
    if not callees:
        return None
    out = set(named)
    for callee in callees:
        more = _arguments(callee, depth + 1)
        if more is None:
            return None
        out.update(more)
    return tuple(sorted(out))


def _forwarded_to(fn, kwargs_name: str) -> list | None:
    """The functions `fn` passes its `**kwargs_name` on to (`f(**kw)`, `f(**{..., **kw})`),
    looked up in its module; None when one is not a plain module-level function."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
    except (OSError, TypeError, SyntaxError):
        return None

    def forwards(value) -> bool:
        if isinstance(value, ast.Name):
            return value.id == kwargs_name
        return isinstance(value, ast.Dict) and any(
            k is None and isinstance(v, ast.Name) and v.id == kwargs_name
            for k, v in zip(value.keys, value.values))

    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and any(kw.arg is None and forwards(kw.value)
                                              for kw in node.keywords):
            if not isinstance(node.func, ast.Name):
                return None
            callee = getattr(fn, "__globals__", {}).get(node.func.id)
            if not inspect.isfunction(callee):
                return None
            out.append(callee)
    return out or None


def check_model_args(name: str, kwargs: dict) -> ModelInfo:
    """Checks, without building anything, that `name` is registered and that its builder takes
    every argument in `kwargs`; returns its `ModelInfo` as declared (`params` may be None).

    Raises:
        ValueError: unknown model (the message lists the closest names).
        TypeError: an argument the builder does not take (the message lists those it takes).
    """
    info = _REGISTRY[_lookup_key(name)]
    _check_overrides(info, kwargs)
    return info


# --- feature layers and unfreeze groups of a built model -----------------------------------


def _info(info_or_name) -> ModelInfo:
    return info_or_name if isinstance(info_or_name, ModelInfo) else model_info(info_or_name)


def _layer_names(model) -> list:
    return [layer.name for layer in model.layers]


def feature_layers(info_or_name, model) -> list:
    """Names of `model`'s layers whose outputs are features for transfer learning.

    Shallow to deep; the last is the default feature layer. Taken from the built model by the
    family's `feature_rule`, so a depth override or a small build gets its own stage outputs;
    without a rule, the declared `ModelInfo.feature_layers`.

    Args:
        info_or_name: a `ModelInfo` or a registry name.
        model: a model built by that entry (any arguments).

    Returns:
        A list of layer names of `model` (empty when the entry declares none).

    Example:
        >>> from dlzoo import build
        >>> feature_layers("resnet20", build("resnet20", depths=(1, 1, 1)))
        ['conv2_block1_out', 'conv3_block1_out', 'conv4_block1_out']
    """
    info = _info(info_or_name)
    if info.feature_rule is None:
        return list(info.feature_layers)
    return list(info.feature_rule(_layer_names(model)))


def unfreeze_groups(info_or_name, model) -> list:
    """Layer-name prefixes of `model`'s block groups, bottom to top (`unfreeze="top:K"` takes
    the last K). Taken from the built model by the family's `unfreeze_rule`; without a rule, the
    declared `ModelInfo.unfreeze_groups`.

    Args:
        info_or_name: a `ModelInfo` or a registry name.
        model: a model built by that entry (any arguments).

    Returns:
        A list of prefixes, each the start of at least one layer name when a rule made it.
    """
    info = _info(info_or_name)
    if info.unfreeze_rule is None:
        return list(info.unfreeze_groups)
    return list(info.unfreeze_rule(_layer_names(model)))


def layers_matching(pattern: str) -> Callable[[list], list]:
    """A rule: the layer names that match the regular expression `pattern` in full, in order."""
    regex = re.compile(pattern)

    def rule(names):
        return [n for n in names if regex.fullmatch(n)]

    return rule


def last_per_stage(pattern: str) -> Callable[[list], list]:
    """A rule: among the names matching `pattern` in full, the last of each value of its first
    group (the stage), stages in order of appearance. `conv(\\d+)_block\\d+_out` gives a ResNet's
    stage outputs."""
    regex = re.compile(pattern)

    def rule(names):
        last: dict = {}
        for n in names:
            m = regex.fullmatch(n)
            if m:
                last[m.group(1)] = n  # dicts keep the stage's first position
        return list(last.values())

    return rule


def prefixes_matching(pattern: str) -> Callable[[list], list]:
    """A rule: the distinct prefixes that `pattern`'s first group captures at the start of the
    layer names, in order of first appearance (`(block\\d+_)` gives VGG's blocks)."""
    regex = re.compile(pattern)

    def rule(names):
        seen: dict = {}
        for n in names:
            m = regex.match(n)
            if m:
                seen.setdefault(m.group(1), None)
        return list(seen)

    return rule
