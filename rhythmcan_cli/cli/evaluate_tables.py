"""The newer tables of `rhythmcan evaluate`: texture, and the judge's own quality.

Kept apart from ``cli/evaluate.py`` (the paper's table, novelty, plausibility) so each file
stays small. Every table has one column per set of the report, held-out real among them,
so a figure is always read beside what real drumming scores.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rhythmcan_cli.cli.console import out

if TYPE_CHECKING:
    from rhythmcan_cli.evaluation.report import EvaluationReport
    from rhythmcan_cli.evaluation.texture import TextureStats

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

    from rhythmcan_cli.evaluation.texture import HIGH_RATIO, LOW_RATIO, ROLL_LENGTH

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


def ambiguity_line(report: EvaluationReport) -> str | None:
    """'entropy 0.47 (held-out real 0.23, random 0.30 / 0.35)': the headline figure."""
    amb = report.ambiguity
    if amb is None:
        return None
    line = f"entropy {amb.generated.entropy_mean:.2f} (held-out real {amb.real.entropy_mean:.2f}"
    cal = amb.calibration
    if cal is not None:
        line += (
            f", random {cal.entropy_random_instrument:.2f} per-instrument / "
            f"{cal.entropy_random_total:.2f} total"
        )
    return line + ")"


def render_judge(report: EvaluationReport) -> None:
    """Ambiguity beside the judge's own quality, and genre-following for conditional models."""
    from rich.table import Table

    amb = report.ambiguity
    if amb is None:
        return
    cal = amb.calibration
    caption = None
    if cal is not None:
        q = cal.quality
        recall = ", ".join(f"{g} {r:.0%}" for g, r in q.recall.items())
        unseen = {"yes": " it never saw", "unknown": ""}.get(
            cal.unseen, "" if cal.unseen.startswith("no") else " it never saw"
        )
        caption = (
            f"judge on {q.n} held-out real windows{unseen}: accuracy {q.accuracy:.1%}, macro "
            f"recall {q.macro_recall:.1%}, calibration error (ECE) {q.ece:.3f}; recall: {recall}"
        )
    table = Table(
        title=f"Genre ambiguity: {ambiguity_line(report)}; judge '{amb.classifier}', entropy "
        "1 = no genre",
        title_justify="left",
        caption=caption,
        caption_justify="left",
    )
    for column in ("patterns", "entropy", "max probability", "most often"):
        table.add_column(column, justify="left" if column == "patterns" else "right")
    for label, posterior in (("generated", amb.generated), ("held-out real", amb.real)):
        top = max(posterior.predicted_share.items(), key=lambda item: item[1])
        table.add_row(
            label,
            f"{posterior.entropy_mean:.3f} ± {posterior.entropy_std:.3f}",
            f"{posterior.max_prob_mean:.3f} ± {posterior.max_prob_std:.3f}",
            f"{top[0]} {top[1]:.0%}",
        )
    if cal is not None:
        table.add_row("random: instr.", f"{cal.entropy_random_instrument:.3f}", "", "")
        table.add_row("random: total", f"{cal.entropy_random_total:.3f}", "", "")
    out.print(table)
    following = report.genre_following
    if following is None:
        return
    table = Table(
        title=f"Genre-following: share of the patterns asked for a genre that the judge "
        f"calls that genre (mean {following.mean_precision:.1%}; the judge's own recall on "
        "held-out real is the ceiling)",
        title_justify="left",
    )
    for column in ("asked for", "judge agrees", "judge recall (real)", "judge's top genre"):
        table.add_column(column, justify="left" if column == "asked for" else "right")
    for row, genre in enumerate(following.genres):
        counts = following.confusion[row]
        total = max(sum(counts), 1)
        pick = int(max(range(len(counts)), key=lambda i: counts[i]))
        ceiling = following.judge_recall.get(genre)
        table.add_row(
            genre,
            f"{following.precision[genre]:.1%}",
            "-" if ceiling is None else f"{ceiling:.1%}",
            f"{following.judge_genres[pick]} {counts[pick] / total:.0%}",
        )
    out.print(table)


__all__ = ["ambiguity_line", "render_judge", "render_texture"]
