"""Training: gan, cgan, can (Creative-GAN) and the genre classifier, with checkpoints and resume.

One custom train step per side, compiled with ``tf.function``. The generator's step
computes its loss through the discriminator (called with ``training=False``, so its
BatchNorm uses its moving statistics and its dropout is off) and applies gradients to the
generator's variables only: no ``trainable`` toggling, no ``train_on_batch``.

Deliberate decisions (see docs/training.md):

- The Creative-GAN's genre head is trained on REAL patterns only (the CAN paper), not on
  fakes with the real batch's labels (what the 2020 notebook did by accident).
- z ~ N(0, 0.5^2) in training; cards record ``z_sigma_sample`` = the training sigma unless
  asked otherwise: sampling a 0.5-trained model at 1.0 (the Max for Live device's habit)
  doubled the Creative-GAN's rolls (method.md section 11). Both are recorded.
- Loss-ratio pause: when one side's loss exceeds the other's by ``loss_ratio``, the
  *winning* side (the smaller loss) skips its next step so the losing side catches up.
- Noise and batch order come from numpy generators seeded by (seed, epoch, batch), fed in
  with the data: a resumed run sees exactly the batches an uninterrupted one would, and a
  MirroredStrategy run sees the same inputs as a single device.

A run lives in ``<store root>/runs/<name>/``: ``run.json`` (mode, config, seed, data
fingerprint, the epochs to reach and the command's options, so ``--resume`` continues the run
as it was started), ``checkpoints/`` (tf.train.Checkpoint: models, optimizers, counters),
``metrics.jsonl`` (one JSON object per epoch) and ``tensorboard/`` on request.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from rhythmcan_cli import recipes
from rhythmcan_cli.atomic import atomic_write, output_error
from rhythmcan_cli.backend import load_tensorflow
from rhythmcan_cli.errors import DataError, ModelError, OutputError, StoreError, UsageError
from rhythmcan_cli.grid import DEFAULT_THRESHOLD, N_CLASSES
from rhythmcan_cli.progress import ProgressCallback, report

if TYPE_CHECKING:
    import keras
    import tensorflow as tf

    from rhythmcan_cli.dataset import Dataset

MODES = ("gan", "cgan", "can", "classifier")
STRATEGIES = ("default", "mirrored")
RUN_FILE = "run.json"
METRICS_FILE = "metrics.jsonl"
CLASSIFIER_FILE = "classifier.keras"
GENERATOR_FILES = ("generator/model.json", "generator/group1-shard1of1.bin")


@dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters and sizes of one run. Defaults are the paper's (method.md 3-4)."""

    batch_size: int = 64
    d_steps: int = 3
    """Discriminator steps per generator step."""
    loss_ratio: float = 5.0
    """Pause the winning side for one step when one loss exceeds the other by this ratio."""
    z_dim: int = 100
    z_sigma_train: float = 0.5
    z_sigma_sample: float | None = None
    """z sigma recorded on the card for sampling; None: the training sigma."""
    lr_d: float = 1e-5
    lr_g: float = 1e-4
    lr_classifier: float = 1e-3
    dense: tuple[int, ...] = (512, 1024)
    lstm_units: int = 128
    dropout: float = 0.1
    d_lstm_units: int = 64
    d_dense_units: int = 256
    genre_lstm_units: int = 128
    genre_dense_units: int = 512
    real_label: float | None = None
    """Target for real patterns; None: 0.9 (one-sided smoothing) for cgan, 1.0 otherwise."""
    # Recipe options (rhythmcan_cli/recipes.py says what each does; defaults: the paper's).
    recipe: str = "paper"
    conditioning: str = "multiply"
    cgan_discriminator: str = "label"
    class_weight: float = 0.0
    class_ramp_epochs: float = 0.0
    class_balanced: bool = False
    lr_genre: float | None = None
    ambiguity_ramp_epochs: float = 0.0
    instance_noise: float = 0.0
    instance_noise_epochs: float = 0.0
    minibatch_std: bool = False
    # Beyond the paper (rhythmcan_cli/beyond.py; off in every recipe).
    ambiguity_realness: bool = False
    density_weight: float = 0.0
    genre_freeze_epochs: float = 0.0
    zero_below: float = 0.0
    output_head: str = "lstm"
    validation: float = 0.1
    """Share of files held out for validation (split by file, never by window)."""
    checkpoint_every: int = 5
    """Epochs between checkpoints (0: only at the end and on interruption)."""
    seed: int | None = None
    tensorboard: bool = False
    threshold: float = DEFAULT_THRESHOLD
    description: str = ""
    attribution: str = ""

    def check(self) -> None:
        """Raise UsageError (one line) for values out of range."""
        problems = [
            (self.batch_size >= 1, f"--batch-size must be at least 1, got {self.batch_size}"),
            (self.d_steps >= 1, f"discriminator steps must be at least 1, got {self.d_steps}"),
            (self.loss_ratio > 1.0, f"the loss ratio must be above 1, got {self.loss_ratio}"),
            (self.z_sigma_train > 0 and self.sample_sigma > 0, "z sigma must be positive"),
            (min(self.lr_d, self.lr_g, self.lr_classifier) > 0, "learning rates must be positive"),
            (
                0.0 <= self.validation < 1.0,
                f"--validation must be in [0, 1), got {self.validation}",
            ),
            (self.checkpoint_every >= 0, "--checkpoint-every must be 0 or more"),
            (
                min(
                    self.d_lstm_units,
                    self.d_dense_units,
                    self.genre_lstm_units,
                    self.genre_dense_units,
                    self.lstm_units,
                )
                >= 1,
                "layer sizes must be positive",
            ),
            (0.0 <= self.threshold <= 1.0, f"threshold must be in [0, 1], got {self.threshold}"),
            *recipes.check_options(dataclasses.asdict(self)),
        ]
        for ok, message in problems:
            if not ok:
                raise UsageError(message)
        from rhythmcan_cli.card_schema import check_options

        check_options(  # the card's schema, checked now rather than when the model is saved
            {
                "z_dim": self.z_dim,
                "z_sigma_train": self.z_sigma_train,
                "z_sigma_sample": self.sample_sigma,
                "threshold": self.threshold,
                "description": self.description,
                "attribution": self.attribution,
            }
        )

    @property
    def sample_sigma(self) -> float:
        """The z sigma sampling should use: the recorded one, else the training sigma."""
        return self.z_sigma_train if self.z_sigma_sample is None else self.z_sigma_sample

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (tuples become lists)."""
        return {
            k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()
        }

    @classmethod
    def for_recipe(cls, recipe: str = "paper", **values: Any) -> TrainConfig:
        """The config of a named recipe (recipes.PRESETS), with ``values`` on top of it."""
        return cls(**{**recipes.recipe_values(recipe), "recipe": recipe, **values})

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrainConfig:
        """Inverse of :meth:`to_dict`; unknown keys are ignored (older/newer run files)."""
        names = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in data.items() if k in names}
        if "dense" in values:
            values["dense"] = tuple(values["dense"])
        return cls(**values)


@dataclass
class TrainResult:
    """What a run did: where its model and run folder are, how far it got, its last losses."""

    name: str
    mode: str
    epochs: int
    """Epochs completed (counting those before a resume)."""
    steps: int
    """Batches processed (discriminator or classifier steps), counting those before a resume."""
    interrupted: bool
    run_dir: Path
    model_path: Path | None
    resumed_from_epoch: int | None
    final_losses: dict[str, float]
    device: str
    history: list[dict[str, float]] = field(default_factory=list)

    def resume_hint(self) -> str:
        """The command line that continues this run."""
        return f"rhythmcan train ... --name {self.name} --resume"


# ---------------------------------------------------------------------------- store glue


def run_dir(name: str) -> Path:
    """``<store root>/runs/<name>/`` (the name is validated first)."""
    from rhythmcan_cli import store

    return store.run_path(name)


def _model_exists(name: str) -> bool:
    """True when the user's store (not the bundled defaults) holds a model ``name``."""
    from rhythmcan_cli import store

    return (store.models_dir() / name).exists()


def _lock(name: str) -> contextlib.AbstractContextManager[Any]:
    from rhythmcan_cli import store

    lock = getattr(store, "run_lock", None)
    return lock(name) if callable(lock) else contextlib.nullcontext()


# ---------------------------------------------------------------------------- checks


def check_request(
    mode: str, name: str, epochs: int | None, config: TrainConfig, strategy: str | None
) -> None:
    """Validate everything that needs no data, so bad input fails before a dataset build."""
    from rhythmcan_cli import store

    if mode not in MODES:
        raise UsageError(f"unknown mode {mode!r}: choose one of {', '.join(MODES)}")
    if strategy is not None and strategy not in STRATEGIES:
        raise UsageError(f"unknown strategy {strategy!r}: choose one of {', '.join(STRATEGIES)}")
    if epochs is not None and epochs < 1:
        raise UsageError(f"--epochs must be at least 1, got {epochs}")
    config.check()
    store.validate_name(name)
    if config.dense and config.dense[-1] % 32:
        raise UsageError(f"the last dense size must be a multiple of 32, got {config.dense[-1]}")


def check_data(data: Dataset, mode: str) -> None:
    """Refuse datasets training cannot use: no windows, or fewer than 2 genres where needed."""
    if len(data.x) == 0:
        raise DataError(
            "the dataset has no usable 2-bar windows: check the folder, --channel and --min-onsets"
        )
    if mode in ("cgan", "can", "classifier") and len(data.genres) < 2:
        found = data.genres[0] if data.genres else "none"
        raise DataError(
            f"mode {mode!r} needs at least 2 genres, found 1 ({found}): use sub-folders per genre "
            "or --labels, or train --mode gan"
        )


# ---------------------------------------------------------------------------- strategy


def make_strategy(kind: str | None) -> tf.distribute.Strategy:
    """``default``: one device (a GPU when TensorFlow sees one); ``mirrored``: data-parallel.

    ``mirrored`` uses MultiWorkerMirroredStrategy when ``TF_CONFIG`` is set (a cluster),
    MirroredStrategy over all visible GPUs (or the CPU) otherwise.
    """
    import tensorflow as tf

    if kind in (None, "default"):
        return tf.distribute.get_strategy()
    if kind != "mirrored":
        raise UsageError(f"unknown strategy {kind!r}: choose one of {', '.join(STRATEGIES)}")
    if os.environ.get("TF_CONFIG"):
        return tf.distribute.MultiWorkerMirroredStrategy()
    gpus = tf.config.list_logical_devices("GPU")
    if gpus:
        return tf.distribute.MirroredStrategy([d.name for d in gpus])
    cpus = tf.config.list_logical_devices("CPU")
    return tf.distribute.MirroredStrategy([d.name for d in cpus])


def _is_chief() -> bool:
    """True unless this process is a non-chief worker of a TF_CONFIG cluster."""
    raw = os.environ.get("TF_CONFIG")
    if not raw:
        return True
    task = json.loads(raw).get("task", {})
    cluster = json.loads(raw).get("cluster", {})
    if task.get("type") == "chief":
        return True
    return (
        "chief" not in cluster and task.get("type") == "worker" and int(task.get("index", 0)) == 0
    )


# ---------------------------------------------------------------------------- the trainer


class _Trainer:
    """Models, optimizers and the compiled steps of one mode under one strategy."""

    def __init__(
        self,
        mode: str,
        n_genres: int,
        config: TrainConfig,
        strategy: tf.distribute.Strategy,
        class_weights: np.ndarray | None = None,
        real_density: np.ndarray | None = None,
    ) -> None:
        import keras
        import tensorflow as tf

        from rhythmcan_cli import losses, models

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
        self.class_w = tf.constant(
            class_weights if class_weights is not None else np.ones(max(n_genres, 1), np.float32)
        )
        real = config.real_label
        self.real_label = real if real is not None else (0.9 if mode == "cgan" else 1.0)
        self.real_density = tf.constant(
            real_density if real_density is not None else np.zeros(N_CLASSES, np.float32)
        )
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
                        c.d_lstm_units, c.d_dense_units, minibatch_std=c.minibatch_std
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
        from rhythmcan_cli.beyond import zero_gate

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

        from rhythmcan_cli import losses

        assert self.discriminator is not None
        c = self.config
        fake = self._generate(z, y, training=True)
        sigma = recipes.noise_sigma(progress, c.instance_noise, c.instance_noise_epochs)
        x_rf, fake_rf = self._noisy(x, sigma), self._noisy(fake, sigma)
        with tf.GradientTape() as tape:
            n = tf.shape(x)[0]
            if self.mode == "cgan" and not self.ac:
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

        from rhythmcan_cli import beyond, losses

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
        variables = self.generator.trainable_variables
        grads = tape.gradient(total, variables)
        self.opt_g.apply_gradients(zip(grads, variables, strict=True))
        out["g_loss"] = total
        return out

    def _c_step(self, x: tf.Tensor, y: tf.Tensor) -> dict[str, tf.Tensor]:
        import tensorflow as tf

        from rhythmcan_cli import losses

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

        from rhythmcan_cli import losses

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

        from rhythmcan_cli.beyond import genre_frozen

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


# ---------------------------------------------------------------------------- batches


def _batch_rng(seed: int, epoch: int, batch: int) -> np.random.Generator:
    return np.random.default_rng([seed, epoch, batch])


def _epoch_order(seed: int, epoch: int, n: int) -> npt.NDArray[np.int64]:
    return np.random.default_rng([seed, epoch, 2**31]).permutation(n)


def _batches_per_epoch(n: int, batch_size: int) -> int:
    return max(1, n // batch_size)


# ---------------------------------------------------------------------------- run folder


def read_run(name: str) -> dict[str, Any] | None:
    """The run record (``run.json``) of the run ``name``, or None when there is no such run.

    Holds ``mode``, ``seed``, ``config``, ``epochs`` (the target) and ``command`` (the options
    the run was started with): what ``--resume`` continues.
    """
    from rhythmcan_cli import store

    store.validate_name(name)
    folder = run_dir(name)
    if not (folder / RUN_FILE).exists():
        return None
    return _read_run(folder)


def _read_run(path: Path) -> dict[str, Any]:
    try:
        data: dict[str, Any] = json.loads((path / RUN_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ModelError(f"cannot read the run record {path / RUN_FILE}: {error}") from error
    return data


def _trim_metrics(path: Path, epoch: int) -> list[dict[str, float]]:
    """Keep only metric lines up to ``epoch`` (a checkpoint may be older than the log)."""
    file = path / METRICS_FILE
    if not file.exists():
        return []
    kept = []
    for line in file.read_text(encoding="utf-8").splitlines():
        with contextlib.suppress(ValueError):
            record = json.loads(line)
            if int(record.get("epoch", 0)) <= epoch:
                kept.append(record)
    atomic_write(file, "".join(json.dumps(r) + "\n" for r in kept))
    return kept


def _split(data: Dataset, validation: float, seed: int) -> tuple[Dataset, Dataset | None]:
    """Hold out whole files for validation (windows overlap, so never split by window)."""
    if validation <= 0:
        return data, None
    from rhythmcan_cli.dataset import split_by_file

    train_part, val_part = split_by_file(data, validation=validation, seed=seed)
    if len(val_part.x) == 0 or len(train_part.x) == 0:
        return data, None
    return train_part, val_part


def _device() -> str:
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    return f"{len(gpus)} GPU" if gpus else "CPU"


def _seed_everything(seed: int) -> None:
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    with contextlib.suppress(Exception):
        tf.config.experimental.enable_op_determinism()


# ---------------------------------------------------------------------------- saving


def _model_files(trainer: _Trainer, tmp: Path) -> dict[str, Path]:
    """Write the trained model's files into ``tmp``; return store-relative name -> path."""
    if trainer.classifier is not None:
        path = tmp / CLASSIFIER_FILE
        trainer.classifier.save(path)
        return {CLASSIFIER_FILE: path}
    from rhythmcan_cli import keras_io, layers

    assert trainer.generator is not None
    written = layers.write_layers_model(
        keras_io.to_layers_model(trainer.generator), tmp / "generator"
    )
    return {f"generator/{p.name}": p for p in written}


def _save_to_store(
    trainer: _Trainer,
    name: str,
    mode: str,
    data: Dataset,
    epochs: int,
    final: dict[str, float],
    seed: int,
    force: bool,
) -> Path:
    from rhythmcan_cli import grid, store

    config = trainer.config
    with tempfile.TemporaryDirectory(prefix="rhythmcan-model-") as tmp:
        files = _model_files(trainer, Path(tmp))
        card = store.ModelCard(
            name=name,
            kind=mode,
            genres=list(data.genres),
            class_names=[c.name for c in grid.VOCABULARY],
            output_pitches=list(grid.OUTPUT_PITCHES),
            steps=grid.STEPS,
            z_dim=config.z_dim,
            z_sigma_train=config.z_sigma_train,
            z_sigma_sample=config.sample_sigma,
            threshold=config.threshold,
            data_fingerprint=data.fingerprint,
            epochs=epochs,
            final_losses=final,
            versions=store.package_versions(),
            created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
            description=config.description
            or f"{mode} trained by rhythmcan on {len(data.x)} patterns",
            attribution=config.attribution,
            training=_training_record(config, seed),
            files={},
        )
        return Path(store.save_model(name, card, files, force=force))


def _training_record(config: TrainConfig, seed: int) -> dict[str, Any]:
    """The card's ``training`` field: the options that shaped the model, and its seed."""
    record = asdict(config)
    for key in ("description", "attribution", "tensorboard", "checkpoint_every"):
        record.pop(key, None)
    record["seed"] = seed
    record["dense"] = list(config.dense)
    record["z_sigma_sample"] = config.sample_sigma
    return record


# ---------------------------------------------------------------------------- train()


def train(
    dataset: Dataset,
    *,
    mode: str,
    name: str,
    epochs: int | None,
    config: TrainConfig | None = None,
    resume: bool = False,
    force: bool = False,
    strategy: str | tf.distribute.Strategy | None = None,
    progress: ProgressCallback | None = None,
    stop: threading.Event | None = None,
    command: Mapping[str, Any] | None = None,
) -> TrainResult:
    """Train ``mode`` on ``dataset`` for (up to) ``epochs`` epochs and store the model as ``name``.

    ``resume`` continues the run folder's last checkpoint (models, optimizers, counters);
    ``epochs`` is the total to reach: on resume, None keeps the target the run recorded and
    a number replaces it (extends the run). ``command`` (JSON-ready options of the command
    that started the run) is kept in ``run.json`` for :func:`read_run`. ``stop`` set from
    another thread (Ctrl-C) finishes the current step, checkpoints and returns with
    ``interrupted=True`` and no model stored.
    """
    load_tensorflow()
    config = config or TrainConfig()
    check_request(mode, name, epochs, config, strategy if isinstance(strategy, str) else None)
    check_data(dataset, mode)
    folder = run_dir(name)
    if not resume and not force and _model_exists(name):
        raise StoreError(f"a model named {name!r} exists: choose another --name or add --force")
    try:
        with _lock(name):
            return _train_locked(
                dataset,
                mode,
                name,
                epochs,
                config,
                resume,
                force,
                strategy,
                progress,
                stop,
                folder,
                command,
            )
    finally:
        _discard_empty_run(folder)


def _discard_empty_run(folder: Path) -> None:
    """Remove a run folder that holds nothing but the lock file (a refused start)."""
    with contextlib.suppress(OSError):
        if folder.is_dir() and {p.name for p in folder.iterdir()} <= {".lock"}:
            shutil.rmtree(folder)


def _prepare_folder(
    folder: Path,
    mode: str,
    name: str,
    config: TrainConfig,
    data: Dataset,
    resume: bool,
    force: bool,
    epochs: int | None,
    command: Mapping[str, Any] | None,
) -> tuple[TrainConfig, int, int]:
    """Create, reuse or refuse the run folder. Returns the run's config, seed and epochs."""
    exists = (folder / RUN_FILE).exists()
    if resume:
        if not exists:
            raise UsageError(f"no run named {name!r} to resume: start it without --resume")
        record = _read_run(folder)
        if record.get("mode") != mode:
            raise UsageError(
                f"run {name!r} was started with --mode {record.get('mode')}, not {mode}"
            )
        if record.get("data_fingerprint") != data.fingerprint:
            raise DataError(
                f"run {name!r} was trained on different data: resume with the same data and "
                "options, or start over with --force"
            )
        # Sizes and hyper-parameters come from the run; the batch size and loop options too.
        saved = TrainConfig.from_dict(record.get("config", {}))
        merged = dataclasses.replace(
            saved, checkpoint_every=config.checkpoint_every, tensorboard=config.tensorboard
        )
        target = epochs if epochs is not None else record.get("epochs")
        if not isinstance(target, int) or isinstance(target, bool) or target < 1:
            raise UsageError(
                f"run {name!r} does not record how many epochs it was started for: "
                "resume with --epochs N"
            )
        if target != record.get("epochs"):  # --epochs N --resume extends the run
            record["epochs"] = target
            atomic_write(folder / RUN_FILE, json.dumps(record, indent=2) + "\n")
        return merged, int(record["seed"]), target
    if exists and not force:
        raise StoreError(
            f"a run named {name!r} exists in {folder}: add --resume to continue it or --force to "
            "start over"
        )
    if epochs is None:
        raise UsageError("--epochs is needed to start a run")
    folder.mkdir(parents=True, exist_ok=True)
    _clear_run(folder)  # start over
    seed = config.seed if config.seed is not None else int(np.random.default_rng().integers(2**31))
    record = {
        "name": name,
        "mode": mode,
        "seed": seed,
        "config": config.to_dict(),
        "data_fingerprint": data.fingerprint,
        "genres": list(data.genres),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "epochs": epochs,
        "command": dict(command or {}),
    }
    atomic_write(folder / RUN_FILE, json.dumps(record, indent=2) + "\n")
    return config, seed, epochs


def _train_locked(
    dataset: Dataset,
    mode: str,
    name: str,
    epochs: int | None,
    config: TrainConfig,
    resume: bool,
    force: bool,
    strategy: str | tf.distribute.Strategy | None,
    progress: ProgressCallback | None,
    stop: threading.Event | None,
    folder: Path,
    command: Mapping[str, Any] | None,
) -> TrainResult:
    config, seed, target = _prepare_folder(
        folder, mode, name, config, dataset, resume, force, epochs, command
    )
    try:
        return _run(
            dataset, mode, name, target, config, seed, resume, strategy, progress, stop, folder
        )
    except BaseException:
        if not resume and not (folder / "checkpoints" / "checkpoint").exists():
            _clear_run(folder)  # a start that failed before its first checkpoint leaves nothing
        raise


def _clear_run(folder: Path) -> None:
    """Delete a run folder's contents except the lock file its holder still has open."""
    for item in folder.iterdir():
        if item.name != ".lock":
            shutil.rmtree(item) if item.is_dir() else item.unlink()


def _run(
    dataset: Dataset,
    mode: str,
    name: str,
    epochs: int,
    config: TrainConfig,
    seed: int,
    resume: bool,
    strategy: str | tf.distribute.Strategy | None,
    progress: ProgressCallback | None,
    stop: threading.Event | None,
    folder: Path,
) -> TrainResult:
    import tensorflow as tf

    from rhythmcan_cli import beyond

    _seed_everything(seed)
    strat = (
        strategy
        if strategy is not None and not isinstance(strategy, str)
        else make_strategy(strategy)
    )
    chief = _is_chief()
    train_data, val_data = _split(dataset, config.validation, seed)
    trainer = _Trainer(
        mode,
        len(dataset.genres),
        config,
        strat,
        recipes.class_weights(train_data.y, len(dataset.genres)),
        beyond.real_density(train_data.x) if config.density_weight > 0 else None,
    )
    ckpt_dir = (
        folder / "checkpoints" if chief else Path(tempfile.mkdtemp(prefix="rhythmcan-worker-"))
    )
    manager = tf.train.CheckpointManager(trainer.checkpoint, str(ckpt_dir), max_to_keep=2)
    resumed_from: int | None = None
    history: list[dict[str, float]] = []
    if resume:
        if manager.latest_checkpoint is None:
            raise ModelError(f"run {name!r} has no checkpoint yet: start it again with --force")
        trainer.checkpoint.restore(manager.latest_checkpoint).assert_existing_objects_matched()
        resumed_from = int(trainer.epoch.numpy())
        history = _trim_metrics(folder, resumed_from)
    writer = (
        tf.summary.create_file_writer(str(folder / "tensorboard"))
        if config.tensorboard and chief
        else None
    )

    loop = _Loop(
        trainer, train_data, val_data, seed, epochs, progress, stop, folder, manager, writer, chief
    )
    history += loop.run()
    final = history[-1] if history else {}
    final_losses = {k: float(v) for k, v in final.items() if k not in ("epoch", "steps", "seconds")}
    model_path = None
    if not loop.interrupted and chief:
        model_path = _save_to_store(
            trainer, name, mode, dataset, int(trainer.epoch.numpy()), final_losses, seed, force=True
        )
    return TrainResult(
        name=name,
        mode=mode,
        epochs=int(trainer.epoch.numpy()),
        steps=int(trainer.step.numpy()),
        interrupted=loop.interrupted,
        run_dir=folder,
        model_path=model_path,
        resumed_from_epoch=resumed_from,
        final_losses=final_losses,
        device=_device(),
        history=history,
    )


class _Loop:
    """The epoch/batch loop: pause logic, metrics, checkpoints, progress and stop requests."""

    def __init__(
        self,
        trainer: _Trainer,
        data: Dataset,
        val: Dataset | None,
        seed: int,
        epochs: int,
        progress: ProgressCallback | None,
        stop: threading.Event | None,
        folder: Path,
        manager: tf.train.CheckpointManager,
        writer: Any,
        chief: bool,
    ) -> None:
        self.t = trainer
        self.data = data
        self.val = val
        self.seed = seed
        self.epochs = epochs
        self.progress = progress
        self.stop = stop
        self.folder = folder
        self.manager = manager
        self.writer = writer
        self.chief = chief
        self.interrupted = False
        self.batch_size = min(trainer.config.batch_size, len(data.x))
        if self.batch_size % trainer.replicas:
            self.batch_size -= self.batch_size % trainer.replicas
        if self.batch_size != trainer.config.batch_size:
            trainer.config = dataclasses.replace(trainer.config, batch_size=self.batch_size)
        self.per_epoch = _batches_per_epoch(len(data.x), self.batch_size)

    def _batch(self, epoch: int, index: int, order: np.ndarray) -> tuple[np.ndarray, ...]:
        c = self.t.config
        rows = order[index * self.batch_size : (index + 1) * self.batch_size]
        rng = _batch_rng(self.seed, epoch, index)
        z = (rng.standard_normal((2, self.batch_size, c.z_dim)) * c.z_sigma_train).astype(
            np.float32
        )
        return self.data.x[rows], self.data.y[rows].astype(np.int32), z[0], z[1]

    def _save(self) -> None:
        """Save a checkpoint; a full or read-only disk is one OutputError naming the folder."""
        import tensorflow as tf

        try:
            self.manager.save(checkpoint_number=int(self.t.step.numpy()))
        except (tf.errors.OpError, OSError) as error:
            where = Path(self.manager.directory)
            if isinstance(error, OSError):
                raise output_error(where, error) from None
            # TensorFlow says '{{function_node ...}} PATH; No space left on device [Op:SaveV2]'
            cause = str(error.message).rsplit("; ", 1)[-1].split(" [Op:", 1)[0].strip()
            raise OutputError(f"cannot write a checkpoint in {where}: {cause}") from None

    def run(self) -> list[dict[str, float]]:
        """Train until ``epochs`` epochs are done or ``stop`` is set; return new epoch records."""
        t = self.t
        records: list[dict[str, float]] = []
        total = self.epochs * self.per_epoch
        pause_d = pause_g = False
        while int(t.epoch.numpy()) < self.epochs:
            epoch = int(t.epoch.numpy())
            order = _epoch_order(self.seed, epoch, len(self.data.x))
            sums: dict[str, float] = {}
            counts: dict[str, int] = {}
            started = time.perf_counter()
            first = int(t.batch.numpy())
            last_g: dict[str, float] = {}
            for index in range(first, self.per_epoch):
                x, y, z_d, z_g = self._batch(epoch, index, order)
                step_metrics: dict[str, float] = {}
                if t.mode == "classifier":
                    step_metrics = t.c_step(x, y)
                else:
                    if pause_d:
                        pause_d = False
                    else:
                        step_metrics.update(t.d_step(x, y, z_d, epoch + index / self.per_epoch))
                    if (int(t.step.numpy()) + 1) % t.config.d_steps == 0:
                        if pause_g:
                            pause_g = False
                        else:
                            last_g = t.g_step(y, z_g, epoch + index / self.per_epoch)
                            step_metrics.update(last_g)
                    d_loss = step_metrics.get("d_loss")
                    g_loss = last_g.get("g_loss")
                    if d_loss is not None and g_loss is not None:
                        pause_g = d_loss > t.config.loss_ratio * g_loss
                        pause_d = g_loss > t.config.loss_ratio * d_loss
                for key, value in step_metrics.items():
                    sums[key] = sums.get(key, 0.0) + value
                    counts[key] = counts.get(key, 0) + 1
                t.step.assign_add(1)
                t.batch.assign(index + 1)
                done = epoch * self.per_epoch + index + 1
                rate = (index + 1 - first) / max(time.perf_counter() - started, 1e-9)
                info: dict[str, float | str] = {"epoch": f"{epoch + 1}/{self.epochs}"}
                for key in ("d_loss", "g_loss", "genre_acc", "loss", "acc"):
                    if key in sums:
                        info[key.replace("_loss", "")] = sums[key] / counts[key]
                info["steps/s"] = rate
                report(self.progress, "train", done, total, **info)
                if self.stop is not None and self.stop.is_set():
                    self.interrupted = True
                    self._save()
                    return records
            record: dict[str, float] = {"epoch": float(epoch + 1), "steps": float(t.step.numpy())}
            record.update({k: sums[k] / counts[k] for k in sums})
            if self.val is not None:
                record.update(t.evaluate(self.val.x, self.val.y.astype(np.int32)))
            record["seconds"] = time.perf_counter() - started
            t.epoch.assign(epoch + 1)
            t.batch.assign(0)
            records.append(record)
            if self.chief:
                line = json.dumps({k: _json_number(v) for k, v in record.items()}) + "\n"
                try:
                    with (self.folder / METRICS_FILE).open("a", encoding="utf-8") as log:
                        log.write(line)
                except OSError as error:
                    raise output_error(self.folder / METRICS_FILE, error) from None
            self._tensorboard(record)
            every = t.config.checkpoint_every
            if (every and (epoch + 1) % every == 0) or epoch + 1 == self.epochs:
                self._save()
        return records

    def _tensorboard(self, record: Mapping[str, float]) -> None:
        if self.writer is None:
            return
        import tensorflow as tf
        from tensorflow.core.framework import summary_pb2

        # What tensorboard's own tf.summary.scalar writes, without needing the tensorboard
        # package (tensorflow-cpu does not bring it): a float tensor tagged for "scalars".
        metadata = summary_pb2.SummaryMetadata()
        metadata.plugin_data.plugin_name = "scalars"
        with self.writer.as_default():
            for key, value in record.items():
                if key != "epoch":
                    tf.summary.write(
                        key,
                        tf.constant(value, tf.float32),
                        step=int(record["epoch"]),
                        metadata=metadata.SerializeToString(),
                    )
        self.writer.flush()


def _json_number(value: float) -> float | int | None:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return (
        int(value)
        if isinstance(value, float) and value.is_integer() and abs(value) < 2**53
        else value
    )


# ---------------------------------------------------------------------------- classifier API


def train_classifier(
    dataset: Dataset,
    epochs: int = 20,
    *,
    config: TrainConfig | None = None,
    progress: ProgressCallback | None = None,
    stop: threading.Event | None = None,
) -> keras.Model:
    """Train an independent genre classifier in memory (no store, no run folder); return it.

    For evaluation: ``model(x)`` gives (N, K) genre probabilities in ``dataset.genres`` order.
    """
    load_tensorflow()
    import tensorflow as tf

    config = config or TrainConfig()
    config.check()
    if epochs < 1:
        raise UsageError(f"epochs must be at least 1, got {epochs}")
    check_data(dataset, "classifier")
    seed = config.seed if config.seed is not None else 0
    _seed_everything(seed)
    trainer = _Trainer("classifier", len(dataset.genres), config, tf.distribute.get_strategy())
    with tempfile.TemporaryDirectory(prefix="rhythmcan-classifier-") as tmp:
        manager = tf.train.CheckpointManager(trainer.checkpoint, tmp, max_to_keep=1)
        train_part, val_part = _split(dataset, config.validation, seed)
        _Loop(
            trainer,
            train_part,
            val_part,
            seed,
            epochs,
            progress,
            stop,
            Path(tmp),
            manager,
            None,
            False,
        ).run()
    assert trainer.classifier is not None
    return trainer.classifier


def load_classifier(stored_model: Any) -> keras.Model:
    """Load a stored classifier (``store.StoredModel`` of kind "classifier"), safe mode on."""
    load_tensorflow()
    import keras

    card = stored_model.card
    if getattr(card, "kind", None) != "classifier":
        raise ModelError(f"model {card.name!r} is a {card.kind}, not a genre classifier")
    path = Path(stored_model.path) / CLASSIFIER_FILE
    if not path.is_file():
        raise ModelError(f"classifier file missing: {path}")
    try:
        model: keras.Model = keras.models.load_model(path, safe_mode=True, compile=False)
    except (ValueError, TypeError, KeyError, OSError) as error:
        # safe_mode refuses Lambda layers and unknown classes with a ValueError.
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ModelError(f"cannot load classifier {path}: {first[:200]}") from None
    return model


def iter_metrics(name: str) -> Iterator[dict[str, Any]]:
    """The epoch records of run ``name`` from its metrics.jsonl (empty when none)."""
    file = run_dir(name) / METRICS_FILE
    if not file.exists():
        return
    for line in file.read_text(encoding="utf-8").splitlines():
        with contextlib.suppress(ValueError):
            yield json.loads(line)


__all__: Sequence[str] = (
    "MODES",
    "TrainConfig",
    "TrainResult",
    "check_data",
    "check_request",
    "load_classifier",
    "make_strategy",
    "read_run",
    "run_dir",
    "train",
    "train_classifier",
)


def train_from_folder(
    data_dir: Path,
    *,
    dataset_options: Mapping[str, Any] | None = None,
    mode: str,
    name: str,
    epochs: int | None,
    config: TrainConfig | None = None,
    resume: bool = False,
    force: bool = False,
    strategy: str | None = None,
    progress: ProgressCallback | None = None,
    stop: threading.Event | None = None,
    command: Mapping[str, Any] | None = None,
) -> TrainResult:
    """Build (or reuse the cached) dataset of ``data_dir`` and :func:`train` on it.

    ``dataset_options`` are ``build_dataset`` keywords (labels_csv, where, hop...). Options
    and the name are checked before the dataset is built, so bad input fails fast.
    """
    from rhythmcan_cli.dataset import build_dataset

    config = config or TrainConfig()
    check_request(mode, name, epochs, config, strategy)
    if not resume and not force and _model_exists(name):
        raise StoreError(f"a model named {name!r} exists: choose another --name or add --force")
    dataset = build_dataset(Path(data_dir), progress=progress, **dict(dataset_options or {}))
    return train(
        dataset,
        mode=mode,
        name=name,
        epochs=epochs,
        config=config,
        resume=resume,
        force=force,
        strategy=strategy,
        progress=progress,
        stop=stop,
        command=command,
    )
