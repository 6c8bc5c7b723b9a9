"""The module names from before the packages (issue 18) still import, as the same modules."""

import importlib

import pytest

from evalharness._compat import OLD_NAMES, new_name


@pytest.mark.parametrize("old", sorted(OLD_NAMES))
def test_an_old_name_is_the_module_under_its_new_name(old):
    assert importlib.import_module(old) is importlib.import_module(OLD_NAMES[old])


def test_old_submodules_and_names_from_them():
    from evalharness.environment import LocalEnvironment
    from evalharness.executors.ray import RayExecutor
    from evalharness.run.executors.ray import RayExecutor as new
    from evalharness.env.local import LocalEnvironment as new_local

    assert RayExecutor is new and LocalEnvironment is new_local
    assert new_name("evalharness.executors.ray") == "evalharness.run.executors.ray"
    assert new_name("evalharness.agents") is None  # not moved
