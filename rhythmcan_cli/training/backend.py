"""TensorFlow setup: importing it quietly, once, only where training or a classifier needs it;
the distribution strategy, whether this process is the chief, seeding, the device name.

TensorFlow's C++ runtime writes start-up chatter (oneDNN notices, CPU feature hints, absl
warnings) straight to file descriptor 2 while it is imported, and absl log lines (``E0000
... node_def_util.cc ... use_unbounded_threadpool``) while a saved classifier predicts; a
command-line tool must not show that to every user. :func:`quiet_environment` sets the
variables that silence the C++ side (level 3: errors too; real failures still surface as
Python exceptions) before TensorFlow is first imported; the CLI calls it for every command.
A value the user set (``TF_CPP_MIN_LOG_LEVEL=0`` to debug) is kept. Python-level errors raised
by the import are not affected.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from types import ModuleType
from typing import TYPE_CHECKING, Final

from rhythmcan_cli.errors import UsageError
from rhythmcan_cli.vocabulary import STRATEGIES

if TYPE_CHECKING:
    import tensorflow as tf

QUIET_ENVIRONMENT: Final = {
    "TF_CPP_MIN_LOG_LEVEL": "3",  # C++ INFO, WARNING and ERROR lines (absl's I/W/E0000 ...)
    "KERAS_BACKEND": "tensorflow",
    "GRPC_VERBOSITY": "ERROR",
}


def quiet_environment() -> None:
    """Set TensorFlow's logging variables unless the user set them; harmless after import."""
    for key, value in QUIET_ENVIRONMENT.items():
        os.environ.setdefault(key, value)


def load_tensorflow() -> ModuleType:
    """Import and return ``tensorflow`` with its import-time log lines silenced."""
    loaded = sys.modules.get("tensorflow")
    if loaded is not None:
        return loaded
    quiet_environment()
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        import keras  # noqa: F401  (Keras 3 prints its own notices on first import)
        import tensorflow as tf
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
    tf.get_logger().setLevel("ERROR")
    module: ModuleType = tf
    return module


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


def is_chief() -> bool:
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


def device_name() -> str:
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    return f"{len(gpus)} GPU" if gpus else "CPU"


def seed_everything(seed: int) -> None:
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    with contextlib.suppress(Exception):
        tf.config.experimental.enable_op_determinism()
