"""Numeric precision of a run: one vocabulary for `--precision`, `train.precision` and
`fine_tune(precision=...)`, resolved to a Keras dtype policy.

* `float32`: everything in float32 (Keras's default policy).
* `bfloat16`: Keras's `mixed_bfloat16` policy: layers compute in bfloat16, variables stay float32.
* `float16`: Keras's `mixed_float16`, with loss scaling (`Model.compile` wraps the optimizer in a
  `keras.optimizers.LossScaleOptimizer` under that policy).
* `auto` (the default): `bfloat16` where the device computes it natively (NVIDIA GPUs of compute
  capability 8.0 or more: A100, H100, H200, RTX 30xx/40xx; TPUs), `float32` elsewhere (CPUs,
  older GPUs), where bfloat16 would be emulated and slower.

Under a mixed policy the layer that produces a model's output (the classifier's softmax) is set
back to float32 (`float32_outputs`), as Keras's mixed-precision guide advises, and Keras computes
losses in float32.

    >>> from dlzoo.precision import precision_scope, float32_outputs
    >>> with precision_scope("auto") as resolved:
    ...     model = build("resnet50", num_classes=5)
    >>> float32_outputs(model)

Nothing here imports a backend at import time.
"""

from __future__ import annotations

import contextlib

__all__ = [
    "POLICIES",
    "PRECISIONS",
    "check_precision",
    "float32_outputs",
    "native_bfloat16",
    "precision_scope",
    "resolve_precision",
]

PRECISIONS = ("auto", "float32", "bfloat16", "float16")
# precision -> Keras dtype policy
POLICIES = {"float32": "float32", "bfloat16": "mixed_bfloat16", "float16": "mixed_float16"}


def check_precision(value, where: str = "precision") -> str:
    """`value` if it is one of `PRECISIONS`; ValueError naming them otherwise."""
    if value not in PRECISIONS:
        raise ValueError(f"{where} must be one of {', '.join(PRECISIONS)}; received {value!r}.")
    return value


def native_bfloat16() -> bool:
    """Whether the first accelerator of the current Keras backend computes bfloat16 natively:
    an NVIDIA GPU of compute capability 8.0 or more, or a TPU. False on CPUs."""
    import keras

    backend = keras.backend.backend()
    try:
        if backend == "jax":
            import jax

            device = jax.devices()[0]
            if device.platform == "tpu":
                return True
            if device.platform == "gpu":
                capability = getattr(device, "compute_capability", None)
                return capability is not None and float(capability) >= 8.0
            return False
        if backend == "tensorflow":
            import tensorflow as tf

            if tf.config.list_logical_devices("TPU"):
                return True
            gpus = tf.config.list_physical_devices("GPU")
            if not gpus:
                return False
            capability = tf.config.experimental.get_device_details(gpus[0]).get(
                "compute_capability")
            return capability is not None and tuple(capability) >= (8, 0)
        if backend == "torch":
            import torch

            return bool(torch.cuda.is_available()
                        and torch.cuda.get_device_capability(0) >= (8, 0))
    except (RuntimeError, ValueError, TypeError, IndexError):  # no device it can ask about
        return False
    return False


def resolve_precision(precision: str = "auto") -> str:
    """`float32`, `bfloat16` or `float16`: `precision` with `auto` decided for this host."""
    check_precision(precision)
    if precision == "auto":
        return "bfloat16" if native_bfloat16() else "float32"
    return precision


@contextlib.contextmanager
def precision_scope(precision: str = "auto"):
    """Sets Keras's global dtype policy for `precision` while models are built, and restores the
    previous policy on exit. Yields the resolved precision (`float32`, `bfloat16`,
    `float16`)."""
    import keras

    resolved = resolve_precision(precision)
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(POLICIES[resolved])
    try:
        yield resolved
    finally:
        keras.config.set_dtype_policy(previous)


def float32_outputs(model):
    """Sets the layers that produce `model`'s outputs (looking into nested models) to compute in
    float32, so a softmax and the loss after it are not computed in 16 bits. A no-op for a
    model built under the float32 policy. Returns `model`."""
    seen = set()

    def visit(m):
        for tensor in getattr(m, "outputs", None) or []:
            history = getattr(tensor, "_keras_history", None)
            layer = getattr(history, "operation", None)
            if layer is None or id(layer) in seen:
                continue
            seen.add(id(layer))
            if getattr(layer, "outputs", None) is not None and hasattr(layer, "layers"):
                visit(layer)  # a nested model: its own output layer
            elif getattr(layer, "compute_dtype", "float32") != "float32":
                layer.dtype_policy = "float32"

    visit(model)
    return model
