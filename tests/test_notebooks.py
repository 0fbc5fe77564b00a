"""The headless notebook runner behind `make demo` and `modkit notebook`."""

import re

import nbformat
import pytest

from modkit._notebooks import NotebookError, inject_parameters, run_notebook
from modkit.cli import main


def _notebook(path, body="value = n * 2\nprint('value', value)"):
    params = nbformat.v4.new_code_cell("n = 1")
    params.metadata["tags"] = ["parameters"]
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# t"), params, nbformat.v4.new_code_cell(body)]
    nbformat.write(nb, path)
    return path


def _outputs(path):
    nb = nbformat.read(path, as_version=4)
    return "".join(
        o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
    )


def test_parameters_override_the_tagged_cell(tmp_path):
    src = _notebook(tmp_path / "nb.ipynb")
    paths = run_notebook(src, tmp_path / "out", parameters={"n": 21})
    assert "value 42" in _outputs(paths["ipynb"])
    # the source notebook stays without outputs
    assert "value" not in _outputs(src)


def test_inject_without_parameters_cell_is_a_clear_error():
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("x = 1")]
    with pytest.raises(Exception, match="no cell tagged 'parameters'"):
        inject_parameters(nb, {"x": 2})


def test_failing_cell_names_the_error_and_keeps_what_ran(tmp_path):
    src = _notebook(tmp_path / "bad.ipynb", body="print('before')\nraise ValueError('boom')")
    with pytest.raises(NotebookError, match="ValueError: boom"):
        run_notebook(src, tmp_path / "out")
    assert "before" in _outputs(tmp_path / "out" / "bad.ipynb")


def test_html_report_loads_no_script_from_the_network(tmp_path):
    pytest.importorskip("plotly")
    src = _notebook(
        tmp_path / "plot.ipynb",
        body="import plotly.graph_objects as go\nimport plotly.io as pio\n"
        "pio.renderers.default = 'notebook'\ngo.Figure(go.Bar(y=[1, 2, n])).show()",
    )
    html = run_notebook(src, tmp_path / "out")["html"].read_text()
    assert "Plotly" in html
    srcs = re.findall(r"<script[^>]*\bsrc=\"([^\"]*)\"", html)
    assert not [s for s in srcs if s.startswith(("http", "//")) or not s], srcs


def test_cli_notebook_command(tmp_path, capsys):
    src = _notebook(tmp_path / "nb.ipynb")
    code = main(["notebook", str(src), "-o", str(tmp_path / "o"), "-p", "n=5"])
    assert code == 0
    assert "value 10" in _outputs(tmp_path / "o" / "nb.ipynb")
    assert "html:" in capsys.readouterr().out
    assert main(["notebook", str(tmp_path / "missing.ipynb")]) == 1
    assert "notebook not found" in capsys.readouterr().err


def test_exported_html_replaces_widgets_with_a_note_and_drops_their_state(tmp_path):
    pytest.importorskip("ipywidgets")
    src = _notebook(
        tmp_path / "w.ipynb",
        body="import ipywidgets as w\nfrom tqdm.auto import tqdm\n"
        "for _ in tqdm(range(3), desc='counting'):\n    pass\n"
        "w.VBox([w.IntSlider(value=n), w.Dropdown(options=['a', 'b'])])",
    )
    paths = run_notebook(src, tmp_path / "out")
    executed = nbformat.read(paths["ipynb"], as_version=4)
    views = [
        o
        for c in executed.cells
        for o in c.get("outputs", [])
        if "application/vnd.jupyter.widget-view+json" in o.get("data", {})
    ]
    assert len(views) == 2  # the bar and the box really are widgets in the notebook
    page = paths["html"].read_text(encoding="utf-8")
    assert "widget-state+json" not in page and "widget-view+json" not in page
    assert "Interactive widget (VBox)" in page and "make lab" in page
    assert "counting: 100%" in page and "3/3" in page  # the finished bar, from its state
    assert len(page) < 1_000_000


def test_on_cell_reports_each_code_cell_with_its_time(tmp_path):
    src = _notebook(tmp_path / "nb.ipynb", body="import time\ntime.sleep(0.3)")
    seen = []
    run_notebook(src, tmp_path / "out", html=False, on_cell=lambda *args: seen.append(args))
    assert [(i, s) for i, s, _, _ in seen] == [(1, "n = 1"), (2, "import time\ntime.sleep(0.3)")]
    (_, _, s1, f1), (_, _, s2, f2) = seen
    assert s1 <= f1 <= s2 <= f2 and f2 - s2 >= 0.3 > f1 - s1
