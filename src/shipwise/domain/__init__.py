"""Pure models and time helpers: no I/O here."""
