"""``modkit lab``: open the notebooks in JupyterLab, with the data sets found."""

from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

from .._errors import InputError

_ROOT = Path(__file__).resolve().parents[2]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "lab",
        help="open the notebooks in JupyterLab (needs the notebook extra)",
        description="Start JupyterLab on the notebooks folder with an absolute "
        "MODKIT_DATA_DIR (a relative one is resolved against the folder you run this in; "
        "unset, ../shared/datasets beside the checkout is used when it exists). In a git "
        "checkout whose .gitattributes names the nbstripout filter, the filter is set in "
        "the checkout's git config first (as 'make hooks' does), so a notebook edited and "
        "saved in JupyterLab commits without its outputs. Extra arguments after -- go to "
        "'jupyter lab'.",
    )
    p.add_argument(
        "--dir",
        dest="folder",
        metavar="DIR",
        help="folder to open (default: notebooks/ of the source checkout, else the current one)",
    )
    p.add_argument("--no-browser", action="store_true", help="do not open a browser")
    p.add_argument("--port", type=int, help="port (default: JupyterLab's, 8888 or the next free)")
    p.add_argument(
        "--ip", help="address to listen on (default: JupyterLab's, localhost); 0.0.0.0 for all"
    )
    p.add_argument(
        "--no-git-filter",
        action="store_true",
        help="do not set the checkout's nbstripout git filter (default: set it, as 'make hooks')",
    )
    p.add_argument(
        "--dry-run", action="store_true", help="print the commands and environment, run nothing"
    )
    p.add_argument("lab_args", nargs="*", metavar="-- JUPYTER_ARG", help="passed to jupyter lab")
    p.set_defaults(func=run)


def lab_folder(args: argparse.Namespace) -> Path:
    """The folder JupyterLab opens: ``--dir``, else the checkout's notebooks, else here."""
    if args.folder is not None:
        folder = Path(args.folder).resolve()
    elif (_ROOT / "notebooks").is_dir():
        folder = _ROOT / "notebooks"
    else:
        folder = Path.cwd()
    if not folder.is_dir():
        raise InputError(f"{folder}: no such folder")
    return folder


def lab_command(args: argparse.Namespace) -> tuple[list[str], dict[str, str]]:
    """The ``jupyter lab`` command line and environment ``modkit lab`` would run."""
    folder = lab_folder(args)
    env = dict(os.environ)
    if not env.get("MODKIT_DATA_DIR", "").strip():
        beside = _ROOT.parent / "shared" / "datasets"
        if beside.is_dir():
            env["MODKIT_DATA_DIR"] = str(beside)
    cmd = [sys.executable, "-m", "jupyterlab", f"--ServerApp.root_dir={folder}"]
    if args.no_browser:
        cmd.append("--no-browser")
    if args.port is not None:
        cmd.append(f"--port={args.port}")
    if args.ip is not None:
        cmd.append(f"--ip={args.ip}")
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")  # containers and CI machines often run as root
    extra = [a for a in args.lab_args if a != "--"]
    return cmd + extra, env


def git_filter_commands(folder: Path) -> list[list[str]]:
    """The ``git config`` commands ``make hooks`` runs, for the checkout holding ``folder``.

    Empty when ``folder`` is not in a git checkout (or git is missing) or the
    checkout's ``.gitattributes`` does not name the ``nbstripout`` filter.
    """
    try:
        top = subprocess.run(
            ["git", "-C", str(folder), "rev-parse", "--show-toplevel"],
            capture_output=True,
            text=True,
            check=False,
        )
    except OSError:
        return []
    if top.returncode != 0:
        return []
    root = Path(top.stdout.strip())
    attributes = root / ".gitattributes"
    if not attributes.is_file() or "filter=nbstripout" not in attributes.read_text("utf-8"):
        return []
    git = ["git", "-C", str(root), "config"]
    strip = f'"{sys.executable}" -m nbstripout --keep-id'
    return [
        [*git, "filter.nbstripout.clean", strip],
        [*git, "filter.nbstripout.smudge", "cat"],
        [*git, "diff.ipynb.textconv", f"{strip} -t"],
    ]


def run(args: argparse.Namespace) -> int:
    cmd, env = lab_command(args)
    data = env.get("MODKIT_DATA_DIR") or "unset (data sets are downloaded into the user cache)"
    print(f"modkit lab: MODKIT_DATA_DIR={data}", file=sys.stderr)
    hooks = [] if args.no_git_filter else git_filter_commands(lab_folder(args))
    if args.dry_run:
        for hook in hooks:
            print(" ".join(hook))
        print(" ".join(cmd))
        return 0
    for hook in hooks:
        subprocess.run(hook, check=True)
    if hooks:
        print("modkit lab: git filter nbstripout set (outputs are not committed)", file=sys.stderr)
    if importlib.util.find_spec("jupyterlab") is None:
        raise InputError(
            "JupyterLab is not installed: pip install 'modkit[notebook]' (or run 'make lab')"
        )
    sys.stderr.flush()
    if os.name == "posix":
        # become JupyterLab: signals (Ctrl-C, a supervisor's SIGTERM) reach it directly and
        # no server is left behind when this process is stopped
        os.execve(sys.executable, cmd, env)
    try:  # pragma: no cover - Windows has no exec that keeps the process
        return subprocess.call(cmd, env=env)
    except KeyboardInterrupt:  # pragma: no cover - JupyterLab shut down on the same Ctrl-C
        return 130
