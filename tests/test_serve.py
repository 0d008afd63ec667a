"""The README's first command really serves: `marketplace demo` on SQLite, and gunicorn on PostgreSQL."""

from __future__ import annotations

import http.cookiejar
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import create_postgres_database, drop_postgres_database, require_postgres


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_until_up(url: str, process: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited with {process.returncode}: {process.stdout.read()}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback only
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            # TimeoutError: the socket accepted the connection but no worker has booted yet to answer it.
            time.sleep(0.2)
    raise AssertionError(f"{url} did not come up in {seconds}s")


def _stop(process: subprocess.Popen) -> str:
    process.send_signal(signal.SIGINT)
    try:
        output, _ = process.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
    return output


def _login(base: str, email: str, password: str) -> str:
    """Log in through the form like a browser and return the home page."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(f"{base}/login", timeout=10).read().decode()
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    body = urllib.parse.urlencode({"email": email, "password": password, "csrf_token": token}).encode()
    return opener.open(f"{base}/login", data=body, timeout=10).read().decode()


@pytest.fixture
def demo_server(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen]]:
    """`python -m marketplace demo` on a fresh SQLite file."""
    port = _free_port()
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'demo.db'}", "SECRET_KEY": "demo-test"}
    process = subprocess.Popen(
        [sys.executable, "-m", "marketplace", "demo", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(f"{base}/healthz", process)
        yield base, process
    finally:
        _stop(process)


def test_demo_command_serves_login_page_with_demo_data(demo_server) -> None:
    """The demo prints its logins, serves the Korean login page, and the demo admin can log in."""
    base, _process = demo_server
    with urllib.request.urlopen(f"{base}/login", timeout=10) as response:  # noqa: S310 - loopback only
        assert "<h1>로그인</h1>" in response.read().decode()
    home = _login(base, "admin@demo.example", "demo-password")
    assert "현황" in home and "최관리" in home


def test_gunicorn_serves_the_app_on_postgresql(tmp_path: Path) -> None:
    """The production setup: gunicorn workers over PostgreSQL, migrated by `marketplace db upgrade`."""
    require_postgres()
    url = create_postgres_database()
    try:
        env = {**os.environ, "DATABASE_URL": url, "SECRET_KEY": "prod-test", "MARKETPLACE_ENV": "production"}
        upgrade = subprocess.run(
            [sys.executable, "-m", "marketplace", "db", "upgrade"], env=env, capture_output=True, text=True, timeout=120
        )
        assert upgrade.returncode == 0, upgrade.stderr
        port = _free_port()
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-w", "2", "-b", f"127.0.0.1:{port}", "marketplace:create_app()"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            _wait_until_up(f"http://127.0.0.1:{port}/healthz", process)
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=10) as response:
                assert "로그인" in response.read().decode()
                assert "Secure" in response.headers["Set-Cookie"]
        finally:
            _stop(process)
    finally:
        drop_postgres_database(url)
