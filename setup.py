"""Build of the optional C kernels; everything else is in pyproject.toml.

The extensions are optional: without a C compiler the install still succeeds, the
self k-NN search leaves the work to faiss (isometry/distances/_selfsearch.py) and NCA
to numpy and torch (isometry/learn/nca.py).
"""

from setuptools import Extension, setup

KERNELS = {
    "isometry.distances._selfknn": "src/isometry/distances/_selfknn.c",
    "isometry.learn._nca_kernels": "src/isometry/learn/_nca_kernels.c",
}

setup(
    ext_modules=[
        Extension(name, [source], depends=["src/isometry/_kernels.h"], extra_compile_args=["-O3", "-fno-wrapv"],
                  optional=True)
        for name, source in KERNELS.items()
    ]
)
