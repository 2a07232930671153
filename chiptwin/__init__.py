"""chiptwin: an event-driven digital twin of a multi-tile analog in-memory-computing PCM chip."""

__version__ = "0.1.0"
