"""Training options BEYOND the ICCC 2020 paper, tried against the Creative-GAN's rolls (issue 13).

The paper's Creative-GAN (method.md sections 3-4) and the ``tuned`` recipe (``recipes.py``)
still rolled: one drum held on every step, confident and flat, which the issue traced to G
dodging the genre head with off-manifold patterns. Each option here is a training option of
its own (``train --option KEY=VALUE``), recorded on the card (``card.training``) and in
``run.json``, and OFF in every preset, so ``--recipe paper`` still reproduces the paper:

- ``ambiguity_realness`` (bool): the per-example ambiguity loss is weighted by
  ``2 * stop_gradient(D_real(G(z)))``, so G earns genre ambiguity only on patterns the
  real/fake branch finds real (weight 1 at D's equilibrium 0.5, 0 on patterns D rejects). A
  roll that confuses the genre head but not the real/fake branch no longer pays.
- ``density_weight`` (float): G's loss adds ``density_weight`` times the mean over the 9
  drums of ``(log(m_fake + 0.01) - log(m_real + 0.01))^2``, ``m`` being a drum's mean cell
  value (velocity, 0 when off) over the batch and steps, ``m_real`` over all training
  windows. One drum at 6x its real density adds (ln 6)^2 / 9 = 0.36 at weight 1 (the
  ambiguity term is ~0.7, the adversarial one 1-4); the log makes rare drums (crash, high
  tom) count as much as the hats.
- ``genre_freeze_epochs`` (float): after that many epochs the genre head stops learning (its
  own optimizer's learning rate is set to 0; needs ``lr_genre``), so the ambiguity comes from
  a fixed classifier trained on real patterns instead of one that keeps chasing G's output.
  BatchNorm statistics of the head still follow the real batches it sees.
- ``zero_below`` (float): every generated cell below this value becomes exactly 0 before the
  discriminator sees it (straight-through: the gradient passes as if it had not), because
  87 % of real cells are exactly 0 and 41 % of generated off-cells were above 1e-3, a cue D
  could spend its capacity on. Sampling needs no change: the card's threshold (which must be
  at least ``zero_below``) already maps those cells to rests.
- ``output_head`` (``lstm`` | ``dense``): the generator's last layer. ``lstm`` is the paper's
  ``LSTM(9, sigmoid)``, whose ``h = o * sigmoid(c)`` holds a value for free; ``dense`` is
  ``LSTM(9, tanh) -> Dense(9, sigmoid)`` per step, which the numpy engine and TF.js already
  run (``models.build_generator``).
- ``rf_flatten`` (bool): the real/fake branch keeps its second BiLSTM's output at every step
  and flattens it before its Dense (``networks._real_fake_features``), as the paper's
  *conditional* discriminator does, instead of reading only the final states. Every model
  whose real/fake branch read a summary (Creative-GAN, AC conditional GAN, any recipe) put the
  kick on beat 1 and the snare on 2 and 4 far less often than real drumming, while the
  paper-recipe conditional GAN, whose discriminator flattens, placed them like a drummer: a
  discriminator that cannot tell *where* a hit is cannot ask for a downbeat. The
  generator does not change (exports and the numpy engine are untouched); ignored by the
  label-concatenating conditional discriminator, which always flattens.
- ``profile_weight`` (float): G's loss adds ``profile_weight`` times the mean over the 32 x 9
  cells of ``(log(m_fake + 0.01) - log(m_real + 0.01))^2``, ``m`` the mean cell value at that
  step and drum over the batch (``profile_loss``): per-drum density matching resolved by
  *position*, so "a kick on beat 1 in most patterns, the snare on 2 and 4" becomes a target
  G is told it misses. For a conditional GAN ``m_real`` is the mean of the per-genre profiles
  of the genres the batch asks for, so each genre is pulled toward its own placement of hits;
  other modes match the profile of all training windows. A batch statistic: it says nothing
  about any single pattern, so it cannot ask for copies.
- ``mode_seeking`` (float): G's loss adds ``mode_seeking / (d_x / d_z + 1e-5)`` (Mao et al.
  2019, "Mode Seeking GANs"), ``d_x`` the mean absolute difference between ``G(z, y)`` and
  ``G(z', y)`` and ``d_z`` that of ``z`` and ``z'``, where ``z'`` is the batch's z rolled by one
  example, so both patterns are asked for the same genre (``mode_seeking_loss``). The
  AC-conditioned GAN collapsed *within* each genre (57-96 distinct grids of 300 for
  afrocuban, hiphop and soul; one syncopation value for all 300 afrobeat patterns), which the
  batch-wide minibatch-std feature cannot see since a batch mixes genres.

TensorFlow is imported inside functions: importing this module stays cheap.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    import tensorflow as tf

OUTPUT_HEADS: Final = ("lstm", "dense")
"""The generator's last layer: the paper's sigmoid LSTM, or a tanh LSTM then a sigmoid Dense."""
DENSITY_EPSILON: Final = 0.01
"""Added to both mean cell values before the log of ``density_loss`` (rare drums stay finite)."""


def check_beyond(values: Mapping[str, Any]) -> list[tuple[bool, str]]:
    """(ok, message) pairs for the options of this module (``recipes.check_options`` adds them)."""
    zero_below = float(values.get("zero_below", 0.0))
    threshold = values.get("threshold")
    freeze = float(values.get("genre_freeze_epochs", 0.0))
    return [
        (
            values.get("output_head", "lstm") in OUTPUT_HEADS,
            f"--option output_head must be one of {', '.join(OUTPUT_HEADS)}",
        ),
        (float(values.get("density_weight", 0.0)) >= 0.0, "density_weight must be 0 or more"),
        (float(values.get("profile_weight", 0.0)) >= 0.0, "profile_weight must be 0 or more"),
        (float(values.get("mode_seeking", 0.0)) >= 0.0, "mode_seeking must be 0 or more"),
        (
            float(values.get("mode_seeking", 0.0)) <= 0.0 or int(values.get("batch_size", 2)) >= 2,
            "mode_seeking compares two patterns of a batch: --batch-size must be at least 2",
        ),
        (freeze >= 0.0, "genre_freeze_epochs must be 0 or more"),
        (
            freeze <= 0.0 or values.get("lr_genre") is not None,
            "genre_freeze_epochs needs the genre head's own optimizer: set lr_genre too",
        ),
        (0.0 <= zero_below < 1.0, "zero_below must be in [0, 1)"),
        (
            threshold is None or zero_below <= float(threshold),
            f"zero_below ({zero_below}) must not exceed the sampling threshold ({threshold})",
        ),
    ]


def real_density(x: npt.ArrayLike) -> npt.NDArray[np.float32]:
    """Mean cell value per drum over windows and steps: (N, T, C) -> (C,), density_loss's target."""
    values = np.asarray(x, dtype=np.float64)
    means: npt.NDArray[np.float32] = (
        values.reshape(-1, values.shape[-1]).mean(axis=0).astype(np.float32)
    )
    return means


def real_profile(
    x: npt.ArrayLike, y: npt.ArrayLike | None = None, n_genres: int = 0
) -> npt.NDArray[np.float32]:
    """Mean cell value per step and drum: (N, T, C) -> (K, T, C), ``profile_loss``'s targets.

    With labels ``y`` and ``n_genres`` K >= 1, one profile per genre (a genre without windows
    gets the all-windows profile); otherwise a single profile, shape (1, T, C).
    """
    values = np.asarray(x, dtype=np.float64)
    overall = values.mean(axis=0)
    if y is None or n_genres < 1:
        rows = [overall]
    else:
        labels = np.asarray(y)
        rows = [
            values[labels == k].mean(axis=0) if np.any(labels == k) else overall
            for k in range(n_genres)
        ]
    profiles: npt.NDArray[np.float32] = np.stack(rows).astype(np.float32)
    return profiles


def profile_loss(fake: tf.Tensor, profiles: tf.Tensor, index: tf.Tensor) -> tf.Tensor:
    """Squared log-ratio of the batch's mean cell value at each (step, drum) to the mean of the
    real profiles ``profiles[index]`` (one per example), averaged over the 32 x 9 cells.

    One value for the (local) batch, like ``density_loss``; the train step divides it by the
    number of replicas.
    """
    import tensorflow as tf

    real_mean = tf.reduce_mean(tf.gather(profiles, index), axis=0)
    return _squared_log_ratio(tf.reduce_mean(fake, axis=0), real_mean)


MODE_SEEKING_EPSILON: Final = 1e-5
"""Added to the ratio of ``mode_seeking_loss`` so a collapsed generator's loss stays finite."""


def mode_seeking_loss(
    fake: tf.Tensor, fake_other: tf.Tensor, z: tf.Tensor, z_other: tf.Tensor
) -> tf.Tensor:
    """``1 / (mean|fake - fake_other| / mean|z - z_other| + eps)``: large when G ignores z.

    One value for the (local) batch; the train step divides it by the number of replicas.
    """
    import tensorflow as tf

    d_x = tf.reduce_mean(tf.abs(fake - fake_other))
    d_z = tf.reduce_mean(tf.abs(z - z_other)) + 1e-8  # z == z_other only in a batch of one
    return 1.0 / (d_x / d_z + MODE_SEEKING_EPSILON)


def density_loss(fake: tf.Tensor, real_mean: tf.Tensor) -> tf.Tensor:
    """Squared log-ratio of the batch's per-drum mean cell value to the real one, mean over drums.

    One value for the (local) batch, not per example: a density is a batch statistic. The
    train step divides it by the number of replicas so the replicas' sum is the mean.
    """
    import tensorflow as tf

    return _squared_log_ratio(tf.reduce_mean(fake, axis=[0, 1]), real_mean)


def _squared_log_ratio(fake_mean: tf.Tensor, real_mean: tf.Tensor) -> tf.Tensor:
    """Mean of ``(log(fake + eps) - log(real + eps))^2``: density and profile matching's core."""
    import tensorflow as tf

    ratio = tf.math.log(fake_mean + DENSITY_EPSILON) - tf.math.log(real_mean + DENSITY_EPSILON)
    return tf.reduce_mean(tf.square(ratio))


def realness_weight(real_probs: tf.Tensor) -> tf.Tensor:
    """Per-example ambiguity weight ``2 * D_real`` (N,), with no gradient into D's output."""
    import tensorflow as tf

    return 2.0 * tf.stop_gradient(tf.reshape(real_probs, [-1]))


def zero_gate(x: tf.Tensor, floor: float) -> tf.Tensor:
    """Cells below ``floor`` forward as exactly 0; the backward pass is the identity."""
    import tensorflow as tf

    if floor <= 0:
        return x
    gated = tf.where(x < floor, tf.zeros_like(x), x)
    return x + tf.stop_gradient(gated - x)


def genre_frozen(progress: float, epochs: float) -> bool:
    """Whether the genre head is frozen at ``progress`` (fractional epochs done)."""
    return 0.0 < epochs <= progress


__all__ = [
    "DENSITY_EPSILON",
    "MODE_SEEKING_EPSILON",
    "OUTPUT_HEADS",
    "check_beyond",
    "density_loss",
    "genre_frozen",
    "mode_seeking_loss",
    "profile_loss",
    "real_density",
    "real_profile",
    "realness_weight",
    "zero_gate",
]
