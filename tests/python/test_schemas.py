"""Every databag tether's providers write (and data-integrator's requests) validates
against the charm-relation-interfaces JSON schemas in ../shared/schemas."""

from __future__ import annotations

import json

import jubilant
import jsonschema
import pytest

from conftest import SCHEMAS
from helpers import provider_data, relation_info

CASES = (
    ("postgresql-k8s", "postgresql", "postgresql_client", "database"),
    ("mysql-k8s", "mysql", "mysql_client", "database"),
    ("mongodb", "mongodb", "mongodb_client", "database"),
)


def schema(iface: str, side: str) -> dict:
    return json.loads((SCHEMAS / iface / "v0" / f"{side}.json").read_text())


def typed(bag: dict, sch: dict) -> dict:
    """Databag values are strings; fields the schema types as arrays or objects hold JSON."""
    defs = sch["$defs"]
    ref = sch["properties"]["app"]["$ref"].rsplit("/", 1)[-1]
    props = defs[ref].get("properties", {})
    out = dict(bag)
    for k, v in bag.items():
        if isinstance(v, str) and props.get(k, {}).get("type") in ("array", "object"):
            out[k] = json.loads(v)
    return out


@pytest.fixture(scope="module")
def integrated(dbs: jubilant.Juju):
    for provider, endpoint, _, _ in CASES:
        app = f"di-{endpoint}"
        dbs.deploy("data-integrator", app, config={"database-name": f"schema_{endpoint}"})
        dbs.integrate(f"{app}:{endpoint}", provider)
    apps = [f"di-{c[1]}" for c in CASES]
    dbs.wait(lambda s: jubilant.all_active(s, *apps))
    yield dbs
    for app in apps:
        dbs.remove_application(app)
    dbs.wait(lambda s: not any(a in s.apps for a in apps))


@pytest.mark.parametrize("provider,endpoint,iface,provider_ep", CASES, ids=[c[2] for c in CASES])
def test_provider_databag(integrated: jubilant.Juju, provider, endpoint, iface, provider_ep):
    merged = provider_data(integrated, f"di-{endpoint}/0", endpoint)
    assert merged.get("database") == f"schema_{endpoint}"
    sch = schema(iface, "provider")
    jsonschema.validate({"app": typed(merged, sch)}, sch)


@pytest.mark.parametrize("provider,endpoint,iface,provider_ep", CASES, ids=[c[2] for c in CASES])
def test_requirer_databag(integrated: jubilant.Juju, provider, endpoint, iface, provider_ep):
    info = integrated.show_unit(f"{provider}/0")
    rels = [r for r in info.relation_info or [] if r.endpoint == provider_ep and f"di-{endpoint}/0" in r.related_units]
    assert len(rels) == 1, info.relation_info
    sch = schema(iface, "requirer")
    jsonschema.validate({"app": typed(dict(rels[0].app_data), sch)}, sch)


def test_secret_content_matches_get_credentials(integrated: jubilant.Juju):
    for _, endpoint, _, _ in CASES:
        creds = integrated.run(f"di-{endpoint}/leader", "get-credentials").results[endpoint]
        merged = provider_data(integrated, f"di-{endpoint}/0", endpoint)
        for key in ("username", "password", "database", "endpoints"):
            assert merged[key] == creds[key], (endpoint, key)
