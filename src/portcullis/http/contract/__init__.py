"""The API's contract: the OpenAPI document of both dialects, built from their models.

Request bodies are described by the pydantic models the handlers parse them with
(imported from the dialects, never copied); answers by models of what the views write.
The document is built from the app's own routes: a route without an operation stops
the build, so no route can be added without its description.
"""
