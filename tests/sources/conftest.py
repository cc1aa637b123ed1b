"""Fixtures for the source tests: a real DuckDB file, a throwaway PostgreSQL server."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from amili_pipelines.domain.creditors import CreditorsFile
from amili_pipelines.settings import load_creditors
from amili_pipelines.warehouse import Warehouse, open_warehouse
from tests.support.sources import DEMO_CREDITORS


@pytest.fixture()
def warehouse(tmp_path: Path) -> Iterator[Warehouse]:
    with open_warehouse(tmp_path / "amili.duckdb") as wh:
        yield wh


@pytest.fixture()
def demo_creditors() -> CreditorsFile:
    return load_creditors(DEMO_CREDITORS)


# -- PostgreSQL -------------------------------------------------------------------------------

def _pg_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


def _install_postgres() -> Path:
    """apt-get install postgresql when the binaries are missing (CI on a fresh machine)."""
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update"], check=True, capture_output=True, env=env, timeout=600)
    subprocess.run(["apt-get", "install", "-y", "--no-install-recommends", "postgresql"], check=True,
                   capture_output=True, env=env, timeout=900)
    bin_dir = _pg_bin()
    if bin_dir is None:
        raise RuntimeError("postgresql installed but no initdb under /usr/lib/postgresql/*/bin")
    return bin_dir


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def postgres_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real PostgreSQL server in a throwaway cluster, as a SQLAlchemy URL; stopped at the end."""
    bin_dir = _pg_bin() or _install_postgres()
    user = "postgres"
    try:
        import pwd

        pwd.getpwnam(user)
    except KeyError:
        user = "nobody"
    base = tmp_path_factory.mktemp("pg")
    data = base / "data"
    sock = base / "sock"
    sock.mkdir()
    shutil.chown(base, user=user)
    shutil.chown(sock, user=user)
    os.chmod(base, 0o755)
    # tmp dirs' parents must be traversable by the server's user
    for parent in base.parents:
        if str(parent) in ("/", "/tmp"):
            break
        os.chmod(parent, os.stat(parent).st_mode | 0o011)

    def as_user(*cmd: str, **kw) -> subprocess.CompletedProcess:
        prefix = ["runuser", "-u", user, "--"] if os.geteuid() == 0 else []
        return subprocess.run([*prefix, *cmd], check=True, capture_output=True, text=True, **kw)

    as_user(str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync")
    port = _free_port()
    log = base / "server.log"
    as_user(str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-t", "60", "start",
            "-o", f"-h 127.0.0.1 -p {port} -k {sock} -F")
    try:
        for _ in range(50):
            try:
                as_user(str(bin_dir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "invoices")
                break
            except subprocess.CalledProcessError:
                time.sleep(0.2)
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/invoices"
    finally:
        subprocess.run(["runuser", "-u", user, "--", str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "stop"]
                       if os.geteuid() == 0 else [str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "stop"],
                       capture_output=True)
