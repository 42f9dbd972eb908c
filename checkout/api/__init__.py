"""The HTTP edge: the only package that imports FastAPI. Routers stay thin and call flows."""
