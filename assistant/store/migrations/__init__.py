"""The assistant's Alembic environment (version table `assistant_alembic_version`)."""
