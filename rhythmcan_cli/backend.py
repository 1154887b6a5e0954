"""Importing TensorFlow and Keras quietly, once, only where training or a classifier needs it.

TensorFlow's C++ runtime writes start-up chatter (oneDNN notices, CPU feature hints, absl
warnings) straight to file descriptor 2 while it is imported; a command-line tool must not
show that to every user. Python-level errors raised by the import are not affected.
"""

from __future__ import annotations

import os
import sys
from types import ModuleType


def load_tensorflow() -> ModuleType:
    """Import and return ``tensorflow`` with its import-time log lines silenced."""
    loaded = sys.modules.get("tensorflow")
    if loaded is not None:
        return loaded
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
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
