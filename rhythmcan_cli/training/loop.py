"""The epoch/batch loop: seeded batches and noise, the loss-ratio pause rule, metrics,
checkpoints, progress and stop requests.
"""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from rhythmcan_cli.atomic import output_error
from rhythmcan_cli.errors import OutputError
from rhythmcan_cli.progress import ProgressCallback, report
from rhythmcan_cli.training.runs import (
    METRICS_FILE,
    json_number,
)
from rhythmcan_cli.training.steps import Trainer

if TYPE_CHECKING:
    import tensorflow as tf

    from rhythmcan_cli.dataset import Dataset


def pauses(d_loss: float, g_loss: float, ratio: float) -> tuple[bool, bool]:
    """The loss-ratio pause rule: ``(pause_d, pause_g)`` for the next steps.

    When one side's loss exceeds the other's by more than ``ratio``, the *winning* side (the
    smaller loss) skips its next step so the losing side catches up (method.md section 4).
    At most one side pauses (``ratio`` > 1), and equal losses pause neither.
    """
    return g_loss > ratio * d_loss, d_loss > ratio * g_loss


def split_for_validation(
    data: Dataset, validation: float, seed: int
) -> tuple[Dataset, Dataset | None]:
    """Hold out whole files for validation (windows overlap, so never split by window)."""
    if validation <= 0:
        return data, None
    from rhythmcan_cli.dataset import split_by_file

    train_part, val_part = split_by_file(data, validation=validation, seed=seed)
    if len(val_part.x) == 0 or len(train_part.x) == 0:
        return data, None
    return train_part, val_part


def _batch_rng(seed: int, epoch: int, batch: int) -> np.random.Generator:
    return np.random.default_rng([seed, epoch, batch])


def _epoch_order(seed: int, epoch: int, n: int) -> npt.NDArray[np.int64]:
    return np.random.default_rng([seed, epoch, 2**31]).permutation(n)


def _batches_per_epoch(n: int, batch_size: int) -> int:
    return max(1, n // batch_size)


class Loop:
    """The epoch/batch loop: pause logic, metrics, checkpoints, progress and stop requests."""

    def __init__(
        self,
        trainer: Trainer,
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
                        pause_d, pause_g = pauses(d_loss, g_loss, t.config.loss_ratio)
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
                line = json.dumps({k: json_number(v) for k, v in record.items()}) + "\n"
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
