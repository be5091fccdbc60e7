"""Pydantic models of the Management API's request bodies and responses, one module per
resource; they exist to be documented (``/api/v2/openapi.json``), the handlers build their
JSON themselves. Response models forbid extra fields, so a field the server returns and the
schema forgets fails the OpenAPI test instead of going unnoticed."""
