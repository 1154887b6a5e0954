"""Training recipes: the paper's configuration and the changes tried against its failures.

A recipe is a named set of ``TrainConfig`` values. ``paper`` is the ICCC 2020 configuration
as method.md sections 3-4 give it (every option below off); ``tuned`` switches on the changes
issue 13 asks for, each of which is also a training option of its own, recorded on the card
(``card.training``) so every model says how it was made:

- **AC conditioning** (cgan): the generator takes its genre as a unit-scale embedding
  concatenated with z (``conditioning="concat"``; multiplying z by an embedding at Keras'
  default init shrank G's input ~35x and only changed z's variance); the discriminator is the
  Creative-GAN's two-branch one (``cgan_discriminator="ac"``): a real/fake branch that never
  sees the label and a genre head trained on REAL patterns only; the generator's loss adds
  ``class_weight * CE(requested genre, genre head(G(z, genre)))``, ramped in over
  ``class_ramp_epochs`` so realism forms first. (The paper's label-concatenating
  discriminator never learned to use the label: method.md section 11.)
- **Projection discriminator** (cgan, ``cgan_discriminator="projection"``, in no preset): the
  alternative to AC if AC exaggerates genre cues (Miyato & Koyama 2018; the label enters D
  only as an inner product with the real/fake branch's features, there is no genre head).
- **Class-balanced genre head** (``class_balanced``): its CE is weighted by the inverse
  frequency of each genre in the training data (rock is 34 % of Groove windows, soul 3 %).
- **Its own optimizer** (``lr_genre``): the genre head learns at its own rate instead of D's.
- **Ambiguity ramp** (can, ``ambiguity_ramp_epochs``): the genre-ambiguity weight grows
  linearly from 0, so G first learns drumming, then to blur genres (the rolls looked like G
  dodging the genre head with off-manifold patterns early on).
- **Two-timescale learning rates and fewer D steps** (``lr_d``, ``d_steps``): the real/fake
  branch at Adam 1e-5 against G at 1e-4 was the weak side.
- **One-sided label smoothing** (``real_label`` 0.9) and **annealed instance noise**
  (``instance_noise``: Gaussian noise of that sigma on every pattern D sees, falling linearly
  to 0 over ``instance_noise_epochs``).
- **Minibatch standard deviation** (``minibatch_std``): the real/fake branch also reads the
  batch's mean per-cell standard deviation as an extra input channel, so a batch of one
  repeated roll looks unlike a real batch (ProGAN's remedy for mode collapse).

None of these is beyond the paper's *ideas*; the weights of the two heads' losses and the
ramps are this project's choices. The options that ARE beyond the paper (realness-weighted
ambiguity, per-drum density matching, a frozen genre head, exact zeros, a dense output head)
live in ``rhythmcan_cli/training/beyond.py``; every preset leaves them off.

This module holds the presets and the small pieces of maths the train step uses (ramps,
class weights, the minibatch-stddev layer); TensorFlow is imported inside functions.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import numpy.typing as npt

from rhythmcan_cli.errors import UsageError
from rhythmcan_cli.training.beyond import check_beyond

if TYPE_CHECKING:
    import keras
    import tensorflow as tf

RECIPES: Final = ("paper", "tuned")
"""Named recipes for ``train --recipe``; ``paper`` reproduces the ICCC 2020 configuration."""

PAPER: Final[dict[str, Any]] = {
    "d_steps": 3,
    "lr_d": 1e-5,
    "lr_g": 1e-4,
    "real_label": None,
    "conditioning": "multiply",
    "cgan_discriminator": "label",
    "class_weight": 0.0,
    "class_ramp_epochs": 0.0,
    "class_balanced": False,
    "lr_genre": None,
    "ambiguity_ramp_epochs": 0.0,
    "instance_noise": 0.0,
    "instance_noise_epochs": 0.0,
    "minibatch_std": False,
    # Beyond the paper (docs/training.md "Beyond the paper"; ``beyond.py``): off in every preset.
    "ambiguity_realness": False,
    "density_weight": 0.0,
    "genre_freeze_epochs": 0.0,
    "zero_below": 0.0,
    "output_head": "lstm",
    "rf_flatten": False,
    "profile_weight": 0.0,
    "mode_seeking": 0.0,
}
"""The paper's values of every recipe option (method.md sections 3-4)."""

TUNED: Final[dict[str, Any]] = {
    **PAPER,
    "d_steps": 1,
    "lr_d": 1e-4,
    "lr_g": 1e-4,
    "real_label": 0.9,
    "conditioning": "concat",
    "cgan_discriminator": "ac",
    "class_weight": 1.0,
    "class_ramp_epochs": 2.0,
    "class_balanced": True,
    "lr_genre": 1e-3,
    "ambiguity_ramp_epochs": 5.0,
    "instance_noise": 0.1,
    "instance_noise_epochs": 10.0,
    "minibatch_std": True,
}
"""Every change of issue 13 switched on (see the module docstring)."""

PRESETS: Final[Mapping[str, Mapping[str, Any]]] = {"paper": PAPER, "tuned": TUNED}
CGAN_DISCRIMINATORS: Final = ("label", "ac", "projection")
"""The conditional GAN's discriminators: ``label`` (the 2019 notebook: the embedded label
concatenated with the pattern), ``ac`` (the Creative-GAN's two-headed one; G gets a CE toward
the requested genre) and ``projection`` (Miyato & Koyama 2018: the real/fake branch's
features projected onto a learnt genre embedding, ``networks.build_projection_discriminator``;
off in every preset)."""


def recipe_values(recipe: str) -> dict[str, Any]:
    """The TrainConfig values of a named recipe; UsageError names the choices."""
    if recipe not in PRESETS:
        raise UsageError(f"unknown --recipe {recipe!r}: choose one of {', '.join(RECIPES)}")
    return dict(PRESETS[recipe])


_FLAGS: Final = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}


def parse_options(items: list[str] | tuple[str, ...] | None) -> dict[str, Any]:
    """``KEY=VALUE`` strings (``train --option``) -> recipe option values, typed like PAPER's.

    Keys are the recipe options (``PAPER``'s keys, dashes allowed for underscores); booleans
    take true/false/yes/no/1/0, ``lr_genre`` and ``real_label`` also take ``none``.
    """
    out: dict[str, Any] = {}
    for item in items or ():
        key, sep, text = item.partition("=")
        key = key.strip().replace("-", "_")
        text = text.strip()
        if not sep or key not in PAPER:
            raise UsageError(
                f"--option takes KEY=VALUE with KEY one of {', '.join(sorted(PAPER))}; got {item!r}"
            )
        current = PAPER[key]
        try:
            if text.lower() == "none" and key in ("lr_genre", "real_label"):
                out[key] = None
            elif isinstance(current, bool):
                out[key] = _FLAGS[text.lower()]
            elif isinstance(current, int):
                out[key] = int(text)
            elif isinstance(current, str):
                out[key] = text
            else:
                out[key] = float(text)
        except (KeyError, ValueError):
            raise UsageError(f"--option {key}: cannot read {text!r} as a value") from None
    return out


def check_options(values: Mapping[str, Any]) -> list[tuple[bool, str]]:
    """(ok, message) pairs for the recipe options of a config (TrainConfig.check adds them)."""
    from rhythmcan_cli.training.networks import CONDITIONINGS

    lr_genre = values.get("lr_genre")
    return [
        (
            values.get("conditioning") in CONDITIONINGS,
            f"--conditioning must be one of {', '.join(CONDITIONINGS)}",
        ),
        (
            values.get("cgan_discriminator") in CGAN_DISCRIMINATORS,
            f"--cgan-discriminator must be one of {', '.join(CGAN_DISCRIMINATORS)}",
        ),
        (
            min(
                values.get("class_weight", 0.0),
                values.get("class_ramp_epochs", 0.0),
                values.get("ambiguity_ramp_epochs", 0.0),
                values.get("instance_noise", 0.0),
                values.get("instance_noise_epochs", 0.0),
            )
            >= 0.0,
            "class weight, ramps and instance noise must be 0 or more",
        ),
        (lr_genre is None or lr_genre > 0, "--lr-genre must be positive"),
        *check_beyond(values),
    ]


def ramp(progress: tf.Tensor, epochs: float) -> tf.Tensor:
    """Linear ramp 0 -> 1 over ``epochs`` epochs of training (1 throughout when ``epochs`` is 0).

    ``progress`` is the fractional epoch count (a float32 scalar tensor) so the compiled step
    is traced once and the ramp moves every batch.
    """
    import tensorflow as tf

    if epochs <= 0:
        return tf.constant(1.0)
    return tf.clip_by_value(progress / epochs, 0.0, 1.0)


def noise_sigma(progress: tf.Tensor, sigma: float, epochs: float) -> tf.Tensor:
    """Instance-noise sigma: ``sigma`` at the start, falling linearly to 0 over ``epochs``."""
    import tensorflow as tf

    if sigma <= 0:
        return tf.constant(0.0)
    if epochs <= 0:
        return tf.constant(float(sigma))
    return sigma * tf.clip_by_value(1.0 - progress / epochs, 0.0, 1.0)


def class_weights(labels: npt.ArrayLike, n_genres: int) -> npt.NDArray[np.float32]:
    """Inverse-frequency weights per genre, mean 1 over the training examples.

    ``w_k = N / (K * n_k)``: every genre contributes equally to a weighted mean; a genre absent
    from the data gets weight 0 (it never occurs, so the value does not matter).
    """
    y = np.asarray(labels, dtype=np.int64).reshape(-1)
    counts = np.bincount(y, minlength=n_genres).astype(np.float64)
    present = counts > 0
    weights = np.zeros(n_genres, np.float64)
    weights[present] = len(y) / (int(present.sum()) * counts[present])
    return weights.astype(np.float32)


_MINIBATCH_STD: dict[str, type] = {}


def minibatch_std_layer(name: str = "rf_minibatch_std") -> keras.layers.Layer:
    """A layer appending the batch's mean per-cell standard deviation as one more channel.

    ``(N, T, C) -> (N, T, C + 1)``: the standard deviation of each (step, channel) cell over
    the batch, averaged to one number and repeated over steps. A batch of near-identical
    patterns (a repeated roll) gives a value no real batch gives, which D can use.
    """
    if "cls" not in _MINIBATCH_STD:
        import keras
        import tensorflow as tf

        @keras.saving.register_keras_serializable(package="rhythmcan")
        class MinibatchStd(keras.layers.Layer):  # type: ignore[misc]
            def call(self, x: tf.Tensor) -> tf.Tensor:
                mean = tf.reduce_mean(x, axis=0, keepdims=True)
                std = tf.sqrt(tf.reduce_mean(tf.square(x - mean), axis=0) + 1e-8)
                value = tf.reduce_mean(std)
                shape = tf.shape(x)
                feature = tf.fill([shape[0], shape[1], 1], value)
                return tf.concat([x, feature], axis=-1)

            def compute_output_shape(self, input_shape: tuple[Any, ...]) -> tuple[Any, ...]:
                return (*input_shape[:-1], input_shape[-1] + 1)

        _MINIBATCH_STD["cls"] = MinibatchStd
    layer: keras.layers.Layer = _MINIBATCH_STD["cls"](name=name)
    return layer


__all__ = [
    "CGAN_DISCRIMINATORS",
    "PAPER",
    "PRESETS",
    "RECIPES",
    "TUNED",
    "check_options",
    "class_weights",
    "minibatch_std_layer",
    "noise_sigma",
    "parse_options",
    "ramp",
    "recipe_values",
]
