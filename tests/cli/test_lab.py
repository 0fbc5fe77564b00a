"""`modkit lab`: JupyterLab started for real, a notebook executed through its server.

The end-to-end test starts `modkit lab` (JupyterLab, headless) on a free loopback port, opens
a session for the quickstart notebook through the server's REST API and runs every code cell
over the kernel's websocket, exactly as the browser front end does.
"""

import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import nbformat
import pytest
import websocket

from modkit import DatasetError
from modkit.datasets import dataset_path
from modkit.server import free_port

ROOT = Path(__file__).resolve().parents[2]
MODKIT = [sys.executable, "-m", "modkit"]


def _env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    env.update(extra)
    return env


def test_jupyterlab_is_installed_with_the_notebook_extra():
    out = subprocess.run(
        [sys.executable, "-m", "jupyterlab", "--version"], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert int(out.stdout.strip().split(".")[0]) >= 4


def test_relative_data_dir_is_resolved_where_it_was_set(tmp_path):
    (tmp_path / "data").mkdir()
    out = subprocess.run(
        [*MODKIT, "lab", "--dry-run"],
        cwd=tmp_path,
        env=_env(MODKIT_DATA_DIR="data"),
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr
    assert f"MODKIT_DATA_DIR={tmp_path / 'data'}" in out.stderr
    assert "--ServerApp.root_dir=" in out.stdout


def test_missing_dataset_error_lists_every_place_searched(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MODKIT_DATA_DIR", "nowhere")
    monkeypatch.setenv("MODKIT_OFFLINE", "1")
    with pytest.raises(DatasetError) as exc:
        dataset_path("hatecheck", data_dir=tmp_path / "first")
    msg = str(exc.value)
    assert str(tmp_path / "first" / "hatecheck_test_suite_cases.csv") in msg or "first" in msg
    assert str(tmp_path / "nowhere") in msg
    assert "MODKIT_DATA_DIR=nowhere was relative" in msg
    assert os.environ["MODKIT_CACHE_DIR"] in msg  # the user cache is listed too


def test_failed_download_lists_every_place_searched(tmp_path, monkeypatch):
    monkeypatch.delenv("MODKIT_DATA_DIR", raising=False)
    monkeypatch.delenv("MODKIT_OFFLINE", raising=False)
    port = free_port()  # nothing listens there: the download fails at once
    with pytest.raises(DatasetError) as exc:
        dataset_path("hatecheck", mirror=f"http://127.0.0.1:{port}/", timeout=5)
    msg = str(exc.value)
    assert "cannot download" in msg
    assert os.environ["MODKIT_CACHE_DIR"] in msg
    assert "MODKIT_DATA_DIR is not set" in msg


class Kernel:
    """The kernel of a Jupyter server session, driven over its websocket channels."""

    def __init__(self, ws_url: str) -> None:
        self.ws = websocket.create_connection(ws_url, timeout=120)
        self.session = uuid.uuid4().hex

    def execute(self, code: str, timeout: float = 240) -> dict:
        msg_id = uuid.uuid4().hex
        self.ws.send(
            json.dumps(
                {
                    "header": {
                        "msg_id": msg_id,
                        "username": "test",
                        "session": self.session,
                        "msg_type": "execute_request",
                        "version": "5.3",
                    },
                    "parent_header": {},
                    "metadata": {},
                    "content": {
                        "code": code,
                        "silent": False,
                        "store_history": True,
                        "user_expressions": {},
                        "allow_stdin": False,
                        "stop_on_error": True,
                    },
                    "channel": "shell",
                    "buffers": [],
                }
            )
        )
        reply, idle, outputs = None, False, []
        deadline = time.monotonic() + timeout
        while reply is None or not idle:
            assert time.monotonic() < deadline, f"no reply within {timeout}s to {code[:60]!r}"
            msg = json.loads(self.ws.recv())
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind = msg["msg_type"]
            if kind == "execute_reply":
                reply = msg["content"]
            elif kind == "status" and msg["content"]["execution_state"] == "idle":
                idle = True
            elif kind in ("stream", "execute_result", "display_data", "error"):
                outputs.append(msg["content"])
        return {"reply": reply, "outputs": outputs}

    def close(self) -> None:
        self.ws.close()


@pytest.mark.slow
def test_modkit_lab_runs_the_quickstart_through_the_jupyter_server(tmp_path):
    folder = tmp_path / "nb"
    folder.mkdir()
    shutil.copy(ROOT / "notebooks" / "00_quickstart.ipynb", folder)
    (folder / "mine.yaml").write_text(
        'templates:\n  - id: mine\n    text: "Tell me about {who: cats|dogs|my neighbour}."\n',
        encoding="utf-8",
    )
    port, token = free_port(), uuid.uuid4().hex
    data = os.path.relpath(os.environ.get("MODKIT_DATA_DIR", str(tmp_path)), tmp_path)
    proc = subprocess.Popen(
        [
            *MODKIT,
            "lab",
            "--dir",
            str(folder),
            "--no-browser",
            "--port",
            str(port),
            "--",
            "--ServerApp.ip=127.0.0.1",
            f"--IdentityProvider.token={token}",
            "--ServerApp.port_retries=0",
        ],
        cwd=tmp_path,
        env=_env(
            MODKIT_DATA_DIR=data,  # relative to tmp_path, where it is "set"
            JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"),
            JUPYTER_CONFIG_DIR=str(tmp_path / "config"),
            JUPYTERLAB_WORKSPACES_DIR=str(tmp_path / "workspaces"),
        ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    headers = {"Authorization": f"token {token}"}
    kernel = None
    try:
        with httpx.Client(base_url=base, headers=headers, timeout=30) as http:
            deadline = time.monotonic() + 120
            while True:
                assert proc.poll() is None, proc.stderr.read()
                try:
                    if http.get("/api/status").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, "JupyterLab did not answer in 120 s"
                time.sleep(0.5)
            assert http.get("/lab").status_code == 200  # the JupyterLab front end is served
            listing = http.get("/api/contents").json()
            assert "00_quickstart.ipynb" in [c["name"] for c in listing["content"]]
            session = http.post(
                "/api/sessions",
                json={
                    "path": "00_quickstart.ipynb",
                    "type": "notebook",
                    "kernel": {"name": "python3"},
                },
            ).json()
            kid = session["kernel"]["id"]
            kernel = Kernel(f"ws://127.0.0.1:{port}/api/kernels/{kid}/channels?token={token}")
            nb = nbformat.read(folder / "00_quickstart.ipynb", as_version=4)
            env_check = kernel.execute("import os; print(os.environ['MODKIT_DATA_DIR'])")
            assert env_check["reply"]["status"] == "ok"
            printed = env_check["outputs"][0]["text"].strip()
            assert ".." not in Path(printed).parts
            assert os.path.isabs(printed) and Path(printed) == (tmp_path / data).resolve()
            for cell in nb.cells:
                if cell.cell_type != "code":
                    continue
                code = cell.source
                if "parameters" in cell.metadata.get("tags", []):
                    code += f"\ntemplate_file = 'mine.yaml'\nreports_dir = {str(tmp_path)!r}"
                ran = kernel.execute(code)
                assert ran["reply"]["status"] == "ok", ran
            written = (tmp_path / "quickstart_scores.csv").read_text(encoding="utf-8")
            assert "my neighbour" in written and "who" in written.splitlines()[0]
            http.delete(f"/api/sessions/{session['id']}")
    finally:
        if kernel is not None:
            kernel.close()
        proc.terminate()  # `modkit lab` has become JupyterLab: the server itself stops
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        proc.stderr.close()
    with pytest.raises(httpx.TransportError):  # nothing is left listening
        httpx.get(f"{base}/api/status", timeout=5)
