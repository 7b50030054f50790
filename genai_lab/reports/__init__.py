"""Reports built from the warehouse tables: pure functions from frames to Markdown, HTML and plots (no Dagster)."""
