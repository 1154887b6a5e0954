"""What a training run is asked for: modes, strategies, :class:`TrainConfig` (the
hyper-parameters, defaults the paper's), :class:`TrainResult`, and the checks that need no
TensorFlow (so bad input fails before a dataset is built).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from rhythmcan_cli.errors import DataError, UsageError
from rhythmcan_cli.vocabulary import DEFAULT_THRESHOLD, GENRE_MODES, MODES, STRATEGIES, ModelKind

if TYPE_CHECKING:
    from rhythmcan_cli.dataset import Dataset


def _recipes() -> ModuleType:
    """The recipes module, imported on use: this module stays light (numpy-free) because
    ``rhythmcan train --help`` reads its defaults from :class:`TrainConfig`."""
    from rhythmcan_cli.training import recipes

    return recipes


@dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters and sizes of one run. Defaults are the paper's (method.md 3-4)."""

    batch_size: int = 64
    d_steps: int = 3
    """Discriminator steps per generator step."""
    loss_ratio: float = 5.0
    """Pause the winning side for one step when one loss exceeds the other by this ratio."""
    z_dim: int = 100
    z_sigma_train: float = 0.5
    z_sigma_sample: float | None = None
    """z sigma recorded on the card for sampling; None: the training sigma."""
    lr_d: float = 1e-5
    lr_g: float = 1e-4
    lr_classifier: float = 1e-3
    dense: tuple[int, ...] = (512, 1024)
    lstm_units: int = 128
    dropout: float = 0.1
    d_lstm_units: int = 64
    d_dense_units: int = 256
    genre_lstm_units: int = 128
    genre_dense_units: int = 512
    real_label: float | None = None
    """Target for real patterns; None: 0.9 (one-sided smoothing) for cgan, 1.0 otherwise."""
    # Recipe options (rhythmcan_cli/training/recipes.py says what each does; defaults: the paper's).
    recipe: str = "paper"
    conditioning: str = "multiply"
    cgan_discriminator: str = "label"
    class_weight: float = 0.0
    class_ramp_epochs: float = 0.0
    class_balanced: bool = False
    lr_genre: float | None = None
    ambiguity_ramp_epochs: float = 0.0
    instance_noise: float = 0.0
    instance_noise_epochs: float = 0.0
    minibatch_std: bool = False
    # Beyond the paper (rhythmcan_cli/training/beyond.py; off in every recipe).
    ambiguity_realness: bool = False
    density_weight: float = 0.0
    genre_freeze_epochs: float = 0.0
    zero_below: float = 0.0
    output_head: str = "lstm"
    rf_flatten: bool = False
    profile_weight: float = 0.0
    mode_seeking: float = 0.0
    validation: float = 0.1
    """Share of files held out for validation (split by file, never by window)."""
    checkpoint_every: int = 5
    """Epochs between checkpoints (0: only at the end and on interruption)."""
    seed: int | None = None
    tensorboard: bool = False
    threshold: float = DEFAULT_THRESHOLD
    description: str = ""
    attribution: str = ""

    def check(self) -> None:
        """Raise UsageError (one line) for values out of range."""
        problems = [
            (self.batch_size >= 1, f"--batch-size must be at least 1, got {self.batch_size}"),
            (self.d_steps >= 1, f"discriminator steps must be at least 1, got {self.d_steps}"),
            (self.loss_ratio > 1.0, f"the loss ratio must be above 1, got {self.loss_ratio}"),
            (self.z_sigma_train > 0 and self.sample_sigma > 0, "z sigma must be positive"),
            (min(self.lr_d, self.lr_g, self.lr_classifier) > 0, "learning rates must be positive"),
            (
                0.0 <= self.validation < 1.0,
                f"--validation must be in [0, 1), got {self.validation}",
            ),
            (self.checkpoint_every >= 0, "--checkpoint-every must be 0 or more"),
            (
                min(
                    self.d_lstm_units,
                    self.d_dense_units,
                    self.genre_lstm_units,
                    self.genre_dense_units,
                    self.lstm_units,
                )
                >= 1,
                "layer sizes must be positive",
            ),
            (0.0 <= self.threshold <= 1.0, f"threshold must be in [0, 1], got {self.threshold}"),
            *_recipes().check_options(dataclasses.asdict(self)),
        ]
        for ok, message in problems:
            if not ok:
                raise UsageError(message)
        from rhythmcan_cli.formats.card_schema import check_options

        check_options(  # the card's schema, checked now rather than when the model is saved
            {
                "z_dim": self.z_dim,
                "z_sigma_train": self.z_sigma_train,
                "z_sigma_sample": self.sample_sigma,
                "threshold": self.threshold,
                "description": self.description,
                "attribution": self.attribution,
            }
        )

    @property
    def sample_sigma(self) -> float:
        """The z sigma sampling should use: the recorded one, else the training sigma."""
        return self.z_sigma_train if self.z_sigma_sample is None else self.z_sigma_sample

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (tuples become lists)."""
        return {
            k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()
        }

    @classmethod
    def for_recipe(cls, recipe: str = "paper", **values: Any) -> TrainConfig:
        """The config of a named recipe (recipes.PRESETS), with ``values`` on top of it."""
        return cls(**{**_recipes().recipe_values(recipe), "recipe": recipe, **values})

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrainConfig:
        """Inverse of :meth:`to_dict`; unknown keys are ignored (older/newer run files)."""
        names = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in data.items() if k in names}
        if "dense" in values:
            values["dense"] = tuple(values["dense"])
        return cls(**values)


@dataclass
class TrainResult:
    """What a run did: where its model and run folder are, how far it got, its last losses."""

    name: str
    mode: ModelKind
    epochs: int
    """Epochs completed (counting those before a resume)."""
    steps: int
    """Batches processed (discriminator or classifier steps), counting those before a resume."""
    interrupted: bool
    run_dir: Path
    model_path: Path | None
    resumed_from_epoch: int | None
    final_losses: dict[str, float]
    device: str
    history: list[dict[str, float]] = field(default_factory=list)

    def resume_hint(self) -> str:
        """The command line that continues this run."""
        return f"rhythmcan train ... --name {self.name} --resume"


def check_request(
    mode: str, name: str, epochs: int | None, config: TrainConfig, strategy: str | None
) -> None:
    """Validate everything that needs no data, so bad input fails before a dataset build."""
    from rhythmcan_cli import store

    if mode not in MODES:
        raise UsageError(f"unknown mode {mode!r}: choose one of {', '.join(MODES)}")
    if strategy is not None and strategy not in STRATEGIES:
        raise UsageError(f"unknown strategy {strategy!r}: choose one of {', '.join(STRATEGIES)}")
    if epochs is not None and epochs < 1:
        raise UsageError(f"--epochs must be at least 1, got {epochs}")
    config.check()
    store.validate_name(name)
    if config.dense and config.dense[-1] % 32:
        raise UsageError(f"the last dense size must be a multiple of 32, got {config.dense[-1]}")


def check_data(data: Dataset, mode: str) -> None:
    """Refuse datasets training cannot use: no windows, or fewer than 2 genres where needed."""
    if len(data.x) == 0:
        raise DataError(
            "the dataset has no usable 2-bar windows: check the folder, --channel and --min-onsets"
        )
    if mode in GENRE_MODES and len(data.genres) < 2:
        found = data.genres[0] if data.genres else "none"
        raise DataError(
            f"mode {mode!r} needs at least 2 genres, found 1 ({found}): use sub-folders per genre "
            "or --labels, or train --mode gan"
        )
