"""Chip and PCM specifications: frozen dataclasses, TOML loading and validation."""
