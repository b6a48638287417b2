"""The PostgreSQL seed's flow (integrate, data-integrator, rotate, operator password),
driven by jubilant exactly as it would drive `juju`."""

from __future__ import annotations

import jubilant
import psycopg
import pytest

from helpers import pg_login, relation_info


def di_blocked(status: jubilant.Status) -> bool:
    return jubilant.all_active(status, "postgresql-k8s") and jubilant.all_blocked(status, "data-integrator")


def test_deploy(juju: jubilant.Juju):
    juju.deploy("postgresql-k8s")
    juju.deploy("data-integrator", config={"database-name": "pgapp"})
    status = juju.wait(di_blocked)
    app = status.apps["postgresql-k8s"]
    assert app.charm_name == "postgresql-k8s"
    assert app.units["postgresql-k8s/0"].leader
    assert app.version  # workload version


def test_action_failure_raises_task_error(juju: jubilant.Juju):
    # data-integrator's get-credentials fails (action-fail) until it is integrated.
    with pytest.raises(jubilant.TaskError) as exc:
        juju.run("data-integrator/leader", "get-credentials")
    assert exc.value.task.status == "failed"


def test_unknown_action_raises_value_error(juju: jubilant.Juju):
    with pytest.raises(ValueError):
        juju.run("postgresql-k8s/0", "no-such-action")


def test_bad_command_raises_cli_error(juju: jubilant.Juju):
    with pytest.raises(jubilant.CLIError):
        juju.integrate("no-such-app", "postgresql-k8s")
    with pytest.raises(jubilant.CLIError):
        juju.cli("no-such-command")


def test_integrate_and_get_credentials(juju: jubilant.Juju):
    juju.integrate("postgresql-k8s:database", "data-integrator")
    status = juju.wait(jubilant.all_active)
    rels = status.apps["data-integrator"].relations["postgresql"]
    assert [(r.related_app, r.interface) for r in rels] == [("postgresql-k8s", "postgresql_client")]
    task = juju.run("data-integrator/leader", "get-credentials")
    assert task.success and task.return_code == 0
    assert task.results["ok"] == "True"
    creds = task.results["postgresql"]
    for key in ("username", "password", "database", "endpoints", "uris", "read-only-endpoints", "version", "tls"):
        assert key in creds, key
    assert creds["database"] == "pgapp"
    with pg_login(creds) as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE IF NOT EXISTS kept (v text)")
        cur.execute("INSERT INTO kept VALUES ('survives rotation')")
        cur.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        assert cur.fetchone()[0] is False


def test_show_unit_and_secrets(juju: jubilant.Juju):
    creds = juju.run("data-integrator/0", "get-credentials").results["postgresql"]
    rel = relation_info(juju, "data-integrator/0", "postgresql")
    assert rel.related_endpoint == "database"
    assert "secret-user" in rel.app_data
    assert "postgresql-k8s/0" in rel.related_units
    secrets = juju.secrets()
    user_secrets = [s for s in secrets if s.label and s.label.endswith(".user.secret")]
    assert user_secrets, secrets
    assert rel.app_data["secret-user"].split(":")[-1] in {s.uri.split(":")[-1].split("/")[-1] for s in user_secrets}
    revealed = juju.show_secret(rel.app_data["secret-user"], reveal=True)
    assert revealed.content["username"] == creds["username"]
    assert revealed.content["password"] == creds["password"]


def test_config_get_set(juju: jubilant.Juju):
    cfg = juju.config("postgresql-k8s")
    assert cfg["profile"] == "production"
    assert cfg["plugin_pg_trgm_enable"] is False
    juju.config("postgresql-k8s", {"plugin_pg_trgm_enable": True})
    assert juju.config("postgresql-k8s")["plugin_pg_trgm_enable"] is True
    juju.config("postgresql-k8s", reset="plugin_pg_trgm_enable")
    assert juju.config("postgresql-k8s")["plugin_pg_trgm_enable"] is False
    assert juju.config("data-integrator")["database-name"] == "pgapp"
    juju.wait(jubilant.all_active)


def test_rotate_application_password(juju: jubilant.Juju):
    old = juju.run("data-integrator/leader", "get-credentials").results["postgresql"]
    juju.remove_relation("data-integrator", "postgresql-k8s")
    juju.wait(di_blocked)
    with pytest.raises(psycopg.OperationalError):
        pg_login(old).close()
    juju.integrate("data-integrator", "postgresql-k8s")
    juju.wait(jubilant.all_active)
    new = juju.run("data-integrator/leader", "get-credentials").results["postgresql"]
    assert new["username"] != old["username"]
    assert new["password"] != old["password"]
    with pg_login(new) as conn, conn.cursor() as cur:
        cur.execute("SELECT v FROM kept")
        assert cur.fetchall() == [("survives rotation",)]


def test_operator_password(juju: jubilant.Juju):
    endpoints = juju.run("data-integrator/leader", "get-credentials").results["postgresql"]["endpoints"]
    old = juju.run("postgresql-k8s/leader", "get-password").results["password"]

    def operator(pw: str):
        return pg_login({"endpoints": endpoints, "username": "operator", "password": pw}, dbname="postgres")

    operator(old).close()
    task = juju.run("postgresql-k8s/leader", "set-password", {"password": "chosen-Password-123"})
    assert task.success
    operator("chosen-Password-123").close()
    with pytest.raises(psycopg.OperationalError):
        operator(old).close()
    task = juju.run("postgresql-k8s/leader", "set-password")
    random_pw = task.results["password"]
    assert random_pw and random_pw != "chosen-Password-123"
    operator(random_pw).close()
    assert juju.run("postgresql-k8s/0", "get-password").results["password"] == random_pw
    # tether keeps managing the server: a fresh integration still works.
    juju.remove_relation("data-integrator", "postgresql-k8s")
    juju.wait(di_blocked)
    juju.integrate("data-integrator", "postgresql-k8s")
    juju.wait(jubilant.all_active)
    creds = juju.run("data-integrator/leader", "get-credentials").results["postgresql"]
    pg_login(creds).close()


def test_add_and_remove_units(juju: jubilant.Juju):
    juju.add_unit("data-integrator", num_units=2)
    status = juju.wait(lambda s: jubilant.all_active(s) and len(s.apps["data-integrator"].units) == 3)
    assert sum(u.leader for u in status.apps["data-integrator"].units.values()) == 1
    juju.remove_unit("data-integrator/1", "data-integrator/2")
    juju.wait(lambda s: jubilant.all_active(s) and list(s.apps["data-integrator"].units) == ["data-integrator/0"])


def test_remove_application(juju: jubilant.Juju):
    juju.remove_application("data-integrator")
    status = juju.wait(lambda s: "data-integrator" not in s.apps and jubilant.all_active(s))
    assert not status.apps["postgresql-k8s"].relations.get("database")
