"""Plugins found through the ``modkit.plugins`` entry-point group by the ``modkit`` command:
an installed distribution's module registers a backend and an export format, and
``modkit moderate --backend toy`` / ``modkit export --format toy`` work from a shell."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from modkit import ThresholdSet, read_table
from modkit.thresholds import ThresholdFile

PLUGINS = Path(__file__).parents[1] / "fixtures" / "plugins"


def _install(site: Path, entries: dict[str, str], broken: bool = False) -> None:
    """A distribution on ``site`` (a dist-info folder, as pip writes one) whose entry
    points name the fixture plugins."""
    for name in ("toy_backend.py", "toy_export.py"):
        shutil.copy(PLUGINS / name, site / f"toyplug_{name}")
    if broken:
        (site / "toyplug_broken.py").write_text("raise RuntimeError('no luck')\n")
    info = site / "toyplug-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: toyplug\nVersion: 0.1\n")
    lines = "".join(f"{k} = {v}\n" for k, v in entries.items())
    (info / "entry_points.txt").write_text(f"[modkit.plugins]\n{lines}")


def _modkit(site: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(site), "MODKIT_CACHE_DIR": str(cwd / "cache")}
    return subprocess.run(
        [sys.executable, "-m", "modkit", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=cwd,
    )


def test_an_installed_plugin_adds_a_backend_and_an_export_format(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    _install(
        site,
        {"toy": "toyplug_toy_backend", "toyx": "toyplug_toy_export", "bad": "toyplug_broken"},
        broken=True,
    )
    (tmp_path / "in.txt").write_text("you idiot\nkill it\n", encoding="utf-8")
    done = _modkit(site, "moderate", "in.txt", "-o", "out.csv", "--backend", "toy", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    df = read_table(tmp_path / "out.csv")
    assert df["RUDE"].tolist() == [0.5, 0.0] and df["SCARY"].tolist() == [0.0, 0.5]
    # the broken plugin is one warning line; the others still load
    warned = [line for line in done.stderr.splitlines() if "plugin 'bad'" in line]
    assert warned == [
        "modkit: warning: plugin 'bad' (toyplug_broken) failed to load: RuntimeError: no luck"
    ]

    ts = ThresholdSet.from_thresholds({"violence": {"block": 0.8, "review": 0.5}})
    ThresholdFile({"input": ts}).save(tmp_path / "t.json")
    done = _modkit(
        site, "export", "t.json", "--format", "toy", "--toy-separator", "|", cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "profile|category|review|block\ninput|violence|0.5|0.8\n"


def test_without_the_distribution_the_names_are_unknown(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    (tmp_path / "in.txt").write_text("x\n", encoding="utf-8")
    done = _modkit(site, "moderate", "in.txt", "-o", "out.csv", "--backend", "toy", cwd=tmp_path)
    assert done.returncode == 2
    assert "argument --backend: invalid choice: 'toy'" in done.stderr
    assert not (tmp_path / "out.csv").exists()
