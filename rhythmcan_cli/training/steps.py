"""The compiled train steps of every mode (gan, cgan, can, classifier) under one strategy."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from rhythmcan_cli.errors import UsageError
from rhythmcan_cli.grid import N_CLASSES, STEPS
from rhythmcan_cli.training import recipes
from rhythmcan_cli.training.config import (
    TrainConfig,
)
from rhythmcan_cli.vocabulary import ModelKind

if TYPE_CHECKING:
    import keras
    import tensorflow as tf


class Trainer:
    """Models, optimizers and the compiled steps of one mode under one strategy."""

    def __init__(
        self,
        mode: ModelKind,
        n_genres: int,
        config: TrainConfig,
        strategy: tf.distribute.Strategy,
        class_weights: np.ndarray | None = None,
        real_density: np.ndarray | None = None,
        real_profile: np.ndarray | None = None,
    ) -> None:
        import keras
        import tensorflow as tf

        from rhythmcan_cli.training import losses
        from rhythmcan_cli.training import networks as models

        self.mode = mode
        self.k = n_genres
        self.config = config
        self.strategy = strategy
        self.replicas = int(strategy.num_replicas_in_sync)
        if config.batch_size % self.replicas:
            raise UsageError(
                f"--batch-size {config.batch_size} must be a multiple of the "
                f"{self.replicas} replicas"
            )
        self.w = losses.ambiguity_weight(max(n_genres, 1))
        # AC conditioning: a cgan whose discriminator is the Creative-GAN's two-headed one.
        self.ac = mode == "cgan" and config.cgan_discriminator == "ac"
        self.two_heads = mode == "can" or self.ac
        # Projection conditioning: D(x, y) = sigmoid(psi(phi(x)) + <embed(y), phi(x)>).
        self.projection = mode == "cgan" and config.cgan_discriminator == "projection"
        self.class_w = tf.constant(
            class_weights if class_weights is not None else np.ones(max(n_genres, 1), np.float32)
        )
        real = config.real_label
        self.real_label = real if real is not None else (0.9 if mode == "cgan" else 1.0)
        self.real_density = tf.constant(
            real_density if real_density is not None else np.zeros(N_CLASSES, np.float32)
        )
        no_profile = np.zeros((1, STEPS, N_CLASSES), np.float32)
        self.real_profile = tf.constant(real_profile if real_profile is not None else no_profile)
        c = config
        with strategy.scope():
            self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
            self.epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="epoch")
            self.batch = tf.Variable(0, dtype=tf.int64, trainable=False, name="batch_in_epoch")
            self.g_updates = tf.Variable(0, dtype=tf.int64, trainable=False, name="g_updates")
            self.d_updates = tf.Variable(0, dtype=tf.int64, trainable=False, name="d_updates")
            self.generator: keras.Model | None = None
            self.discriminator: keras.Model | None = None
            self.classifier: keras.Model | None = None
            if mode == "classifier":
                self.classifier = models.build_classifier(
                    n_genres, c.genre_lstm_units, c.genre_dense_units, c.dropout
                )
                self.opt_c = keras.optimizers.Adam(c.lr_classifier)
                self.opt_c.build(self.classifier.trainable_variables)
            else:
                self.generator = models.build_generator(
                    c.z_dim,
                    n_genres if mode == "cgan" else None,
                    c.dense,
                    c.lstm_units,
                    c.dropout,
                    conditioning=c.conditioning,
                    output_head=c.output_head,
                )
                if mode == "gan":
                    self.discriminator = models.build_discriminator(
                        c.d_lstm_units,
                        c.d_dense_units,
                        minibatch_std=c.minibatch_std,
                        flatten=c.rf_flatten,
                    )
                elif self.projection:
                    self.discriminator = models.build_projection_discriminator(
                        n_genres,
                        c.d_lstm_units,
                        c.d_dense_units,
                        minibatch_std=c.minibatch_std,
                        flatten=c.rf_flatten,
                    )
                elif mode == "cgan" and not self.ac:
                    self.discriminator = models.build_conditional_discriminator(
                        n_genres, dense_units=c.d_dense_units
                    )
                else:
                    self.discriminator = models.build_can_discriminator(
                        n_genres,
                        c.d_lstm_units,
                        c.d_dense_units,
                        c.genre_lstm_units,
                        c.genre_dense_units,
                        c.dropout,
                        minibatch_std=c.minibatch_std,
                        flatten=c.rf_flatten,
                    )
                # Views of the discriminator's heads (shared layers, no new variables).
                self.d_real_fake: keras.Model = self.discriminator
                self.d_genre: keras.Model | None = None
                if self.two_heads:
                    d = self.discriminator
                    self.d_real_fake = keras.Model(d.input, d.get_layer("real").output)
                    self.d_genre = keras.Model(d.input, d.get_layer("genre").output)
                self.opt_d = keras.optimizers.Adam(c.lr_d)
                self.opt_g = keras.optimizers.Adam(c.lr_g)
                self.genre_vars: list[Any] = []
                d_vars = self.discriminator.trainable_variables
                if self.d_genre is not None and c.lr_genre is not None:
                    # The genre head gets its own optimizer (recipes.py); the branches share
                    # no variables, so the split is clean.
                    self.genre_vars = [
                        v
                        for layer in self.discriminator.layers
                        if layer.name.startswith("genre")
                        for v in layer.trainable_variables
                    ]
                    ids = {id(v) for v in self.genre_vars}
                    d_vars = [v for v in d_vars if id(v) not in ids]
                    self.opt_genre = keras.optimizers.Adam(c.lr_genre)
                    self.opt_genre.build(self.genre_vars)
                self.d_vars = d_vars
                self.opt_d.build(d_vars)
                self.opt_g.build(self.generator.trainable_variables)
        self.checkpoint = tf.train.Checkpoint(**self._trackables())
        self._d_fn = tf.function(self._distributed(self._d_step))
        self._g_fn = tf.function(self._distributed(self._g_step))
        self._c_fn = tf.function(self._distributed(self._c_step))
        self._eval_fn = tf.function(self._eval_step)

    def _trackables(self) -> dict[str, Any]:
        items: dict[str, Any] = {
            "step": self.step,
            "epoch": self.epoch,
            "batch": self.batch,
            "g_updates": self.g_updates,
            "d_updates": self.d_updates,
        }
        if self.classifier is not None:
            items.update(classifier=self.classifier, classifier_optimizer=self.opt_c)
        else:
            items.update(
                generator=self.generator,
                discriminator=self.discriminator,
                generator_optimizer=self.opt_g,
                discriminator_optimizer=self.opt_d,
            )
            if self.genre_vars:
                items.update(genre_optimizer=self.opt_genre)
        return items

    # -- distribution helpers

    def _distributed(
        self, fn: Callable[..., dict[str, tf.Tensor]]
    ) -> Callable[..., dict[str, tf.Tensor]]:
        import tensorflow as tf

        strategy = self.strategy

        def run(*args: tf.Tensor) -> dict[str, tf.Tensor]:
            per_replica = strategy.run(fn, args=args)
            return {
                k: strategy.reduce(tf.distribute.ReduceOp.SUM, v, axis=None)
                for k, v in per_replica.items()
            }

        return run

    def distribute(self, *arrays: np.ndarray) -> tuple[Any, ...]:
        """Split a global batch across replicas (identity on one device)."""
        import tensorflow as tf

        if self.replicas == 1 and not os.environ.get("TF_CONFIG"):
            return tuple(tf.constant(a) for a in arrays)
        share = arrays[0].shape[0] // self.replicas

        def per_replica(ctx: tf.distribute.InputContext) -> tuple[tf.Tensor, ...]:
            i = ctx.replica_id_in_sync_group
            return tuple(tf.constant(a[i * share : (i + 1) * share]) for a in arrays)

        values = self.strategy.experimental_distribute_values_from_function(per_replica)
        return tuple(values)

    def _avg(self, per_example: tf.Tensor) -> tf.Tensor:
        import tensorflow as tf

        return tf.nn.compute_average_loss(per_example, global_batch_size=self.config.batch_size)

    @staticmethod
    def _reg(model: keras.Model) -> tf.Tensor:
        import tensorflow as tf

        if not model.losses:
            return tf.constant(0.0)
        return tf.nn.scale_regularization_loss(tf.add_n(model.losses))

    def _generate(self, z: tf.Tensor, y: tf.Tensor, training: bool) -> tf.Tensor:
        from rhythmcan_cli.training.beyond import zero_gate

        assert self.generator is not None
        if self.mode == "cgan":
            fake = self.generator([z, y[:, None]], training=training)
        else:
            fake = self.generator(z, training=training)
        return zero_gate(fake, self.config.zero_below) if training else fake

    def _judge(
        self, x: tf.Tensor, y: tf.Tensor, training: bool
    ) -> tuple[tf.Tensor, tf.Tensor | None]:
        """Real/fake probabilities (N, 1) and, with a genre head, genre probabilities (N, K)."""
        assert self.discriminator is not None
        if self.two_heads:
            real, genre = self.discriminator(x, training=training)
            return real, genre
        if self.mode == "cgan":
            return self.discriminator([x, y[:, None]], training=training), None
        return self.discriminator(x, training=training), None

    def _noisy(self, x: tf.Tensor, sigma: tf.Tensor) -> tf.Tensor:
        """Instance noise: ``x`` plus N(0, sigma^2) (recipes.noise_sigma anneals sigma to 0)."""
        import tensorflow as tf

        if self.config.instance_noise <= 0:
            return x
        return x + sigma * tf.random.normal(tf.shape(x))

    # -- steps (run per replica)

    def _d_step(
        self, x: tf.Tensor, y: tf.Tensor, z: tf.Tensor, progress: tf.Tensor
    ) -> dict[str, tf.Tensor]:
        import tensorflow as tf

        from rhythmcan_cli.training import losses

        assert self.discriminator is not None
        c = self.config
        fake = self._generate(z, y, training=True)
        sigma = recipes.noise_sigma(progress, c.instance_noise, c.instance_noise_epochs)
        x_rf, fake_rf = self._noisy(x, sigma), self._noisy(fake, sigma)
        with tf.GradientTape() as tape:
            n = tf.shape(x)[0]
            if self.projection and c.minibatch_std:
                # Batch statistics must come from an all-real or an all-fake batch.
                labels = y[:, None]
                rf_p = tf.concat(
                    [
                        self.discriminator([x_rf, labels], training=True),
                        self.discriminator([fake_rf, labels], training=True),
                    ],
                    axis=0,
                )
            elif self.mode == "cgan" and not self.ac:
                both = tf.concat([x_rf, fake_rf], axis=0)
                labels = tf.concat([y, y], axis=0)[:, None]
                rf_p = self.discriminator([both, labels], training=True)
            elif c.minibatch_std:
                # Batch statistics must come from an all-real or an all-fake batch.
                rf_p = tf.concat(
                    [
                        self.d_real_fake(x_rf, training=True),
                        self.d_real_fake(fake_rf, training=True),
                    ],
                    axis=0,
                )
            else:
                # Real and fake in one pass through the real/fake branch (no BatchNorm or
                # dropout there, so this equals two calls and halves the kernel launches).
                rf_p = self.d_real_fake(tf.concat([x_rf, fake_rf], axis=0), training=True)
            real_p, fake_p = rf_p[:n], rf_p[n:]
            # The genre head sees REAL patterns only (the CAN paper's choice; module docstring),
            # without instance noise: it classifies drumming, it does not judge realism.
            genre_p = self.d_genre(x, training=True) if self.d_genre is not None else None
            rf = losses.binary_crossentropy(real_p, self.real_label) + losses.binary_crossentropy(
                fake_p, 0.0
            )
            out = {"d_real_fake": self._avg(rf)}
            total = out["d_real_fake"]
            if genre_p is not None:
                ce = losses.categorical_crossentropy(y, genre_p)
                if c.class_balanced:
                    ce = ce * tf.gather(self.class_w, y)
                out["d_genre"] = self._avg(ce)
                out["genre_acc"] = self._avg(losses.accuracy(y, genre_p))
                total = total + self.w * out["d_genre"]
            total = total + self._reg(self.discriminator)
        if self.genre_vars:
            grads = tape.gradient(total, [*self.d_vars, *self.genre_vars])
            split = len(self.d_vars)
            self.opt_d.apply_gradients(zip(grads[:split], self.d_vars, strict=True))
            self.opt_genre.apply_gradients(zip(grads[split:], self.genre_vars, strict=True))
        else:
            variables = self.discriminator.trainable_variables
            grads = tape.gradient(total, variables)
            self.opt_d.apply_gradients(zip(grads, variables, strict=True))
        out["d_loss"] = total
        out["d_acc"] = self._avg(
            0.5
            * (
                tf.cast(tf.reshape(real_p, [-1]) > 0.5, tf.float32)
                + tf.cast(tf.reshape(fake_p, [-1]) <= 0.5, tf.float32)
            )
        )
        return out

    def _g_step(self, y: tf.Tensor, z: tf.Tensor, progress: tf.Tensor) -> dict[str, tf.Tensor]:
        import tensorflow as tf

        from rhythmcan_cli.training import beyond, losses

        assert self.generator is not None and self.discriminator is not None
        c = self.config
        sigma = recipes.noise_sigma(progress, c.instance_noise, c.instance_noise_epochs)
        with tf.GradientTape() as tape:
            fake = self._generate(z, y, training=True)
            # D judges with training=False: BatchNorm keeps its real-data statistics and
            # D's variables are simply not in the gradient list (no trainable toggling).
            seen = self._noisy(fake, sigma)
            if self.mode == "cgan" and not self.ac:
                fake_p = self.discriminator([seen, y[:, None]], training=False)
            else:
                fake_p = self.d_real_fake(seen, training=False)
            genre_p = self.d_genre(fake, training=False) if self.d_genre is not None else None
            out = {"g_adversarial": self._avg(losses.binary_crossentropy(fake_p, 1.0))}
            total = out["g_adversarial"]
            if genre_p is not None and self.ac:
                # AC conditioning: G is rewarded when the genre head hears the requested genre.
                ce = losses.categorical_crossentropy(y, genre_p)
                if c.class_balanced:
                    ce = ce * tf.gather(self.class_w, y)
                out["g_class"] = self._avg(ce)
                weight = c.class_weight * recipes.ramp(progress, c.class_ramp_epochs)
                total = total + weight * out["g_class"]
            elif genre_p is not None:
                ambiguity = losses.ambiguity_loss(genre_p)
                if c.ambiguity_realness:  # beyond the paper (beyond.py)
                    ambiguity = ambiguity * beyond.realness_weight(fake_p)
                out["g_ambiguity"] = self._avg(ambiguity)
                weight = self.w * recipes.ramp(progress, c.ambiguity_ramp_epochs)
                total = total + weight * out["g_ambiguity"]
            if c.density_weight > 0:  # beyond the paper (beyond.py)
                out["g_density"] = beyond.density_loss(fake, self.real_density) / self.replicas
                total = total + c.density_weight * out["g_density"]
            if c.profile_weight > 0:  # beyond the paper (beyond.py)
                # One profile per genre (cgan) or one for all (the others: index 0).
                index = y if int(self.real_profile.shape[0]) > 1 else tf.zeros_like(y)
                profile = beyond.profile_loss(fake, self.real_profile, index)
                out["g_profile"] = profile / self.replicas
                total = total + c.profile_weight * out["g_profile"]
            if c.mode_seeking > 0:  # beyond the paper (beyond.py): the same genres, other z
                z_other = tf.roll(z, shift=1, axis=0)
                other = self._generate(z_other, y, training=True)
                seeking = beyond.mode_seeking_loss(fake, other, z, z_other)
                out["g_mode_seeking"] = seeking / self.replicas
                total = total + c.mode_seeking * out["g_mode_seeking"]
        variables = self.generator.trainable_variables
        grads = tape.gradient(total, variables)
        self.opt_g.apply_gradients(zip(grads, variables, strict=True))
        out["g_loss"] = total
        return out

    def _c_step(self, x: tf.Tensor, y: tf.Tensor) -> dict[str, tf.Tensor]:
        import tensorflow as tf

        from rhythmcan_cli.training import losses

        assert self.classifier is not None
        with tf.GradientTape() as tape:
            probs = self.classifier(x, training=True)
            loss = self._avg(losses.categorical_crossentropy(y, probs))
            total = loss + self._reg(self.classifier)
        variables = self.classifier.trainable_variables
        grads = tape.gradient(total, variables)
        self.opt_c.apply_gradients(zip(grads, variables, strict=True))
        return {"loss": total, "acc": self._avg(losses.accuracy(y, probs))}

    def _eval_step(self, x: tf.Tensor, y: tf.Tensor, w: tf.Tensor) -> dict[str, tf.Tensor]:
        """Weighted sums (not means) of validation metrics over one padded batch."""
        import tensorflow as tf

        from rhythmcan_cli.training import losses

        def total(per_example: tf.Tensor) -> tf.Tensor:
            return tf.reduce_sum(per_example * w)

        if self.classifier is not None:
            probs = self.classifier(x, training=False)
            return {
                "val_loss": total(losses.categorical_crossentropy(y, probs)),
                "val_acc": total(losses.accuracy(y, probs)),
            }
        real_p, genre_p = self._judge(x, y, training=False)
        out = {"val_d_real": total(losses.binary_crossentropy(real_p, 1.0))}
        if genre_p is not None:
            out["val_genre_loss"] = total(losses.categorical_crossentropy(y, genre_p))
            out["val_genre_acc"] = total(losses.accuracy(y, genre_p))
        return out

    # -- public steps (global batch in, python floats out)

    def d_step(
        self, x: np.ndarray, y: np.ndarray, z: np.ndarray, progress: float = 0.0
    ) -> dict[str, float]:
        """One discriminator step on a global batch; ``progress``: epochs done (fractional)."""
        import tensorflow as tf

        from rhythmcan_cli.training.beyond import genre_frozen

        if self.genre_vars and genre_frozen(progress, self.config.genre_freeze_epochs):
            self.opt_genre.learning_rate.assign(0.0)  # beyond the paper: a fixed genre head
        result = self._d_fn(*self.distribute(x, y, z), tf.constant(progress, tf.float32))
        self.d_updates.assign_add(1)
        return {k: float(v) for k, v in result.items()}

    def g_step(self, y: np.ndarray, z: np.ndarray, progress: float = 0.0) -> dict[str, float]:
        """One generator step on a global batch of noise (labels used by cgan only)."""
        import tensorflow as tf

        result = self._g_fn(*self.distribute(y, z), tf.constant(progress, tf.float32))
        self.g_updates.assign_add(1)
        return {k: float(v) for k, v in result.items()}

    def c_step(self, x: np.ndarray, y: np.ndarray) -> dict[str, float]:
        """One classifier step on a global batch."""
        return {k: float(v) for k, v in self._c_fn(*self.distribute(x, y)).items()}

    def evaluate(self, x: np.ndarray, y: np.ndarray) -> dict[str, float]:
        """Validation metrics (means over all of x)."""
        import tensorflow as tf

        if len(x) == 0:
            return {}
        sums: dict[str, float] = {}
        size = self.config.batch_size
        with self.strategy.scope():
            for start in range(0, len(x), size):
                # Pad the last chunk to the batch size: one shape, one trace.
                xs, ys = x[start : start + size], y[start : start + size]
                w = np.zeros(size, np.float32)
                w[: len(xs)] = 1.0
                pad = size - len(xs)
                if pad:
                    xs = np.concatenate([xs, np.zeros((pad, *xs.shape[1:]), xs.dtype)])
                    ys = np.concatenate([ys, np.zeros(pad, ys.dtype)])
                part = self._eval_fn(tf.constant(xs), tf.constant(ys), tf.constant(w))
                for key, value in part.items():
                    sums[key] = sums.get(key, 0.0) + float(value)
        return {k: v / len(x) for k, v in sums.items()}
