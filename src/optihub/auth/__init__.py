"""OAuth 2.1 / OpenID Connect: the authorization server and resource-side token checks."""
