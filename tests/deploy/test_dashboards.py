"""deploy/: every metric the Grafana dashboard and the alert rules name is in a real scrape."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from tests.conftest import MakeServer, SettingsFactory
from tests.support import PASSWORD, add_account

DEPLOY = Path(__file__).parents[2] / "deploy"
METRIC = re.compile(r"\bportcullis_[a-z_]+\b")
TOKEN = "dashboards"


def dashboard_expressions() -> list[str]:
    dashboard = json.loads((DEPLOY / "grafana-dashboard.json").read_text())
    return [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]


def alert_expressions() -> list[str]:
    rules = yaml.safe_load((DEPLOY / "prometheus-alerts.yml").read_text())
    return [rule["expr"] for group in rules["groups"] for rule in group["rules"]]


def test_every_metric_named_is_scraped(
    settings_for: SettingsFactory, make_server: MakeServer
) -> None:
    server = make_server(settings_for(metrics_token=TOKEN))
    add_account(server.settings, "watched@example.org")
    with server.client() as client:
        # A request of each kind, so that the labelled histograms have their buckets.
        client.post("/auth/login", json={"login": "watched@example.org", "password": PASSWORD})
        scrape = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).text
    scraped = {line.split("{")[0].split(" ")[0] for line in scrape.splitlines() if line[:1] != "#"}
    named = {
        name
        for expr in dashboard_expressions() + alert_expressions()
        for name in METRIC.findall(expr)
    }
    assert len(named) >= 12
    assert named <= scraped, sorted(named - scraped)


def test_every_alert_has_a_summary() -> None:
    rules = yaml.safe_load((DEPLOY / "prometheus-alerts.yml").read_text())
    for group in rules["groups"]:
        for rule in group["rules"]:
            assert rule["alert"].startswith("Portcullis")
            assert rule["annotations"]["summary"]
