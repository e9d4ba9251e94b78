"""The README's Python example runs as written and prints what it says."""

import pathlib
import re

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"


def test_readme_python_example_runs(capsys):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert len(blocks) == 1, "the README shows one Python example"
    exec(compile(blocks[0], str(README), "exec"), {})
    accuracy = float(capsys.readouterr().out)
    assert 0.95 < accuracy <= 1.0   # the drop-in classifier's held-out accuracy on digits, "about 0.97"


def test_readme_links_point_at_files():
    root = README.parent
    for target in re.findall(r"\]\(([^)#]+)\)", README.read_text()):
        if not target.startswith("http"):
            assert (root / target).exists(), f"README links to {target}, which does not exist"
