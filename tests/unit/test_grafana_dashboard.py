"""The Grafana dashboard queries only metrics the app exports (names checked against a real
exposition of app.metrics over a migrated SQLite database)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from app.db.session import make_engine, make_session_factory, migrate
from app.metrics import Metrics

DASHBOARD = Path(__file__).parents[2] / "deploy" / "grafana" / "enclave-dashboard.json"


def exported_samples(tmp_path: Path) -> set[str]:
    engine = make_engine(f"sqlite:///{tmp_path / 'm.db'}")
    migrate(engine)
    metrics = Metrics(make_session_factory(engine))
    metrics.observe_request("GET", "/readyz", 200, 0.01)
    metrics.observe_stages({"embed": 1.0})
    metrics.generator_errors.labels("unavailable").inc()
    text = generate_latest(metrics.registry).decode()
    engine.dispose()
    return {s.name for f in text_string_to_metric_families(text) for s in f.samples}


def test_every_panel_queries_exported_metrics(tmp_path: Path) -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    used = {name for e in exprs for name in re.findall(r"\benclave_[a-z_]+", e)}
    assert used, "the dashboard queries Enclave's metrics"
    assert used <= exported_samples(tmp_path), used - exported_samples(tmp_path)
    assert len({p["id"] for p in dashboard["panels"]}) == len(dashboard["panels"])
