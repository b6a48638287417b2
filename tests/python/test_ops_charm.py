"""db-client, a real ops charm using dpcharmlibs-interfaces, run by tether as an external
charm: it gets credentials through Juju secrets and logs in to all three engines; a hook
that fails puts the unit in error, resolve retries it, and its writes are discarded; a
refresh from a path runs upgrade-charm and keeps the relation."""

from __future__ import annotations

import pathlib

import jubilant
import pytest

from conftest import PROVIDERS
from helpers import relation_info

PAIRS = (("postgresql", "postgresql-k8s", "PostgreSQL"), ("mysql", "mysql-k8s", "MySQL"), ("mongodb", "mongodb", "MongoDB"))


def deploy_client(juju: jubilant.Juju, charm: pathlib.Path, app: str, **config) -> None:
    juju.deploy(charm, app, config=config or None)
    juju.wait(lambda s: jubilant.all_blocked(s, app) and jubilant.all_agents_idle(s, app))
    status = juju.status()
    assert status.apps[app].app_status.message == "missing relation to a database"
    assert status.apps[app].charm_origin == "local"


def logged_in_everywhere(app: str):
    def ready(status: jubilant.Status) -> bool:
        if not jubilant.all_active(status, app, *PROVIDERS):
            return False
        msg = status.apps[app].units[f"{app}/0"].workload_status.message
        return all(f"logged in to {engine}" in msg for _, _, engine in PAIRS)

    return ready


def client_error(app: str):
    """The client is in error, or blocked for a reason other than a missing relation."""

    def failed(status: jubilant.Status) -> bool:
        if jubilant.any_error(status, app):
            return True
        return any(
            u.workload_status.current == "blocked" and "login failed" in u.workload_status.message
            for u in status.get_units(app).values()
        )

    return failed


@pytest.mark.parametrize("contract", ["v1", "v0"])
def test_client_logs_in_to_all_engines(dbs: jubilant.Juju, client_charm, contract):
    app = f"client-{contract}"
    deploy_client(dbs, client_charm, app, contract=contract, **{"database-name": f"client_{contract}"})
    for endpoint, provider, _ in PAIRS:
        dbs.integrate(f"{app}:{endpoint}", provider)
    status = dbs.wait(logged_in_everywhere(app), error=client_error(app))
    msg = status.apps[app].units[f"{app}/0"].workload_status.message
    assert f"database client_{contract}" in msg
    # The credentials came as Juju secrets, granted to the client.
    for endpoint, provider, _ in PAIRS:
        rel = relation_info(dbs, f"{app}/0", endpoint)
        bag = rel.app_data
        if contract == "v1":
            assert bag.get("version") == "v1"
            assert '"secret-user"' in bag["requests"]
        else:
            assert bag["secret-user"].startswith("secret:")
            assert "username" not in bag and "password" not in bag
    task = dbs.run(f"{app}/0", "check")
    for endpoint, _, engine in PAIRS:
        assert task.results[endpoint]["result"].startswith(f"ok:logged in to {engine}")


def test_v1_client_with_two_requests_in_one_relation_gets_both(dbs: jubilant.Juju, client_charm):
    """A dpcharmlibs-interfaces requirer that asks for two databases in one relation gets
    a reply for each, both served by the relation's one user, and logs in to each."""
    app = "client-two"
    deploy_client(dbs, client_charm, app, contract="v1", **{"database-name": "two_a,two_b"})
    for endpoint, provider, _ in PAIRS:
        dbs.integrate(f"{app}:{endpoint}", provider)
    dbs.wait(logged_in_everywhere(app), error=client_error(app))
    task = dbs.run(f"{app}/0", "check")
    for endpoint, _, engine in PAIRS:
        result = task.results[endpoint]
        assert result["database"] == "two_a,two_b", result
        assert "," not in result["username"], f"one user serves both requests: {result}"
        assert result["result"].startswith(f"ok:logged in to {engine}"), result
        assert "(database two_a)" in result["result"] and "(database two_b)" in result["result"], result
        bag = relation_info(dbs, f"{app}/0", endpoint).app_data
        assert bag.get("version") == "v1" and bag["requests"].count('"secret-user"') == 2, bag
    for endpoint, provider, _ in PAIRS:
        dbs.remove_relation(f"{app}:{endpoint}", provider)
    dbs.wait(lambda s: jubilant.all_blocked(s, app) and jubilant.all_agents_idle(s, app))


def test_client_remove_relation(dbs: jubilant.Juju):
    app = "client-v0"
    dbs.remove_relation(f"{app}:mysql", "mysql-k8s")
    status = dbs.wait(lambda s: jubilant.all_active(s, app) and "MySQL" not in s.apps[app].app_status.message)
    assert "mysql" not in status.apps[app].relations
    assert "logged in to PostgreSQL" in status.apps[app].app_status.message


def test_hook_tool_bad_input_through_an_action(dbs: jubilant.Juju):
    app = "client-v0"
    rel_id = relation_info(dbs, f"{app}/0", "postgresql").relation_id

    def tool(unit: str, *args: str, stdin: str = "") -> dict:
        return dbs.run(unit, "hook-tool", {"args": list(args), "stdin": stdin}).results

    out = tool(f"{app}/0", "relation-get", "-r", "999", "-", f"{app}/0")
    assert out["code"] == "1" and "not found" in out["err"], out
    out = tool(f"{app}/0", "relation-set", "-r", str(rel_id), "--file", "-", stdin="{not: [json")
    assert out["code"] != "0", out
    uri = dbs.add_secret("not-granted", {"k": "v"})
    out = tool(f"{app}/0", "secret-get", str(uri))
    assert out["code"] != "0", out
    dbs.add_unit(app)
    dbs.wait(lambda s: jubilant.all_active(s, app) and len(s.apps[app].units) == 2)
    out = tool(f"{app}/1", "relation-set", "-r", str(rel_id), "--app", "x=y")
    assert out["code"] != "0" and "cannot write relation settings" in out["err"], out
    out = tool(f"{app}/0", "relation-set", "-r", str(rel_id), "--app", "x=y")
    assert out["code"] == "0", out
    dbs.remove_unit(f"{app}/1")
    dbs.wait(lambda s: jubilant.all_active(s, app) and list(s.apps[app].units) == [f"{app}/0"])
    # The controller is unharmed.
    assert jubilant.all_active(dbs.status(), *PROVIDERS)
    dbs.remove_secret(uri)


def test_failed_hook_is_an_error_resolve_retries_and_writes_are_discarded(dbs: jubilant.Juju, client_charm, tmp_path):
    app = "flaky"
    deploy_client(dbs, client_charm, app, contract="v0", **{"database-name": "flaky"})
    dbs.integrate(f"{app}:postgresql", "postgresql-k8s")
    dbs.wait(lambda s: jubilant.all_active(s, app), error=client_error(app))

    flag = tmp_path / "fail-now"
    flag.write_text("")
    dbs.config(app, {"fail-hook": f"config-changed@{flag}"})
    with pytest.raises(jubilant.WaitError):
        dbs.wait(lambda s: jubilant.all_active(s, app) and False, error=lambda s: jubilant.any_error(s, app), timeout=120)
    status = dbs.status()
    unit = status.apps[app].units[f"{app}/0"]
    assert unit.workload_status.current == "error"
    assert unit.workload_status.message == 'hook failed: "config-changed"'
    assert status.apps[app].app_status.current == "error"

    def no_poison() -> None:
        info = dbs.show_unit("postgresql-k8s/0")
        for r in info.relation_info or []:
            if r.endpoint != "database" or f"{app}/0" not in r.related_units:
                continue
            assert "poison" not in r.app_data, r.app_data
            assert "poison" not in r.related_units[f"{app}/0"].data, r.related_units
            return
        raise AssertionError(f"no relation with {app} on postgresql-k8s/0: {info.relation_info}")

    no_poison()
    flag.unlink()
    dbs.cli("resolve", f"{app}/0")
    # The unit still shows error until the retried hook has run, so no error predicate here.
    dbs.wait(lambda s: jubilant.all_active(s, app), timeout=120)
    no_poison()
    dbs.remove_application(app)
    dbs.wait(lambda s: app not in s.apps)


def test_refresh_runs_upgrade_charm_and_keeps_the_relation(dbs: jubilant.Juju, client_charm, tmp_path):
    """`refresh --path` (Juju.refresh) of an ops charm: the new revision runs
    upgrade-charm on the unit, and the relation and its credentials outlive the swap."""
    import shutil

    app = "refreshed"
    deploy_client(dbs, client_charm, app, contract="v1", **{"database-name": "refreshed"})
    dbs.integrate(f"{app}:postgresql", "postgresql-k8s")
    dbs.wait(lambda s: jubilant.all_active(s, app), error=client_error(app))
    new = tmp_path / "db-client-v2"
    shutil.copytree(client_charm, new)
    dbs.refresh(app, path=new)
    status = dbs.wait(
        lambda s: s.apps[app].charm_rev == 1 and jubilant.all_active(s, app) and jubilant.all_agents_idle(s, app),
        error=client_error(app),
    )
    assert status.apps[app].charm == "local:db-client-1"
    log = dbs.debug_log(limit=0).splitlines()
    assert any(line.startswith(f"unit-{app}-0:") and 'ran "upgrade-charm" hook' in line for line in log)
    assert relation_info(dbs, f"{app}/0", "postgresql").related_endpoint == "database"
    task = dbs.run(f"{app}/0", "check")
    assert task.results["postgresql"]["result"].startswith("ok:logged in to PostgreSQL")
