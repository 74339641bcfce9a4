"""triage: what is broken in your Cloud Run services, since when, how often, and what probably caused it."""

__version__ = "0.1.0"
