"""The HTTP edge: the only package that imports FastAPI. Routers parse and render; they call flows
for decisions and name the dependencies they use (checkout.api.deps)."""
