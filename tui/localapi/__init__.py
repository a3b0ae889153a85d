"""The embedded OpenAI-compatible Files + Batches server."""
