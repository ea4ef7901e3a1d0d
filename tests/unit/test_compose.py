"""The docker-compose stack creates the same topics as `infra up`."""

import re

import pytest

from schemashift.schemas.events import ALL_TOPICS
from tests.support.infra import REPO_ROOT


def test_compose_creates_every_topic():
    compose = (REPO_ROOT / "infra" / "docker-compose.yml").read_text()
    assert set(re.findall(r"\bschemashift\.[a-z.]+[a-z]\b", compose)) >= set(ALL_TOPICS)


def test_compose_runs_mariadb_and_mysql_with_the_postgres_credentials():
    yaml = pytest.importorskip("yaml")
    services = yaml.safe_load((REPO_ROOT / "infra" / "docker-compose.yml").read_text())["services"]
    postgres = services["postgres"]["environment"]
    mariadb, mysql = services["mariadb"], services["mysql"]
    assert mariadb["image"].startswith("mariadb:11")
    assert mariadb["ports"] == ["127.0.0.1:33306:3306"]  # the port of `infra up`'s MariaDB
    assert "profiles" not in mariadb
    assert mysql["image"].startswith("mysql:8.4")
    assert mysql["ports"] == ["127.0.0.1:33307:3306"]
    assert mysql["profiles"] == ["mysql"]
    for service, prefix in ((mariadb, "MARIADB"), (mysql, "MYSQL")):
        env = service["environment"]
        assert (env[f"{prefix}_USER"], env[f"{prefix}_PASSWORD"], env[f"{prefix}_DATABASE"]) == (
            postgres["POSTGRES_USER"],
            postgres["POSTGRES_PASSWORD"],
            postgres["POSTGRES_DB"],
        )
        # The init script that lets the user create and drop databases is there.
        mount = next(v for v in service["volumes"] if v.endswith(":/docker-entrypoint-initdb.d:ro"))
        init_dir = REPO_ROOT / "infra" / mount.split(":")[0]
        assert "GRANT ALL PRIVILEGES ON *.*" in (init_dir / "grant.sql").read_text()


def test_compose_offers_a_trace_collector_behind_its_profile():
    yaml = pytest.importorskip("yaml")
    services = yaml.safe_load((REPO_ROOT / "infra" / "docker-compose.yml").read_text())["services"]
    jaeger = services["jaeger"]
    assert jaeger["profiles"] == ["tracing"]  # not started unless asked for
    # OTLP over HTTP on the exporter's default port, and the UI, on the loopback only.
    assert {"127.0.0.1:4318:4318", "127.0.0.1:16686:16686"} <= set(jaeger["ports"])
