"""The deployment artifacts, validated offline: every Kubernetes manifest against the bundled
Kubernetes schemas (kubernetes-validate, strict: unknown fields fail), the compose file against
the compose-spec schema (check-jsonschema's vendored copy), and the properties an air-gapped
site relies on: probes on /healthz and /readyz, resources everywhere, request logging off in
vLLM, and no egress but to the named internal services."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

DEPLOY = Path(__file__).parents[2] / "deploy"
K8S_VERSIONS = ("1.30.0", "1.37.0")  # the oldest supported by this site's guide, the newest


def manifests() -> list[dict]:
    docs = []
    for path in sorted((DEPLOY / "kubernetes").glob("*.yaml")):
        docs += [d for d in yaml.safe_load_all(path.read_text()) if d]
    return docs


def by_kind(kind: str) -> dict[str, dict]:
    return {d["metadata"]["name"]: d for d in manifests() if d["kind"] == kind}


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_every_manifest_validates_against_the_kubernetes_schemas(version: str) -> None:
    docs = manifests()
    assert len(docs) >= 20
    for doc in docs:
        kubernetes_validate.validate(doc, version, strict=True)


def containers(workload: dict) -> list[dict]:
    return workload["spec"]["template"]["spec"]["containers"]


def test_workloads_have_resources_probes_and_disruption_budgets() -> None:
    workloads = {**by_kind("Deployment"), **by_kind("StatefulSet")}
    assert set(workloads) == {"enclave-api", "enclave-worker", "vllm", "postgres", "qdrant"}
    for name, workload in workloads.items():
        for container in containers(workload):
            assert {"requests", "limits"} <= set(container["resources"]), name
    api = containers(workloads["enclave-api"])[0]
    assert api["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert api["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert api["startupProbe"]["httpGet"]["path"] == "/healthz"
    budgets = {
        d["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"]
        for d in by_kind("PodDisruptionBudget").values()
    }
    assert budgets == set(workloads)
    assert by_kind("Secret"), "secrets are declared (placeholders)"


def test_vllm_serves_offline_with_request_logging_off() -> None:
    vllm = containers(by_kind("Deployment")["vllm"])[0]
    assert "--no-enable-log-requests" in vllm["args"]
    assert not [a for a in vllm["args"] if a.startswith("--enable-log-requests")]
    env = {e["name"]: e.get("value") for e in vllm["env"]}
    assert env["HF_HUB_OFFLINE"] == "1"
    assert env["VLLM_NO_USAGE_STATS"] == "1"
    assert any(a.startswith("--model=/models/") for a in vllm["args"])  # a local directory
    script = (DEPLOY / "vllm" / "serve-gpu.sh").read_text()
    assert "--no-enable-log-requests" in script
    assert "HF_HUB_OFFLINE=1" in script


def test_network_policies_deny_all_and_allow_only_named_internal_egress() -> None:
    policies = by_kind("NetworkPolicy")
    deny = policies["default-deny-all"]["spec"]
    assert deny["podSelector"] == {}
    assert set(deny["policyTypes"]) == {"Ingress", "Egress"}
    assert "ingress" not in deny
    assert "egress" not in deny
    for name, policy in policies.items():
        for rule in policy["spec"].get("egress", []):
            assert rule.get("to"), f"{name}: an egress rule without a destination allows all"
            for peer in rule["to"]:
                assert "ipBlock" not in peer, f"{name}: egress to addresses, not named services"
                assert peer.get("podSelector", {}).get("matchLabels"), name
    allowed = {
        name: {
            peer["podSelector"]["matchLabels"].get("app.kubernetes.io/name")
            for rule in policy["spec"].get("egress", [])
            for peer in rule["to"]
        }
        for name, policy in policies.items()
    }
    assert allowed["enclave-api"] == {"postgres", "qdrant", "vllm", "keycloak"}
    assert allowed["enclave-worker"] == {"postgres", "qdrant"}
    for backend in ("postgres", "qdrant", "vllm"):
        assert allowed[backend] == set(), f"{backend} reaches nothing"


def test_compose_file_validates_against_the_compose_spec() -> None:
    compose = DEPLOY / "compose" / "compose.yaml"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "check_jsonschema",
            "--builtin-schema",
            "vendor.compose-spec",
            str(compose),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_compose_keeps_backends_on_an_internal_network() -> None:
    spec = yaml.safe_load((DEPLOY / "compose" / "compose.yaml").read_text())
    assert spec["networks"]["backend"]["internal"] is True
    assert set(spec["services"]) == {"api", "worker", "postgres", "qdrant", "vllm", "oidc"}
    exposed = {name for name, s in spec["services"].items() if "edge" in s.get("networks", [])}
    assert exposed == {"api", "oidc"}
    assert spec["services"]["api"]["healthcheck"]["test"][-1].endswith("/readyz', timeout=3)")
    for name, service in spec["services"].items():
        assert service["image"].startswith("${ENCLAVE_REGISTRY"), f"{name}: the site's registry"
