"""CLI commands: generate (synthetic partner landing tree)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from core.errors import InputRejected, Location
from synth import DEFAULT_YEARS, generate
from synth.world import SCALES


def register(app: typer.Typer) -> None:
    """Add ``c2c generate`` to the app."""

    @app.command("generate")
    def generate_command(
        out: Path = typer.Option(..., "--out", help="Folder to write the landing tree into."),
        students: int | None = typer.Option(None, "--students",
                                     help="Number of K-12 students (default 1000)."),
        scale: str | None = typer.Option(
            None, "--scale",
            help="Share of California: 1% (58,500 students), 10% (585,000) or 100% "
                 "(5,850,000); implies --world state."),
        seed: int = typer.Option(1, "--seed", help="Random seed; same seed, same bytes."),
        years: str = typer.Option(
            ",".join(DEFAULT_YEARS), "--years", help="Academic years, comma separated."
        ),
        defects: str = typer.Option(
            "", "--defects",
            help="Data-defect profiles, comma separated, or 'all' (see docs/formats.md).",
        ),
        world: str = typer.Option(
            "small", "--world",
            help="small (7 LEAs, 4 colleges) or state (California's shape: 2,376 LEAs, "
                 "116 colleges).",
        ),
    ) -> None:
        """Generate synthetic CALPADS, college and CCGI files plus truth.parquet."""
        # soft wrap: the summary line holds a path, and a hard wrap would split it
        console = Console(soft_wrap=True)
        if scale is not None:
            if scale not in SCALES or students is not None:
                raise InputRejected(
                    f"--scale is one of {', '.join(SCALES)} and replaces --students",
                    Location(file="arguments", field="scale", value=scale, rule="scale"))
            students, world = SCALES[scale], "state"
        year_list = [y for y in years.split(",") if y.strip()]
        with Progress(
            TextColumn("[bold]{task.description}"), BarColumn(),
            TextColumn("{task.percentage:>3.0f}%"), TimeElapsedColumn(), console=console,
        ) as bar:
            tasks: dict[str, TaskID] = {}

            def progress(stage: str, done: int, total: int) -> None:
                if " (chunk " in stage:  # a state-size run: one bar over its chunks
                    name, _, part = stage.partition(" (chunk ")
                    number, _, count = part.rstrip(")").partition("/")
                    if "chunks" not in tasks:
                        tasks["chunks"] = bar.add_task("chunks", total=int(count))
                    finished = int(number) - (0 if name == "truth file" and done >= total
                                              else 1)
                    bar.update(tasks["chunks"], completed=finished,
                               description=f"chunk {number}/{count}: {name}")
                    return
                if stage not in tasks:
                    tasks[stage] = bar.add_task(stage, total=max(total, 1))
                bar.update(tasks[stage], completed=done, total=max(total, 1))

            summary = generate(out, students=students or 1000, seed=seed, years=year_list,
                               progress=progress, defects=defects or None,
                               world=world)
        size_mb = summary.bytes / 1e6
        console.print(
            f"Wrote {summary.files} files ({size_mb:.1f} MB) for {summary.students:,} students "
            f"({summary.people:,} people, years {', '.join(summary.years)}) to {summary.out_dir} "
            f"in {summary.seconds:.1f} s; truth rows: {summary.truth_rows:,}."
        )
        for name, codes in summary.defect_partners.items():
            # the state world picks hundreds of LEAs: name the first few, count the rest
            more = f" and {len(codes) - 10:,} more" if len(codes) > 10 else ""
            console.print(f"defect {name}: {', '.join(codes[:10])}{more}")
