"""ACP wire shapes: request and response models as the spec names them, and rendering to JSON."""

# Newest first; 2026-01-30 is served by protocol.acp_2026_01_30 on top of the 04-17 rendering.
SUPPORTED_VERSIONS = ["2026-04-17", "2026-01-30"]
CURRENT_VERSION = "2026-04-17"
