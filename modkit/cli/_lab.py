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
        "unset, ../shared/datasets beside the checkout is used when it exists). Extra "
        "arguments after -- go to 'jupyter lab'.",
    )
    p.add_argument(
        "--dir",
        dest="folder",
        metavar="DIR",
        help="folder to open (default: notebooks/ of the source checkout, else the current one)",
    )
    p.add_argument("--no-browser", action="store_true", help="do not open a browser")
    p.add_argument("--port", type=int, help="port (default: JupyterLab's, 8888 or the next free)")
    p.add_argument("--dry-run", action="store_true", help="print the command and environment")
    p.add_argument("lab_args", nargs="*", metavar="-- JUPYTER_ARG", help="passed to jupyter lab")
    p.set_defaults(func=run)


def lab_command(args: argparse.Namespace) -> tuple[list[str], dict[str, str]]:
    """The ``jupyter lab`` command line and environment ``modkit lab`` would run."""
    if args.folder is not None:
        folder = Path(args.folder).resolve()
    elif (_ROOT / "notebooks").is_dir():
        folder = _ROOT / "notebooks"
    else:
        folder = Path.cwd()
    if not folder.is_dir():
        raise InputError(f"{folder}: no such folder")
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
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")  # containers and CI machines often run as root
    extra = [a for a in args.lab_args if a != "--"]
    return cmd + extra, env


def run(args: argparse.Namespace) -> int:
    cmd, env = lab_command(args)
    data = env.get("MODKIT_DATA_DIR") or "unset (data sets are downloaded into the user cache)"
    print(f"modkit lab: MODKIT_DATA_DIR={data}", file=sys.stderr)
    if args.dry_run:
        print(" ".join(cmd))
        return 0
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
