"""The MySQL seed's flow on mysql-k8s (MariaDB), driven by jubilant."""

from __future__ import annotations

import jubilant
import pymysql
import pytest

from helpers import host_port, relation_info


def my_login(creds: dict, database: str | None = None):
    host, port = host_port(creds["endpoints"])
    return pymysql.connect(
        host=host, port=port, user=creds["username"], password=creds["password"],
        database=database if database is not None else creds["database"], connect_timeout=10, autocommit=True,
    )


def di_blocked(status: jubilant.Status) -> bool:
    return jubilant.all_active(status, "mysql-k8s") and jubilant.all_blocked(status, "data-integrator")


def test_deploy_integrate_get_credentials(juju: jubilant.Juju):
    juju.deploy("mysql-k8s", trust=True)
    juju.deploy("data-integrator", config={"database-name": "myapp"})
    juju.wait(di_blocked)
    juju.integrate("mysql-k8s", "data-integrator")
    status = juju.wait(jubilant.all_active)
    rels = status.apps["mysql-k8s"].relations["database"]
    assert [(r.related_app, r.interface) for r in rels] == [("data-integrator", "mysql_client")]
    task = juju.run("data-integrator/leader", "get-credentials")
    assert task.results["ok"] == "True"
    creds = task.results["mysql"]
    assert creds["database"] == "myapp"
    conn = my_login(creds)
    with conn.cursor() as cur:
        cur.execute("CREATE TABLE kept (v TEXT)")
        cur.execute("INSERT INTO kept VALUES ('survives rotation')")
    conn.close()
    rel = relation_info(juju, "data-integrator/0", "mysql")
    revealed = juju.show_secret(rel.app_data["secret-user"], reveal=True)
    assert revealed.content["username"] == creds["username"]


def test_rotate_application_password(juju: jubilant.Juju):
    old = juju.run("data-integrator/leader", "get-credentials").results["mysql"]
    juju.remove_relation("mysql-k8s", "data-integrator")
    juju.wait(di_blocked)
    with pytest.raises(pymysql.err.OperationalError):
        my_login(old).close()
    juju.integrate("data-integrator", "mysql-k8s")
    juju.wait(jubilant.all_active)
    new = juju.run("data-integrator/leader", "get-credentials").results["mysql"]
    assert (new["username"], new["password"]) != (old["username"], old["password"])
    conn = my_login(new)
    with conn.cursor() as cur:
        cur.execute("SELECT v FROM kept")
        assert cur.fetchall() == (("survives rotation",),)
    conn.close()


def test_internal_password(juju: jubilant.Juju):
    endpoints = juju.run("data-integrator/leader", "get-credentials").results["mysql"]["endpoints"]
    got = juju.run("mysql-k8s/leader", "get-password")
    assert got.results["username"] == "root"
    old = got.results["password"]

    def root(pw: str):
        return my_login({"endpoints": endpoints, "username": "root", "password": pw}, database="")

    root(old).close()
    juju.run("mysql-k8s/leader", "set-password", {"password": "chosen-Password-123"})
    root("chosen-Password-123").close()
    with pytest.raises(pymysql.err.OperationalError):
        root(old).close()
    assert juju.run("mysql-k8s/leader", "set-password").success
    random_pw = juju.run("mysql-k8s/leader", "get-password").results["password"]
    assert random_pw != "chosen-Password-123"
    root(random_pw).close()
    with pytest.raises(jubilant.TaskError) as exc:
        juju.run("mysql-k8s/leader", "get-password", {"username": "nobody"})
    assert "nobody" in (exc.value.task.message or "")


def test_config(juju: jubilant.Juju):
    cfg = juju.config("mysql-k8s")
    assert cfg["profile"] == "production"
    assert cfg["binlog_retention_days"] == 7
    juju.config("mysql-k8s", {"binlog_retention_days": 3})
    assert juju.config("mysql-k8s")["binlog_retention_days"] == 3
    juju.config("mysql-k8s", reset=["binlog_retention_days"])
    assert juju.config("mysql-k8s")["binlog_retention_days"] == 7
    with pytest.raises(jubilant.CLIError):
        juju.config("mysql-k8s", {"binlog_retention_days": "many"})


def test_remove_application(juju: jubilant.Juju):
    juju.remove_application("data-integrator", "mysql-k8s")
    juju.wait(lambda s: not s.apps)
