"""Shared test set-up: hypothesis profiles, the backend fixture every op test uses, and a short
summary of the skipped tests (one line per reason, with a count)."""

import collections
import os

import pytest
from hypothesis import HealthCheck, settings

from minisegnet import backend

# "ci" (the default, used by .ci/run): reproducible and bounded. "dev": more examples, random.
settings.register_profile(
    "ci",
    derandomize=True,
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "dev", max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

GPU_SKIP_REASON = backend.gpu_unavailable_reason()

# one test body, every backend present: use the `device` fixture (or DEVICES in parametrize)
DEVICES = [
    "cpu",
    pytest.param(
        "gpu",
        marks=[
            pytest.mark.gpu,
            pytest.mark.skipif(GPU_SKIP_REASON is not None, reason=f"no GPU: {GPU_SKIP_REASON}"),
        ],
    ),
]


@pytest.fixture(params=DEVICES)
def device(request):
    """The device name ("cpu", and "gpu" where CuPy and a CUDA device are present)."""
    return request.param


def pytest_terminal_summary(terminalreporter):
    """One line per skip reason, counted ("236 GPU cases skipped: no GPU: CuPy is not
    installed..."), instead of one line per skipped test (pyproject's ``-rfE`` lists failures
    and errors only)."""
    reasons = collections.Counter()
    for report in terminalreporter.stats.get("skipped", []):
        longrepr = report.longrepr
        reason = (
            longrepr[2] if isinstance(longrepr, tuple) and len(longrepr) == 3 else str(longrepr)
        )
        reasons[reason.removeprefix("Skipped: ")] += 1
    for reason, count in reasons.most_common():
        what = "GPU cases" if reason.startswith("no GPU") else ("tests" if count > 1 else "test")
        terminalreporter.write_line(f"{count} {what} skipped: {reason}")
