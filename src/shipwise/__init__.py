"""shipwise: what it costs to ship software, how healthy delivery is, and what broke."""

__version__ = "0.1.0"
