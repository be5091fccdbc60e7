"""Persistence: SQLAlchemy 2 async (SQLite or PostgreSQL); implements the domain's ports."""
