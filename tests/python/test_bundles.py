"""Bundles through jubilant (issue 13 item 8): ``Juju.deploy(bundle.yaml, overlays=...)``
brings up a model of a built-in database, data-integrator and a local charm given by a
path relative to the bundle; the overlay adds what the bundle leaves out (a database
name, a relation, a unit); everything reaches active and the issued credentials log in.
Deploying the same bundle again changes nothing."""

from __future__ import annotations

import pathlib
import shutil

import jubilant

from helpers import pg_login

SHELL_CHARM = pathlib.Path(__file__).resolve().parents[2] / "crates/tether/tests/charms/shell-probe"

BUNDLE = """\
applications:
  postgresql-k8s:
    charm: postgresql-k8s
    scale: 1
  data-integrator:
    charm: data-integrator
    scale: 1
  probe:
    charm: ./charms/shell-probe
    scale: 1
relations: []
"""

# What the bundle leaves out: data-integrator's database name (it is blocked without
# one), its relation to PostgreSQL, and a second probe unit.
OVERLAY = """\
applications:
  data-integrator:
    options:
      database-name: overlaid
  probe:
    scale: 2
relations:
- [data-integrator, postgresql-k8s:database]
"""


def test_bundle_with_an_overlay_deploys_and_reaches_active(juju: jubilant.Juju, tmp_path: pathlib.Path):
    shutil.copytree(SHELL_CHARM, tmp_path / "charms" / "shell-probe")
    bundle = tmp_path / "bundle.yaml"
    overlay = tmp_path / "overlay.yaml"
    bundle.write_text(BUNDLE)
    overlay.write_text(OVERLAY)

    juju.deploy(bundle, overlays=[overlay])
    status = juju.wait(lambda s: jubilant.all_active(s, "postgresql-k8s", "data-integrator", "probe"))
    assert set(status.apps) == {"postgresql-k8s", "data-integrator", "probe"}
    assert len(status.apps["probe"].units) == 2
    assert status.apps["probe"].charm_origin == "local"
    assert "postgresql-k8s" in status.apps["data-integrator"].relations["postgresql"][0].related_app

    creds = juju.run("data-integrator/0", "get-credentials").results["postgresql"]
    assert creds["database"] == "overlaid"
    with pg_login(creds) as conn, conn.cursor() as cur:
        cur.execute("SELECT current_database()")
        assert cur.fetchone()[0] == "overlaid"

    # The same bundle and overlay again: nothing to change, nothing changed.
    juju.deploy(bundle, overlays=[overlay])
    again = juju.status()
    assert len(again.apps["probe"].units) == 2
    assert set(again.apps) == set(status.apps)
