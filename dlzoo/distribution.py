"""Where a run's steps run: the local devices it uses (`train.devices`, `--devices`), the
distribution strategy over them (`keras.distribution.DataParallel` on JAX, `tf.distribute` on
TensorFlow) and batches that split evenly over them. Used by `dlzoo.training` and
`dlzoo.transfer.finetune` alike."""

from __future__ import annotations

import contextlib

__all__ = ["divisible_batches", "replica_count", "select_devices", "strategy_for",
           "strategy_scope"]

STRATEGIES = ("mirrored", "multi_worker", "data_parallel")  # train.strategy (dlzoo.recipes)
_STRATEGIES_MADE: dict = {}


def select_devices(devices, available: list, *, where: str = "train.devices") -> list:
    """The first `devices` of `available` (all of them for "all"); ValueError when there are
    fewer than asked for."""
    if devices in (None, "all"):
        return list(available)
    if devices > len(available):
        raise ValueError(
            f"{where} is {devices} but this host has {len(available)} device(s) "
            f"({', '.join(str(getattr(d, 'name', d)) for d in available[:8])}); ask for at "
            f"most {len(available)} "
            "or 'all'.")
    return list(available[:devices])


def strategy_for(name: str | None, *, devices=1, log=print):
    """The scale-out a recipe's `train.strategy` and `train.devices` ask for, made ready for use.

    * `mirrored`: `tf.distribute.MirroredStrategy` over this host's GPUs (or its CPU devices);
    * `multi_worker`: `tf.distribute.MultiWorkerMirroredStrategy`, one process per host, the
      cluster described by the `TF_CONFIG` variable;
    * `data_parallel` (JAX): `keras.distribution.DataParallel` over the local devices, set as
      Keras's global distribution.

    With no strategy, `devices` (an integer or "all") above one picks the backend's data
    parallelism: `data_parallel` on JAX, `mirrored` on TensorFlow; `devices` also limits how
    many devices `data_parallel` and `mirrored` use. `data.batch_size` stays the global batch
    (split evenly over the devices) and the learning rate is the one for that batch, so a
    recipe trains the same on one device or several.

    Returns the `tf.distribute.Strategy` (None for `data_parallel` and for no strategy): what
    `strategy_scope` builds under, and what keras-tuner's `distribution_strategy` takes.

    Raises:
        ValueError: the backend lacks the strategy, or the host has fewer devices.
    """
    import keras

    backend = keras.backend.backend()
    if name is None and devices not in (1, None):
        if backend not in ("jax", "tensorflow"):
            raise ValueError(f"train.devices {devices!r} needs KERAS_BACKEND=jax or tensorflow "
                             f"(the backend is {backend}); use train.devices: 1.")
        name = "data_parallel" if backend == "jax" else "mirrored"
    if name is None:
        return None
    if name in ("mirrored", "multi_worker"):
        if backend != "tensorflow":
            raise ValueError(
                f"train.strategy {name!r} is tf.distribute, which needs KERAS_BACKEND=tensorflow "
                f"(the backend is {backend}); on JAX use train.strategy: data_parallel."
            )
        import tensorflow as tf

        # One strategy per process: a second MirroredStrategy over the same devices reuses
        # collective instance keys and fails ("Shape mismatch in the collective instance").
        key = (name, devices)
        if key not in _STRATEGIES_MADE:
            if name == "mirrored":
                local = (tf.config.list_logical_devices("GPU")
                         or tf.config.list_logical_devices("CPU"))
                chosen = None if devices in (1, None, "all") else [
                    d.name for d in select_devices(devices, local)]
                _STRATEGIES_MADE[key] = tf.distribute.MirroredStrategy(devices=chosen)
            else:
                _STRATEGIES_MADE[key] = tf.distribute.MultiWorkerMirroredStrategy()
        strategy = _STRATEGIES_MADE[key]
        log(f"strategy: {name}, {strategy.num_replicas_in_sync} replica(s)")
        return strategy
    if name == "data_parallel":
        if backend != "jax":
            raise ValueError(
                "train.strategy 'data_parallel' uses keras.distribution, which needs "
                f"KERAS_BACKEND=jax (the backend is {backend}); on TensorFlow use mirrored."
            )
        chosen = select_devices(None if devices == 1 else devices,
                                keras.distribution.list_devices())
        keras.distribution.set_distribution(keras.distribution.DataParallel(devices=chosen))
        log(f"strategy: data_parallel over {len(chosen)} device(s)")
        return None
    raise ValueError(f"train.strategy must be one of {', '.join(STRATEGIES)} or null; "
                     f"received {name!r}.")


def divisible_batches(train, val, batch_size: int, *, log=print):
    """Under `keras.distribution.DataParallel` (JAX) every batch must split evenly over the
    devices, and Keras does not pad: the training set drops its last, partial batch (a
    different remainder each epoch, as it is reshuffled) and the validation set leaves out its
    last `len % devices` examples (fewer than the device count). Without a data-parallel
    distribution the datasets are returned as they are."""
    import keras

    dist = keras.distribution.distribution() if hasattr(keras, "distribution") else None
    if not isinstance(dist, getattr(keras.distribution, "DataParallel", ())):
        return train, val
    replicas = int(dist.device_mesh.devices.size)
    if replicas == 1:
        return train, val
    if batch_size % replicas:
        raise ValueError(
            f"data.batch_size ({batch_size}) must be a multiple of the {replicas} devices "
            "train.strategy data_parallel splits each batch over."
        )
    if hasattr(train, "divisible"):  # dlzoo.data.neutral.Batches: no tf.data to rebatch
        count = 0 if val is None else len(val.index)
        if count % replicas:
            log(f"note: data_parallel over {replicas} devices leaves out the last "
                f"{count % replicas} of {count} validation examples")
        return (train.divisible(replicas, drop_remainder=True),
                None if val is None else val.divisible(replicas, drop_remainder=False))
    train = train.unbatch().batch(batch_size, drop_remainder=True)
    if val is not None:
        count = sum(1 for _ in val.unbatch())
        if count % replicas:
            log(f"note: data_parallel over {replicas} devices leaves out the last "
                f"{count % replicas} of {count} validation examples")
        val = val.unbatch().take(count - count % replicas).batch(batch_size)
    return train, val


def strategy_scope(strategy):
    """`strategy.scope()`, or a do-nothing context without a strategy."""
    return strategy.scope() if strategy is not None else contextlib.nullcontext()


# --- one run: a recipe's inputs ------------------------------------------------------------------


def replica_count(strategy=None) -> int:
    """How many devices each batch is split over: the strategy's replicas, or the devices of
    Keras's data-parallel distribution (JAX), else 1."""
    if strategy is not None:
        return int(strategy.num_replicas_in_sync)
    import keras

    dist = keras.distribution.distribution() if hasattr(keras, "distribution") else None
    mesh = getattr(dist, "device_mesh", None)
    return int(mesh.devices.size) if mesh is not None else 1
