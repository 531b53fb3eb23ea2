"""Build the optional C kernels (curves, guided filter, temporal filter).

Everything else is declared in pyproject.toml.
"""

import sys

from setuptools import Extension, setup

args = [] if sys.platform == "win32" else ["-O3", "-ffp-contract=off"]
# the buffer checks both kernels share: a change to it rebuilds both (and the sdist ships it, MANIFEST.in)
depends = ["skdce/native/_buffer.h"]
setup(
    ext_modules=[
        # optional: without a C compiler the install goes on and skdce uses its NumPy kernel
        Extension("skdce.native._kernels", ["skdce/native/_kernels.c"], depends=depends, extra_compile_args=args,
                  optional=True),
        # optional likewise: without it skdce.denoise filters with scipy's box filters
        Extension("skdce.native._gfilter", ["skdce/native/_gfilter.c"], depends=depends, extra_compile_args=args,
                  optional=True),
        # optional likewise: without it skdce.video's temporal filter runs its NumPy twin (skdce/video/_temporal.py)
        # (sqrt without errno and arithmetic that never traps: the loops vectorise; the results are the same)
        Extension("skdce.native._temporal", ["skdce/native/_temporal.c"], depends=depends, optional=True,
                  extra_compile_args=args + ([] if sys.platform == "win32" else ["-fno-math-errno",
                                                                                 "-fno-trapping-math"])),
    ]
)
