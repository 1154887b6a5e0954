"""Loss functions of the GAN modes (method.md section 4), per example so they distribute.

Every function returns one value per example; the train step averages them over the
*global* batch (``tf.nn.compute_average_loss``) so a MirroredStrategy run sums replicas
to the same number a single device computes. TensorFlow is imported inside functions.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import tensorflow as tf

EPSILON = 1e-7
"""Probabilities are clipped to [EPSILON, 1 - EPSILON] before a log (Keras' own epsilon)."""


def ambiguity_weight(n_genres: int) -> float:
    """The genre-ambiguity loss weight 1/sqrt(K) of the ICCC 2020 paper."""
    return 1.0 / math.sqrt(n_genres)


def binary_crossentropy(probs: tf.Tensor, target: float) -> tf.Tensor:
    """Per-example BCE between sigmoid outputs ``probs`` (N, 1) and a constant ``target``."""
    import tensorflow as tf

    p = tf.clip_by_value(tf.reshape(probs, [-1]), EPSILON, 1.0 - EPSILON)
    return -(target * tf.math.log(p) + (1.0 - target) * tf.math.log(1.0 - p))


def categorical_crossentropy(labels: tf.Tensor, probs: tf.Tensor) -> tf.Tensor:
    """Per-example CE between integer ``labels`` (N,) and softmax outputs ``probs`` (N, K)."""
    import tensorflow as tf

    p = tf.clip_by_value(probs, EPSILON, 1.0)
    picked = tf.gather(p, tf.cast(tf.reshape(labels, [-1]), tf.int32), axis=1, batch_dims=1)
    return -tf.math.log(picked)


def ambiguity_loss(probs: tf.Tensor) -> tf.Tensor:
    """Genre-ambiguity loss per example: CE(uniform, p) = -(1/K) sum_k log p_k.

    Its minimum is ln K, reached at the uniform posterior (it equals ln K + KL(U || p)),
    so the generator is pushed towards patterns the genre head cannot place.
    """
    import tensorflow as tf

    p = tf.clip_by_value(probs, EPSILON, 1.0)
    return -tf.reduce_mean(tf.math.log(p), axis=-1)


def accuracy(labels: tf.Tensor, probs: tf.Tensor) -> tf.Tensor:
    """Per-example 1.0/0.0: does the arg-max of ``probs`` match ``labels``?"""
    import tensorflow as tf

    predicted = tf.argmax(probs, axis=-1, output_type=tf.int32)
    return tf.cast(tf.equal(predicted, tf.cast(tf.reshape(labels, [-1]), tf.int32)), tf.float32)
