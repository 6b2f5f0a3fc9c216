"""The staff pages' world and signed-in browsers (``tests/api/dashboard``), for the apps
page's forms that register apps with their own keys."""

from tests.api.dashboard.conftest import agent, https, world  # noqa: F401 (fixtures by name)
