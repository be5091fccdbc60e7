"""One error tree for the whole server.

Each error carries an HTTP status, Auth0's OAuth-style ``error`` code and a description that
is safe to show (no secret, code or full phone number ever goes in one). The web layer renders
it as ``{error, error_description}`` on the Authentication API and as
``{statusCode, error, message, errorCode}`` on the Management API.
"""

from __future__ import annotations

from typing import Any, ClassVar


class PhonegateError(Exception):
    status: ClassVar[int] = 400
    error: ClassVar[str] = "invalid_request"
    error_code: ClassVar[str | None] = None

    def __init__(
        self,
        description: str,
        *,
        status: int | None = None,
        error: str | None = None,
        error_code: str | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(description)
        self.description = description
        if status is not None:
            self.status = status  # type: ignore[misc]
        if error is not None:
            self.error = error  # type: ignore[misc]
        if error_code is not None:
            self.error_code = error_code  # type: ignore[misc]
        self.headers = headers or {}
        self.extra = extra or {}


class InvalidRequest(PhonegateError):
    pass


class InvalidPhoneNumber(PhonegateError):
    error_code = "invalid_phone_number"


class InvalidGrant(PhonegateError):
    status = 403
    error = "invalid_grant"


class ExpiredToken(PhonegateError):
    status = 403
    error = "expired_token"


class AccessDenied(PhonegateError):
    """Client authentication failed (Auth0 answers 401 access_denied "Unauthorized")."""

    status = 401
    error = "access_denied"


class UnauthorizedClient(PhonegateError):
    status = 403
    error = "unauthorized_client"


class InvalidToken(PhonegateError):
    """A bearer token (access token or mfa_token) that is missing, malformed or not ours."""

    status = 401
    error = "invalid_token"


class InsufficientScope(PhonegateError):
    status = 403
    error = "insufficient_scope"
    error_code = "insufficient_scope"


class MfaRequired(PhonegateError):
    status = 403
    error = "mfa_required"


class AssociationRequired(PhonegateError):
    status = 400
    error = "association_required"


class UnsupportedChallengeType(PhonegateError):
    status = 400
    error = "unsupported_challenge_type"


class NotFound(PhonegateError):
    status = 404
    error = "not_found"


class Conflict(PhonegateError):
    status = 409
    error = "conflict"


class TooManyRequests(PhonegateError):
    """A rate limit refused the request; ``limit`` names which one (for events, metrics)."""

    status = 429
    error = "too_many_attempts"
    limit: str = "unknown"


class DeliveryUnavailable(PhonegateError):
    """The tenant's delivery set-up cannot carry this message (e.g. voice on ``auth0``)."""

    status = 400
    error = "invalid_request"
    error_code = "error_sending_sms"


class PayloadTooLarge(PhonegateError):
    status = 413
    error = "invalid_request"


class UnsupportedMediaType(PhonegateError):
    status = 415
    error = "invalid_request"


class ProviderUnavailable(PhonegateError):
    """The vendor that owns a code (hosted verification) could not be asked right now."""

    status = 503
    error = "temporarily_unavailable"
