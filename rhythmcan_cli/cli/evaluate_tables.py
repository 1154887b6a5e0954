"""The newer tables of `rhythmcan evaluate`: texture, and the judge's own quality.

Kept apart from ``cli/evaluate.py`` (the paper's table, novelty, plausibility) so each file
stays small. Every table has one column per set of the report, held-out real among them,
so a figure is always read beside what real drumming scores.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rhythmcan_cli.cli.console import out

if TYPE_CHECKING:
    from rhythmcan_cli.evaluate import EvaluationReport
    from rhythmcan_cli.texture import TextureStats

SHORT = {
    "generated": "generated",
    "held-out real": "held-out real",
    "random: per-instrument counts": "random: instr.",
    "random: total count": "random: total",
}


def _rolling(stats: TextureStats) -> str:
    if not stats.roll_drums:
        return "-"
    top = sorted(stats.roll_drums.items(), key=lambda item: -item[1])[:2]
    return ", ".join(f"{drum} {share:.0%}" for drum, share in top)


def render_texture(report: EvaluationReport) -> None:
    """Rolls, repeated grids, per-drum density (x held-out real), downbeat, backbeat."""
    from rich.table import Table

    from rhythmcan_cli.texture import HIGH_RATIO, LOW_RATIO, ROLL_LENGTH

    sets = report.texture
    if not sets:
        return
    table = Table(
        title=f"Texture (roll = {ROLL_LENGTH}+ consecutive sixteenths on one drum; density: "
        f"onsets per step, x held-out real; ! = below {LOW_RATIO}x or above {HIGH_RATIO:g}x)",
        title_justify="left",
    )
    table.add_column("figure")
    for name in sets:
        table.add_column(SHORT.get(name, name), justify="right")
    rows: list[tuple[str, list[str]]] = [
        ("patterns with a roll", [f"{s.roll_share:.1%}" for s in sets.values()]),
        ("rolling drums", [_rolling(s) for s in sets.values()]),
        ("median longest run", [f"{s.median_longest_run:.1f}" for s in sets.values()]),
        (
            "distinct grids",
            [f"{s.distinct_grids} of {s.n}" for s in sets.values()],
        ),
        ("most repeated grid", [f"{s.top_grid_share:.1%}" for s in sets.values()]),
        ("kick on 1 (both bars)", [f"{s.kick_downbeats:.1%}" for s in sets.values()]),
        ("snare on 2+4 (both bars)", [f"{s.backbeat:.1%}" for s in sets.values()]),
        (
            "velocity step in runs",
            [
                "-" if s.run_velocity_change is None else f"{s.run_velocity_change:.3f}"
                for s in sets.values()
            ],
        ),
    ]
    for label, cells in rows:
        table.add_row(label, *cells)
    table.add_section()
    first = next(iter(sets.values()))
    for drum in first.density:
        cells = []
        for s in sets.values():
            ratio = s.density_ratio.get(drum)
            mark = "[bold red]![/]" if drum in s.flagged else ""
            shown = f" ({ratio:.2f}x){mark}" if ratio is not None else ""
            cells.append(f"{s.density[drum]:.3f}{shown}")
        table.add_row(f"density {drum}", *cells)
    out.print(table)


__all__ = ["render_texture"]
