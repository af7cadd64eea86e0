"""TensorBoard logs for train, finetune and each tune trial (`--tensorboard DIR`,
`callbacks.tensorboard: DIR` in a recipe, `fine_tune(tensorboard=DIR)`).

Where TensorFlow is installed, Keras's own `keras.callbacks.TensorBoard` writes them (on any
backend: it writes with `tf.summary`), and keras-tuner gives each trial its folder and its
HParams. Keras's callback needs TensorFlow's summary ops; on a host without TensorFlow (the JAX
GPU hosts) `EpochScalars` writes the same layout with TensorBoard's own event writer (the
`tensorboard` package, which keras-tuner already needs): each epoch's metrics and learning rate
under `DIR/train` and `DIR/validation`, tagged `epoch_loss`, `epoch_accuracy`..., as Keras
names them; no graph, weight histograms or profile. keras-tuner configures trials only on the
TensorFlow backend, so `configure_trial` does it on every backend: `DIR/TRIAL/executionN` and
the trial's hyperparameters for TensorBoard's HParams view.

    tensorboard --logdir DIR
"""

from __future__ import annotations

import os
import time

import keras

from dlzoo.backends import has_tensorflow

__all__ = ["EpochScalars", "configure_trial", "tensorboard_callback"]


class EpochScalars(keras.callbacks.Callback):
    """Each epoch's logs as TensorBoard scalars, without TensorFlow: `val_*` under
    `log_dir/validation`, the others under `log_dir/train`, tagged `epoch_NAME`.

    Args:
        log_dir: str or path; created on the first epoch.
    """

    def __init__(self, log_dir):
        super().__init__()
        self.log_dir = str(log_dir)
        self._writers = {}

    def __deepcopy__(self, memo):  # keras-tuner copies callbacks for each trial
        return EpochScalars(self.log_dir)

    def _writer(self, side: str):
        from tensorboard.summary.writer.event_file_writer import EventFileWriter

        if side not in self._writers:
            self._writers[side] = EventFileWriter(os.path.join(self.log_dir, side))
        return self._writers[side]

    def on_epoch_end(self, epoch, logs=None):
        from tensorboard.compat.proto import event_pb2, summary_pb2

        sides: dict = {}
        for key, value in (logs or {}).items():
            try:
                value = float(value)
            except (TypeError, ValueError):
                continue
            side, name = ("validation", key[4:]) if key.startswith("val_") else ("train", key)
            sides.setdefault(side, []).append(
                summary_pb2.Summary.Value(tag=f"epoch_{name}", simple_value=value))
        for side, values in sides.items():
            self._writer(side).add_event(event_pb2.Event(
                wall_time=time.time(), step=int(epoch), summary=summary_pb2.Summary(value=values)))
            self._writers[side].flush()

    def on_train_end(self, logs=None):
        for writer in self._writers.values():
            writer.close()
        self._writers = {}


def tensorboard_callback(log_dir, *, log=print):
    """Keras's `TensorBoard` callback writing to `log_dir` where TensorFlow is installed;
    `EpochScalars` (scalars only) where it is not, said in one line through `log`."""
    if has_tensorflow():
        return keras.callbacks.TensorBoard(log_dir=str(log_dir))
    log(f"tensorboard: TensorFlow is not installed, so Keras's TensorBoard callback cannot "
        f"write; dlzoo writes each epoch's metrics and learning rate to {log_dir} (no graph or "
        "histograms)")
    return EpochScalars(log_dir)


def configure_trial(callbacks: list, trial, execution: int, trial_dir) -> None:
    """For keras-tuner (`Tuner._configure_tensorboard_dir`, which acts on the TensorFlow
    backend only): each TensorBoard callback in `callbacks` writes to `trial_dir(log_dir,
    trial_id, execution)`, and the trial's hyperparameters go beside it for the HParams view.
    Changes `callbacks` in place."""
    for callback in list(callbacks):
        if not isinstance(callback, (keras.callbacks.TensorBoard, EpochScalars)):
            continue
        callback.log_dir = trial_dir(callback.log_dir, trial.trial_id, execution)
        if isinstance(callback, keras.callbacks.TensorBoard):
            # keras-tuner's own way (tf.summary): the HParams Keras callback
            from keras_tuner.src.engine import tuner_utils
            from tensorboard.plugins.hparams import api as hparams_api

            hparams = tuner_utils.convert_hyperparams_to_hparams(trial.hyperparameters,
                                                                 hparams_api)
            callbacks.append(hparams_api.KerasCallback(writer=callback.log_dir,
                                                       hparams=hparams,
                                                       trial_id=trial.trial_id))
        else:
            _write_hparams(callback.log_dir, trial.hyperparameters.values, trial.trial_id)


def _write_hparams(log_dir: str, values: dict, trial_id: str) -> None:
    """The HParams plugin's session-start summary, written without TensorFlow."""
    from tensorboard.compat.proto import event_pb2
    from tensorboard.plugins.hparams import summary_v2
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    plain = {k: v for k, v in values.items() if isinstance(v, (bool, int, float, str))}
    writer = EventFileWriter(log_dir)
    writer.add_event(event_pb2.Event(wall_time=time.time(), step=0,
                                     summary=summary_v2.hparams_pb(plain, trial_id=trial_id)))
    writer.close()
