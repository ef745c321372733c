"""Connectors: one folder per outside system, each implementing :class:`.base.Connector`.

Nothing is imported here, so that loading one connector never loads the others (nor their
HTTP or git libraries). See ``docs/connectors.md``.
"""
