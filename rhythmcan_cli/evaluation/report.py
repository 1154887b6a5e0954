"""What ``evaluate`` returns: the report's sets, rows and sections (JSON via ``to_dict``), and
its plot (a distance heatmap and descriptor histograms; matplotlib).
"""

from __future__ import annotations

import io
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import numpy.typing as npt

from rhythmcan_cli.evaluation import descriptors
from rhythmcan_cli.evaluation.judging import (
    GenreFollowing,
    JudgeCalibration,
)
from rhythmcan_cli.evaluation.texture import TextureStats

if TYPE_CHECKING:
    pass

FloatArray = npt.NDArray[np.float32]


GENERATED: Final = "generated"


BASELINE_INSTRUMENT: Final = "random: per-instrument counts"


BASELINE_TOTAL: Final = "random: total count"


HELD_OUT: Final = "held-out real"


@dataclass
class DistanceRow:
    """One row of the paper's table: mean distance to each training genre, and diversity."""

    name: str
    n: int
    to_genre: dict[str, float]
    diversity: float


@dataclass
class AmbiguityStats:
    """Classifier posteriors of one set: normalised entropy (1 = uniform) and max probability."""

    n: int
    entropy_mean: float
    entropy_std: float
    max_prob_mean: float
    max_prob_std: float
    predicted_share: dict[str, float]


@dataclass
class Ambiguity:
    """Genre ambiguity of generated vs held-out real patterns under one classifier."""

    classifier: str
    generated: AmbiguityStats
    real: AmbiguityStats
    calibration: JudgeCalibration | None = None
    """The judge's accuracy, recall and calibration on held-out real windows, and its
    entropy on the random baselines: the scale the entropies above are read on."""


@dataclass
class NoveltyStats:
    """Nearest-neighbour distances of one set to the training split."""

    n: int
    mean: float
    median: float
    min: int
    max: int
    copy_rate: float
    near_rate: float


@dataclass
class Novelty:
    """Novelty of the generated set, with held-out real and random patterns as references."""

    near_distance: int
    training_size: int
    generated: NoveltyStats
    real: NoveltyStats
    random: NoveltyStats
    nearest: list[int] = field(repr=False, default_factory=list)


@dataclass
class Plausibility:
    """Descriptor distributions: generated vs held-out real (and held-out vs training as the
    reference for what 'the same distribution' scores with finite samples)."""

    descriptors: dict[str, dict[str, float]]
    mean_overlap: float
    reference_mean_overlap: float


@dataclass
class EvaluationReport:
    """Everything ``rhythmcan evaluate`` shows; ``to_dict`` for ``--json``."""

    source: str
    source_kind: str
    n: int
    seed: int
    threshold: float
    genres: list[str]
    data_fingerprint: str
    training_size: int
    held_out_size: int
    held_out: str
    """Which files are held out: the model's own validation files, or drawn with a seed."""
    held_out_copies: float
    """Share of held-out windows that are exact (binarised) copies of training windows."""
    per_genre: int
    table: list[DistanceRow]
    novelty: Novelty
    plausibility: Plausibility
    ambiguity: Ambiguity | None
    notes: list[str] = field(default_factory=list)
    texture: dict[str, TextureStats] = field(default_factory=dict)
    genre_following: GenreFollowing | None = None
    """Conditional models: does the judge hear the genre each pattern was asked for?"""
    """Texture of every set (``evaluation.texture``): generated, held-out real, baselines."""
    generated_descriptors: npt.NDArray[np.float64] = field(
        repr=False, default_factory=lambda: np.zeros((0, len(descriptors.DESCRIPTOR_NAMES)))
    )
    real_descriptors: npt.NDArray[np.float64] = field(
        repr=False, default_factory=lambda: np.zeros((0, len(descriptors.DESCRIPTOR_NAMES)))
    )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (the per-pattern arrays are left out)."""
        data = asdict(self)
        data.pop("generated_descriptors")
        data.pop("real_descriptors")
        data["novelty"]["nearest"] = [int(v) for v in self.novelty.nearest]
        data["descriptor_names"] = list(descriptors.DESCRIPTOR_NAMES)
        return data


def plot_report(report_: EvaluationReport, dest: Path) -> Path:
    """A PNG: heatmap of the distance table and generated-vs-real descriptor histograms."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = descriptors.DESCRIPTOR_NAMES
    shown = [i for i, d in enumerate(names) if not d.startswith("density_")] + [1, 2, 3]
    cols = 4
    hist_rows = math.ceil(len(shown) / cols)
    fig = plt.figure(figsize=(4 * cols, 4 + 2.6 * hist_rows))
    grid = fig.add_gridspec(1 + hist_rows, cols, height_ratios=[1.6] + [1.0] * hist_rows)
    ax = fig.add_subplot(grid[0, :])
    matrix = np.array([[row.to_genre[g] for g in report_.genres] for row in report_.table])
    image = ax.imshow(matrix, aspect="auto", cmap="viridis")
    ax.set_xticks(range(len(report_.genres)), report_.genres, rotation=30, ha="right")
    ax.set_yticks(
        range(len(report_.table)),
        [f"{r.name} (div {r.diversity:.1f})" for r in report_.table],
    )
    for (i, j), value in np.ndenumerate(matrix):
        ax.text(j, i, f"{value:.1f}", ha="center", va="center", color="w", fontsize=8)
    ax.set_title(f"mean OSA distance to each training genre: {report_.source}")
    fig.colorbar(image, ax=ax)
    for k, index in enumerate(shown):
        axis = fig.add_subplot(grid[1 + k // cols, k % cols])
        g = report_.generated_descriptors[:, index]
        r = report_.real_descriptors[:, index]
        both = np.concatenate([g, r])
        edges = [float(e) for e in np.histogram_bin_edges(both, bins=20)]
        axis.hist(r, bins=edges, alpha=0.5, density=True, label="held-out real")
        axis.hist(g, bins=edges, alpha=0.5, density=True, label="generated")
        oa = report_.plausibility.descriptors[names[index]]["overlap"]
        axis.set_title(f"{names[index]} (OA {oa:.2f})", fontsize=9)
        if k == 0:
            axis.legend(fontsize=7)
    fig.tight_layout()
    dest = Path(dest)
    kind = dest.suffix.lower().lstrip(".") or "png"
    try:
        if kind not in fig.canvas.get_supported_filetypes():
            from rhythmcan_cli.errors import UsageError

            raise UsageError(f"--plot cannot write {kind!r} files; use a .png, .svg or .pdf name")
        rendered = io.BytesIO()
        fig.savefig(rendered, dpi=100, format=kind)
    finally:
        plt.close(fig)
    from rhythmcan_cli.atomic import atomic_write

    atomic_write(dest, rendered.getvalue())  # whole or absent; OutputError naming dest
    return dest
