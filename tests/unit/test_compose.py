"""The docker-compose stack creates the same topics as `infra up`, and its `metrics` profile
scrapes every role and provisions a dashboard of the metrics the processes serve."""

import json
import re
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from schemashift.consumers.common import metrics
from schemashift.consumers.common.settings import Settings
from schemashift.gateway.supervisor import ROLES
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


def _compose_services() -> dict:
    yaml = pytest.importorskip("yaml")
    return yaml.safe_load((REPO_ROOT / "infra" / "docker-compose.yml").read_text())["services"]


def _mounted(service: dict, inside: str) -> Path:
    """The file or folder of infra/ that ``service`` mounts at ``inside``."""
    source = next(v.split(":")[0] for v in service["volumes"] if v.split(":")[1] == inside)
    path = REPO_ROOT / "infra" / source
    assert path.exists(), f"{source} is mounted but missing"
    return path


def test_the_metrics_profile_runs_prometheus_and_grafana_with_their_files():
    yaml = pytest.importorskip("yaml")
    services = _compose_services()
    prometheus, grafana = services["prometheus"], services["grafana"]
    assert prometheus["profiles"] == grafana["profiles"] == ["metrics"]
    # The roles listen on 127.0.0.1 of the host: both run on its network.
    assert prometheus["network_mode"] == grafana["network_mode"] == "host"
    config = yaml.safe_load(_mounted(prometheus, "/etc/prometheus/prometheus.yml").read_text())
    assert "--config.file=/etc/prometheus/prometheus.yml" in prometheus["command"]

    # Prometheus scrapes every role at the port its setting gives it by default.
    defaults = {name: field.default for name, field in Settings.model_fields.items()}
    expected = {"gateway": f"127.0.0.1:{defaults['gateway_port']}"} | {
        role: f"127.0.0.1:{defaults[f'{role}_metrics_port']}" for role in ROLES if role != "gateway"
    }
    jobs = {
        job["job_name"]: [t for sc in job["static_configs"] for t in sc["targets"]]
        for job in config["scrape_configs"]
    }
    assert jobs == {role: [target] for role, target in expected.items()}

    # Grafana's datasource is that Prometheus, and its dashboard provider reads the folder
    # the dashboards are mounted in.
    provisioning = _mounted(grafana, "/etc/grafana/provisioning")
    (datasource,) = yaml.safe_load((provisioning / "datasources" / "prometheus.yml").read_text())[
        "datasources"
    ]
    listen = next(a for a in prometheus["command"] if a.startswith("--web.listen-address="))
    assert datasource["url"] == "http://" + listen.split("=", 1)[1]
    (provider,) = yaml.safe_load((provisioning / "dashboards" / "schemashift.yml").read_text())[
        "providers"
    ]
    dashboards = _mounted(grafana, provider["options"]["path"])
    assert list(dashboards.glob("*.json")), "no dashboard to provision"


def test_the_dashboard_queries_metrics_that_exist_from_the_provisioned_datasource():
    yaml = pytest.importorskip("yaml")
    provisioning = REPO_ROOT / "infra" / "grafana" / "provisioning"
    (datasource,) = yaml.safe_load((provisioning / "datasources" / "prometheus.yml").read_text())[
        "datasources"
    ]
    dashboard = json.loads(
        (REPO_ROOT / "infra" / "grafana" / "dashboards" / "schemashift.json").read_text()
    )
    panels = [p for p in dashboard["panels"] if p["type"] != "row"]
    exprs = [t["expr"] for p in panels for t in p["targets"]]
    for panel in panels:
        assert panel["datasource"]["uid"] == datasource["uid"], panel["title"]
    # Every series a query names is one the processes serve (a histogram by its buckets).
    served = set()
    for family in text_string_to_metric_families(metrics.exposition().decode()):
        served.add(family.name)
        if family.type == "counter":
            served.add(family.name + "_total")
        if family.type == "histogram":
            served.update(family.name + suffix for suffix in ("_bucket", "_sum", "_count"))
    named = {name for expr in exprs for name in re.findall(r"\bschemashift_\w+", expr)}
    assert named and named <= served, named - served
    # What the issue asks the dashboard to show.
    text = "\n".join(exprs)
    for needed in (
        "schemashift_migrations_total",
        "schemashift_stage_duration_seconds_bucket",
        "schemashift_migration_duration_seconds_bucket",
        "schemashift_consumer_lag_messages",
        "schemashift_dead_letters_total",
    ):
        assert needed in text, f"the dashboard does not show {needed}"
    assert "histogram_quantile(0.95" in text


def test_compose_offers_a_trace_collector_behind_its_profile():
    yaml = pytest.importorskip("yaml")
    services = yaml.safe_load((REPO_ROOT / "infra" / "docker-compose.yml").read_text())["services"]
    jaeger = services["jaeger"]
    assert jaeger["profiles"] == ["tracing"]  # not started unless asked for
    # OTLP over HTTP on the exporter's default port, and the UI, on the loopback only.
    assert {"127.0.0.1:4318:4318", "127.0.0.1:16686:16686"} <= set(jaeger["ports"])
