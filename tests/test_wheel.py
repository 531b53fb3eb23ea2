"""The built wheel carries the bundled weights, and an installed copy can run them."""

import subprocess
import sys
import sysconfig
import venv
import zipfile

import pytest

pytest.importorskip("setuptools")


@pytest.mark.slow
def test_wheel_ships_and_loads_weights(tmp_path):
    root = __import__("pathlib").Path(__file__).resolve().parents[1]
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path),
         str(root)],
        check=True,
    )
    (wheel,) = tmp_path.glob("skdce-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "skdce/weights/manifest.json" in names
    assert "skdce/weights/zero-dce.onnx" in names
    assert {"skdce/weights/denoisers.json", "skdce/weights/denoiser-n2n.onnx"} <= set(names)
    assert "skdce/cli/__init__.py" in names  # the console script skdce.cli:main
    assert not any(n.endswith(".pt") for n in names)
    # every subpackage, which pyproject's [tool.setuptools] packages must list one by one
    assert {"skdce/io/__init__.py", "skdce/io/_read.py", "skdce/train/__init__.py",
            "skdce/engine/runtime.py", "skdce/_base/validate.py"} <= set(names)
    assert {"skdce/serve/__init__.py", "skdce/serve/page.html"} <= set(names)  # the page of skdce serve
    assert any(n.startswith("skdce/native/_kernels") and n.endswith((".so", ".pyd")) for n in names), names
    assert any(n.startswith("skdce/native/_temporal") and n.endswith((".so", ".pyd")) for n in names), names

    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    py = env_dir / "bin" / "python"
    subprocess.run([py, "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)], check=True)
    # dependencies come from this environment's site-packages, put on the path (no .pth files run
    # from there, so the editable checkout stays invisible)
    code = (
        "import numpy as np, skdce; "
        "assert 'site-packages' in skdce.__file__, skdce.__file__; "
        "info = skdce.get_model('zero-dce'); "
        "assert info.path.is_file() and 'site-packages' in str(info.path); "
        "import skdce.engine.stages.curve as c; assert c._kernels is not None; "
        "import skdce.video._temporal as t; assert t.compiled(); "
        "import skdce.cli, skdce.io; "
        "out = skdce.enhance(np.full((9, 11, 3), 0.1, np.float32)); "
        "from skdce.denoise_net import learned_denoise_block as d; "
        "assert d(out, np.full((9, 11), 0.02, np.float32)).shape == out.shape; "
        "print(skdce.list_models(), out.shape)"
    )
    env = {"PYTHONPATH": sysconfig.get_paths()["purelib"], "PATH": "/usr/bin:/bin"}
    res = subprocess.run([py, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert "(9, 11, 3)" in res.stdout


def test_sdist_ships_the_kernel_sources(tmp_path):
    """The sdist carries what setup.py compiles: the C files and the header two of them share.

    The extensions are optional, so an sdist without ``_buffer.h`` would install without
    any C kernel rather than fail: only its file list shows the loss.
    """
    import tarfile

    root = __import__("pathlib").Path(__file__).resolve().parents[1]
    code = "import sys, setuptools.build_meta as b; print(b.build_sdist(sys.argv[1]))"
    res = subprocess.run([sys.executable, "-c", code, str(tmp_path)], cwd=root, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    (sdist,) = tmp_path.glob("skdce-*.tar.gz")
    names = {n.split("/", 1)[1] for n in tarfile.open(sdist).getnames() if "/" in n}
    expected = {"setup.py", "skdce/native/_kernels.c", "skdce/native/_gfilter.c", "skdce/native/_buffer.h",
                "skdce/native/_temporal.c"}
    assert expected <= names, sorted(names)
    assert not any(n.endswith((".so", ".pyd", ".pt")) for n in names)
