"""The baseline: a bare FastAPI endpoint that parses a JSON body and answers JSON, nothing else."""

from typing import Any

from fastapi import FastAPI


def create_app() -> FastAPI:
    app = FastAPI()

    @app.post("/bare", status_code=201)
    def bare(body: dict[str, Any]) -> dict[str, Any]:
        return {"id": "cs_bare", "status": "not_ready_for_payment", "items": len(body)}

    return app
