"""`python -m fastbp`: a progress bar per backend on standard error, a compact summary on standard output."""

from fastbp.__main__ import main


def test_main_job_prints_a_compact_summary_of_both_backends(capsys):
    assert main(["--epochs", "4"]) == 0
    out, err = capsys.readouterr()
    lines = out.strip().splitlines()
    assert len(lines) <= 8, out  # not one line per epoch
    assert max(len(line) for line in lines) <= 80  # fits a terminal
    assert "426 training and 143 held-out samples" in lines[1] and "4 epochs" in lines[2]
    rows = {line.split()[0]: line.split()[-3:] for line in lines if line.startswith(("cython (", "numpy ("))}
    assert set(rows) == {"cython", "numpy"}
    (acc_c, loss_c, ms_c), (acc_n, loss_n, ms_n) = rows["cython"], rows["numpy"]
    # The compiled core and the NumPy reference are independent implementations of the same training.
    assert acc_c == acc_n and loss_c == loss_n
    assert float(acc_c) > 0.9 and 0 < float(loss_c) < 0.693  # better than chance and than the initial loss
    stated = float(lines[-1].split("an epoch ")[1].split(" times as fast")[0])
    assert abs(stated - float(ms_n) / float(ms_c)) <= 0.05 * stated + 0.05  # the table's ms are rounded
    # The bars: one per backend, each finished at 4 of 4 epochs.
    assert "cython: 100%" in err and "numpy : 100%" in err and err.count("4/4") >= 2
