"""ACP wire shapes: request and response models as the spec names them, and rendering to JSON."""

SUPPORTED_VERSIONS = ["2026-04-17"]
CURRENT_VERSION = "2026-04-17"
