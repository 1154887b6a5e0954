"""The genre-classifier API: train one in memory, load a stored one (Keras safe mode)."""

from __future__ import annotations

import tempfile
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rhythmcan_cli.errors import ModelError, UsageError
from rhythmcan_cli.progress import ProgressCallback
from rhythmcan_cli.training.backend import (
    load_tensorflow,
    seed_everything,
)
from rhythmcan_cli.training.config import (
    TrainConfig,
    check_data,
)
from rhythmcan_cli.training.loop import Loop, split_for_validation
from rhythmcan_cli.training.steps import Trainer

if TYPE_CHECKING:
    import keras

    from rhythmcan_cli.dataset import Dataset


CLASSIFIER_FILE = "classifier.keras"


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
    seed_everything(seed)
    trainer = Trainer("classifier", len(dataset.genres), config, tf.distribute.get_strategy())
    with tempfile.TemporaryDirectory(prefix="rhythmcan-classifier-") as tmp:
        manager = tf.train.CheckpointManager(trainer.checkpoint, tmp, max_to_keep=1)
        train_part, val_part = split_for_validation(dataset, config.validation, seed)
        Loop(
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
