"""Atelier: production runs for a garment brand and its partner workshops."""

__version__ = "0.1.0"
