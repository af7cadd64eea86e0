"""Weight and activity penalties and max-norm constraints on a built zoo model, without copying
its builder: Keras's regularizers and constraints set on the built layers, where `get_config`
reads them, so they are saved with the model and a reloaded model trains under them too.

    >>> from dlzoo.regularization import regularize
    >>> regularize(model, l2=1e-4, max_norm=3.0, activity_l1=1e-5, activity_layer="fc")

A layer's kernel regularizer and constraint are fixed when Keras creates the kernel
(`add_weight(regularizer=..., constraint=...)`): the penalty is read off the variable
(`variable.regularizer`, summed into `model.losses`) and the constraint too (applied by the
optimizer after each update), the layer's attribute only for `get_config`. So both are set.
"""

from __future__ import annotations

__all__ = ["activity_layer", "kernel_layers", "regularize", "regularize_from"]


def kernel_layers(model) -> list:
    """The layers of `model` (nested models included) that have a `kernel` and take a kernel
    regularizer: Dense, the convolutions, EinsumDense... (biases and normalisation are left
    alone, as the papers do)."""
    return [layer for layer in model._flatten_layers(include_self=False)
            if hasattr(layer, "kernel_regularizer") and getattr(layer, "kernel", None) is not None]


def activity_layer(model, name: str | None):
    """The layer `name` (searched in nested models too); None: the layer feeding
    `predictions` (the last hidden layer of a classifier; through a dropout layer).

    Raises:
        ValueError: no such layer, naming the closest names.
    """
    import keras

    layers = {layer.name: layer for layer in model._flatten_layers(include_self=False)}
    if name is None:
        pred = layers.get("predictions")
        inbound = getattr(pred, "_inbound_nodes", None) if pred is not None else None
        if not inbound:
            raise ValueError(f"{model.name}: no `predictions` layer to find the last hidden "
                             "layer from; name one with activity_layer.")
        parents = inbound[0].parent_nodes
        if not parents:
            raise ValueError(f"{model.name}: `predictions` takes the model input; name a hidden "
                             "layer with activity_layer.")
        layer = parents[0].operation
        while isinstance(layer, keras.layers.Dropout) and layer._inbound_nodes[0].parent_nodes:
            layer = layer._inbound_nodes[0].parent_nodes[0].operation  # the activities, not noise
        return layer
    if name not in layers:
        import difflib

        close = difflib.get_close_matches(name, list(layers), n=3, cutoff=0.5)
        raise ValueError(f"activity_layer {name!r} is not a layer of {model.name}"
                         + (f"; closest: {', '.join(close)}" if close else "")
                         + " (`dlzoo build MODEL --summary` lists them).")
    return layers[name]


def regularize(model, *, l1=None, l2=None, max_norm=None, activity_l1=None,
               activity_layer_name=None):
    """Puts the penalties and constraints on `model`'s layers, in place.

    Args:
        model: a built Keras model.
        l1, l2: floats or None: `keras.regularizers.L1L2` on every kernel (`kernel_layers`).
        max_norm: float or None: `keras.constraints.MaxNorm` on every kernel, the norm of each
            output unit's incoming weights (all axes but the last).
        activity_l1: float or None: `keras.regularizers.L1` on the outputs of the layer
            `activity_layer_name` (default: the one feeding `predictions`), as the sparse
            autoencoder of the lectures.

    Returns:
        `{"kernels": number of kernels penalised or constrained, "activity_layer": name}`.

    Raises:
        ValueError: an activity layer that does not exist; a model without kernels.
    """
    import keras

    out = {"kernels": 0, "activity_layer": None}
    if l1 or l2 or max_norm:
        layers = kernel_layers(model)
        if not layers:
            raise ValueError(f"{model.name} has no Dense or convolution kernels to penalise or "
                             "constrain; drop l1, l2 and max_norm.")
        for layer in layers:
            kernel = layer.kernel
            if l1 or l2:
                reg = keras.regularizers.L1L2(l1=l1 or 0.0, l2=l2 or 0.0)
                layer.kernel_regularizer = reg
                kernel.regularizer = reg
            if max_norm:
                axis = list(range(len(kernel.shape) - 1))
                con = keras.constraints.MaxNorm(max_value=max_norm,
                                                axis=axis[0] if len(axis) == 1 else axis)
                layer.kernel_constraint = con
                kernel.constraint = con
        out["kernels"] = len(layers)
    if activity_l1:
        layer = activity_layer(model, activity_layer_name)
        layer.activity_regularizer = keras.regularizers.L1(activity_l1)
        out["activity_layer"] = layer.name
    return out


def regularize_from(model, switches: dict, log=None) -> dict | None:
    """`regularize` with the switches' `l1`, `l2`, `max_norm`, `activity_l1`,
    `activity_layer` (`dlzoo.switches.check_switches`); None when none is on."""
    if not any(switches.get(k) for k in ("l1", "l2", "max_norm", "activity_l1")):
        return None
    done = regularize(model, l1=switches.get("l1"), l2=switches.get("l2"),
                      max_norm=switches.get("max_norm"), activity_l1=switches.get("activity_l1"),
                      activity_layer_name=switches.get("activity_layer"))
    if log is not None:
        parts = [f"{k} {switches[k]:g}" for k in ("l1", "l2", "max_norm") if switches.get(k)]
        if parts:
            parts[-1] += f" on {done['kernels']} kernel(s)"
        if done["activity_layer"]:
            parts.append(f"activity_l1 {switches['activity_l1']:g} on {done['activity_layer']}")
        log("regularisation: " + ", ".join(parts))
    return done
