"""The Magnum v1 REST API over HTTP (FastAPI on uvicorn).

Request flow: ``middleware`` (path normalisation, request id, body limit, microversion, auth)
→ a thin handler in ``resources/`` (parse and validate the body, call one service function,
shape the response) → ``errors`` turns any ``MagnaError`` into Magnum's ``{"errors": [...]}``.
"""
