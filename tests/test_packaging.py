"""The container files, proved without a container engine: the compose file parses, runs
real clippost commands with real settings, and the image and proxy are as documented."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from clippost.cli import build_parser
from clippost.config import Settings
from clippost.web.routes import health

ROOT = Path(__file__).resolve().parents[1]
COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text())
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
CLIPPOST = {name: s for name, s in SERVICES.items() if s.get("image", "").startswith("clippost")}
DOCKERFILE = (ROOT / "Dockerfile").read_text()


def _stages() -> list[tuple[str, str, list[str]]]:
    """(base image, stage name, instructions) of each FROM ... AS ... stage."""
    stages: list[tuple[str, str, list[str]]] = []
    logical = re.sub(r"\\\n\s*", " ", DOCKERFILE)
    for line in logical.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if match := re.match(r"FROM\s+(\S+)\s+AS\s+(\S+)", line, re.IGNORECASE):
            stages.append((match.group(1), match.group(2), []))
        else:
            stages[-1][2].append(line.strip())
    return stages


class TestCompose:
    def test_the_services_are_there(self) -> None:
        """PostgreSQL, two web processes, two workers, a proxy and a mail catcher."""
        commands = {name: s["command"] for name, s in CLIPPOST.items()}
        webs = [n for n, c in commands.items() if c[:2] == ["serve", "--no-worker"]]
        workers = [n for n, c in commands.items() if c == ["worker"]]
        assert len(webs) == 2
        assert len(workers) == 2
        assert {"postgres", "proxy", "mailpit"} <= set(SERVICES)
        assert [p.split(":")[0] for p in SERVICES["proxy"]["ports"]] == ["8080"]  # one port

    @pytest.mark.parametrize("name", sorted(CLIPPOST))
    def test_each_command_is_a_clippost_command(self, name: str) -> None:
        """Each service's command parses with clippost's own argument parser."""
        args = build_parser().parse_args(CLIPPOST[name]["command"])
        assert args.command in {"serve", "worker", "db"}

    @pytest.mark.parametrize("name", sorted(CLIPPOST))
    def test_each_variable_is_a_setting(self, name: str) -> None:
        """Every CLIPPOST_* variable a service sets is a field of Settings."""
        known = {f"CLIPPOST_{field.upper()}" for field in Settings.model_fields}
        assert set(CLIPPOST[name]["environment"]) - known == set()

    def test_the_settings_work_together(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """The web environment builds valid Settings: PostgreSQL, SMTP to the mail catcher."""
        for key, value in CLIPPOST["web1"]["environment"].items():
            default = re.fullmatch(r"\$\{\w+:?-(.*)\}", str(value))
            monkeypatch.setenv(key, "x" * 40 if "?" in str(value) else (default or [0, value])[1])
        settings = Settings(_env_file=None)  # type: ignore[call-arg]
        assert settings.resolved_database_url.startswith("postgresql+asyncpg://")
        assert (settings.mail_transport, settings.smtp_host) == ("smtp", "mailpit")
        assert "mailpit" in SERVICES

    def test_every_variable_is_documented(self) -> None:
        """docs/operating.md names every variable the compose file sets."""
        operating = (ROOT / "docs" / "operating.md").read_text()
        variables = {v for s in SERVICES.values() for v in s.get("environment", {})}
        assert {v for v in variables if f"`{v}`" not in operating} == set()

    def test_the_workers_wait_for_migrations(self) -> None:
        """Web processes and workers start after `db upgrade` has completed."""
        assert SERVICES["migrate"]["command"] == ["db", "upgrade"]
        for name, service in CLIPPOST.items():
            if name != "migrate":
                condition = service["depends_on"]["migrate"]["condition"]
                assert condition == "service_completed_successfully"


class TestDockerfile:
    def test_two_stages_on_slim_python(self) -> None:
        """A build stage and a runtime stage, both on python:3.11-slim."""
        stages = _stages()
        assert [(base, name) for base, name, _ in stages] == [
            ("python:3.11-slim", "build"),
            ("python:3.11-slim", "runtime"),
        ]
        runtime = stages[-1][2]
        assert any(line.startswith("COPY --from=build") for line in runtime)

    def test_runs_as_a_user_of_its_own(self) -> None:
        """The runtime stage switches to a non-root user it creates."""
        runtime = _stages()[-1][2]
        users = [line.split()[1] for line in runtime if line.startswith("USER ")]
        assert users == ["clippost"]
        assert any("useradd" in line and "clippost" in line for line in runtime)

    def test_health_check_and_entry_point(self) -> None:
        """HEALTHCHECK asks /healthz; the entry point is the console script pyproject installs."""
        runtime = _stages()[-1][2]
        (health,) = [line for line in runtime if line.startswith("HEALTHCHECK")]
        assert "/healthz" in health
        (entry,) = [line for line in runtime if line.startswith("ENTRYPOINT")]
        scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
        assert entry == 'ENTRYPOINT ["clippost"]'
        assert scripts["clippost"] == "clippost.cli:main"

    def test_the_default_command_is_a_clippost_command(self) -> None:
        """The image's CMD parses as clippost arguments."""
        (cmd,) = [line for line in _stages()[-1][2] if line.startswith("CMD ")]
        arguments = yaml.safe_load(cmd.removeprefix("CMD "))
        assert build_parser().parse_args(arguments).command == "serve"

    def test_the_context_leaves_out_local_files(self) -> None:
        """.dockerignore keeps the virtualenv, the git folder and data out of the image."""
        ignored = (ROOT / ".dockerignore").read_text().split()
        assert {".git", ".venv", "data", ".env"} <= set(ignored)


class TestProxy:
    def test_upstreams_are_the_web_processes(self) -> None:
        """Caddy's upstreams are exactly the web services, on the port they listen on."""
        caddyfile = (ROOT / "deploy" / "Caddyfile").read_text()
        (upstreams,) = re.findall(r"reverse_proxy\s+([^{\n]+)", caddyfile)
        webs = {
            f"{name}:{s['command'][s['command'].index('--port') + 1]}"
            for name, s in CLIPPOST.items()
            if s["command"][0] == "serve"
        }
        assert set(upstreams.split()) == webs
        mounts = SERVICES["proxy"]["volumes"]
        assert "./deploy/Caddyfile:/etc/caddy/Caddyfile:ro" in mounts

    def test_the_proxy_checks_readiness(self) -> None:
        """Caddy's health check asks /readyz, a route the app serves."""
        caddyfile = (ROOT / "deploy" / "Caddyfile").read_text()
        (uri,) = re.findall(r"health_uri\s+(\S+)", caddyfile)
        assert uri == "/readyz"
        assert uri in {getattr(route, "path", None) for route in health.router.routes}
