"""Delivery: the outbox dispatcher that hands committed messages to providers."""
