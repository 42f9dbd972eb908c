"""The baseline: a bare FastAPI endpoint that parses a JSON body and answers JSON, nothing else."""

from typing import Any

from fastapi import FastAPI


def create_app() -> FastAPI:
    app = FastAPI()

    @app.post("/bare", status_code=201)
    def bare(body: dict[str, Any]) -> dict[str, Any]:
        return {"id": "cs_bare", "status": "not_ready_for_payment", "items": len(body)}

    @app.get("/agent-profile")
    def agent_profile() -> dict[str, Any]:
        # The UCP benchmark's agent: a profile whose order capability asks for no events, so
        # UCP purchases write their outbox rows as ACP's do and nobody is sent them.
        return {"ucp": {"version": "2026-01-11", "capabilities": []}}

    return app
