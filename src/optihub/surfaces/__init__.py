"""API dialects. Each package translates one vendor dialect to the services and back:
``routes.py`` (endpoints), ``schemas.py`` (wire models), ``mapping.py`` (vocabulary
tables), ``errors.py`` (its error envelope), and an ``install(app)`` that mounts the router
and registers the envelope for its path prefix (see ``optihub.web.ErrorRenderers``)."""
