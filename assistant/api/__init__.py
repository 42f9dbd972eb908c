"""The assistant's HTTP API (the only package here that imports FastAPI)."""
