"""The dry run's stand-in GPU: ``benchmarks/gpu_check.sh --dry-run`` puts this folder first on
``PYTHONPATH`` and sets ``MINISEGNET_FAKE_CUPY=1``; Python then imports this file at start-up in
every process of the run (pytest, the benchmarks and their child processes, the CLI), and it hands
``minisegnet.backend`` the NumPy-backed fake CuPy of ``tests/fake_cupy.py``, so that
``--device gpu`` runs the GPU code path on the CPU.

Only this test harness reads ``MINISEGNET_FAKE_CUPY``: the package never does, and never falls
back to the CPU by itself. Without the variable this file does nothing.
"""

import os

if os.environ.get("MINISEGNET_FAKE_CUPY") == "1":
    import importlib.util
    import pathlib
    import sys

    _path = pathlib.Path(__file__).resolve().parents[2] / "tests" / "fake_cupy.py"
    _spec = importlib.util.spec_from_file_location("fake_cupy", _path)
    fake_cupy = importlib.util.module_from_spec(_spec)
    sys.modules["fake_cupy"] = fake_cupy  # the tests' own `import fake_cupy` gets this module
    _spec.loader.exec_module(fake_cupy)

    from minisegnet import backend

    backend._cupy = fake_cupy.make_fake_cupy()
