"""Keras 3 builders: the generator, the four discriminators and the genre classifier.

Architectures follow method.md section 3 (RhythmCAN, Tokui 2020). Every layer gets an
explicit, stable name: stored generators are exported layer by layer (``keras_io``) and
read back by the numpy engine, and checkpoints are matched by name on resume.

The generator uses only layers the numpy engine supports (InputLayer, Dense, LeakyReLU,
BatchNormalization, Reshape, Dropout, LSTM, Embedding, Flatten, Multiply, Concatenate) and
ends in a sigmoid (the paper's sigmoid LSTM, or a Dense after a tanh LSTM), so its output is
in [0, 1] like the velocities it is trained on.

Keras is imported inside the builders: importing this module stays cheap.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Final

from rhythmcan_cli.errors import UsageError
from rhythmcan_cli.grid import N_CLASSES, STEPS
from rhythmcan_cli.training.beyond import OUTPUT_HEADS

if TYPE_CHECKING:
    import keras

Z_DIM = 100
"""Length of the generator's noise vector (the paper's and the M4L device's)."""
BN_MOMENTUM = 0.9
BN_EPSILON = 1e-3
GENERATOR_OUTPUT = "pattern"
"""Name of the generator's last layer (its output)."""
CONDITIONINGS = ("multiply", "concat")
"""How a conditional generator takes its genre: ``multiply`` (the 2019 notebook: z times an
``Embedding(K, z_dim)`` at Keras' default init) or ``concat`` (an ``Embedding(K, genre_dim)``
at unit scale concatenated with z: the genre adds directions to G's input instead of only
rescaling z, which at the default init shrank G's input ~35x; method.md section 11)."""
GENRE_DIM = 16
"""Width of the ``concat`` genre embedding."""


def _check_sizes(
    n_genres: int | None, dense: Sequence[int], lstm_units: int, dropout: float
) -> None:
    """Refuse sizes that cannot build a model, with one line saying which."""
    if n_genres is not None and n_genres < 1:
        raise UsageError(f"the number of genres must be at least 1, got {n_genres}")
    if not dense or any(units < 1 for units in dense):
        raise UsageError(f"dense layer sizes must be positive, got {tuple(dense)}")
    if dense[-1] % STEPS:
        raise UsageError(
            f"the last dense layer size must be a multiple of {STEPS} (it is reshaped to "
            f"{STEPS} steps), got {dense[-1]}"
        )
    if lstm_units < 1:
        raise UsageError(f"LSTM units must be positive, got {lstm_units}")
    if not 0.0 <= dropout < 1.0:
        raise UsageError(f"dropout must be in [0, 1), got {dropout}")


def build_generator(
    z_dim: int = Z_DIM,
    n_genres: int | None = None,
    dense: Sequence[int] = (512, 1024),
    lstm_units: int = 128,
    dropout: float = 0.1,
    name: str = "generator",
    conditioning: str = "multiply",
    genre_dim: int = GENRE_DIM,
    output_head: str = "lstm",
) -> keras.Model:
    """The generator: z (and a genre embedding) -> dense trunk -> LSTMs -> (32, 9) in [0, 1].

    With ``n_genres`` the model is conditional: inputs ``[z, genre]`` where ``genre`` has
    shape ``(1,)`` int. ``conditioning="multiply"``: ``Embedding(K, z_dim) -> Flatten`` is
    multiplied with z (the paper's notebook); ``"concat"``: ``Embedding(K, genre_dim)`` drawn
    from N(0, 1) is concatenated with z (see ``CONDITIONINGS``). Both layers are named
    ``genre_embedding`` / ``genre_flatten`` / ``z_genre``, and genre blends stay linear in the
    embedding rows. Default sizes give the paper's 802,152 parameters (unconditional).
    ``output_head="dense"`` (beyond the paper, ``beyond.py``) ends in ``LSTM(9, tanh)``
    named ``pattern_lstm`` and a per-step ``Dense(9, sigmoid)`` named ``pattern`` instead of
    the paper's ``LSTM(9, sigmoid)``.
    """
    import keras
    from keras import layers

    if z_dim < 1:
        raise UsageError(f"z dimension must be positive, got {z_dim}")
    _check_sizes(n_genres, dense, lstm_units, dropout)
    if conditioning not in CONDITIONINGS:
        raise UsageError(
            f"conditioning must be one of {', '.join(CONDITIONINGS)}, got {conditioning!r}"
        )
    if genre_dim < 1:
        raise UsageError(f"the genre embedding size must be positive, got {genre_dim}")
    if output_head not in OUTPUT_HEADS:
        raise UsageError(
            f"output head must be one of {', '.join(OUTPUT_HEADS)}, got {output_head!r}"
        )
    z = keras.Input(shape=(z_dim,), name="z")
    inputs: list[keras.KerasTensor] = [z]
    h = z
    if n_genres is not None:
        genre = keras.Input(shape=(1,), dtype="int32", name="genre")
        inputs.append(genre)
        if conditioning == "concat":
            embedded = layers.Embedding(
                n_genres,
                genre_dim,
                embeddings_initializer=keras.initializers.RandomNormal(stddev=1.0),
                name="genre_embedding",
            )(genre)
            embedded = layers.Flatten(name="genre_flatten")(embedded)
            h = layers.Concatenate(name="z_genre")([z, embedded])
        else:
            embedded = layers.Embedding(n_genres, z_dim, name="genre_embedding")(genre)
            embedded = layers.Flatten(name="genre_flatten")(embedded)
            h = layers.Multiply(name="z_genre")([z, embedded])
    for i, units in enumerate(dense, start=1):
        h = layers.Dense(units, name=f"dense_{i}")(h)
        h = layers.LeakyReLU(negative_slope=0.2, name=f"leaky_re_lu_{i}")(h)
        h = layers.BatchNormalization(
            momentum=BN_MOMENTUM, epsilon=BN_EPSILON, name=f"batch_normalization_{i}"
        )(h)
    h = layers.Reshape((STEPS, dense[-1] // STEPS), name="reshape")(h)
    h = layers.Dropout(dropout, name="dropout")(h)
    h = layers.LSTM(lstm_units, return_sequences=True, name="lstm_1")(h)
    h = layers.LSTM(lstm_units, return_sequences=True, name="lstm_2")(h)
    if output_head == "dense":
        h = layers.LSTM(N_CLASSES, return_sequences=True, name="pattern_lstm")(h)
        out = layers.Dense(N_CLASSES, activation="sigmoid", name=GENERATOR_OUTPUT)(h)
    else:
        out = layers.LSTM(
            N_CLASSES, return_sequences=True, activation="sigmoid", name=GENERATOR_OUTPUT
        )(h)
    return keras.Model(inputs if n_genres is not None else z, out, name=name)


RF_FLAT_UNITS: Final = 16
"""Units of the last BiLSTM of a flattening real/fake trunk (``rf_flatten``): the paper's
conditional discriminator ends its BiLSTM stack in 16 units before its Flatten too."""


def _real_fake_features(
    x: keras.KerasTensor,
    lstm_units: int,
    dense_units: int,
    minibatch_std: bool = False,
    flatten: bool = False,
) -> keras.KerasTensor:
    """The real/fake trunk: BiLSTM (seq) -> BiLSTM -> Dense -> LeakyReLU 0.01, (N, dense_units).

    ``minibatch_std`` first appends the batch's mean per-cell standard deviation as a 10th
    input channel (``recipes.minibatch_std_layer``). ``flatten`` (``rf_flatten``, beyond the
    paper's Creative-GAN) keeps the second BiLSTM's output at every step
    (``RF_FLAT_UNITS`` each way) and flattens it, so the Dense reads each step at its place
    in the bar, as the conditional discriminator does; the default reads only the second
    BiLSTM's final states, a summary in which "a kick on beat 1" has no fixed place.
    """
    from keras import layers

    if minibatch_std:
        from rhythmcan_cli.training.recipes import minibatch_std_layer

        x = minibatch_std_layer()(x)
    h = layers.Bidirectional(layers.LSTM(lstm_units, return_sequences=True), name="rf_bilstm_1")(x)
    if flatten:
        h = layers.Bidirectional(
            layers.LSTM(RF_FLAT_UNITS, return_sequences=True), name="rf_bilstm_2"
        )(h)
        h = layers.Flatten(name="rf_flatten")(h)
    else:
        h = layers.Bidirectional(layers.LSTM(lstm_units), name="rf_bilstm_2")(h)
    h = layers.Dense(dense_units, name="rf_dense")(h)
    features: keras.KerasTensor = layers.LeakyReLU(negative_slope=0.01, name="rf_leaky_re_lu")(h)
    return features


def _real_fake_branch(
    x: keras.KerasTensor,
    lstm_units: int,
    dense_units: int,
    minibatch_std: bool = False,
    flatten: bool = False,
) -> keras.KerasTensor:
    """The real/fake trunk (``_real_fake_features``) -> Dense 1 sigmoid (named ``real``)."""
    from keras import layers

    h = _real_fake_features(x, lstm_units, dense_units, minibatch_std, flatten)
    out: keras.KerasTensor = layers.Dense(1, activation="sigmoid", name="real")(h)
    return out


def _genre_branch(
    x: keras.KerasTensor,
    n_genres: int,
    lstm_units: int,
    dense_units: int,
    dropout: float,
    prefix: str,
    output_name: str,
) -> keras.KerasTensor:
    """BiLSTM (seq, dropout) -> BN -> BiLSTM -> BN -> Dropout -> Dense sigmoid -> Dense softmax."""
    from keras import layers, regularizers

    h = layers.Bidirectional(
        layers.LSTM(lstm_units, return_sequences=True, dropout=dropout), name=f"{prefix}_bilstm_1"
    )(x)
    h = layers.BatchNormalization(name=f"{prefix}_batch_normalization_1")(h)
    h = layers.Bidirectional(layers.LSTM(lstm_units), name=f"{prefix}_bilstm_2")(h)
    h = layers.BatchNormalization(name=f"{prefix}_batch_normalization_2")(h)
    h = layers.Dropout(dropout, name=f"{prefix}_dropout")(h)
    h = layers.Dense(dense_units, activation="sigmoid", name=f"{prefix}_dense")(h)
    out: keras.KerasTensor = layers.Dense(
        n_genres,
        activation="softmax",
        kernel_regularizer=regularizers.L2(0.01),
        name=output_name,
    )(h)
    return out


def build_discriminator(
    lstm_units: int = 64,
    dense_units: int = 256,
    name: str = "discriminator",
    minibatch_std: bool = False,
    flatten: bool = False,
) -> keras.Model:
    """The plain-GAN discriminator: the real/fake branch only; output ``real`` (N, 1) in (0, 1)."""
    import keras

    x = keras.Input(shape=(STEPS, N_CLASSES), name="pattern")
    real = _real_fake_branch(x, lstm_units, dense_units, minibatch_std, flatten)
    return keras.Model(x, real, name=name)


def build_conditional_discriminator(
    n_genres: int,
    lstm_units: Sequence[int] = (64, 128, 16),
    dense_units: int = 256,
    name: str = "conditional_discriminator",
) -> keras.Model:
    """The conditional-GAN discriminator (2019 notebook): [pattern, genre] -> ``real`` (N, 1).

    The genre id is embedded to 288 = 32 x 9 values, reshaped to the grid and concatenated
    with the pattern, so every step sees the label.
    """
    import keras
    from keras import layers

    if n_genres < 1:
        raise UsageError(f"the number of genres must be at least 1, got {n_genres}")
    x = keras.Input(shape=(STEPS, N_CLASSES), name="pattern")
    genre = keras.Input(shape=(1,), dtype="int32", name="genre")
    label = layers.Embedding(n_genres, STEPS * N_CLASSES, name="genre_embedding")(genre)
    label = layers.Reshape((STEPS, N_CLASSES), name="genre_reshape")(label)
    h = layers.Concatenate(name="pattern_genre")([x, label])
    for i, units in enumerate(lstm_units, start=1):
        h = layers.Bidirectional(layers.LSTM(units, return_sequences=True), name=f"bilstm_{i}")(h)
    h = layers.Flatten(name="flatten")(h)
    h = layers.Dense(dense_units, name="dense")(h)
    h = layers.LeakyReLU(negative_slope=0.01, name="leaky_re_lu")(h)
    out = layers.Dense(1, activation="sigmoid", name="real")(h)
    return keras.Model([x, genre], out, name=name)


def build_projection_discriminator(
    n_genres: int,
    lstm_units: int = 64,
    dense_units: int = 256,
    name: str = "projection_discriminator",
    minibatch_std: bool = False,
    flatten: bool = False,
) -> keras.Model:
    """A projection discriminator (Miyato & Koyama 2018): [pattern, genre] -> ``real`` (N, 1).

    ``D(x, y) = sigmoid(psi(phi(x)) + <embed(y), phi(x)>)``: ``phi`` is the real/fake trunk
    (the plain and Creative-GAN discriminators' ``rf_*`` layers), ``psi`` a ``Dense(1)``
    (``real_logit``) and ``embed`` a learnt ``Embedding(K, dense_units)``
    (``genre_projection``) whose rows start at about unit length (N(0, 1/dense_units)). The
    label enters only through the inner product with the pattern's features, so D judges
    "is this a real pattern OF THIS GENRE" without a separate classifier that G could please
    by exaggerating genre cues (the AC discriminator's risk). Only D changes: the generator
    stays the concatenating one the numpy engine and TF.js export read.
    """
    import keras
    from keras import layers

    if n_genres < 1:
        raise UsageError(f"the number of genres must be at least 1, got {n_genres}")
    x = keras.Input(shape=(STEPS, N_CLASSES), name="pattern")
    genre = keras.Input(shape=(1,), dtype="int32", name="genre")
    phi = _real_fake_features(x, lstm_units, dense_units, minibatch_std, flatten)
    psi = layers.Dense(1, name="real_logit")(phi)
    embedded = layers.Embedding(
        n_genres,
        dense_units,
        embeddings_initializer=keras.initializers.RandomNormal(stddev=dense_units**-0.5),
        name="genre_projection",
    )(genre)
    embedded = layers.Flatten(name="genre_projection_flatten")(embedded)
    projection = layers.Dot(axes=1, name="projection")([embedded, phi])
    logit = layers.Add(name="real_logit_plus_projection")([psi, projection])
    out = layers.Activation("sigmoid", name="real")(logit)
    return keras.Model([x, genre], out, name=name)


def build_can_discriminator(
    n_genres: int,
    lstm_units: int = 64,
    dense_units: int = 256,
    genre_lstm_units: int = 128,
    genre_dense_units: int = 512,
    dropout: float = 0.1,
    name: str = "can_discriminator",
    minibatch_std: bool = False,
    flatten: bool = False,
) -> keras.Model:
    """The Creative-GAN discriminator: pattern -> [``real`` (N, 1), ``genre`` (N, K) softmax].

    Two branches that share only the input: real/fake and genre classification.
    """
    import keras

    if n_genres < 1:
        raise UsageError(f"the number of genres must be at least 1, got {n_genres}")
    x = keras.Input(shape=(STEPS, N_CLASSES), name="pattern")
    real = _real_fake_branch(x, lstm_units, dense_units, minibatch_std, flatten)
    genre = _genre_branch(
        x, n_genres, genre_lstm_units, genre_dense_units, dropout, "genre", "genre"
    )
    return keras.Model(x, [real, genre], name=name)


def build_classifier(
    n_genres: int,
    lstm_units: int = 128,
    dense_units: int = 512,
    dropout: float = 0.1,
    name: str = "genre_classifier",
) -> keras.Model:
    """An independent genre classifier (evaluation only): pattern -> ``genre`` (N, K) softmax.

    Same shape as the Creative-GAN's genre branch, but trained on its own and never part of
    a GAN, so it can judge generated patterns without the generator having fooled it.
    """
    import keras

    if n_genres < 1:
        raise UsageError(f"the number of genres must be at least 1, got {n_genres}")
    x = keras.Input(shape=(STEPS, N_CLASSES), name="pattern")
    out = _genre_branch(x, n_genres, lstm_units, dense_units, dropout, "classifier", "genre")
    return keras.Model(x, out, name=name)
