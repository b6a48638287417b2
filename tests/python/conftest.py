"""Fixtures for the jubilant suite: one private TETHER_HOME (and controller) per session,
a model per test module, and a deployable copy of the db-client ops charm."""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import uuid

import jubilant
import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
SCHEMAS = pathlib.Path(os.environ.get("TETHER_SCHEMAS", REPO.parent / "shared" / "schemas"))
CHARM_SRC = pathlib.Path(__file__).resolve().parent / "charms" / "db-client"
WAIT = float(os.environ.get("TETHER_PYTEST_WAIT", "300"))


def tether_bin() -> str:
    if os.environ.get("TETHER_BIN"):
        return os.environ["TETHER_BIN"]
    for b in ("release", "debug"):
        p = REPO / "target" / b / "tether"
        if p.is_file() and os.access(p, os.X_OK):
            return str(p)
    pytest.exit("no tether binary: run 'cargo build --release -p tether' (or set TETHER_BIN)", 2)


def _fresh(path: str) -> bool:
    p = pathlib.Path(path)
    return not p.exists() or (p.is_dir() and not any(p.iterdir()))


@pytest.fixture(scope="session")
def cli() -> str:
    return tether_bin()


@pytest.fixture(scope="session", autouse=True)
def controller(cli):
    """A fresh TETHER_HOME for the whole session, set before tether's first call; the
    controller it starts is destroyed at the end."""
    given = os.environ.get("TETHER_HOME")
    if given and _fresh(given):
        home, made = given, False
    else:
        home, made = tempfile.mkdtemp(prefix="tether-pytest-"), True
    os.environ["TETHER_HOME"] = home
    if not os.environ.get("TETHER_FERRETDB_BIN"):
        ferret = REPO / ".tools" / "bin" / "ferretdb"
        if ferret.is_file():
            os.environ["TETHER_FERRETDB_BIN"] = str(ferret)
    subprocess.run([cli, "bootstrap"], check=True, capture_output=True, text=True)
    yield home
    r = subprocess.run([cli, "destroy-controller", "-y"], capture_output=True, text=True)
    if r.returncode != 0:
        print(f"destroy-controller failed: {r.stdout}{r.stderr}", file=sys.stderr)
    if made:
        shutil.rmtree(home, ignore_errors=True)


LOGS = pathlib.Path(os.environ.get("TETHER_PYTEST_LOGS", tempfile.gettempdir())) / "tether-pytest-logs"


def save_debug_log(j: jubilant.Juju, request) -> None:
    """After a failure, keeps the model's debug log (hook tracebacks) for the report."""
    if not request.session.testsfailed:
        return
    try:
        LOGS.mkdir(parents=True, exist_ok=True)
        path = LOGS / f"{j.model}.log"
        path.write_text(j.debug_log(limit=0))
        print(f"\ndebug log of model {j.model}: {path}", file=sys.stderr)
    except Exception as e:  # best effort only
        print(f"cannot save the debug log of {j.model}: {e}", file=sys.stderr)


def new_model(cli: str, prefix: str) -> jubilant.Juju:
    juju = jubilant.Juju(cli_binary=cli, wait_timeout=WAIT)
    juju.add_model(f"{prefix}-{uuid.uuid4().hex[:6]}")
    return juju


@pytest.fixture(scope="module")
def juju(cli, request):
    """A model of its own for each test module, destroyed afterwards."""
    name = request.module.__name__.rsplit(".", 1)[-1].removeprefix("test_").replace("_", "-")
    j = new_model(cli, name)
    model = j.model
    yield j
    if j.model == model:
        save_debug_log(j, request)
        j.destroy_model(model, force=True)


@pytest.fixture(scope="session")
def client_charm(tmp_path_factory) -> pathlib.Path:
    """A copy of the db-client charm whose dispatch runs the repository's venv Python
    (hooks get a clean environment, so the path must be written into the file)."""
    dst = tmp_path_factory.mktemp("charms") / "db-client"
    shutil.copytree(CHARM_SRC, dst, ignore=shutil.ignore_patterns("__pycache__", ".unit-state.db"))
    python = pathlib.Path(sys.executable)
    venv_python = REPO / ".venv" / "bin" / "python"
    if venv_python.exists():
        python = venv_python
    dispatch = dst / "dispatch"
    dispatch.write_text(
        "#!/bin/sh\n"
        f'JUJU_DISPATCH_PATH="${{JUJU_DISPATCH_PATH:-$0}}" PYTHONPATH=lib:src exec {python} ./src/charm.py\n'
    )
    dispatch.chmod(0o755)
    return dst


PROVIDERS = ("postgresql-k8s", "mysql-k8s", "mongodb")


@pytest.fixture(scope="session")
def dbs(cli, controller, request):
    """One model with the three database providers, shared by the ops-charm and schema
    tests (each deploys its own clients into it)."""
    j = new_model(cli, "dbs")
    model = j.model
    for app in PROVIDERS:
        j.deploy(app)
    j.wait(lambda s: jubilant.all_active(s, *PROVIDERS))
    yield j
    if j.model == model:
        save_debug_log(j, request)
        j.destroy_model(model, force=True)
