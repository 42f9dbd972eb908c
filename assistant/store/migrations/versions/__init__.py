"""The assistant's migrations, oldest first."""
