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
