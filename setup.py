"""Build of the optional C selection kernels; everything else is in pyproject.toml.

The extension is optional: without a C compiler the install still succeeds and the
k-NN search uses faiss alone (see isometry/distances/_selfsearch.py).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "isometry.distances._selfknn",
            ["src/isometry/distances/_selfknn.c"],
            extra_compile_args=["-O3", "-fno-wrapv"],
            optional=True,
        )
    ]
)
