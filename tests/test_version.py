"""One version source: modkit/_version.py, read by pyproject, the package, the CLI and files."""

import importlib.metadata
import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import modkit
from modkit.thresholds import ThresholdSet

ROOT = Path(__file__).resolve().parents[1]


def test_pyproject_reads_the_version_from_the_package():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert "version" not in project["project"], "a literal version would be a second source"
    assert "version" in project["project"]["dynamic"]
    attr = project["tool"]["setuptools"]["dynamic"]["version"]["attr"]
    module, name = attr.rsplit(".", 1)
    assert getattr(__import__(module, fromlist=[name]), name) == modkit.__version__


def test_version_is_pep440_and_matches_the_installed_metadata():
    assert re.fullmatch(r"\d+\.\d+\.\d+((a|b|rc)\d+)?(\.dev\d+)?", modkit.__version__)
    assert importlib.metadata.version("modkit") == modkit.__version__


def test_cli_version_prints_the_package_version():
    out = subprocess.run(
        [sys.executable, "-m", "modkit", "--version"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == f"modkit {modkit.__version__}"


def test_threshold_files_record_the_package_version(tmp_path):
    path = tmp_path / "thresholds.json"
    ThresholdSet.from_thresholds({"hate": 0.5}).save(path)
    assert json.loads(path.read_text(encoding="utf-8"))["modkit_version"] == modkit.__version__


def test_changelog_has_an_unreleased_section_and_the_current_version():
    text = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    headings = re.findall(r"^## \[([^\]]+)\]", text, flags=re.M)
    assert headings[0] == "Unreleased"
    assert modkit.__version__ in headings
