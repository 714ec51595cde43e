"""The deployment recipes in deploy/ and docs/deploy.md are real: units verify, manifests parse,
and every ``shadowit`` command line in them is accepted by the CLI."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
import tomllib
import warnings
from pathlib import Path
from typing import Any

import click
import pytest
import yaml

from reports.confirm.serving import SHUTDOWN_SECONDS
from scanner.app import config as configuration
from scanner.app.cli import main

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
DOC = ROOT / "docs" / "deploy.md"
SERVICE = DEPLOY / "systemd" / "shadowit.service"
SERVE_UNIT = DEPLOY / "systemd" / "shadowit-serve.service"
TIMER = DEPLOY / "systemd" / "shadowit.timer"
CRON = DEPLOY / "cron" / "shadowit.cron"
MANIFEST = DEPLOY / "kubernetes" / "cronjob.yaml"
SERVE_MANIFEST = DEPLOY / "kubernetes" / "serve.yaml"
DOCKERFILE = DEPLOY / "Dockerfile"


def check_command(args: list[str]) -> click.Context:
    """Parse ``shadowit <args>`` as the CLI would; raise click.UsageError when it is wrong."""
    ctx = main.make_context("shadowit", list(args))
    with ctx, warnings.catch_warnings():
        # Click 8.2+ deprecates protected_args (Click 9 folds them into args); both work here.
        warnings.simplefilter("ignore", DeprecationWarning)
        name, command, rest = main.resolve_command(ctx, [*ctx.protected_args, *ctx.args])
        assert command is not None, f"no command {name}"
        return command.make_context(name or "", rest, parent=ctx)


def shadowit_args(line: str) -> list[str]:
    """The arguments after the ``shadowit`` executable in a shell line."""
    words = shlex.split(line.replace("\\\n", " "), comments=True)
    start = next(i for i, w in enumerate(words) if is_shadowit(w))
    args = []
    for word in words[start + 1 :]:
        if word in (">>", ">", "|", "2>&1", "&&", ";") or word.startswith((">", "2>")):
            break
        args.append(word)
    return args


def is_shadowit(word: str) -> bool:
    """The executable, by name or path, or the container image whose entry point it is."""
    return word == "shadowit" or word.endswith("/bin/shadowit") or bool(IMAGE.fullmatch(word))


IMAGE = re.compile(r"shadowit:[\w.]+")


def unit(path: Path) -> dict[str, dict[str, list[str]]]:
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] = {}
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), {})
            continue
        key, _, value = line.partition("=")
        current.setdefault(key, []).append(value)
    return sections


# -- systemd ------------------------------------------------------------------------------------
def test_service_runs_as_a_dedicated_user_with_secrets_from_a_file_and_hardening() -> None:
    service = unit(SERVICE)["Service"]
    assert service["User"] == ["shadowit"] and service["Group"] == ["shadowit"]
    assert service["EnvironmentFile"] == ["/etc/shadowit/shadowit.env"]
    assert service["Type"] == ["oneshot"]
    assert service["StateDirectory"] == ["shadowit"] and service["UMask"] == ["0077"]
    for key, value in {
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "PrivateDevices": "yes",
        "CapabilityBoundingSet": "",
        "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
    }.items():
        assert service[key] == [value], key
    check_command(shadowit_args(service["ExecStart"][0]))


def test_timer_runs_the_service_nightly() -> None:
    timer = unit(TIMER)
    assert timer["Timer"]["OnCalendar"] == ["*-*-* 02:30:00"]
    assert timer["Timer"]["Persistent"] == ["true"]
    assert timer["Timer"]["Unit"] == ["shadowit.service"]
    assert timer["Install"]["WantedBy"] == ["timers.target"]


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not here")
def test_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    # verify insists the ExecStart binary exists: point it at this checkout's shadowit.
    here = Path(sys.executable).parent / "shadowit"
    assert here.exists()
    for source in (SERVICE, SERVE_UNIT):
        (tmp_path / source.name).write_text(
            source.read_text().replace("/opt/shadowit/venv/bin/shadowit", str(here))
        )
    shutil.copy(TIMER, tmp_path / "shadowit.timer")
    problems = verify(
        tmp_path / "shadowit.service",
        tmp_path / "shadowit.timer",
        tmp_path / "shadowit-serve.service",
    )
    assert problems == []


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not here")
def test_verify_catches_a_bad_unit(tmp_path: Path) -> None:
    bad = tmp_path / "shadowit.service"
    bad.write_text(SERVICE.read_text().replace("ProtectSystem=strict", "ProtectSystem=sometimes"))
    assert any("ProtectSystem" in p or "protect system" in p for p in verify(bad))


def verify(*paths: Path) -> list[str]:
    run = subprocess.run(
        ["systemd-analyze", "verify", *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    lines = (run.stdout + run.stderr).splitlines()
    # Warnings about our own files matter; anything about the host's units does not.
    ours = [line for line in lines if "shadowit" in line]
    if run.returncode != 0:
        ours.append(f"exit {run.returncode}")
    return ours


def test_serve_unit_runs_the_page_as_the_scan_user_stops_on_sigterm_and_is_hardened() -> None:
    serve = unit(SERVE_UNIT)
    service, scan = serve["Service"], unit(SERVICE)["Service"]
    for key in ("User", "Group", "EnvironmentFile", "StateDirectory", "WorkingDirectory", "UMask"):
        assert service[key] == scan[key], f"{key}: the page answers into the scan's inventory"
    hardening = [k for k in scan if k.startswith(("Protect", "Restrict", "Private", "System"))]
    for key in (*hardening, "NoNewPrivileges", "CapabilityBoundingSet", "LockPersonality"):
        assert service[key] == scan[key], key
    assert service["Type"] == ["exec"] and service["Restart"] == ["on-failure"]
    assert service["RestartPreventExitStatus"] == ["2"], "a config error is not retried"
    assert service["KillSignal"] == ["SIGTERM"]
    assert int(service["TimeoutStopSec"][0]) > SHUTDOWN_SECONDS
    assert serve["Install"]["WantedBy"] == ["multi-user.target"]
    ctx = check_command(shadowit_args(service["ExecStart"][0]))
    assert ctx.info_name == "serve"
    assert ctx.params["host"] is None, "binds [confirm] host (127.0.0.1) for the reverse proxy"
    assert ctx.params["access_log"] is True
    env = SERVE_UNIT.with_name("shadowit.env.example").read_text()
    assert "\nSHADOWIT_CONFIRM_KEY=" in env, "the signing key has its place in the env file"


# -- cron ---------------------------------------------------------------------------------------
def test_cron_line_runs_the_scan_as_the_dedicated_user() -> None:
    jobs = [
        line
        for line in CRON.read_text().splitlines()
        if line and not line.startswith("#") and "=" not in line.split()[0]
    ]
    [job] = jobs
    fields = job.split(None, 6)
    assert fields[:5] == ["30", "2", "*", "*", "*"]
    assert fields[5] == "shadowit", "the user field of /etc/cron.d"
    assert ". /etc/shadowit/shadowit.env" in fields[6] and "umask 077" in fields[6]
    check_command(shadowit_args(fields[6].split("; ")[-1]))
    assert job in DOC.read_text(), "docs/deploy.md shows the same line"


# -- Kubernetes ---------------------------------------------------------------------------------
def manifests() -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(MANIFEST.read_text()) if d]


def test_manifest_parses_with_the_expected_kinds() -> None:
    assert [d["kind"] for d in manifests()] == [
        "Secret",
        "ConfigMap",
        "PersistentVolumeClaim",
        "CronJob",
    ]


def test_cronjob_forbids_overlap_and_takes_secrets_and_store_from_the_cluster() -> None:
    by_kind = {d["kind"]: d for d in manifests()}
    cron = by_kind["CronJob"]["spec"]
    assert cron["concurrencyPolicy"] == "Forbid"
    assert len(cron["schedule"].split()) == 5
    pod = cron["jobTemplate"]["spec"]["template"]["spec"]
    [container] = pod["containers"]
    assert container["envFrom"] == [{"secretRef": {"name": by_kind["Secret"]["metadata"]["name"]}}]
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    claim = by_kind["PersistentVolumeClaim"]["metadata"]["name"]
    assert volumes["data"]["persistentVolumeClaim"]["claimName"] == claim
    assert volumes["config"]["configMap"]["name"] == by_kind["ConfigMap"]["metadata"]["name"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    ctx = check_command(container["args"])
    config_path = Path(ctx.params["config_path"])
    assert mounts["config"] == str(config_path.parent)

    # The shipped config is valid, names its secrets from the Secret, and keeps the store
    # and reports on the claim.
    data = tomllib.loads(by_kind["ConfigMap"]["data"][config_path.name])
    cfg = configuration.from_dict(data, config_path)
    assert cfg.store_path.parent == Path(mounts["data"])
    assert Path(cfg.report.out).parent == Path(mounts["data"])
    secret_keys = set(by_kind["Secret"]["stringData"])
    named = {v for s in data["sources"].values() for k, v in s.items() if k.endswith("_env")}
    assert named | {cfg.notify.urls_env} <= secret_keys


def test_serve_deployment_shares_the_scans_secret_config_and_claim_and_stops_gracefully() -> None:
    cron = {d["kind"]: d for d in manifests()}
    served = {d["kind"]: d for d in yaml.safe_load_all(SERVE_MANIFEST.read_text()) if d}
    assert list(served) == ["Deployment", "Service"]
    deployment = served["Deployment"]["spec"]
    assert deployment["replicas"] == 1 and deployment["strategy"] == {"type": "Recreate"}
    pod = deployment["template"]["spec"]
    labels = deployment["template"]["metadata"]["labels"]
    assert deployment["selector"]["matchLabels"] == labels
    assert pod["terminationGracePeriodSeconds"] > SHUTDOWN_SECONDS
    [container] = pod["containers"]
    ctx = check_command(container["args"])
    assert ctx.info_name == "serve" and ctx.params["host"] == "0.0.0.0"  # noqa: S104 - inside its pod
    [port] = container["ports"]
    assert ctx.params["port"] == port["containerPort"]
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"] == {"path": "/healthz", "port": port["name"]}
    assert container["envFrom"] == [{"secretRef": {"name": cron["Secret"]["metadata"]["name"]}}]
    volumes = {v["name"]: v for v in pod["volumes"]}
    claim = cron["PersistentVolumeClaim"]["metadata"]["name"]
    assert volumes["data"]["persistentVolumeClaim"]["claimName"] == claim
    assert volumes["config"]["configMap"]["name"] == cron["ConfigMap"]["metadata"]["name"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    config_path = Path(ctx.params["config_path"])
    assert mounts["config"] == str(config_path.parent)

    # The shared config has a [confirm] table whose key comes from the Secret.
    data = tomllib.loads(cron["ConfigMap"]["data"][config_path.name])
    cfg = configuration.from_dict(data, config_path)
    assert cfg.confirm is not None and cfg.confirm.secret_env in cron["Secret"]["stringData"]
    assert cfg.path(cfg.confirm.out).parent == Path(mounts["data"])

    service = served["Service"]["spec"]
    assert service["selector"] == labels
    assert service["ports"][0]["targetPort"] == port["name"]
    cron_pod = cron["CronJob"]["spec"]["jobTemplate"]["spec"]["template"]
    assert not set(service["selector"].items()) <= set(cron_pod["metadata"]["labels"].items()), (
        "the Service never routes to a scan's pod"
    )
    [affinity] = cron_pod["spec"]["affinity"]["podAffinity"][
        "preferredDuringSchedulingIgnoredDuringExecution"
    ]
    wanted = affinity["podAffinityTerm"]["labelSelector"]["matchLabels"]
    assert set(wanted.items()) <= set(labels.items()), "the scan prefers the page's node"


# -- Dockerfile ---------------------------------------------------------------------------------
def test_dockerfile_pins_python_slim_and_installs_the_project() -> None:
    lines = [
        line.strip()
        for line in DOCKERFILE.read_text().replace("\\\n", " ").splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]
    assert lines[0] == "FROM python:3.11-slim"
    assert any(re.match(r"RUN pip install \.( |$)", line) for line in lines)
    for line in lines:
        if line.startswith("COPY"):
            for source in line.split()[1:-1]:
                assert (ROOT / source).exists(), source
    user = next(line for line in lines if line.startswith("USER"))
    assert not user.split()[1].startswith(("0", "root"))
    assert lines[-2:] == ['ENTRYPOINT ["shadowit"]', 'CMD ["--help"]']


# -- docs/deploy.md -----------------------------------------------------------------------------
def test_every_shadowit_command_in_the_doc_is_accepted_by_the_cli() -> None:
    text = DOC.read_text()
    blocks = re.findall(r"```(?:sh|cron)\n(.*?)```", text, re.S)
    commands = []
    for block in blocks:
        for line in block.replace("\\\n", " ").splitlines():
            command = line.split("; ")[-1].strip()
            words = command.split()
            if words and (is_shadowit(words[0]) or words[:2] == ["docker", "run"]):
                commands.append(shadowit_args(command))
    assert len(commands) >= 4  # doctor, cron, docker run, and more
    assert ["doctor", "--config", "/etc/shadowit/config.toml"] in commands
    for args in commands:
        check_command(args)


def test_check_command_rejects_a_wrong_command_line() -> None:
    with pytest.raises(click.UsageError):
        check_command(["scan", "--config", "x.toml", "--fail-on", "urgent"])
    with pytest.raises(click.UsageError):
        check_command(["scan"])


def test_doc_names_only_files_that_exist_and_every_deploy_file_is_documented() -> None:
    text = DOC.read_text()
    for path in re.findall(r"`(deploy/[\w./-]+)`", text):
        assert (ROOT / path).exists(), path
    for path in DEPLOY.rglob("*"):
        if path.is_file():
            assert str(path.relative_to(ROOT)) in text, f"{path} is not in docs/deploy.md"


def test_doc_config_snippet_is_valid() -> None:
    snippet = re.search(r"```toml\n(.*?)```", DOC.read_text(), re.S)
    assert snippet is not None
    cfg = configuration.from_dict(
        tomllib.loads(snippet.group(1)), Path("/etc/shadowit/config.toml")
    )
    assert cfg.store_path == Path("/var/lib/shadowit/shadowit.db")
