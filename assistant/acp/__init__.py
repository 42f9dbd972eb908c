"""The assistant's ACP client: it reaches checkout over HTTP only, exactly as any agent would."""
