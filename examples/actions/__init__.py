"""Example operator code for the ``action`` delivery provider (the "Send Phone Message"
Action): copy a module into your own package and point the provider's ``target`` at it."""
