"""The systemd units we ship: valid for systemd (`systemd-analyze verify`), and set up so the
daemon's grace period works, a reload is SIGHUP, failures restart, and the service is confined."""

from __future__ import annotations

import configparser
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from wirewatch.crawler.conf.sections import Daemon

UNITS = Path(__file__).resolve().parents[1] / "deploy" / "systemd"


def _service(name: str) -> dict[str, str]:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str
    parser.read(UNITS / name)
    return dict(parser["Service"])


@pytest.mark.parametrize("name", ["wirewatch.service", "wirewatch-worker.service"])
def test_the_unit_lets_the_grace_period_work_and_confines_the_service(name):
    service = _service(name)
    assert service["KillMode"] == "mixed"                 # SIGTERM to the main process, not the whole group
    assert float(service["TimeoutStopSec"]) > Daemon().grace
    assert service["ExecReload"] == "/bin/kill -HUP $MAINPID"
    assert service["Restart"] == "on-failure" and service["Type"] in ("simple", "notify")
    assert service["User"] == "wirewatch" and service["StateDirectory"] == "wirewatch"
    for key, value in (("NoNewPrivileges", "yes"), ("ProtectSystem", "strict"), ("PrivateTmp", "yes")):
        assert service[key] == value
    assert "--log-format json" in service["ExecStart"]


@pytest.mark.parametrize("name", ["wirewatch.service", "wirewatch-worker.service"])
def test_systemd_analyze_verifies_the_unit(name, tmp_path):
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed (.ci/run installs Debian's systemd)")
    binary = Path(sys.executable).parent / "wirewatch"           # the installed command stands in
    unit = tmp_path / name
    unit.write_text((UNITS / name).read_text().replace("/opt/wirewatch/venv/bin/wirewatch", str(binary)))
    result = subprocess.run(["systemd-analyze", "verify", "--man=no", str(unit)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and not result.stderr.strip(), result.stderr
