"""The book's own Sphinx extension: MathJax is served with the book, so formulas render offline."""
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "_ext"))
import offline_mathjax  # noqa: E402


def test_config_loads_the_extension():
    text = (ROOT / "_config.yml").read_text()
    assert "offline_mathjax: _ext" in text and '"_ext/**"' in text


def test_points_mathjax_at_the_local_copy_and_copies_it(tmp_path):
    folder = offline_mathjax.mathjax_dir()
    assert (folder / "tex-mml-chtml.js").stat().st_size > 100_000
    config = SimpleNamespace(mathjax_path="https://cdn.example/mathjax.js")
    offline_mathjax._use_local_mathjax(None, config)
    assert config.mathjax_path == "../mathjax/tex-mml-chtml.js"   # Sphinx puts it under _static/: one level up
    app = SimpleNamespace(builder=SimpleNamespace(format="html"), outdir=str(tmp_path))
    offline_mathjax._copy_mathjax(app, RuntimeError("build failed"))
    assert not (tmp_path / "mathjax").exists()                       # nothing copied after a failed build
    offline_mathjax._copy_mathjax(app, None)
    assert (tmp_path / "mathjax" / "tex-mml-chtml.js").is_file()
    assert (tmp_path / "mathjax" / "output" / "chtml" / "fonts" / "woff-v2").is_dir()


def test_missing_package_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(offline_mathjax, "PACKAGE", "no-such-mathjax-package")
    with pytest.raises(Exception, match="pip install -r requirements.txt"):
        offline_mathjax.mathjax_dir()


import clean_pages  # noqa: E402


def test_grading_markers_are_dropped_from_code_blocks():
    code = "def f(x):\n    ### BEGIN SOLUTION\n    ### HINT: think\n    return x\n    ### END SOLUTION\n"
    assert clean_pages.strip_markers(code) == "def f(x):\n    return x\n"
    assert "clean_pages: _ext" in (ROOT / "_config.yml").read_text()


def test_pages_with_machine_paths_or_stderr_are_reported(tmp_path):
    (tmp_path / "ok.html").write_text("<p>accuracy 81.4%</p>")
    (tmp_path / "path.html").write_text("<pre>Loading /root/.cache/nlp-compression-course/teacher.pt</pre>")
    (tmp_path / "err.html").write_text('<div class="cell_output docutils container"><div class="output stderr">x</div>')
    (tmp_path / "marker.html").write_text("<pre>### BEGIN SOLUTION</pre>")
    found = clean_pages.find_noise(tmp_path)
    assert [f.split(":")[0] for f in found] == ["err.html", "marker.html", "path.html"]
    assert "stderr" in found[0] and "machine path" in found[2]
