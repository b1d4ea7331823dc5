"""The built wheel ships the root napari.yaml, the weights and their training records."""

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("dist")
    res = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", str(out), str(ROOT)],
        capture_output=True, text=True,
    )
    if res.returncode != 0:
        pytest.fail(res.stderr[-2000:])
    return next(out.glob("napari_limnet-*.whl"))


def test_wheel_contents(wheel):
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        manifest = z.read("napari_limnet/napari.yaml").decode()
        entry = next(n for n in names if n.endswith("entry_points.txt"))
        entry_points = z.read(entry).decode()
        sizes = {n: z.getinfo(n).file_size for n in names if n.startswith("napari_limnet/weights/")}
    assert manifest == (ROOT / "napari.yaml").read_text()
    assert "napari_limnet:napari.yaml" in entry_points
    for module in ("interaction", "propagation", "fusion"):
        assert f"napari_limnet/weights/{module}.pt" in names
        assert f"napari_limnet/weights/{module}.json" in names
    assert sum(v for k, v in sizes.items() if k.endswith(".pt")) <= 25 * 2**20


def test_wheel_manifest_validates(wheel, tmp_path):
    from npe2 import PluginManifest

    with zipfile.ZipFile(wheel) as z:
        z.extract("napari_limnet/napari.yaml", tmp_path)
    pm = PluginManifest.from_file(tmp_path / "napari_limnet" / "napari.yaml")
    assert pm.name == "napari-limnet" and pm.contributions.widgets


def test_sdist_and_wheel_pass_twine_check(wheel, tmp_path):
    pytest.importorskip("twine")
    res = subprocess.run([sys.executable, "-m", "build", "--sdist", "--no-isolation", "-o", str(tmp_path), str(ROOT)],
                         capture_output=True, text=True)
    if res.returncode != 0:
        pytest.fail(res.stderr[-2000:])
    sdist = next(tmp_path.glob("napari_limnet-*.tar.gz"))
    check = subprocess.run([sys.executable, "-m", "twine", "check", "--strict", str(sdist), str(wheel)],
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    assert check.stdout.count("PASSED") == 2


def test_version_and_torch_range():
    import tomllib

    import napari_limnet

    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert napari_limnet.__version__ == "0.2.0"
    assert "torch>=2.1" in meta["dependencies"], "users bring their own torch"
    assert meta["optional-dependencies"]["all"], "an [all] extra brings a Qt binding"
    assert (ROOT / ".napari-hub" / "DESCRIPTION.md").is_file() and (ROOT / "CHANGELOG.md").is_file()
