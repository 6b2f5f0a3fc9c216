from tests.api.oauth.conftest import browser, live_server, world  # noqa: F401  (shared fixtures)
