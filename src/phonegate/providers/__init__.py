"""Delivery providers: one module each, behind the capability Protocols in ``base``."""
