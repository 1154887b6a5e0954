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

import tempfile
import threading
from collections.abc import Mapping
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rhythmcan_cli.errors import ModelError, StoreError
from rhythmcan_cli.progress import ProgressCallback
from rhythmcan_cli.training import recipes
from rhythmcan_cli.training.backend import (
    device_name,
    is_chief,
    load_tensorflow,
    make_strategy,
    seed_everything,
)
from rhythmcan_cli.training.classifier import CLASSIFIER_FILE
from rhythmcan_cli.training.config import (
    TrainConfig,
    TrainResult,
    check_data,
    check_request,
)
from rhythmcan_cli.training.loop import Loop, split_for_validation
from rhythmcan_cli.training.runs import (
    clear_run,
    discard_empty_run,
    model_exists,
    prepare_folder,
    run_dir,
    run_lock,
    trim_metrics,
)
from rhythmcan_cli.training.steps import Trainer
from rhythmcan_cli.vocabulary import ModelKind

if TYPE_CHECKING:
    import tensorflow as tf

    from rhythmcan_cli.dataset import Dataset


def _model_files(trainer: Trainer, tmp: Path) -> dict[str, Path]:
    """Write the trained model's files into ``tmp``; return store-relative name -> path."""
    if trainer.classifier is not None:
        path = tmp / CLASSIFIER_FILE
        trainer.classifier.save(path)
        return {CLASSIFIER_FILE: path}
    from rhythmcan_cli.formats import layers_model as layers
    from rhythmcan_cli.training import keras_io

    assert trainer.generator is not None
    written = layers.write_layers_model(
        keras_io.to_layers_model(trainer.generator), tmp / "generator"
    )
    return {f"generator/{p.name}": p for p in written}


def _save_to_store(
    trainer: Trainer,
    name: str,
    mode: ModelKind,
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


def train(
    dataset: Dataset,
    *,
    mode: ModelKind,
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
    if not resume and not force and model_exists(name):
        raise StoreError(f"a model named {name!r} exists: choose another --name or add --force")
    try:
        with run_lock(name):
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
        discard_empty_run(folder)


def _train_locked(
    dataset: Dataset,
    mode: ModelKind,
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
    config, seed, target = prepare_folder(
        folder, mode, name, config, dataset, resume, force, epochs, command
    )
    try:
        return _run(
            dataset, mode, name, target, config, seed, resume, strategy, progress, stop, folder
        )
    except BaseException:
        if not resume and not (folder / "checkpoints" / "checkpoint").exists():
            clear_run(folder)  # a start that failed before its first checkpoint leaves nothing
        raise


def _run(
    dataset: Dataset,
    mode: ModelKind,
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

    from rhythmcan_cli.training import beyond

    seed_everything(seed)
    strat = (
        strategy
        if strategy is not None and not isinstance(strategy, str)
        else make_strategy(strategy)
    )
    chief = is_chief()
    train_data, val_data = split_for_validation(dataset, config.validation, seed)
    trainer = Trainer(
        mode,
        len(dataset.genres),
        config,
        strat,
        recipes.class_weights(train_data.y, len(dataset.genres)),
        beyond.real_density(train_data.x) if config.density_weight > 0 else None,
        (
            beyond.real_profile(
                train_data.x, train_data.y, len(dataset.genres) if mode == "cgan" else 0
            )
            if config.profile_weight > 0
            else None
        ),
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
        history = trim_metrics(folder, resumed_from)
    writer = (
        tf.summary.create_file_writer(str(folder / "tensorboard"))
        if config.tensorboard and chief
        else None
    )

    loop = Loop(
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
        device=device_name(),
        history=history,
    )


def train_from_folder(
    data_dir: Path,
    *,
    dataset_options: Mapping[str, Any] | None = None,
    mode: ModelKind,
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
    if not resume and not force and model_exists(name):
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
