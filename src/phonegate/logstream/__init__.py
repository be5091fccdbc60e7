"""The tenant log beyond the database: log streams to operator sinks (``shipper``,
``sinks``), spike alerts written into the log itself (``alerts``), and its retention."""
