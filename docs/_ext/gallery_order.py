"""The order of the gallery: from the worked example through training to performance."""

import os

ORDER = [
    "plot_worked_example_321.py",
    "plot_training_curves.py",
    "plot_early_stopping.py",
    "plot_alpha_decision_boundaries.py",
    "plot_modern_mlp.py",
    "plot_tabm_ensemble.py",
    "tabular_california.py",
    "plot_benchmark.py",
    "plot_threads.py",
]


class ExampleOrder:
    """sphinx-gallery's sort key: the examples in ORDER first, in that order, then any other by file name."""

    def __init__(self, src_dir):
        self.src_dir = src_dir

    def __call__(self, filename):
        name = os.path.basename(filename)
        return (ORDER.index(name), "") if name in ORDER else (len(ORDER), name)

    def __repr__(self):  # stable, so that Sphinx does not see a changed configuration on every build
        return f"<{type(self).__name__}>"
