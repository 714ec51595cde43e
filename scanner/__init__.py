"""shadowit: shadow-IT discovery and inventory from identity providers."""

__version__ = "0.1.0"
