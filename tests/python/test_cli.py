"""jubilant's model-level calls: temp_model through a `juju` link, version, show-model,
model-config, add/destroy-model, secrets owned by the model, debug-log."""

from __future__ import annotations

import os
import pathlib

import jubilant
import pytest


def test_temp_model_through_a_juju_link(cli, tmp_path: pathlib.Path, monkeypatch):
    (tmp_path / "juju").symlink_to(cli)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    with jubilant.temp_model() as juju:
        assert juju.model.startswith("jubilant-")
        assert juju.status().model.name == juju.model
        name = juju.model
    models = jubilant.Juju(cli_binary=cli).cli("models", include_model=False)
    assert name not in models


def test_version_show_model_model_config(juju: jubilant.Juju):
    v = juju.version()
    assert v.major == 3
    info = juju.show_model()
    assert info.short_name == juju.model
    assert info.model_uuid
    juju.model_config({"update-status-hook-interval": "10s"})
    assert juju.model_config()["update-status-hook-interval"] == "10s"
    juju.model_config(reset="update-status-hook-interval")
    assert juju.model_config()["update-status-hook-interval"] != "10s"


def test_model_secrets(juju: jubilant.Juju):
    uri = juju.add_secret("greeting", {"hello": "world"}, info="a test secret")
    assert str(uri).startswith("secret:")
    shown = juju.show_secret("greeting", reveal=True)
    assert shown.content == {"hello": "world"}
    juju.update_secret(uri, {"hello": "there"})
    shown = juju.show_secret(uri, reveal=True)
    assert shown.content == {"hello": "there"} and shown.revision == 2
    assert any(s.name == "greeting" for s in juju.secrets())
    juju.remove_secret(uri)
    assert not any(s.name == "greeting" for s in juju.secrets())


def test_add_and_destroy_model(cli):
    j = jubilant.Juju(cli_binary=cli)
    j.add_model("scratch-model")
    assert j.model == "scratch-model"
    j.deploy("data-integrator")
    j.wait(lambda s: jubilant.all_blocked(s, "data-integrator"))
    assert isinstance(j.debug_log(limit=0), str)
    with pytest.raises(jubilant.CLIError):
        j.add_model("scratch-model")
    j.destroy_model("scratch-model", force=True)
    assert j.model is None
    with pytest.raises(jubilant.CLIError):
        j.cli("status", "--model", "scratch-model", include_model=False)


SHELL_CHARM = pathlib.Path(__file__).resolve().parents[2] / "crates/tether/tests/charms/shell-probe"


@pytest.fixture(scope="module")
def probe(juju: jubilant.Juju) -> str:
    juju.deploy(SHELL_CHARM, "probe")
    juju.wait(lambda s: jubilant.all_active(s, "probe"))
    return "probe/0"


def test_show_task_and_show_operation_after_run(juju: jubilant.Juju, probe: str):
    import json

    task = juju.run(probe, "probe", {"cmd": "action-log working; echo done"})
    assert task.status == "completed" and task.results["out"] == "done"
    shown = json.loads(juju.cli("show-task", task.id, "--format", "json"))
    assert shown["id"] == task.id and shown["results"]["out"] == "done"
    assert any("working" in line for line in shown["log"])
    with pytest.raises(jubilant.TaskError) as failed:
        juju.run(probe, "boom")
    assert failed.value.task.return_code == 4
    with pytest.raises(jubilant.CLIError) as cli_failed:
        juju.cli("run", probe, "boom")
    assert "use 'tether show-task' to inspect the failure" in cli_failed.value.stderr
    assert juju.cli("run", probe, "probe", "cmd=echo bg", "--background") == ""
    ops = json.loads(juju.cli("operations", "--format", "json"))
    last = max(ops, key=int)
    (task_id,) = ops[last]["tasks"]
    juju.cli("show-task", task_id, "--watch")
    op = json.loads(juju.cli("show-operation", last, "--format", "json"))
    assert op["status"] == "completed" and op["action"]["name"] == "probe"


def test_show_status_log(juju: jubilant.Juju, probe: str):
    import json

    entries = json.loads(juju.cli("show-status-log", probe, "--format", "json"))
    kinds = {e["type"] for e in entries}
    assert kinds == {"workload", "juju-unit"}
    assert [e for e in entries if e["type"] == "workload"][-1]["status"] == "active"
    table = juju.cli("show-status-log", probe)
    assert table.split("\n")[0].split() == ["Time", "Type", "Status", "Message"]


def test_wait_for(juju: jubilant.Juju):
    juju.deploy("data-integrator", "waited")
    # Juju's query language: the goal holds once the charm asks for a database name.
    juju.cli("wait-for", "application", "waited", "--query", 'status=="blocked"', "--timeout", "2m")
    juju.cli(
        "wait-for", "unit", "waited/0", "--query", 'workload-status=="blocked" && leader', "--timeout", "1m"
    )
    juju.cli("wait-for", "model", juju.model, "--timeout", "1m", include_model=False)
    short = juju.cli("status", "--format", "short", "waited")
    assert short == "\n- waited/0: 127.0.0.1 (agent:idle, workload:blocked)\n"
    # The default goal (active) is not reached: Juju's timeout, exit 1.
    with pytest.raises(jubilant.CLIError) as timed_out:
        juju.cli("wait-for", "application", "waited", "--timeout", "1s")
    assert timed_out.value.returncode == 1
    assert timed_out.value.stderr.splitlines()[-1] == 'ERROR timed out waiting for "waited" to reach goal state'
    with pytest.raises(jubilant.CLIError) as bad:
        juju.cli("wait-for", "application", "waited", "--query", 'status=="blocked" &&')
    assert bad.value.returncode == 2 and "at position 20" in bad.value.stderr


def test_life_while_removing(juju: jubilant.Juju, tmp_path: pathlib.Path):
    """An application being removed is `dying` to jubilant's status and to wait-for, as in
    Juju; its stop hook holds it there until the test lets it go (bounded in the hook)."""
    release = tmp_path / "release"
    charm = tmp_path / "slow-stop"
    charm.mkdir()
    (charm / "metadata.yaml").write_text("name: slow-stop\n")
    dispatch = charm / "dispatch"
    dispatch.write_text(
        "#!/bin/sh\n"
        'case "$JUJU_DISPATCH_PATH" in\n'
        "hooks/start) status-set active ready ;;\n"
        f"hooks/stop) n=0; while [ ! -e '{release}' ] && [ $n -lt 1200 ]; do sleep 0.1; n=$((n+1)); done ;;\n"
        "esac\n"
    )
    dispatch.chmod(0o755)
    juju.deploy(charm, "slow")
    status = juju.wait(lambda s: jubilant.all_active(s, "slow"))
    assert status.apps["slow"].life == "" and status.apps["slow"].units["slow/0"].juju_status.life == ""

    juju.remove_application("slow")
    juju.cli("wait-for", "application", "slow", "--query", 'life=="dying" && len(units) == 1', "--timeout", "1m")
    status = juju.status()
    assert status.apps["slow"].life == "dying"
    assert status.apps["slow"].units["slow/0"].juju_status.life == "dying"
    release.write_text("")
    juju.wait(lambda s: "slow" not in s.apps)
