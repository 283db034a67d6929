"""docker-compose.yml, checked by a Compose implementation: Docker cannot run here, `compose config` can.

Uses `docker compose` when the plugin is there, else `docker-compose`; as root with apt-get, it installs
Debian's docker-compose package when neither is (the project's machines start without it). Skips only when no
Compose implementation can be had.
"""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def _works(command):
    try:
        return subprocess.run([*command, "version"], capture_output=True, timeout=60).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def _install_debian_compose():
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        return
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "docker-compose"]):
        try:
            subprocess.run(command, capture_output=True, env=env, timeout=600, stdin=subprocess.DEVNULL)
        except (OSError, subprocess.TimeoutExpired):
            return


@pytest.fixture(scope="module")
def compose(tmp_path_factory):
    """A function running a Compose implementation on the repository's docker-compose.yml."""
    candidates = [["docker", "compose"], ["docker-compose"]]
    found = next((command for command in candidates if _works(command)), None)
    if found is None:
        _install_debian_compose()
        found = next((command for command in candidates if _works(command)), None)
    if found is None:
        pytest.skip("no Compose implementation (docker compose plugin or docker-compose) could be installed")

    # A developer's .env (real credentials) must not change what the tests see: an empty one instead.
    env_file = tmp_path_factory.mktemp("compose") / "empty.env"
    env_file.write_text("")

    def run(*args, env=None):
        clean = {key: value for key, value in os.environ.items() if not key.startswith("PLUGGY_")}
        command = [*found, "--env-file", str(env_file), "-f", str(REPO / "docker-compose.yml"), *args]
        return subprocess.run(
            command,
            capture_output=True,
            text=True,
            cwd=REPO,
            env={**clean, **(env or {})},
            timeout=120,
        )

    return run


def test_compose_accepts_the_file(compose):
    result = compose("config", "--quiet")
    assert result.returncode == 0, result.stderr


def test_compose_starts_odoo_postgres_the_emulator_and_a_one_shot_init(compose):
    result = compose("config", "--services")
    assert result.returncode == 0, result.stderr
    assert set(result.stdout.split()) == {"db", "emulator", "init", "odoo"}
    rendered = compose("config").stdout
    assert "image: postgres:16" in rendered
    assert "image: python:3.12-slim" in rendered
    assert "FROM odoo:18.0" in (REPO / "tools" / "demo" / "Dockerfile").read_text()
    assert "/mnt/extra-addons/caixa_pluggy" in rendered, "the addon is mounted on the image's addons path"
    assert "127.0.0.1:8069:8069" in rendered, "Odoo answers on http://localhost:8069"


def test_without_env_file_odoo_talks_to_the_emulator(compose):
    rendered = compose("config").stdout
    assert "PLUGGY_BASE_URL: http://127.0.0.1:8787" in rendered
    assert "PLUGGY_CLIENT_ID: demo-client-id" in rendered
    assert "PLUGGY_CONNECT_URL: http://localhost:8787/connect/pluggy-connect.js" in rendered


def test_env_values_reach_odoo(compose):
    rendered = compose(
        "config",
        env={
            "PLUGGY_CLIENT_ID": "my-client-id",
            "PLUGGY_BASE_URL": "https://api.pluggy.ai",
            "PLUGGY_CONNECT_URL": "",
        },
    ).stdout
    assert "PLUGGY_CLIENT_ID: my-client-id" in rendered
    assert "PLUGGY_BASE_URL: https://api.pluggy.ai" in rendered
    assert "localhost:8787/connect" not in rendered, "an empty PLUGGY_CONNECT_URL leaves the addon's default"


def test_env_example_lists_every_variable_the_file_reads():
    compose_text = (REPO / "docker-compose.yml").read_text()
    example = (REPO / ".env.example").read_text()
    for name in ("PLUGGY_CLIENT_ID", "PLUGGY_CLIENT_SECRET", "PLUGGY_BASE_URL", "PLUGGY_CONNECT_URL"):
        assert "${" + name in compose_text
        assert f"\n{name}=" in example
