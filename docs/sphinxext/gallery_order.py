"""The reading order of the gallery (a sort key for sphinx-gallery).

Examples not listed here come last, in file-name order; add new ones to
``ORDER``.
"""

from pathlib import Path

ORDER = [
    "plot_enhance.py",
    "plot_alpha_maps.py",
    "plot_mixed_lighting.py",
    "plot_well_exposed.py",
    "plot_denoise.py",
    "plot_strength.py",
    "plot_compare_methods.py",
    "plot_losses.py",
    "plot_darken.py",
    "plot_tiling.py",
    "plot_train_tiny.py",
]


class ExampleOrder:
    """Sort key: position in :data:`ORDER`, then file name."""

    def __init__(self, src_dir):
        self.src_dir = src_dir

    def __call__(self, filename):
        name = Path(filename).name
        return (ORDER.index(name) if name in ORDER else len(ORDER), name)

    def __repr__(self):  # sphinx-gallery compares configurations by repr
        return f"<{self.__class__.__name__}>"
