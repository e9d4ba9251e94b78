"""The README's Python examples run as written and print what they say."""

import pathlib
import re

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"


def test_readme_python_example_runs(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the training example writes its checkpoint to the working directory
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert blocks, "README.md has no python example"
    for block in blocks:
        exec(compile(block, str(README), "exec"), {})
    printed = capsys.readouterr().out
    lines = printed.splitlines()
    assert float(lines[0]) < 1e-6   # the gradcheck line
    epochs, reason = lines[-3].split()
    assert 10 < int(epochs) < 200 and reason == "early_stopping"
    assert float(lines[-2]) > 0.95   # validation accuracy
    assert float(lines[-1]) > 0.95   # the drop-in classifier's held-out accuracy on digits
    assert (tmp_path / "best.npz").exists()
