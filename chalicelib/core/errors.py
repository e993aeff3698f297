"""The errors a request can end in, each knowing its HTTP status and API code.

They subclass ChaliceUnhandledError so Chalice lets them reach our middleware,
which renders the API.md error shape (or an HTML page) in one place.
"""

from __future__ import annotations

from chalice import ChaliceUnhandledError


class AppError(ChaliceUnhandledError):
    status = 400
    code = "bad_request"
    default_message = "The request could not be processed."

    def __init__(
        self,
        message: str | None = None,
        *,
        code: str | None = None,
        fields: dict[str, list[str]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.message = message or self.default_message
        self.code = code or self.code
        self.fields = fields
        self.headers = headers or {}
        super().__init__(self.message)

    def body(self) -> dict[str, object]:
        error: dict[str, object] = {"code": self.code, "message": self.message}
        if self.fields is not None:
            error["fields"] = self.fields
        return {"error": error}


class BadRequest(AppError):
    pass


class Unauthorized(AppError):
    status, code, default_message = 401, "unauthorized", "Authentication is required."


class Forbidden(AppError):
    status, code, default_message = 403, "forbidden", "You are not allowed to do this."


class NotFound(AppError):
    status, code, default_message = 404, "not_found", "Not found."


class MethodNotAllowed(AppError):
    status, code, default_message = 405, "method_not_allowed", "Method not allowed."


class Conflict(AppError):
    status, code, default_message = 409, "conflict", "This conflicts with existing data."


class PayloadTooLarge(AppError):
    status, code, default_message = 413, "payload_too_large", "The request body is too large."


class UnsupportedMediaType(AppError):
    status, code, default_message = 415, "unsupported_media_type", "Send the body as application/json."


class ValidationFailed(AppError):
    status, code, default_message = 422, "validation_failed", "Some fields are invalid."

    def __init__(self, fields: dict[str, list[str]], message: str | None = None) -> None:
        super().__init__(message, fields=fields)


class RateLimited(AppError):
    status, code, default_message = 429, "rate_limited", "Too many requests. Try again later."

    def __init__(self, retry_after: int, message: str | None = None) -> None:
        self.retry_after = max(1, int(retry_after))
        super().__init__(message, headers={"Retry-After": str(self.retry_after)})


class UpstreamFailed(AppError):
    """An upstream service (Stripe, Instagram) failed or refused: 502, worth retrying later."""

    status, code, default_message = 502, "upstream_failed", "An upstream service failed. Try again in a moment."

    def __init__(self, message: str | None = None, *, upstream: str = "upstream", code: str | None = None) -> None:
        self.upstream = upstream
        super().__init__(message, code=code, headers={"Retry-After": "30"})


class DependencyUnavailable(AppError):
    """A backing service (database, Stripe, …) did not answer: 503, retry later."""

    status, code, default_message = 503, "service_unavailable", "A service we depend on is unavailable."

    def __init__(self, message: str | None = None, *, dependency: str = "dependency") -> None:
        self.dependency = dependency
        super().__init__(message, headers={"Retry-After": "5"})


class Redirect(AppError):
    """Send the browser elsewhere (e.g. to /login); never used on /api/*."""

    status, code, default_message = 303, "redirect", "Redirecting."

    def __init__(self, location: str) -> None:
        super().__init__(headers={"Location": location})
        self.location = location
