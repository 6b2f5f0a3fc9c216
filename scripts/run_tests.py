"""`make test`: run the whole suite on SQLite and, when PostgreSQL can be started, on it too.

PostgreSQL comes from the Debian package `postgresql` (installed here when missing and we
are root with apt-get, as on CI). A throw-away cluster is created in a temp directory on a
free loopback port, used through OPTIHUB_TEST_DATABASE_URL, and removed at the end.
Redis (package `redis-server`) is started the same way for the shared rate-limit tests,
through OPTIHUB_TEST_REDIS_URL. With CI=true, both are required: failing to start either
fails the run.

The suite runs on every core (pytest-xdist, ``OPTIHUB_TEST_WORKERS`` to choose another
number, 1 for one process); each worker has its own databases (tests/conftest.py).
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def say(message: str) -> None:
    print(f"[make test] {message}", flush=True)


def is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def apt_install(*packages: str) -> bool:
    if not (is_root() and shutil.which("apt-get")):
        return False
    say(f"installing Debian packages: {' '.join(packages)}")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    quiet = {"stdout": subprocess.DEVNULL, "env": env}
    subprocess.run(["apt-get", "update", "-qq"], check=False, **quiet)
    result = subprocess.run(
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *packages],
        check=False,
        **quiet,
    )
    return result.returncode == 0


def pg_bindir() -> Path | None:
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if Path(candidate, "initdb").exists():
            return Path(candidate)
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def postgres_cluster(keep: Path | None = None) -> Iterator[str | None]:
    """Yield a database URL of a fresh throw-away cluster, or None when unavailable.

    ``keep``: the cluster lives in that folder instead (made on first use, started again on
    the next, stopped but not removed at the end), e.g. for the bench's seeded databases.
    """
    bindir = pg_bindir()
    if bindir is None:
        apt_install("postgresql")
        bindir = pg_bindir()
    if bindir is None:
        say("PostgreSQL is not available (package `postgresql` not installed)")
        yield None
        return
    if keep is None:
        workdir = Path(tempfile.mkdtemp(prefix="optihub-pg-"))
    else:
        workdir = keep.resolve()
        workdir.mkdir(parents=True, exist_ok=True)
    datadir = workdir / "data"
    port = free_port()
    as_user: list[str] = []
    if is_root():
        # PostgreSQL refuses to run as root: the Debian package's `postgres` user owns it.
        shutil.chown(workdir, "postgres", "postgres")
        workdir.chmod(0o700)
        as_user = ["runuser", "-u", "postgres", "--"]
    run = lambda *cmd: subprocess.run(  # noqa: E731
        [*as_user, *cmd], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
    )
    try:
        if (datadir / "postmaster.pid").exists():  # left running by an interrupted run
            run(str(bindir / "pg_ctl"), "-D", str(datadir), "-m", "immediate", "stop")
    except subprocess.CalledProcessError:
        (datadir / "postmaster.pid").unlink(missing_ok=True)
    try:
        if not (datadir / "PG_VERSION").exists():
            shutil.rmtree(datadir, ignore_errors=True)
            run(
                str(bindir / "initdb"),
                "-D",
                str(datadir),
                "-U",
                "optihub",
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
            )
        options = (
            f"-p {port} -k {workdir} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        run(
            str(bindir / "pg_ctl"),
            "-D",
            str(datadir),
            "-o",
            options,
            "-l",
            str(workdir / "server.log"),
            "-w",
            "start",
        )
        version = subprocess.run(
            [str(bindir / "postgres"), "--version"], capture_output=True, text=True, check=False
        ).stdout.strip()
        kind = "throw-away" if keep is None else f"kept ({workdir})"
        say(f"started {kind} PostgreSQL ({version}) on 127.0.0.1:{port}")
        yield f"postgresql+psycopg://optihub@127.0.0.1:{port}/postgres"
    except subprocess.CalledProcessError as exc:
        say(f"could not start PostgreSQL: {exc}")
        log = workdir / "server.log"
        if log.exists():
            print(log.read_text()[-2000:])
        yield None
    finally:
        if (datadir / "postmaster.pid").exists():
            subprocess.run(
                [*as_user, str(bindir / "pg_ctl"), "-D", str(datadir), "-m", "immediate", "stop"],
                check=False,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        if keep is None:
            shutil.rmtree(workdir, ignore_errors=True)


@contextmanager
def redis_server() -> Iterator[str | None]:
    """Yield the URL of a throw-away Redis (no persistence) on a free port, or None."""
    binary = shutil.which("redis-server")
    if binary is None:
        apt_install("redis-server")
        binary = shutil.which("redis-server")
    if binary is None:
        say("Redis is not available (package `redis-server` not installed)")
        yield None
        return
    port = free_port()
    workdir = Path(tempfile.mkdtemp(prefix="optihub-redis-"))
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        cwd=workdir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if process.poll() is not None:
                break
            time.sleep(0.05)
        else:
            say("Redis did not start listening in 5 s")
        if process.poll() is not None:
            say("could not start Redis")
            yield None
            return
        say(f"started throw-away Redis on 127.0.0.1:{port}")
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(timeout=10)
        shutil.rmtree(workdir, ignore_errors=True)


def ensure_chromium() -> None:
    """Browser tests drive Debian's chromium; install it when missing (root + apt-get)."""
    if shutil.which("chromium") or Path("/usr/bin/chromium").exists():
        return
    if not apt_install("chromium"):
        say("chromium is not installed and could not be installed: browser tests will fail")


def workers(args: list[str]) -> list[str]:
    """xdist's options: one worker per core, unless the arguments say otherwise.

    ``worksteal``: a worker that runs out of tests takes half of the other's queue, so one
    slow file (the fuzzers, the browser tests) does not leave a core idle at the end.
    """
    if any(a == "-n" or a.startswith(("-n", "--numprocesses", "--dist")) for a in args):
        return []
    count = int(os.environ.get("OPTIHUB_TEST_WORKERS") or os.cpu_count() or 1)
    return ["-n", str(count), "--dist", "worksteal"] if count > 1 else []


def main() -> int:
    os.chdir(ROOT)
    ensure_chromium()
    args = sys.argv[1:]
    env = dict(os.environ)
    with postgres_cluster() as pg_url, redis_server() as redis_url:
        if redis_url:
            env["OPTIHUB_TEST_REDIS_URL"] = redis_url
        elif IN_CI:
            say("CI=true requires Redis; failing")
            return 1
        if pg_url:
            env["OPTIHUB_TEST_DATABASE_URL"] = pg_url
            say("databases under test: sqlite, postgresql")
        else:
            if IN_CI:
                say("CI=true requires PostgreSQL; failing")
                return 1
            say("databases under test: sqlite only")
        command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *workers(args), *args]
        say(" ".join(command))
        result = subprocess.run(command, env=env, check=False)
    return result.returncode


if __name__ == "__main__":
    sys.exit(main())
