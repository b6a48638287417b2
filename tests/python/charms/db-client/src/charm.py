#!/usr/bin/env python3
"""db-client: tether's test client charm.

On each of its endpoints (postgresql, mysql, mongodb) it asks the provider for a
database through the data-interfaces contract: v1 through Canonical's
dpcharmlibs-interfaces (the default), or v0 with the `database` / `requested-secrets`
keys written by hand (config `contract: v0`). When credentials arrive (the provider's
`secret-user` Juju secret) it logs in with an ordinary driver, writes a row, reads it
back and reports the outcome in its status: active "logged in to <engine>" or blocked
with the reason.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import time
import warnings
from typing import Any

# pydantic warns about dpcharmlibs' Field() metadata on every import; keep hook stderr clean.
warnings.filterwarnings("ignore", module="pydantic")

import ops  # noqa: E402
from dpcharmlibs.interfaces import (  # noqa: E402
    RequirerCommonModel,
    ResourceCreatedEvent,
    ResourceEndpointsChangedEvent,
    ResourceProviderModel,
    ResourceRequirerEventHandler,
)

logger = logging.getLogger(__name__)

ENDPOINTS = {"postgresql": "PostgreSQL", "mysql": "MySQL", "mongodb": "MongoDB"}
V0_REQUESTED_SECRETS = ["username", "password", "tls", "tls-ca", "uris", "read-only-uris"]


class Credentials:
    """What a provider gave us for one relation."""

    def __init__(self, endpoint: str, fields: dict[str, Any]):
        self.endpoint = endpoint
        self.username = fields.get("username") or ""
        self.password = fields.get("password") or ""
        self.database = fields.get("database") or fields.get("resource") or ""
        self.endpoints = fields.get("endpoints") or ""
        self.uris = fields.get("uris") or ""

    def complete(self) -> bool:
        return bool(self.username and self.password and (self.endpoints or self.uris))

    def first_host(self) -> tuple[str, int]:
        host = self.endpoints.split(",")[0].strip()
        name, _, port = host.rpartition(":")
        return name, int(port)


def login(creds: Credentials, unit: str) -> str:
    """Logs in, writes a row and reads it back; returns a one-line summary or raises."""
    note = f"{unit} at {time.time():.3f}"
    engine = ENDPOINTS[creds.endpoint]
    if creds.endpoint == "postgresql":
        import psycopg

        host, port = creds.first_host()
        with psycopg.connect(
            host=host, port=port, user=creds.username, password=creds.password,
            dbname=creds.database, connect_timeout=10,
        ) as conn:
            with conn.cursor() as cur:
                cur.execute("CREATE TABLE IF NOT EXISTS db_client_probe (id serial PRIMARY KEY, note text)")
                cur.execute("INSERT INTO db_client_probe (note) VALUES (%s) RETURNING id", (note,))
                row_id = cur.fetchone()[0]
                cur.execute("SELECT note FROM db_client_probe WHERE id = %s", (row_id,))
                got = cur.fetchone()[0]
                cur.execute("SELECT current_user, current_database()")
                user, db = cur.fetchone()
    elif creds.endpoint == "mysql":
        import pymysql

        host, port = creds.first_host()
        conn = pymysql.connect(
            host=host, port=port, user=creds.username, password=creds.password,
            database=creds.database, connect_timeout=10, autocommit=True,
        )
        try:
            with conn.cursor() as cur:
                cur.execute("CREATE TABLE IF NOT EXISTS db_client_probe (id INT AUTO_INCREMENT PRIMARY KEY, note TEXT)")
                cur.execute("INSERT INTO db_client_probe (note) VALUES (%s)", (note,))
                row_id = cur.lastrowid
                cur.execute("SELECT note FROM db_client_probe WHERE id = %s", (row_id,))
                got = cur.fetchone()[0]
                cur.execute("SELECT CURRENT_USER(), DATABASE()")
                user, db = cur.fetchone()
                user = user.split("@")[0]
        finally:
            conn.close()
    else:
        import pymongo

        if creds.endpoints:
            hosts = [h.strip() for h in creds.endpoints.split(",") if h.strip()]
            client = pymongo.MongoClient(
                [f"{h}" for h in hosts], username=creds.username, password=creds.password,
                authSource="admin", directConnection=len(hosts) == 1, serverSelectionTimeoutMS=10000,
            )
        else:
            client = pymongo.MongoClient(creds.uris, serverSelectionTimeoutMS=10000)
        try:
            coll = client[creds.database]["db_client_probe"]
            row_id = coll.insert_one({"note": note}).inserted_id
            got = coll.find_one({"_id": row_id})["note"]
            user, db = creds.username, creds.database
        finally:
            client.close()
    if got != note:
        raise RuntimeError(f"wrote {note!r} but read back {got!r}")
    return f"logged in to {engine} as {user} (database {db}), wrote and read a row"


class DbClientCharm(ops.CharmBase):
    _stored = ops.StoredState()

    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self._stored.set_default(results={})
        self._maybe_fail()
        self.contract = str(self.config.get("contract") or "v1")
        # A comma-separated list: in v1 one request per database, in one relation.
        databases = [d.strip() for d in str(self.config.get("database-name") or "clientdb").split(",") if d.strip()]
        self.handlers: dict[str, ResourceRequirerEventHandler] = {}
        for endpoint in ENDPOINTS:
            if self.contract == "v1":
                handler = ResourceRequirerEventHandler(
                    self, endpoint, [RequirerCommonModel(resource=d) for d in databases],
                    response_model=ResourceProviderModel,
                )
                self.handlers[endpoint] = handler
                framework.observe(handler.on.resource_created, self._on_resource_created)
                framework.observe(handler.on.endpoints_changed, self._on_resource_created)
            else:
                framework.observe(self.on[endpoint].relation_created, self._on_v0_created)
                framework.observe(self.on[endpoint].relation_changed, self._on_v0_changed)
            framework.observe(self.on[endpoint].relation_broken, self._on_broken)
        framework.observe(self.on.check_action, self._on_check)
        framework.observe(self.on.hook_tool_action, self._on_hook_tool)
        framework.observe(self.on.collect_unit_status, self._on_collect_status)
        framework.observe(self.on.collect_app_status, self._on_collect_status)

    # -- failing on purpose ------------------------------------------------------------

    def _maybe_fail(self) -> None:
        spec = str(self.config.get("fail-hook") or "")
        if not spec:
            return
        hook, _, flag = spec.partition("@")
        if os.environ.get("JUJU_HOOK_NAME") != hook or (flag and not os.path.exists(flag)):
            return
        for endpoint in ENDPOINTS:
            for relation in self.model.relations[endpoint]:
                relation.data[self.unit]["poison"] = "yes"
                if self.unit.is_leader():
                    relation.data[self.app]["poison"] = "yes"
        raise RuntimeError(f"failing {hook} on purpose (fail-hook={spec})")

    # -- v1 (dpcharmlibs-interfaces) ---------------------------------------------------

    def _on_resource_created(self, event: ResourceCreatedEvent | ResourceEndpointsChangedEvent) -> None:
        response = event.response
        fields = {
            "username": response.username, "password": response.password,
            "database": response.resource, "endpoints": response.endpoints, "uris": response.uris,
        }
        self._try_login(event.relation.name, Credentials(event.relation.name, fields))

    def _v1_credentials(self, relation: ops.Relation) -> list[Credentials]:
        handler = self.handlers[relation.name]
        model = handler.interface.build_model(relation.id, component=relation.app)
        out = []
        for response in model.requests:
            fields = {
                "username": response.username, "password": response.password,
                "database": response.resource, "endpoints": response.endpoints, "uris": response.uris,
            }
            out.append(Credentials(relation.name, fields))
        return out

    # -- v0 (by hand) ------------------------------------------------------------------

    def _on_v0_created(self, event: ops.RelationCreatedEvent) -> None:
        if not self.unit.is_leader():
            return
        event.relation.data[self.app].update({
            "database": str(self.config.get("database-name") or "clientdb"),
            "requested-secrets": json.dumps(V0_REQUESTED_SECRETS),
        })

    def _v0_credentials(self, relation: ops.Relation) -> Credentials | None:
        if relation.app is None:
            return None
        bag = dict(relation.data[relation.app])
        fields: dict[str, Any] = dict(bag)
        if bag.get("secret-user"):
            secret = self.model.get_secret(id=bag["secret-user"])
            fields.update(secret.get_content(refresh=True))
        return Credentials(relation.name, fields)

    def _on_v0_changed(self, event: ops.RelationChangedEvent) -> None:
        creds = self._v0_credentials(event.relation)
        if creds and creds.complete():
            self._try_login(event.relation.name, creds)

    # -- common ------------------------------------------------------------------------

    def _credentials(self, relation: ops.Relation) -> list[Credentials]:
        """One per answered request (v0 has one request)."""
        if self.contract == "v1":
            return self._v1_credentials(relation)
        creds = self._v0_credentials(relation)
        return [creds] if creds else []

    def _try_login(self, endpoint: str, creds: Credentials) -> str:
        try:
            summary = "ok:" + login(creds, self.unit.name)
        except Exception as e:  # the reason goes into the status
            logger.exception("login to %s failed", endpoint)
            summary = f"error:{ENDPOINTS[endpoint]} login failed: {type(e).__name__}: {e}".replace("\n", " ")[:300]
        results = dict(self._stored.results)
        results[endpoint] = summary
        self._stored.results = results
        return summary

    def _on_broken(self, event: ops.RelationBrokenEvent) -> None:
        results = dict(self._stored.results)
        results.pop(event.relation.name, None)
        self._stored.results = results

    def _on_check(self, event: ops.ActionEvent) -> None:
        out: dict[str, Any] = {}
        for endpoint in ENDPOINTS:
            for relation in self.model.relations[endpoint]:
                answered = [c for c in self._credentials(relation) if c.complete()]
                if not answered:
                    out[endpoint] = {"result": "no credentials yet"}
                    continue
                summaries = [self._try_login(endpoint, c) for c in answered]
                failed = [x for x in summaries if x.startswith("error:")]
                out[endpoint] = {
                    "result": failed[0] if failed else "ok:" + " | ".join(x[len("ok:"):] for x in summaries),
                    "username": ",".join(sorted({c.username for c in answered})),
                    "database": ",".join(c.database for c in answered),
                }
        if not out:
            event.fail("no database related")
            return
        event.set_results(out)
        if any(v["result"].startswith("error:") for v in out.values()):
            event.fail("; ".join(v["result"][len("error:"):] for v in out.values() if v["result"].startswith("error:")))

    def _on_hook_tool(self, event: ops.ActionEvent) -> None:
        args = [str(a) for a in event.params["args"]]
        proc = subprocess.run(args, input=event.params.get("stdin") or "", capture_output=True, text=True)
        event.set_results({"code": str(proc.returncode), "out": proc.stdout.strip() or "-", "err": proc.stderr.strip() or "-"})

    def _on_collect_status(self, event: ops.CollectStatusEvent) -> None:
        related = [ep for ep in ENDPOINTS if self.model.relations[ep]]
        if not related:
            event.add_status(ops.BlockedStatus("missing relation to a database"))
            return
        results = self._stored.results
        errors = [results[ep][len("error:"):] for ep in related if results.get(ep, "").startswith("error:")]
        if errors:
            event.add_status(ops.BlockedStatus("; ".join(errors)))
            return
        waiting = [ep for ep in related if not results.get(ep, "").startswith("ok:")]
        if waiting:
            event.add_status(ops.WaitingStatus(f"waiting for credentials on {', '.join(waiting)}"))
            return
        event.add_status(ops.ActiveStatus("; ".join(results[ep][len("ok:"):] for ep in related)))


if __name__ == "__main__":
    ops.main(DbClientCharm)
