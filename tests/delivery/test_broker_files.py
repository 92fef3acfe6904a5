"""``broadcaster broker files``: Mosquitto's password and ACL files from the registry."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
import yaml

from broadcaster.cli import main
from broadcaster.db import Database
from broadcaster.delivery.agent_auth import broker_password
from broadcaster.delivery.mosquitto import password_matches
from tests.databases import database_url
from tests.e2e.harness import seed_commune


def test_files_admit_the_server_and_each_mqtt_cluster_to_its_own_topics(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "server-password").write_text("mat-khau-may-chu\n")
    url = database_url(tmp_path / "data")  # the test's backend, SQLite or PostgreSQL
    config = tmp_path / "server.yaml"
    config.write_text(yaml.safe_dump({"data_dir": str(tmp_path / "data"), "database_url": url,
                                      "mqtt_password_file": str(tmp_path / "server-password")}))
    db = Database(url)
    db.upgrade()
    mqtt = seed_commune(db, 2, transport="mqtt")
    seed_commune(db, 1, code="xa-khac", transport="pull")  # not on the broker: not admitted
    db.dispose()

    assert main(["broker", "--config", str(config), "files", "--passwd", str(tmp_path / "passwd"),
                 "--acl", str(tmp_path / "acl")]) == 0
    assert "2 cụm loa" in capsys.readouterr().out
    lines = dict(line.split(":", 1) for line in (tmp_path / "passwd").read_text().splitlines())
    assert password_matches("mat-khau-may-chu", lines["broadcaster-server"])
    for cluster in mqtt.clusters:
        assert password_matches(broker_password(mqtt.secrets[cluster.id]), lines[f"cluster-{cluster.id}"])
    assert len(lines) == 3
    acl = (tmp_path / "acl").read_text()
    first = mqtt.clusters[0].id
    assert (f"user cluster-{first}\ntopic read broadcaster/clusters/{first}/orders\n"
            f"topic write broadcaster/clusters/{first}/status\n") in acl
    assert "user broadcaster-server\ntopic write broadcaster/clusters/+/orders\n" in acl
    for path in (tmp_path / "passwd", tmp_path / "acl"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_without_the_server_password_it_says_what_is_missing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "server.yaml"
    config.write_text(yaml.safe_dump({"data_dir": str(tmp_path / "data")}))
    assert main(["broker", "--config", str(config), "files", "--passwd", str(tmp_path / "p"),
                 "--acl", str(tmp_path / "a")]) != 0
    assert "mqtt_password_missing" in capsys.readouterr().err
