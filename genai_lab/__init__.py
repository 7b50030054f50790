"""GenAI Lab: app-store review dumps to clean text, pseudo-labels and two model arms, as a Dagster code location."""

__version__ = "0.1.0"
