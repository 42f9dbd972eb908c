"""The assistant's own tables (all prefixed `assistant_`), repositories and Alembic migrations."""
