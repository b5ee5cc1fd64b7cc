"""The wheel a user installs: one `wirewatch` namespace, nothing else at the top of site-packages."""

from __future__ import annotations

import subprocess
import sys
import zipfile

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.slow


def test_the_wheel_holds_only_the_wirewatch_namespace_with_every_package_and_its_data(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(tmp_path), str(REPO)],
                   check=True, capture_output=True, timeout=300)
    [wheel] = tmp_path.glob("wirewatch-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert {name.split("/")[0] for name in names} == {"wirewatch", wheel.name.split("-py")[0] + ".dist-info"}
    assert "wirewatch/__init__.py" not in names                  # a namespace, shared with nobody else
    packages = {f"wirewatch/{path.parent.relative_to(REPO)}" for top in ("crawler", "spiders", "alerts", "config")
                for path in (REPO / top).rglob("__init__.py")}
    assert packages <= {name.rsplit("/", 1)[0] for name in names}
    for data in ("wirewatch/config/entities.yaml", "wirewatch/config/lexicon.yaml",
                 "wirewatch/config/watches/nk-russia-aid.yaml", "wirewatch/crawler/demo/articles.yaml"):
        assert data in names
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "wirewatch = wirewatch.crawler.commands.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()
