"""LLM mode: the same shopping operations offered to an OpenAI model as tools (official SDK)."""
