"""Every deployment file checked by the tool that will read it in production:
`caddy validate`, `tor --verify-config`, `systemd-analyze verify`, PostgreSQL
itself. The tools install with deploy/install-test-tools.sh."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.deploy.helpers import DEPLOY, REPO, require_tool
from tests.support.live_server import BIN, free_port

SYSTEMD = DEPLOY / "systemd"
SERVICES = ["intake.service", "intake-purge.service", "intake-backup.service"]
UNITS = [*SERVICES, "intake-purge.timer", "intake-backup.timer"]
# Runs on machines other than the server (its own hardening: it runs Chromium).
UNITS += ["intake-check-site.service", "intake-check-site.timer"]
INSTALLED_INTAKE = "/opt/intake/venv/bin/intake"


def run(args: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=120, check=False, **kwargs)  # type: ignore[call-overload, no-any-return]


# -- Caddy ------------------------------------------------------------------------


def caddy_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("INTAKE_", "CADDY_"))}
    env.update(XDG_DATA_HOME=str(tmp_path / "data"), XDG_CONFIG_HOME=str(tmp_path / "config"))
    env.update(extra)
    return env


def test_caddyfile_is_valid_for_caddy(tmp_path: Path) -> None:
    caddy = require_tool("caddy")
    result = run(
        [caddy, "validate", "--config", str(DEPLOY / "caddy/Caddyfile"), "--adapter", "caddyfile"],
        env=caddy_env(tmp_path, INTAKE_DOMAIN="intake.example.org"),
    )
    assert result.returncode == 0, result.stderr
    assert "Valid configuration" in result.stdout + result.stderr
    # Formatted as Caddy formats it (Caddy warns at every start otherwise).
    assert "not formatted" not in result.stderr


def test_caddyfile_refuses_to_start_without_a_domain(tmp_path: Path) -> None:
    """No silent default: an unset INTAKE_DOMAIN must not serve some other name."""
    caddy = require_tool("caddy")
    result = run(
        [caddy, "validate", "--config", str(DEPLOY / "caddy/Caddyfile"), "--adapter", "caddyfile"],
        env=caddy_env(tmp_path),
    )
    assert result.returncode != 0


# -- Tor --------------------------------------------------------------------------


def torrc_in(folder: Path) -> Path:
    """deploy/tor/torrc with its one absolute path moved into `folder`."""
    text = (DEPLOY / "tor/torrc").read_text()
    assert "\nHiddenServiceDir /var/lib/tor/intake/\n" in text
    hidden = folder / "hidden"
    hidden.mkdir(mode=0o700)
    path = folder / "torrc"
    path.write_text(text.replace("/var/lib/tor/intake/", f"{hidden}/intake/"))
    return path


@pytest.fixture
def tor_folder() -> Iterator[Path]:
    """A folder Debian's `debian-tor` user (the defaults' `User`) can use."""
    folder = Path(tempfile.mkdtemp(prefix="intake-tor-"))
    folder.chmod(0o755)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_torrc_is_valid_for_tor(tor_folder: Path) -> None:
    """Checked with the defaults Debian's tor@default.service adds (User
    debian-tor, its own DataDirectory), moved into a folder of our own."""
    tor = require_tool("tor")
    defaults = Path("/usr/share/tor/tor-service-defaults-torrc")
    if not defaults.exists():
        defaults = tor_folder / "empty-defaults"
        defaults.write_text("")
    data = tor_folder / "data"
    data.mkdir(mode=0o700)
    torrc = torrc_in(tor_folder)
    if "User debian-tor" in defaults.read_text():
        for path in (data, torrc.parent / "hidden"):
            shutil.chown(path, "debian-tor", "debian-tor")
    files = ["--defaults-torrc", str(defaults), "-f", str(torrc)]
    moved = ["--DataDirectory", str(data), "--PidFile", str(tor_folder / "tor.pid")]
    result = run([tor, "--verify-config", *files, *moved])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Configuration was valid" in result.stdout


def test_onion_service_points_at_the_caddy_onion_site() -> None:
    torrc = (DEPLOY / "tor/torrc").read_text()
    caddyfile = (DEPLOY / "caddy/Caddyfile").read_text()
    ports = re.findall(r"^HiddenServicePort 80 127\.0\.0\.1:(\d+)$", torrc, re.M)
    assert ports == re.findall(r"\{\$INTAKE_ONION_PORT:(\d+)\}", caddyfile)
    assert "{$INTAKE_ONION_BIND:127.0.0.1}" in caddyfile


# -- systemd ----------------------------------------------------------------------


@pytest.fixture
def units(tmp_path: Path) -> Path:
    """The units with the installed path of `intake` replaced by this
    checkout's (systemd-analyze checks that every command exists)."""
    folder = tmp_path / "units"
    folder.mkdir()
    for name in UNITS:
        text = (SYSTEMD / name).read_text()
        (folder / name).write_text(text.replace(INSTALLED_INTAKE, str(BIN / "intake")))
    return folder


def systemd_analyze(args: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    tool = require_tool("systemd-analyze")
    result = run([tool, *args], **kwargs)
    cannot = ("Failed to initialize manager", "Failed to connect to bus", "not been booted")
    if result.returncode != 0 and any(text in result.stderr for text in cannot):
        pytest.skip(f"systemd-analyze cannot run here: {result.stderr.strip()}")
    return result


def test_systemd_units_verify_without_a_warning(units: Path) -> None:
    result = systemd_analyze(["verify", *(str(units / name) for name in UNITS)], cwd=units)
    assert result.returncode == 0, result.stderr
    # Unknown keys and bad values are only warnings to systemd: none allowed.
    assert result.stderr.strip() == "", result.stderr


def test_units_run_the_installed_intake_commands() -> None:
    service = (SYSTEMD / "intake.service").read_text()
    assert f"ExecStartPre={INSTALLED_INTAKE} migrate\n" in service
    assert f"ExecStart={INSTALLED_INTAKE} serve --host 127.0.0.1 --port 8000\n" in service
    assert f"ExecStart={INSTALLED_INTAKE} purge\n" in (SYSTEMD / "intake-purge.service").read_text()
    assert f"{INSTALLED_INTAKE} backup --out" in (SYSTEMD / "intake-backup.service").read_text()


@pytest.mark.parametrize("name", SERVICES)
def test_service_exposure_is_low_by_systemds_own_measure(name: str, units: Path) -> None:
    """`systemd-analyze security` scores 0 (locked down) to 10 (exposed);
    every intake service must stay at or below 1.5."""
    result = systemd_analyze(
        ["security", "--offline=true", "--threshold=15", str(units / name)], cwd=units
    )
    assert result.returncode == 0, result.stdout[-2000:]


def hardening(name: str) -> list[str]:
    text = (SYSTEMD / name).read_text()
    block = text.split("# --- Hardening", 1)[1].split("\n\n", 1)[0]
    return [line for line in block.splitlines()[1:] if not line.startswith("#")]


def test_every_service_has_the_same_hardening() -> None:
    first = hardening(SERVICES[0])
    for key in (
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "PrivateTmp=yes",
        "CapabilityBoundingSet=",
    ):
        assert key in first
    for name in SERVICES[1:]:
        assert hardening(name) == first, name


def test_caddy_drop_in_verifies_on_top_of_the_packaged_unit(tmp_path: Path) -> None:
    packaged = Path("/lib/systemd/system/caddy.service")
    if not packaged.exists():
        pytest.fail("Debian's caddy.service is missing: run deploy/install-test-tools.sh")
    shutil.copy(packaged, tmp_path / "caddy.service")
    (tmp_path / "caddy.service.d").mkdir()
    shutil.copy(SYSTEMD / "caddy.service.d/intake.conf", tmp_path / "caddy.service.d/intake.conf")
    env = {**os.environ, "SYSTEMD_UNIT_PATH": f"{tmp_path}:"}
    result = systemd_analyze(["verify", str(tmp_path / "caddy.service")], env=env)
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == "", result.stderr


def test_sysusers_and_tmpfiles_make_the_account_and_the_backup_directory(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    sysusers = require_tool("systemd-sysusers")
    tmpfiles = require_tool("systemd-tmpfiles")
    made = run([sysusers, f"--root={tmp_path}", str(SYSTEMD / "intake.sysusers.conf")])
    assert made.returncode == 0, made.stderr
    account = next(
        line
        for line in (tmp_path / "etc/passwd").read_text().splitlines()
        if line.startswith("intake:")
    )
    _, _, uid, gid, _, home, shell = account.split(":")
    assert (home, shell) == ("/var/lib/intake", "/usr/sbin/nologin")
    created = run(
        [tmpfiles, f"--root={tmp_path}", "--create", str(SYSTEMD / "intake.tmpfiles.conf")]
    )
    assert created.returncode == 0, created.stderr
    backups = (tmp_path / "var/backups/intake").stat()
    assert (backups.st_mode & 0o777, backups.st_uid, backups.st_gid) == (0o700, int(uid), int(gid))


# -- PostgreSQL --------------------------------------------------------------------


def postgres_bin() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if not found:
        pytest.skip("PostgreSQL server binaries (initdb) are not installed")
    if os.geteuid() != 0:
        pytest.skip("needs root to run a throwaway cluster as the postgres user")
    return found[-1].parent


@pytest.fixture
def cluster() -> Iterator[Path]:
    """A throwaway PostgreSQL cluster owned by `postgres`, in a folder it can read."""
    folder = Path(tempfile.mkdtemp(prefix="intake-pg-"))
    shutil.chown(folder, "postgres", "postgres")
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def as_postgres(args: list[str]) -> subprocess.CompletedProcess[str]:
    return run(["runuser", "-u", "postgres", "--", *args])


def test_postgresql_settings_hba_and_setup_work_in_a_real_cluster(cluster: Path) -> None:
    """The snippet, the pg_hba.conf lines and setup.sql, loaded by PostgreSQL
    itself: it starts, reports no error in either file, applies every
    setting, and the intake role and database exist as setup.sql says."""
    bindir = postgres_bin()
    data = cluster / "data"
    initdb = as_postgres([str(bindir / "initdb"), "-D", str(data), "-A", "peer", "--no-sync"])
    assert initdb.returncode == 0, initdb.stderr
    shutil.copy(DEPLOY / "postgresql/intake.conf", data / "intake.conf")
    with (data / "postgresql.conf").open("a") as conf:
        conf.write("\ninclude 'intake.conf'\n")
    hba = (DEPLOY / "postgresql/pg_hba.conf").read_text() + (data / "pg_hba.conf").read_text()
    (data / "pg_hba.conf").write_text(hba)
    for path in data.iterdir():
        shutil.chown(path, "postgres", "postgres")
    socket_dir = str(cluster)
    # Its own port and socket folder (neither is set by the snippet).
    port = str(free_port())
    options = f"-p {port} -c unix_socket_directories='{socket_dir}'"
    started = as_postgres(
        [
            str(bindir / "pg_ctl"),
            "-D",
            str(data),
            "-o",
            options,
            "-l",
            str(cluster / "log"),
            "-w",
            "start",
        ]
    )
    assert started.returncode == 0, started.stdout + started.stderr + (cluster / "log").read_text()
    try:

        def psql(*args: str) -> str:
            result = as_postgres(
                [
                    "psql",
                    "-h",
                    socket_dir,
                    "-p",
                    port,
                    "-X",
                    "-A",
                    "-t",
                    "-v",
                    "ON_ERROR_STOP=1",
                    *args,
                ]
            )
            assert result.returncode == 0, result.stderr
            return result.stdout.strip()

        errors = "SELECT {} FROM {} WHERE error IS NOT NULL"
        assert psql("-c", errors.format("name || ': ' || error", "pg_file_settings")) == ""
        assert psql("-c", errors.format("line_number || ': ' || error", "pg_hba_file_rules")) == ""
        ours = psql(
            "-c",
            "SELECT name || '=' || setting FROM pg_file_settings "
            "WHERE sourcefile LIKE '%intake.conf' AND applied IS NOT TRUE",
        )
        assert ours == "", f"settings not applied: {ours}"
        assert psql("-c", "SHOW log_connections") == "off"
        assert psql("-c", "SHOW password_encryption") == "scram-sha-256"
        psql("-f", str(DEPLOY / "postgresql/setup.sql"))
        assert (
            psql("-c", "SELECT datdba::regrole FROM pg_database WHERE datname = 'intake'")
            == "intake"
        )
        assert (
            psql("-d", "intake", "-c", "SELECT has_schema_privilege('public', 'public', 'CREATE')")
            == "f"
        )
        rules = psql(
            "-c", "SELECT database[1], user_name[1], auth_method FROM pg_hba_file_rules LIMIT 3"
        )
        assert rules.splitlines() == [
            "intake|intake|peer",
            "intake|intake|scram-sha-256",
            "intake|intake|scram-sha-256",
        ]
    finally:
        as_postgres([str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"])


# -- containers ---------------------------------------------------------------------


def compose() -> dict[str, object]:
    data = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    assert isinstance(data, dict)
    return data


def containerfile_stages() -> set[str]:
    text = (DEPLOY / "Containerfile").read_text()
    return set(re.findall(r"^FROM \S+ AS (\S+)$", text, re.M))


def test_containerfile_copies_only_files_that_exist() -> None:
    text = (DEPLOY / "Containerfile").read_text()
    for line in re.findall(r"^COPY (?!--from)(.+)$", text, re.M):
        *sources, _ = line.split()
        for source in sources:
            assert (REPO / source).exists(), source
    assert {"intake", "tor", "browser-assets"} <= containerfile_stages()


def test_compose_mirrors_the_systemd_setup() -> None:
    """Same commands, same loopback topology, same files: the compose file
    must not drift into a second, untested way of running the server."""
    services = compose()["services"]
    assert isinstance(services, dict)
    assert set(services) == {"caddy", "postgres", "intake", "purge", "backup", "tor"}
    for name in ("intake", "tor"):
        build = services[name]["build"]
        assert (REPO / build["dockerfile"]).resolve() == DEPLOY / "Containerfile"
        assert build["target"] in containerfile_stages()
    # Everything shares Caddy's loopback, as on a systemd host; only Caddy publishes ports.
    for name, service in services.items():
        if name != "caddy":
            assert service["network_mode"] == "service:caddy", name
            assert "ports" not in service, name
    assert services["purge"]["command"][-1].endswith("intake purge; done")
    assert "intake backup --out" in services["backup"]["command"][-1]
    containerfile = (DEPLOY / "Containerfile").read_text()
    assert "intake migrate && exec intake serve --host 127.0.0.1 --port 8000" in containerfile
    # Every file mounted from the repository exists.
    for service in services.values():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("./"):
                assert (DEPLOY / source).exists(), source


# -- scripts ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "script",
    [
        "install-test-tools.sh",
        "scripts/set-onion-location.sh",
        "scripts/intake-ctl.sh",
        "postgresql/initdb-include.sh",
    ],
)
def test_shell_scripts_parse(script: str) -> None:
    result = run(["sh", "-n", str(DEPLOY / script)])
    assert result.returncode == 0, result.stderr
    assert os.access(DEPLOY / script, os.X_OK)


def test_install_test_tools_is_quiet_and_idempotent_when_the_tools_are_there() -> None:
    for tool in ("caddy", "tor", "systemd-analyze"):
        require_tool(tool)
    result = run(["sh", str(DEPLOY / "install-test-tools.sh")])
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
