"""Importing TensorFlow and Keras quietly, once, only where training or a classifier needs it.

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

import os
import sys
from types import ModuleType
from typing import Final

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
