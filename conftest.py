"""Repository-wide pytest set-up: offline, headless, and notebooks marked as their own group."""
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("KINETO_LOG_LEVEL", "6")


def pytest_collection_modifyitems(config, items):
    """Mark nbval notebook cells 'notebooks', so `pytest -m "not notebooks"` skips them."""
    import pytest

    for item in items:
        if str(item.fspath).endswith(".ipynb"):
            item.add_marker(pytest.mark.notebooks)

# The test suite runs every longer configuration of the notebooks as a tiny smoke run (a few steps,
# figures discarded; utils.results.recorded_run), so the long-run code is executed in CI too.
os.environ.setdefault("COURSE_LONG_RUN_SMOKE", "1")

# Stored outputs must reproduce on any x86-64 CPU with AVX2: pin the code paths whose rounding
# differs between processors. MKL_CBWR selects one of MKL's reproducible (CNR) code branches,
# ATEN_CPU_CAPABILITY the set of PyTorch's own vectorized kernels. The notebooks' stored outputs
# are executed with the same settings (README, "Executing the notebooks").
os.environ.setdefault("MKL_CBWR", "AVX2")
os.environ.setdefault("ATEN_CPU_CAPABILITY", "avx2")
