"""Generative adversarial networks (Goodfellow et al. 2014): a `GAN` model that trains a generator and
a discriminator with `fit`, DCGAN builders for 28x28x1, 32x32x3 and 64x64x3 images (Radford et al.
2016) and an MLP GAN for vectors. `SampleGrid` (in gan_samples) saves a grid of samples each epoch."""

from __future__ import annotations

import keras
from keras import layers, ops

from dlzoo.models.gan_samples import SampleGrid, save_sample_grid  # noqa: F401  (public here too)
from dlzoo.registry import register_model
from dlzoo.validation import check_image_input, check_int, check_rate

PAPER_GAN = "Goodfellow et al. Generative adversarial nets. NeurIPS 2014."
PAPER_DCGAN = ("Radford, Metz, Chintala. Unsupervised representation learning with deep "
               "convolutional generative adversarial networks. ICLR 2016.")


# --- the GAN model -------------------------------------------------------------------------------


class _OptimizerPair:
    """Stands in for `model.optimizer`, which Keras' trainers expect to be one optimizer.

    The trainers build `model.optimizer` before the first step, and the JAX trainer carries
    `model.optimizer.variables` through its jitted step and writes them back afterwards; exposing
    both optimizers' variables here lets each network keep its own optimizer. Keras has no
    multi-optimizer of its own.
    """

    def __init__(self, gan):
        self._gan = gan

    @property
    def built(self):
        return self._gan.d_optimizer.built and self._gan.g_optimizer.built

    def build(self, variables=None):
        gan = self._gan
        if not gan.d_optimizer.built:
            gan.d_optimizer.build(gan.discriminator.trainable_variables)
        if not gan.g_optimizer.built:
            gan.g_optimizer.build(gan.generator.trainable_variables)

    @property
    def variables(self):
        return list(self._gan.d_optimizer.variables) + list(self._gan.g_optimizer.variables)

    @property
    def iterations(self):
        return self._gan.g_optimizer.iterations


def _positions(subset, full):
    index = {id(v): i for i, v in enumerate(full)}
    return [index[id(v)] for v in subset]


@keras.saving.register_keras_serializable(package="dlzoo")
class GAN(keras.Model):
    """A generator and a discriminator trained against each other by `fit` on real samples alone.

    Each step (Goodfellow et al. 2014, Algorithm 1, with the non-saturating generator loss of
    section 3) first updates the discriminator on a batch of real samples (label 1) and a batch of
    generated ones (label 0), then updates the generator so that the discriminator calls fresh
    generated samples real. Each network has its own optimizer; `fit` reports `d_loss` and
    `g_loss`. Calling the model (or `predict`) on latent vectors returns generated samples.

    The step is written for the TensorFlow backend (GradientTape) and the JAX backend (stateless,
    `jax.value_and_grad`), as Keras' guides on customising `fit` do for each backend.

    Args:
        generator: a `keras.Model` from latent vectors `(latent_dim,)` to samples.
        discriminator: a `keras.Model` from samples to one logit (no sigmoid).
        latent_dim: size of the latent vectors (default: read from the generator's input).
        seed: seed of the latent noise drawn during training.

    Example:
        >>> gan = build("mlp_gan")                       # a GAN for 2-D points
        >>> gan.compile()                                # Adam(2e-4, beta_1=0.5) for each network
        >>> gan.fit(points, epochs=10, batch_size=128)   # logs d_loss, g_loss
        >>> samples = gan.predict(np.random.normal(size=(500, gan.latent_dim)))
    """

    def __init__(self, generator, discriminator, latent_dim: int | None = None,
                 seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        for arg, net in (("generator", generator), ("discriminator", discriminator)):
            if not isinstance(net, keras.Model) or not getattr(net, "inputs", None):
                raise TypeError(f"GAN: {arg} must be a functional keras.Model; received {net!r}.")
        z_shape = tuple(generator.inputs[0].shape[1:])
        if latent_dim is None:
            latent_dim = z_shape[-1]
        if z_shape != (latent_dim,):
            raise ValueError(
                f"GAN: the generator takes inputs of shape {z_shape}, not latent vectors of size "
                f"latent_dim={latent_dim}. Pass the generator's latent size."
            )
        sample_shape = tuple(generator.outputs[0].shape[1:])
        d_shape = tuple(discriminator.inputs[0].shape[1:])
        if sample_shape != d_shape:
            raise ValueError(
                f"GAN: the generator makes samples of shape {sample_shape} but the discriminator "
                f"takes {d_shape}. Build them for the same sample shape."
            )
        if tuple(discriminator.outputs[0].shape[1:]) != (1,):
            raise ValueError(
                "GAN: the discriminator must output one logit per sample, shape (1,); received "
                f"{tuple(discriminator.outputs[0].shape[1:])}."
            )
        self.generator = generator
        self.discriminator = discriminator
        self.latent_dim = int(latent_dim)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")
        self.built = True

    # The GAN as a function is its generator: latent vectors in, samples out. Exposing the
    # generator's symbolic inputs and outputs lets generic tools (the registry suite, export
    # signatures) see its shapes.
    @property
    def inputs(self):
        return self.generator.inputs

    @property
    def outputs(self):
        return self.generator.outputs

    @property
    def input_shape(self):
        return self.generator.input_shape

    @property
    def output_shape(self):
        return self.generator.output_shape

    def call(self, inputs, training=False):
        return self.generator(inputs, training=training)

    @property
    def metrics(self):
        return [self.d_loss_tracker, self.g_loss_tracker]

    def compile(self, d_optimizer=None, g_optimizer=None, loss=None, *, optimizer=None, **kwargs):
        """Configures training.

        Args:
            d_optimizer: the discriminator's optimizer (default: a copy of `optimizer`).
            g_optimizer: the generator's optimizer (default: a copy of `optimizer`).
            loss: loss on the discriminator's logits against 1 (real) / 0 (fake); default
                `BinaryCrossentropy(from_logits=True)`.
            optimizer: what each network gets a copy of when its own is not given; default
                DCGAN's `Adam(learning_rate=2e-4, beta_1=0.5)`.
            **kwargs: `run_eagerly`, `jit_compile`, `steps_per_execution`.
        """
        if optimizer is None:
            optimizer = keras.optimizers.Adam(learning_rate=2e-4, beta_1=0.5)
        self.d_optimizer = keras.optimizers.get(d_optimizer or _copy_optimizer(optimizer))
        self.g_optimizer = keras.optimizers.get(g_optimizer or _copy_optimizer(optimizer))
        if self.d_optimizer is self.g_optimizer:
            raise ValueError("GAN.compile: d_optimizer and g_optimizer must be two objects.")
        self.loss_fn = keras.losses.get(loss) if loss is not None else (
            keras.losses.BinaryCrossentropy(from_logits=True))
        super().compile(optimizer=self.d_optimizer, **kwargs)
        self.optimizer = _OptimizerPair(self)

    def get_compile_config(self):
        if not self.compiled:
            return {}
        return {
            "d_optimizer": keras.optimizers.serialize(self.d_optimizer),
            "g_optimizer": keras.optimizers.serialize(self.g_optimizer),
            "loss": keras.losses.serialize(self.loss_fn),
        }

    def compile_from_config(self, config):
        self.compile(
            d_optimizer=keras.optimizers.deserialize(config["d_optimizer"]),
            g_optimizer=keras.optimizers.deserialize(config["g_optimizer"]),
            loss=keras.losses.deserialize(config["loss"]),
        )
        self.optimizer.build()

    def _d_loss(self, real_logits, fake_logits):
        return (self.loss_fn(ops.ones_like(real_logits), real_logits)
                + self.loss_fn(ops.zeros_like(fake_logits), fake_logits))

    def _g_loss(self, fake_logits):
        # non-saturating: maximise log D(G(z)) rather than minimise log(1 - D(G(z)))
        return self.loss_fn(ops.ones_like(fake_logits), fake_logits)

    def train_step(self, *args):
        backend = keras.backend.backend()
        if backend == "tensorflow":
            return self._tf_train_step(*args)
        if backend == "jax":
            return self._jax_train_step(*args)
        if backend == "torch":
            return self._torch_train_step(*args)
        raise NotImplementedError(
            f"GAN.train_step supports the TensorFlow, JAX and PyTorch backends; this is "
            f"{backend!r}. Set KERAS_BACKEND=tensorflow, jax or torch."
        )

    def test_step(self, *args):
        """Both losses on real samples (e.g. `validation_data`), without updating anything."""
        if keras.backend.backend() == "jax":
            # run the ordinary code on the values in `state`, then read back what it changed
            trainable, non_trainable, metrics_vars = args[0]
            variables = self.trainable_variables + self.non_trainable_variables + self.metrics_variables
            values = list(trainable) + list(non_trainable) + list(metrics_vars)
            with keras.StatelessScope(state_mapping=list(zip(variables, values))) as scope:
                logs = self._evaluate_batch(args[1])
            current = lambda vs, old: [
                o if scope.get_current_value(v) is None else scope.get_current_value(v)
                for v, o in zip(vs, old)]
            return logs, (trainable, current(self.non_trainable_variables, non_trainable),
                          current(self.metrics_variables, metrics_vars))
        return self._evaluate_batch(args[0])

    def _evaluate_batch(self, data):
        real, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        z = keras.random.normal((ops.shape(real)[0], self.latent_dim), seed=self.seed_generator)
        fake_logits = self.discriminator(self.generator(z))
        self.d_loss_tracker.update_state(self._d_loss(self.discriminator(real), fake_logits))
        self.g_loss_tracker.update_state(self._g_loss(fake_logits))
        return {m.name: m.result() for m in self.metrics}

    def _tf_train_step(self, data):
        # GradientTape is the one TensorFlow-specific piece: Keras 3 has no backend-neutral
        # gradient API, so each backend's step computes gradients its own way.
        import tensorflow as tf

        real, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        batch = ops.shape(real)[0]
        z = keras.random.normal((batch, self.latent_dim), seed=self.seed_generator)
        d_vars = self.discriminator.trainable_variables
        with tf.GradientTape() as tape:
            fake = self.generator(z, training=True)
            d_loss = self._d_loss(self.discriminator(real, training=True),
                                  self.discriminator(fake, training=True))
        self.d_optimizer.apply(tape.gradient(d_loss, d_vars), d_vars)

        z = keras.random.normal((batch, self.latent_dim), seed=self.seed_generator)
        g_vars = self.generator.trainable_variables
        with tf.GradientTape() as tape:
            g_loss = self._g_loss(self.discriminator(self.generator(z, training=True), training=True))
        self.g_optimizer.apply(tape.gradient(g_loss, g_vars), g_vars)

        self.d_loss_tracker.update_state(d_loss)
        self.g_loss_tracker.update_state(g_loss)
        return {m.name: m.result() for m in self.metrics}

    def _torch_train_step(self, data):
        # PyTorch: autograd on the variables' tensors (Keras's guide "Customizing fit() with
        # PyTorch"): clear the gradients, backward, read each variable's .grad, apply without
        # recording. The fakes are detached for the discriminator's step (its gradient only).
        import torch

        real, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        batch = ops.shape(real)[0]
        z = keras.random.normal((batch, self.latent_dim), seed=self.seed_generator)
        d_vars = self.discriminator.trainable_variables
        fake = ops.stop_gradient(self.generator(z, training=True))
        d_loss = self._d_loss(self.discriminator(real, training=True),
                              self.discriminator(fake, training=True))
        self.zero_grad()
        d_loss.backward()
        with torch.no_grad():
            self.d_optimizer.apply([v.value.grad for v in d_vars], d_vars)

        z = keras.random.normal((batch, self.latent_dim), seed=self.seed_generator)
        g_vars = self.generator.trainable_variables
        g_loss = self._g_loss(self.discriminator(self.generator(z, training=True), training=True))
        self.zero_grad()
        g_loss.backward()
        with torch.no_grad():
            self.g_optimizer.apply([v.value.grad for v in g_vars], g_vars)

        self.d_loss_tracker.update_state(ops.stop_gradient(d_loss))
        self.g_loss_tracker.update_state(ops.stop_gradient(g_loss))
        return {m.name: m.result() for m in self.metrics}

    def _jax_train_step(self, state, data):
        # Stateless: every variable's value comes in through `state` and goes out in the returned
        # state (the JAX trainer's contract); `stateless_call` runs each network on given values.
        import jax

        trainable, non_trainable, optimizer_vars, metrics_vars = state
        real, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        G, D = self.generator, self.discriminator
        g_t = _positions(G.trainable_variables, self.trainable_variables)
        d_t = _positions(D.trainable_variables, self.trainable_variables)
        g_n = _positions(G.non_trainable_variables, self.non_trainable_variables)
        d_n = _positions(D.non_trainable_variables, self.non_trainable_variables)
        n_d_opt = len(self.d_optimizer.variables)
        trainable, non_trainable = list(trainable), list(non_trainable)
        pick = lambda values, idx: [values[i] for i in idx]

        batch = real.shape[0]
        mapping = list(zip(self.non_trainable_variables, non_trainable))
        with keras.StatelessScope(state_mapping=mapping) as scope:
            z_d = keras.random.normal((batch, self.latent_dim), seed=self.seed_generator)
            z_g = keras.random.normal((batch, self.latent_dim), seed=self.seed_generator)
        seed_index = _positions([self.seed_generator.state], self.non_trainable_variables)[0]
        non_trainable[seed_index] = scope.get_current_value(self.seed_generator.state)

        def d_loss_fn(d_tv, d_ntv, g_tv, g_ntv):
            fake, g_ntv = G.stateless_call(g_tv, g_ntv, z_d, training=True)
            real_logits, d_ntv = D.stateless_call(d_tv, d_ntv, real, training=True)
            fake_logits, d_ntv = D.stateless_call(d_tv, d_ntv, fake, training=True)
            return self._d_loss(real_logits, fake_logits), (d_ntv, g_ntv)

        (d_loss, (d_ntv, g_ntv)), grads = jax.value_and_grad(d_loss_fn, has_aux=True)(
            pick(trainable, d_t), pick(non_trainable, d_n), pick(trainable, g_t),
            pick(non_trainable, g_n))
        d_tv, d_opt = self.d_optimizer.stateless_apply(
            optimizer_vars[:n_d_opt], grads, pick(trainable, d_t))

        def g_loss_fn(g_tv, g_ntv, d_tv, d_ntv):
            fake, g_ntv = G.stateless_call(g_tv, g_ntv, z_g, training=True)
            logits, d_ntv = D.stateless_call(d_tv, d_ntv, fake, training=True)
            return self._g_loss(logits), (g_ntv, d_ntv)

        (g_loss, (g_ntv, d_ntv)), grads = jax.value_and_grad(g_loss_fn, has_aux=True)(
            pick(trainable, g_t), g_ntv, d_tv, d_ntv)
        g_tv, g_opt = self.g_optimizer.stateless_apply(
            optimizer_vars[n_d_opt:], grads, pick(trainable, g_t))

        for idx, values in ((d_t, d_tv), (g_t, g_tv)):
            for i, v in zip(idx, values):
                trainable[i] = v
        for idx, values in ((d_n, d_ntv), (g_n, g_ntv)):
            for i, v in zip(idx, values):
                non_trainable[i] = v

        with keras.StatelessScope(state_mapping=list(zip(self.metrics_variables, metrics_vars))) as scope:
            self.d_loss_tracker.update_state(d_loss)
            self.g_loss_tracker.update_state(g_loss)
            logs = {m.name: m.result() for m in self.metrics}
        metrics_vars = [scope.get_current_value(v) for v in self.metrics_variables]
        return logs, (trainable, non_trainable, list(d_opt) + list(g_opt), metrics_vars)

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "generator": keras.saving.serialize_keras_object(self.generator),
            "discriminator": keras.saving.serialize_keras_object(self.discriminator),
            "latent_dim": self.latent_dim,
            "seed": self.seed,
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        for key in ("generator", "discriminator"):
            config[key] = keras.saving.deserialize_keras_object(config[key], custom_objects=custom_objects)
        return cls(**config)


def _copy_optimizer(optimizer):
    if isinstance(optimizer, str):
        return keras.optimizers.get(optimizer)
    return keras.optimizers.deserialize(keras.optimizers.serialize(optimizer))


# --- builders ------------------------------------------------------------------------------------


def _latent(latent_dim, input_shape, name):
    if input_shape is not None:
        if not isinstance(input_shape, (tuple, list)) or len(input_shape) != 1:
            raise ValueError(
                f"{name}: input_shape is the latent vector's shape, (latent_dim,); received "
                f"{input_shape!r}. To change the sample shape pass image_shape / data_dim."
            )
        latent_dim = input_shape[0]
    return check_int(latent_dim, arg="latent_dim", name=name)


def MLPGAN(
    *,
    data_dim: int = 2,
    latent_dim: int = 4,
    hidden_units=(128, 128),
    output_activation: str | None = None,
    dropout: float = 0.0,
    seed: int | None = None,
    input_shape=None,
    name: str = "mlp_gan",
) -> GAN:
    """GAN of two MLPs for vectors: a ReLU generator and a LeakyReLU(0.2) discriminator.

    Reference: Goodfellow et al. 2014 (their MNIST/TFD models were MLPs).

    Args:
        data_dim: size of the sample vectors (default 2: points in the plane).
        latent_dim: size of the latent vectors (default 4, plenty for 2-D data).
        hidden_units: widths of the hidden layers of both networks (default (128, 128)).
        output_activation: the generator's output activation; None (default) for unbounded data,
            "tanh" for data scaled to [-1, 1].
        dropout: dropout in the discriminator.
        seed: seed of the latent noise in training.
        input_shape: the latent shape (latent_dim,), as `build(input_shape=...)` passes it.
        name: model name.

    Returns:
        An uncompiled `GAN`; `gan.generator` and `gan.discriminator` are functional models.

    Example:
        >>> from dlzoo import build
        >>> gan = build("mlp_gan", data_dim=2)
        >>> gan.generator.output_shape
        (None, 2)
    """
    latent_dim = _latent(latent_dim, input_shape, name)
    check_int(data_dim, arg="data_dim", name=name)
    hidden_units = tuple(hidden_units)
    for u in hidden_units:
        check_int(u, arg="hidden_units", name=name)
    check_rate(dropout, arg="dropout", name=name)

    z = keras.Input((latent_dim,), name="latent")
    x = z
    for i, units in enumerate(hidden_units, start=1):
        x = layers.Dense(units, activation="relu", name=f"hidden{i}")(x)
    samples = layers.Dense(data_dim, activation=output_activation, name="samples")(x)
    generator = keras.Model(z, samples, name="generator")

    inputs = keras.Input((data_dim,), name="samples")
    x = inputs
    for i, units in enumerate(hidden_units, start=1):
        x = layers.Dense(units, name=f"hidden{i}")(x)
        x = layers.LeakyReLU(0.2, name=f"hidden{i}_leaky_relu")(x)
        if dropout:
            x = layers.Dropout(dropout, name=f"hidden{i}_dropout")(x)
    logits = layers.Dense(1, name="predictions")(x)
    discriminator = keras.Model(inputs, logits, name="discriminator")
    return GAN(generator, discriminator, latent_dim=latent_dim, seed=seed, name=name)


def _upsampling_plan(side: int) -> tuple[int, int]:
    """(start side, number of 2x upsamplings): halve while the side stays even and >= 4."""
    n = 0
    while side % 2 == 0 and side // 2 >= 4:
        side //= 2
        n += 1
    return side, n


def _dcgan_generator(latent_dim, *, start, widths, channels, kernel_size):
    """z -> `project` (dense, start x start x widths[0]) -> stride-2 `deconv{i}` up to the image,
    tanh last; batch norm and ReLU between (Radford et al.'s guidelines)."""
    z = keras.Input((latent_dim,), name="latent")
    x = layers.Dense(start * start * widths[0], use_bias=False, name="project")(z)
    x = layers.Reshape((start, start, widths[0]), name="project_reshape")(x)
    x = layers.BatchNormalization(name="project_bn")(x)
    x = layers.ReLU(name="project_relu")(x)
    n = len(widths)
    for i in range(1, n + 1):
        last = i == n
        x = layers.Conv2DTranspose(
            channels if last else widths[i], kernel_size, strides=2, padding="same",
            use_bias=last, activation="tanh" if last else None, name=f"deconv{i}",
        )(x)
        if not last:
            x = layers.BatchNormalization(name=f"deconv{i}_bn")(x)
            x = layers.ReLU(name=f"deconv{i}_relu")(x)
    return keras.Model(z, x, name="generator")


def _dcgan_discriminator(image_shape, *, widths, kernel_size):
    """image -> stride-2 `conv{i}` (narrowest first, no batch norm on the first), leaky ReLU 0.2,
    -> one logit `predictions`."""
    images = keras.Input(image_shape, name="images")
    x = images
    for i, width in enumerate(reversed(widths), start=1):
        first = i == 1
        x = layers.Conv2D(width, kernel_size, strides=2, padding="same", use_bias=first,
                          name=f"conv{i}")(x)
        if not first:
            x = layers.BatchNormalization(name=f"conv{i}_bn")(x)
        x = layers.LeakyReLU(0.2, name=f"conv{i}_leaky_relu")(x)
    x = layers.Flatten(name="flatten")(x)
    logits = layers.Dense(1, name="predictions")(x)
    return keras.Model(images, logits, name="discriminator")


def DCGAN(
    *,
    image_shape=(64, 64, 3),
    latent_dim: int = 100,
    base_filters: int = 64,
    kernel_size: int = 4,
    seed: int | None = None,
    input_shape=None,
    name: str = "dcgan",
) -> GAN:
    """Deep convolutional GAN: strided convolutions, batch norm, no pooling, no hidden dense layer.

    Reference: Radford et al. 2016, section 3: the generator projects z to a small feature map and
    doubles its side with fractionally-strided (transposed) convolutions, batch norm and ReLU, tanh
    at the output; the discriminator halves the side with strided convolutions and LeakyReLU(0.2),
    batch norm on every layer but the first, and ends in one logit. Widths double per level down
    from `base_filters` (the paper's 64x64 generator starts from 1024 maps, i.e. base_filters=128;
    the default 64 halves it, as most reimplementations do). Kernels are 4x4, as in the authors'
    code.

    Images must be square with a side that halves at least once to a side >= 4: 28 (7 -> 14 ->
    28), 32 (4 -> 8 -> 16 -> 32), 64 (4 -> ... -> 64). Real images are expected in [-1, 1].

    Args:
        image_shape: (side, side, channels) of the images (default (64, 64, 3)).
        latent_dim: size of z (default 100, as in the paper).
        base_filters: maps of the widest-resolution layer (default 64).
        kernel_size: convolution kernel side (default 4).
        seed: seed of the latent noise in training.
        input_shape: the latent shape (latent_dim,), as `build(input_shape=...)` passes it.
        name: model name.

    Example:
        >>> from dlzoo import build
        >>> gan = build("dcgan_32")
        >>> gan.generator.output_shape
        (None, 32, 32, 3)
    """
    latent_dim = _latent(latent_dim, input_shape, name)
    image_shape = check_image_input(image_shape, name=name, min_size=8)
    side, _, channels = image_shape
    if None in image_shape or image_shape[0] != image_shape[1]:
        raise ValueError(f"{name}: image_shape must be square, (side, side, channels); received {image_shape}.")
    start, n = _upsampling_plan(side)
    if n == 0:
        raise ValueError(
            f"{name}: an image side of {side} cannot be reached by doubling from a side >= 4; "
            "use an even side such as 28, 32 or 64."
        )
    check_int(base_filters, arg="base_filters", name=name)
    check_int(kernel_size, arg="kernel_size", name=name)
    widths = [base_filters * 2 ** (n - 1 - i) for i in range(n)]  # widest first: 8b, 4b, 2b, b

    generator = _dcgan_generator(latent_dim, start=start, widths=widths, channels=channels,
                                 kernel_size=kernel_size)
    discriminator = _dcgan_discriminator(image_shape, widths=widths, kernel_size=kernel_size)
    return GAN(generator, discriminator, latent_dim=latent_dim, seed=seed, name=name)


_GAN = {"family": "gan", "task": "generative", "input_kind": "latent"}
# What the three DCGAN variants share (each holds only its image shape).
_DCGAN_FACTS = {**_GAN, "default_input_shape": (100,), "paper": PAPER_DCGAN, "preprocessing": "tf",
                "smoke_overrides": {"latent_dim": 8, "base_filters": 4}}


@register_model(
    **_GAN,
    default_input_shape=(4,),
    params=34_435,
    paper=PAPER_GAN,
    smoke_overrides={"latent_dim": 4, "hidden_units": (8, 8)},
    description="GAN of two MLPs for 2-D points (or any vectors): z of 4 -> 128 -> 128 -> data",
)
def mlp_gan(**kwargs):
    """MLP GAN for vectors (default: points in the plane)."""
    return MLPGAN(**kwargs)


@register_model(**_DCGAN_FACTS, params=899_010,
                description="DCGAN for 28x28x1 images (MNIST-like): 7 -> 14 -> 28")
def dcgan_28(*, image_shape=(28, 28, 1), name="dcgan_28", **kwargs):
    """DCGAN for 28x28 grayscale images."""
    return DCGAN(image_shape=image_shape, name=name, **kwargs)


@register_model(**_DCGAN_FACTS, params=1_733_956,
                description="DCGAN for 32x32x3 images (CIFAR-like): 4 -> 8 -> 16 -> 32")
def dcgan_32(*, image_shape=(32, 32, 3), name="dcgan_32", **kwargs):
    """DCGAN for 32x32 colour images."""
    return DCGAN(image_shape=image_shape, name=name, **kwargs)


@register_model(**_DCGAN_FACTS, params=6_346_052,
                description="DCGAN for 64x64x3 images, the paper's setting: 4 -> 8 -> 16 -> 32 -> 64")
def dcgan_64(*, image_shape=(64, 64, 3), name="dcgan_64", **kwargs):
    """DCGAN for 64x64 colour images."""
    return DCGAN(image_shape=image_shape, name=name, **kwargs)

