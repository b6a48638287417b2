"""The MongoDB seed's flows: a client of a bare replica set, and a client of a sharded
cluster through the mongos router (a subordinate of data-integrator)."""

from __future__ import annotations

import jubilant
import pymongo
import pytest

from helpers import relation_info


def mongo_login(creds: dict):
    if creds.get("endpoints"):
        hosts = creds["endpoints"].split(",")
        return pymongo.MongoClient(
            hosts, username=creds["username"], password=creds["password"], authSource="admin",
            directConnection=len(hosts) == 1, serverSelectionTimeoutMS=10000,
        )
    return pymongo.MongoClient(creds["uris"], serverSelectionTimeoutMS=10000)


def roundtrip(creds: dict, value: str) -> None:
    client = mongo_login(creds)
    try:
        coll = client[creds["database"]]["kept"]
        coll.insert_one({"v": value})
        assert coll.find_one({"v": value})["v"] == value
    finally:
        client.close()


def test_replica_set_client(juju: jubilant.Juju):
    juju.deploy("mongodb")
    juju.deploy("data-integrator", config={"database-name": "mongoapp"})
    juju.wait(lambda s: jubilant.all_active(s, "mongodb") and jubilant.all_blocked(s, "data-integrator"))
    juju.integrate("mongodb", "data-integrator")
    juju.wait(jubilant.all_active)
    creds = juju.run("data-integrator/leader", "get-credentials").results["mongodb"]
    assert creds["database"] == "mongoapp"
    roundtrip(creds, "replica set")
    rel = relation_info(juju, "data-integrator/0", "mongodb")
    assert juju.show_secret(rel.app_data["secret-user"], reveal=True).content["password"] == creds["password"]

    # rotate: remove and integrate again
    juju.remove_relation("data-integrator", "mongodb")
    juju.wait(lambda s: jubilant.all_blocked(s, "data-integrator"))
    with pytest.raises(pymongo.errors.OperationFailure):
        roundtrip(creds, "old user")
    juju.integrate("mongodb", "data-integrator")
    juju.wait(jubilant.all_active)
    new = juju.run("data-integrator/leader", "get-credentials").results["mongodb"]
    assert new["username"] != creds["username"]
    roundtrip(new, "new user")


def test_operator_password(juju: jubilant.Juju):
    old = juju.run("mongodb/leader", "get-password").results["password"]
    task = juju.run("mongodb/leader", "set-password", {"password": "chosen-Password-123"})
    assert task.success
    assert juju.run("mongodb/leader", "get-password").results["password"] == "chosen-Password-123"
    random_pw = juju.run("mongodb/leader", "set-password").results["password"]
    assert random_pw not in (old, "chosen-Password-123")
    # tether still manages the server with the new password: a fresh integration works.
    juju.remove_relation("data-integrator", "mongodb")
    juju.wait(lambda s: jubilant.all_blocked(s, "data-integrator"))
    juju.integrate("mongodb", "data-integrator")
    juju.wait(jubilant.all_active)
    roundtrip(juju.run("data-integrator/leader", "get-credentials").results["mongodb"], "after set-password")
    juju.remove_application("data-integrator", "mongodb")
    juju.wait(lambda s: not s.apps)


def test_sharded_cluster_through_mongos(juju: jubilant.Juju):
    juju.deploy("mongodb", "config-server", config={"role": "config-server"})
    juju.deploy("mongos")
    juju.deploy("data-integrator", "di", config={"database-name": "shardedapp"})
    juju.wait(lambda s: "config-server" in s.apps and jubilant.all_agents_idle(s, "config-server", "di"))
    juju.integrate("mongos", "di")
    juju.integrate("config-server", "mongos")
    status = juju.wait(jubilant.all_active)
    subs = status.apps["di"].units["di/0"].subordinates
    assert list(subs) == ["mongos/0"]
    assert list(status.get_units("mongos")) == ["mongos/0"]
    assert status.apps["mongos"].subordinate_to == ["di"]
    creds = juju.run("di/leader", "get-credentials").results["mongos"]
    assert creds["database"] == "shardedapp"
    roundtrip(creds, "through mongos")

    juju.remove_relation("config-server", "mongos")
    juju.wait(lambda s: not jubilant.all_active(s, "di", "mongos"))
    with pytest.raises((pymongo.errors.PyMongoError,)):
        roundtrip(creds, "after removal")
