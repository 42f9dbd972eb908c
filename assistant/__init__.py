"""The shopping assistant: conversation, recommendation, and an ACP client that reaches checkout over HTTP."""
