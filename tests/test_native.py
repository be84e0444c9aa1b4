"""The optional C kernels are built wherever a C compiler is: a failed build would
otherwise only show as skipped tests and slower code paths."""

import importlib
import shutil
import sysconfig

import pytest

MODULES = ["isometry.distances._selfknn", "isometry.learn._nca_kernels"]


@pytest.mark.parametrize("module", MODULES)
def test_kernels_built_where_a_compiler_is(module):
    compiler = (sysconfig.get_config_var("CC") or "cc").split()[0]
    if shutil.which(compiler) is None:
        pytest.skip(f"no C compiler ({compiler})")
    importlib.import_module(module)
