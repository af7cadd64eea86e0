"""What a convolutional classifier looks at: Grad-CAM heatmaps, first-layer filters, feature maps.

Selvaraju, Cogswell, Das, Vedantam, Parikh, Batra. Grad-CAM: visual explanations from deep
networks via gradient-based localization. ICCV 2017 (arXiv:1610.02391): the activations `A` of a
convolutional layer, weighted per channel by the spatial mean of `d score / d A`, summed over
channels and passed through ReLU, show where the evidence for a class lies.
Zeiler and Fergus. Visualizing and understanding convolutional networks. ECCV 2014
(arXiv:1311.2901): first-layer filters and feature maps, as the lectures show them.

    >>> from dlzoo.explain import grad_cam
    >>> heatmaps = grad_cam(model, images)            # (N, h, w) in [0, 1]
    >>> explain_files("saved_models/lenet5-digits", ["7.png"], out="explain/")

The score is the class's logit (the input of the final softmax), as in the paper: the gradient of
a saturated softmax probability vanishes. Keras has no gradient API shared by its backends, so
the one gradient here is taken by the backend itself (`tf.GradientTape` on TensorFlow, `jax.grad`
on JAX, autograd on PyTorch); everything else is `keras.ops` and NumPy.

A dlzoo saved model is `image -> [augmentation] -> Preprocess -> network`; layer names are
looked up inside the network, so the registry's feature layers (`dlzoo.registry.feature_layers`)
name them.
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np

from dlzoo.predicting import as_probabilities, read_images
from dlzoo.registry import feature_layers, list_models
from dlzoo.saving import load, read_card

__all__ = [
    "ExplainedImage",
    "default_layer",
    "explain_files",
    "explain_layers",
    "feature_maps",
    "first_conv_filters",
    "grad_cam",
    "overlay",
    "plot_feature_maps",
    "plot_filters",
    "plot_grad_cam",
    "spatial_layers",
    "upsample",
]

SUPPORTED_BACKENDS = ("tensorflow", "jax", "torch")


# --- the network behind a saved model's wrapper ---------------------------------------------------


def _split_wrapper(model):
    """`(prefix layers, network)`: the layers a wrapped model runs before its network (Preprocess;
    augmentation passes images through at inference) and the network itself."""
    import keras

    from dlzoo.preprocessing import base_network  # imports Keras

    network = base_network(model)
    if network is model:
        return [], model
    prefix = []
    for layer in model.layers:
        if layer is network:
            break
        if not isinstance(layer, keras.layers.InputLayer):
            prefix.append(layer)
    return prefix, network


def _run_prefix(prefix, images):
    x = images
    for layer in prefix:
        x = layer(x, training=False)
    return x


def spatial_layers(model) -> list:
    """Names of the network's layers with a spatial output `(batch, h, w, channels)`, input to
    output, leaving out those of 1 x 1 (nothing to localise)."""
    _, network = _split_wrapper(model)
    out = []
    for layer in network.layers:
        shape = getattr(getattr(layer, "output", None), "shape", None)
        if shape is not None and len(shape) == 4 and (shape[1] or 0) * (shape[2] or 0) > 1:
            out.append(layer.name)
    return [n for n in out if n != network.layers[0].name]


def default_layer(model, model_name: str | None = None) -> str:
    """The layer Grad-CAM uses by default: the deepest of the registry's feature layers of
    `model_name` (`dlzoo.registry.feature_layers`) with a spatial output larger than 1 x 1; for an
    unregistered network, its deepest such layer.

    Raises:
        ValueError: the network has no layer with a spatial output (not a convolutional network).
    """
    _, network = _split_wrapper(model)
    spatial = spatial_layers(model)
    if not spatial:
        raise ValueError(
            f"{network.name} has no layer with a spatial output (batch, h, w, channels) larger "
            "than 1 x 1; Grad-CAM needs a convolutional network."
        )
    known = []
    if model_name:
        if model_name in list_models():
            known = [n for n in feature_layers(model_name, network) if n in spatial]
    return known[-1] if known else spatial[-1]


def _layer(network, name: str):
    try:
        return network.get_layer(name)
    except ValueError:
        raise ValueError(
            f"layer {name!r} is not in {network.name}; layers with a spatial output: "
            f"{', '.join(spatial_layers(network)) or 'none'}"
        ) from None


def _score_head(network, layer):
    """`(head, dense)`: `head` maps the layer's activations to the class scores, or to the input
    of the final softmax Dense layer `dense` (then the score is its logit); `dense` is None when
    the network's output is already the score (logits, or a softmax layer's input)."""
    import keras

    last = network.layers[-1]
    act = getattr(getattr(last, "activation", None), "__name__", None)
    try:
        if act == "softmax" and isinstance(last, keras.layers.Dense):
            return keras.Model(layer.output, last.input), last
        if act == "softmax" and isinstance(last, keras.layers.Activation):
            return keras.Model(layer.output, last.input), None
        return keras.Model(layer.output, network.outputs[0]), None
    except ValueError as e:
        raise ValueError(
            f"the scores of {network.name} do not depend on layer {layer.name!r} alone (a branch "
            f"skips it: {str(e).splitlines()[0]}); choose a stage output (`default_layer`)."
        ) from None


def _gradient(score_fn, activations):
    """`d sum(score_fn(A)) / d A` by the backend's own differentiation, as a NumPy array."""
    import keras

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        a = tf.convert_to_tensor(activations)
        with tf.GradientTape() as tape:
            tape.watch(a)
            score = score_fn(a)
        return tape.gradient(score, a).numpy()
    if backend == "jax":
        import jax

        return np.asarray(jax.grad(score_fn)(activations))
    if backend == "torch":
        import torch

        a = torch.tensor(activations, requires_grad=True)
        score_fn(a).backward()
        return a.grad.detach().cpu().numpy()
    raise NotImplementedError(
        f"Grad-CAM needs gradients, which dlzoo takes on the {', '.join(SUPPORTED_BACKENDS)} "
        f"backends; the current backend is {backend!r}."
    )


def _class_indices(class_index, n: int, num_classes: int) -> np.ndarray:
    """`class_index` (an int, or one per image) as N indices, checked against the classes."""
    idx = np.asarray(class_index).reshape(-1)
    if idx.size and not np.issubdtype(idx.dtype, np.integer):
        raise ValueError(f"class_index must be integers; received {class_index!r}")
    idx = idx.astype("int64")
    if idx.size == 1:
        idx = np.full(n, int(idx[0]))
    if idx.size != n:
        raise ValueError(f"class_index: one per image ({n}) or one for all; received {idx.size}")
    if idx.size and (idx.min() < 0 or idx.max() >= num_classes):
        raise ValueError(f"class_index must lie in 0..{num_classes - 1}; received "
                         f"{idx.min()}..{idx.max()}")
    return idx


def grad_cam(model, images, class_index=None, layer: str | None = None, *,
             model_name: str | None = None, batch_size: int = 32) -> np.ndarray:
    """Grad-CAM heatmaps (Selvaraju et al. 2017) of a classifier for a batch of images.

    Args:
        model: a Keras classifier, either a dlzoo saved model (`image -> Preprocess -> network`) or
            a bare network; channels last.
        images: array `(N, H, W, C)` in the model's input scale (raw [0, 255] pixels for dlzoo's
            saved models, whose preprocessing is inside).
        class_index: None (default) for each image's predicted class; an int for one class for
            all; or a sequence of N ints.
        layer: name of a layer of the network with output `(N, h, w, K)`; default `default_layer`
            (the deepest registry feature layer larger than 1 x 1).
        model_name: registry name of the network, to take its feature layers (optional).
        batch_size: images per gradient computation.

    Returns:
        float32 array `(N, h, w)`, the layer's spatial size, each map scaled to [0, 1] by its
        maximum (all zeros where no location speaks for the class). `overlay` resizes it to the
        image.

    Raises:
        ValueError: no such layer, a layer the scores do not depend on alone, bad class indices.
        NotImplementedError: a backend without gradients here (numpy, openvino).

    Example:
        >>> model = dlzoo.build("lenet5", num_classes=10, input_shape=(32, 32, 1))
        >>> grad_cam(model, np.random.rand(2, 32, 32, 1) * 255, layer="s4").shape
        (2, 5, 5)
    """
    import keras
    from keras import ops

    images = np.asarray(images, dtype="float32")
    if images.ndim != 4:
        raise ValueError(f"images must be (N, H, W, C); received shape {images.shape}")
    prefix, network = _split_wrapper(model)
    name = layer or default_layer(model, model_name or network.name)
    target = _layer(network, name)
    if len(target.output.shape) != 4:
        raise ValueError(f"layer {name!r} has output shape {target.output.shape}; Grad-CAM needs "
                         "(batch, h, w, channels)")
    features = keras.Model(network.input, target.output)
    head, dense = _score_head(network, target)
    num_classes = max(2, int(network.outputs[0].shape[-1]))
    given = None if class_index is None else _class_indices(class_index, len(images), num_classes)
    maps = []
    for start in range(0, len(images), batch_size):
        x = _run_prefix(prefix, images[start:start + batch_size])
        acts = ops.convert_to_numpy(features(x, training=False))

        def scores_of(a):
            s = head(a, training=False)
            if dense is not None:
                s = ops.matmul(s, dense.kernel) + dense.bias
            if s.shape[-1] == 1:  # one sigmoid unit: it speaks for class 1, against class 0
                s = ops.concatenate([-s, s], axis=-1)
            return s

        if given is None:
            idx = ops.convert_to_numpy(scores_of(acts)).argmax(-1)
        else:
            idx = given[start:start + batch_size]
        onehot = np.eye(num_classes, dtype="float32")[idx]

        def score_fn(a, onehot=ops.convert_to_tensor(onehot)):  # a tensor: torch's scores
            return ops.sum(scores_of(a) * onehot)  # require grad, and NumPy would convert them

        grads = _gradient(score_fn, acts)
        weights = grads.mean(axis=(1, 2), keepdims=True)  # alpha_k^c: global-average-pooled
        cam = np.maximum((weights * acts).sum(axis=-1), 0.0)
        peak = cam.max(axis=(1, 2), keepdims=True)
        maps.append(np.where(peak > 0, cam / np.where(peak > 0, peak, 1.0), 0.0))
    return np.concatenate(maps).astype("float32")


# --- pictures -------------------------------------------------------------------------------------


def _resize(heatmap: np.ndarray, size) -> np.ndarray:
    from PIL import Image

    h, w = size
    img = Image.fromarray(np.asarray(heatmap, dtype="float32"), mode="F")
    return np.asarray(img.resize((w, h), Image.BILINEAR), dtype="float32")


def upsample(heatmaps: np.ndarray, size) -> np.ndarray:
    """Heatmaps `(N, h, w)` resized bilinearly to `size = (H, W)`: `(N, H, W)`."""
    return np.stack([_resize(m, size) for m in heatmaps]) if len(heatmaps) else np.zeros(
        (0, *size), "float32")


def _display(image: np.ndarray) -> np.ndarray:
    """An image `(H, W, C)` of any scale as RGB floats in [0, 1] for showing."""
    x = np.asarray(image, dtype="float32")
    if x.ndim == 2:
        x = x[..., None]
    lo, hi = float(x.min()), float(x.max())
    x = (x - lo) / (hi - lo) if hi > lo else np.zeros_like(x)
    if x.shape[-1] == 1:
        x = np.repeat(x, 3, axis=-1)
    return x[..., :3]


def overlay(image, heatmap, alpha: float = 0.45) -> np.ndarray:
    """The heatmap (any size, [0, 1]) in matplotlib's "jet" colours over `image` `(H, W, C)`:
    RGB floats `(H, W, 3)` in [0, 1]."""
    from matplotlib import colormaps

    base = _display(image)
    heat = _resize(heatmap, base.shape[:2])
    colour = colormaps["jet"](np.clip(heat, 0, 1))[..., :3]
    return np.clip((1 - alpha) * base + alpha * colour, 0.0, 1.0)


def _grid(n: int, cols: int | None = None):
    cols = cols or min(n, 8)
    return max(1, -(-n // cols)), cols


def plot_grad_cam(image, heatmap, path, title: str = "") -> str:
    """Writes the image and its Grad-CAM overlay side by side as a PNG; returns path."""
    import textwrap

    from matplotlib.figure import Figure

    # A long class name or "...; predicted ..." ran past the figure's edges: wrapped to the
    # figure's width (about 9 characters an inch at 10 pt), the figure taller for each line.
    lines = textwrap.wrap(title, width=44) or [""]
    fig = Figure(figsize=(5.2, 2.7 + 0.2 * len(lines)))
    for i, (pic, label) in enumerate(((_display(image), "image"),
                                      (overlay(image, heatmap), "Grad-CAM"))):
        ax = fig.add_subplot(1, 2, i + 1)
        ax.imshow(pic, interpolation="nearest")
        ax.set_xlabel(label, fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle("\n".join(lines), fontsize=10)
    fig.tight_layout()
    fig.savefig(os.fspath(path), dpi=80)
    return os.fspath(path)


def first_conv_filters(model) -> tuple[str, np.ndarray]:
    """`(layer name, kernel (kh, kw, in_channels, filters))` of the network's first convolution."""
    import keras

    _, network = _split_wrapper(model)
    for layer in network.layers:
        if isinstance(layer, keras.layers.Conv2D):
            return layer.name, keras.ops.convert_to_numpy(layer.kernel)
    raise ValueError(f"{network.name} has no Conv2D layer; there are no filters to show")


def plot_filters(model, path, title: str | None = None) -> str:
    """Draws the first convolution's filters, one tile each (RGB for 3 input channels, else the
    mean over input channels in grey), each scaled to its own range; returns path."""
    from matplotlib.figure import Figure

    name, kernel = first_conv_filters(model)
    n = kernel.shape[-1]
    rows, cols = _grid(n, min(n, 16))
    fig = Figure(figsize=(cols * 0.6 + 0.4, rows * 0.6 + 0.6))
    for i in range(n):
        k = kernel[..., i]
        tile = k if k.shape[-1] == 3 else k.mean(axis=-1)
        ax = fig.add_subplot(rows, cols, i + 1)
        ax.imshow(_display(tile), interpolation="nearest")
        ax.axis("off")
    fig.suptitle(title or f"{name}: {n} filters {kernel.shape[0]}x{kernel.shape[1]}", fontsize=9)
    fig.savefig(os.fspath(path), dpi=90)
    return os.fspath(path)


def feature_maps(model, image, layer: str) -> np.ndarray:
    """The activations of the network's `layer` for one image `(H, W, C)`: `(h, w, channels)`."""
    import keras

    prefix, network = _split_wrapper(model)
    target = _layer(network, layer)
    if len(target.output.shape) != 4:
        raise ValueError(f"layer {layer!r} has output shape {target.output.shape}; feature maps "
                         "need (batch, h, w, channels)")
    x = _run_prefix(prefix, np.asarray(image, dtype="float32")[None])
    return keras.ops.convert_to_numpy(keras.Model(network.input, target.output)(
        x, training=False))[0]


def plot_feature_maps(model, image, layer: str, path, *, limit: int = 64,
                      title: str | None = None) -> str:
    """Draws the image and (at most `limit` of) the channels of `layer`'s output for it; each
    channel in its own grey scale (viridis); returns path."""
    from matplotlib.figure import Figure

    maps = feature_maps(model, image, layer)
    n = min(limit, maps.shape[-1])
    rows, cols = _grid(n + 1, min(n + 1, 12))
    fig = Figure(figsize=(cols * 0.8 + 0.4, rows * 0.8 + 0.6))
    ax = fig.add_subplot(rows, cols, 1)
    ax.imshow(_display(image), interpolation="nearest")
    ax.set_title("image", fontsize=6)
    ax.axis("off")
    for i in range(n):
        ax = fig.add_subplot(rows, cols, i + 2)
        ax.imshow(maps[..., i], cmap="viridis", interpolation="nearest")
        ax.axis("off")
    fig.suptitle(title or f"{layer}: {n} of {maps.shape[-1]} channels, "
                          f"{maps.shape[0]}x{maps.shape[1]}", fontsize=9)
    fig.savefig(os.fspath(path), dpi=90)
    return os.fspath(path)


# --- `dlzoo explain` ----------------------------------------------------------------------------


@dataclasses.dataclass
class ExplainedImage:
    """One file `dlzoo explain` drew: `path`, `class_name` (the class explained), `probability`
    (of that class), `predicted` (the top class), `png` (the overlay written)."""

    path: str
    class_name: str
    probability: float
    predicted: str
    png: str


def _png_name(path: str, used: set) -> str:
    stem = os.path.splitext(os.path.basename(path))[0] or "image"
    name, i = f"{stem}.gradcam.png", 1
    while name in used:
        i += 1
        name = f"{stem}-{i}.gradcam.png"
    used.add(name)
    return name


def explain_files(model_dir, paths, *, out, class_name: str | None = None,
                  layer: str | None = None) -> tuple[list, list, str]:
    """Grad-CAM overlays of image files by a saved model: what `dlzoo explain` writes.

    Files are read as `dlzoo predict` reads them (`dlzoo.predicting.read_images`). Each PNG is
    named after its file (`NAME.gradcam.png`) and titled with the class explained and its
    probability.

    Args:
        model_dir: a dlzoo saved model.
        paths: image files.
        out: folder for the PNGs (made if missing).
        class_name: explain this class (one of the card's class names) instead of each image's
            predicted class.
        layer: the network's layer (default `default_layer`, from the registry).

    Returns:
        `(explained [ExplainedImage], skipped [(path, reason)], layer used)`.

    Raises:
        ValueError: an unknown class name or layer.
    """

    card = read_card(model_dir)
    classes = [str(c) for c in card.get("class_names", [])]
    if class_name is not None and class_name not in classes:
        raise ValueError(f"--class {class_name!r} is not one of the model's classes: "
                         f"{', '.join(classes[:20])}")
    model = load(model_dir, compile=False)
    layer = layer or default_layer(model, card.get("model"))
    images, kept, skipped = read_images(paths, card["input_shape"])
    if not kept:
        return [], skipped, layer
    probs = as_probabilities(model.predict(images, verbose=0))
    target = probs.argmax(-1) if class_name is None else np.full(len(kept), classes.index(
        class_name))
    maps = grad_cam(model, images, class_index=target, layer=layer, model_name=card.get("model"))
    os.makedirs(out, exist_ok=True)
    used: set = set()
    done = []
    for path, image, heat, t, p in zip(kept, images, maps, target, probs):
        png = os.path.join(out, _png_name(path, used))
        title = f"{classes[t]} ({p[t]:.2f})"
        if p.argmax() != t:
            title += f"; predicted {classes[p.argmax()]} ({p.max():.2f})"
        plot_grad_cam(image, heat, png, title=title)
        done.append(ExplainedImage(path, classes[t], float(p[t]), classes[p.argmax()], png))
    return done, skipped, layer


def explain_layers(model_dir, *, out, filters: bool = False, feature_maps: str | None = None,
                   image=None) -> list:
    """The first convolution's filters (`filters.png`) and/or `feature_maps` layer's maps for the
    image file `image` (`LAYER.feature_maps.png`) of a saved model, written in `out`; returns the
    paths written (none when neither is asked).

    Raises:
        ValueError: no such layer, no convolution, or the image cannot be read.
    """
    if not (filters or feature_maps):
        return []

    card = read_card(model_dir)
    model = load(model_dir, compile=False)
    os.makedirs(out, exist_ok=True)
    written = []
    if filters:
        written.append(plot_filters(model, os.path.join(out, "filters.png")))
    if feature_maps:
        images, _, skipped = read_images([image], card["input_shape"])
        if skipped:
            raise ValueError(f"{image}: {skipped[0][1]}")
        written.append(plot_feature_maps(model, images[0], feature_maps,
                                         os.path.join(out, f"{feature_maps}.feature_maps.png")))
    return written
