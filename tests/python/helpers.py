"""Small helpers shared by the test modules."""

from __future__ import annotations

import json
import pathlib

import jsonschema
import psycopg

from conftest import SCHEMAS


def host_port(endpoints: str) -> tuple[str, int]:
    first = endpoints.split(",")[0].strip()
    host, _, port = first.rpartition(":")
    return host, int(port)


def pg_login(creds: dict, dbname: str | None = None):
    """A session as the user that get-credentials issued (its database unless named)."""
    host, port = host_port(creds["endpoints"])
    return psycopg.connect(
        host=host, port=port, user=creds["username"], password=creds["password"],
        dbname=dbname or creds["database"], connect_timeout=10,
    )


def relation_info(juju, unit: str, endpoint: str) -> dict:
    """The relation-info entry of `unit` for its `endpoint` (exactly one expected)."""
    info = juju.show_unit(unit)
    found = [r for r in info.relation_info or [] if r.endpoint == endpoint]
    assert len(found) == 1, f"{unit} has {len(found)} relations on {endpoint}: {info.relation_info}"
    return found[0]


def provider_data(juju, requirer_unit: str, endpoint: str) -> dict:
    """The provider's app databag as the requirer sees it, with `secret-*` URIs resolved
    into their content (show-secret --reveal), i.e. what a v0 client ends up with."""
    bag = dict(relation_info(juju, requirer_unit, endpoint).app_data)
    merged = {k: v for k, v in bag.items() if not k.startswith("secret-")}
    for k, uri in bag.items():
        if k.startswith("secret-"):
            secret = juju.show_secret(uri, reveal=True)
            merged.update(secret.content)
    return merged


def validate(iface: str, side: str, bag: dict) -> None:
    schema = json.loads((SCHEMAS / iface / "v0" / f"{side}.json").read_text())
    jsonschema.validate({"app": bag} if side == "provider" else {"app": bag}, schema)


def first(results: dict, key: str) -> dict:
    v = results[key]
    return v if isinstance(v, dict) else json.loads(v)
