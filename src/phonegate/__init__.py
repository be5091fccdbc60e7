"""phonegate: a self-hosted phone authentication server, wire-compatible with Auth0's phone factor."""

__version__ = "0.1.0"
