"""The rules of phonegate. Imports no web framework and no database driver."""
