"""``modkit demo``: the main job, offline, on the local scorer; then every notebook."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import TextIO

from .._errors import InputError
from .._frame import category_columns, flag_column
from .._io import read_table
from .._runner import moderate

_ROOT = Path(__file__).resolve().parents[2]
#: Seconds from which a notebook cell gets its own line in the demo's output.
SLOW_CELL = 1.0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo",
        help="run the main job offline and execute the notebooks into reports/",
        description="Score the recorded endpoint examples on the local scorer (no network, no "
        "key), then execute every notebook in notebooks/ headless, leaving HTML reports and "
        "the exported thresholds.json in the reports folder.",
    )
    p.add_argument("--reports", default="reports", help="output folder (default reports/)")
    p.add_argument("--backend", default="local", help="backend for the notebooks")
    p.add_argument("--skip-notebooks", action="store_true", help="only the moderation job")
    p.add_argument(
        "--only",
        action="append",
        metavar="NOTEBOOK",
        help="run only this notebook (file name; repeatable)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if not (_ROOT / "notebooks").is_dir():
        raise InputError("modkit demo runs from a source checkout (no notebooks/ folder found)")
    t_start = time.monotonic()
    reports = Path(args.reports).resolve()
    reports.mkdir(parents=True, exist_ok=True)
    before = _files(reports)
    out = sys.stdout
    _moderation_job(args, reports, out)
    if not args.skip_notebooks:
        notebooks = sorted((_ROOT / "notebooks").glob("*.ipynb"))
        if args.only:
            unknown = sorted(set(args.only) - {nb.name for nb in notebooks})
            if unknown:
                raise InputError(f"--only: no notebook {unknown[0]!r} in {_ROOT / 'notebooks'}")
            notebooks = [nb for nb in notebooks if nb.name in args.only]
        for k, nb in enumerate(notebooks, start=1):
            _notebook_step(nb, f"[{k}/{len(notebooks)}] {nb.name}", args, reports, out)
    # every file the job and the notebooks created or changed, found on disk (a notebook
    # that writes a new file is listed without this command knowing of it)
    after = _files(reports)
    written = sorted(p for p, stamp in after.items() if before.get(p) != stamp)
    out.write(f"\nWritten ({len(written)} files):\n" + "".join(f"  {p}\n" for p in written))
    out.write(f"modkit demo: done in {time.monotonic() - t_start:.0f} s\n")
    return 0


def _moderation_job(args: argparse.Namespace, reports: Path, out: TextIO) -> None:
    """The main job: the recorded endpoint examples scored by ``args.backend``, compared."""
    recorded = read_table(_ROOT / "data" / "openai-forum-2023.jsonl")
    out.write(
        f"[job] scoring {len(recorded)} recorded endpoint examples on {args.backend!r}: "
        f"started {time.strftime('%H:%M:%S')}\n"
    )
    out.flush()
    t0 = time.monotonic()
    results = moderate(
        recorded["input"].rename("text"), backend=args.backend, cache=None, progress=False
    )
    out.write(f"[job] finished in {time.monotonic() - t0:.1f} s (scorer loaded and run)\n")
    out.write("Recorded endpoint scores (2023, legacy model) vs the local scorer:\n")
    for (_, rec), (_, res) in zip(recorded.iterrows(), results.iterrows(), strict=True):
        endpoint = rec["result"]
        top = max(endpoint["category_scores"], key=endpoint["category_scores"].get)
        text = " ".join(str(rec["input"]).split())[:44]
        fired = [c for c in category_columns(results) if res[flag_column(c)] is True]
        # the local scorer's own highest category too: the endpoint's may not be it
        own = max(category_columns(results), key=lambda c: res[c])
        also = f", {own}={res[own]:.3f}" if own != top else ""
        out.write(
            f"  {text:<44}  endpoint {top}={endpoint['category_scores'][top]:.3f} "
            f"flagged={endpoint['flagged']!s:<5} | local {top}={res[top]:.3f}{also} "
            f"flags: {', '.join(fired) or 'none'}\n"
        )
    out.write(
        "  (the local scorer flags at its own default thresholds; fit yours in notebook 02;\n"
        "  it reads listed group terms such as 'a woman' or 'a Jew' as 'a person', so texts\n"
        "  that differ only in the group get the same local scores)\n"
    )
    results.to_csv(reports / "demo_scores.csv", index=False)


def _notebook_step(
    nb: Path, label: str, args: argparse.Namespace, reports: Path, out: TextIO
) -> None:
    """Run one notebook, with a line when it starts, when its kernel is up, for each cell
    that takes :data:`SLOW_CELL` seconds or more (what the wait is spent on), and when done."""
    from .._notebooks import run_notebook

    out.write(f"{label}: started {time.strftime('%H:%M:%S')}\n")
    out.flush()
    t0 = time.monotonic()
    first: list[float] = []

    def on_cell(index: int, source: str, started: float, finished: float) -> None:
        if not first:
            first.append(started)
            out.write(f"      kernel up in {started - t0:.1f} s\n")
        if finished - started >= SLOW_CELL:
            code = next((ln.strip() for ln in source.splitlines() if ln.strip()), "")
            out.write(f"      cell {index}: {finished - started:.1f} s  {code[:70]}\n")
        out.flush()

    paths = run_notebook(
        nb,
        reports,
        parameters={"backend": args.backend, "reports_dir": str(reports)},
        on_cell=on_cell,
    )
    out.write(f"{label}: finished in {time.monotonic() - t0:.0f} s -> {paths['html']}\n")
    out.flush()


def _files(folder: Path) -> dict[Path, tuple[int, int]]:
    """Every file under ``folder`` with its (modification time in ns, size)."""
    return {p: (p.stat().st_mtime_ns, p.stat().st_size) for p in folder.rglob("*") if p.is_file()}
