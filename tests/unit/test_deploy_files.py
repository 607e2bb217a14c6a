"""The deployment files agree with each other and with the code: the settings example is a
valid configuration once its secrets are filled in, the container and compose commands are
the repository's scripts, and compose's rewrite of nginx.conf finds the lines it rewrites."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import yaml

from rcp import config

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"


def sourced(env_file: Path, *extra_lines: str) -> dict[str, str]:
    """The RCP_ variables bash sees after `set -a; . file` (what scripts/env.sh does)."""
    text = env_file.read_text() + "\n".join(extra_lines) + "\n"
    script = "set -a; . /dev/stdin; set +a; env -0"
    result = subprocess.run(
        ["bash", "-c", script], input=text, capture_output=True, text=True, check=True, env={}
    )
    pairs = (item.split("=", 1) for item in result.stdout.split("\0") if "=" in item)
    return {k: v for k, v in pairs if k.startswith("RCP_")}


def test_settings_example_is_a_valid_configuration_once_filled_in(monkeypatch) -> None:
    values = sourced(DEPLOY / "rcp.env.example", "RCP_SECRET_KEY=a-generated-secret-0123456789")
    for name in [k for k in os.environ if k.startswith("RCP_")]:
        monkeypatch.delenv(name)
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("RCP_SECRETS_FILE", "/nonexistent/secrets.toml")
    config.reset_settings_cache()
    settings = config.get_settings()
    assert settings.base_url == "https://rcp.example.org" and not settings.base_url_derived
    assert str(settings.data_dir) == "/var/lib/rcp/data"
    assert [c.name for c in settings.support_contacts] == ["Support plateforme"]
    assert settings.smtp_from == "RCP ORKID <no-reply@example.org>"
    assert not settings.demo_mode and settings.ice_servers == []


def test_settings_example_without_a_secret_is_refused(monkeypatch) -> None:
    values = sourced(DEPLOY / "rcp.env.example")
    assert values["RCP_SECRET_KEY"] == ""
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    config.reset_settings_cache()
    try:
        config.get_settings()
    except ValueError as error:
        assert "RCP_SECRET_KEY doit être une valeur aléatoire" in str(error)
    else:
        raise AssertionError("an empty secret was accepted")


def test_container_and_compose_run_the_repository_scripts() -> None:
    containerfile = (DEPLOY / "Containerfile").read_text()
    (cmd,) = re.findall(r'^CMD \["([^"]+)"\]', containerfile, re.M)
    assert cmd == "/srv/rcp/scripts/serve.sh" and "WORKDIR /srv/rcp" in containerfile
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    init_command = compose["services"]["init"]["command"]
    assert init_command == ["/srv/rcp/scripts/rcp.sh", "init"]
    for script in (cmd, init_command[0]):
        path = ROOT / script.removeprefix("/srv/rcp/")
        assert path.is_file() and os.access(path, os.X_OK), script
    assert compose["services"]["app"]["depends_on"]["init"]["condition"] == (
        "service_completed_successfully"
    )


def test_compose_points_nginx_conf_at_its_app_service() -> None:
    """compose.yaml rewrites deploy/nginx.conf's replica lines: they must be there."""
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    shell = compose["services"]["nginx"]["command"][-1]
    rewrites = re.findall(r"-e '([^']+)'", shell)
    assert len(rewrites) == 2
    conf = (DEPLOY / "nginx.conf").read_text()
    result = subprocess.run(
        ["sed", *[arg for r in rewrites for arg in ("-e", r)]],
        input=conf,
        capture_output=True,
        text=True,
        check=True,
    )
    servers = re.findall(r"^\s*server ([^\s{]+)", result.stdout, re.M)
    assert servers == ["app:8501"]


def _compose_default(value: str) -> str:
    """The default of a compose interpolation such as ``${NAME:-default}``."""
    match = re.fullmatch(r"\$\{(\w+):-([^}]+)\}", value)
    assert match, f"{value!r} is not ${{NAME:-default}}"
    return match.group(2)


def test_compose_app_believes_forwarded_addresses_from_nginx_only() -> None:
    """FORWARDED_ALLOW_IPS is nginx's fixed address on an internal network it alone shares
    with the app: no other container, nor the host, can write an address into the audit log
    or dodge the per-address sign-in limit (issue 14 follow-up: it was "*")."""
    import ipaddress

    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services, networks = compose["services"], compose["networks"]
    trusted = services["app"]["environment"]["FORWARDED_ALLOW_IPS"]
    assert "*" not in trusted
    nginx_networks = services["nginx"]["networks"]
    app_networks = set(services["app"]["networks"])
    shared = set(nginx_networks) & app_networks
    assert len(shared) == 1, "nginx must reach the app through one network only"
    (proxy,) = shared
    assert nginx_networks[proxy]["ipv4_address"] == trusted
    assert networks[proxy]["internal"] is True
    on_proxy = [name for name, s in services.items() if proxy in (s.get("networks") or [])]
    assert sorted(on_proxy) == ["app", "nginx"]
    # The address is inside the subnet and outside the range handed to other containers.
    (ipam,) = networks[proxy]["ipam"]["config"]
    address = ipaddress.ip_address(_compose_default(trusted))
    subnet = ipaddress.ip_network(_compose_default(ipam["subnet"]))
    dynamic = ipaddress.ip_network(_compose_default(ipam["ip_range"]))
    assert address in subnet and dynamic.subnet_of(subnet) and address not in dynamic
    assert address != next(subnet.hosts())  # the first host address is the bridge's gateway
    # Nothing publishes the app's port; the database is on an internal network.
    assert "ports" not in services["app"]
    assert all(networks[n]["internal"] for n in services["db"]["networks"])
    assert not any("ports" in services[name] for name in ("db", "init", "app"))
