"""The REST API (``/api/v1``): a thin adapter over :mod:`shipwise.app`, plus the health probes
and the alarm webhooks."""
