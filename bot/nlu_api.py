"""Rasa's NLU HTTP API: POST /model/parse {"text": "..."} → the parse JSON of contract §3."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

router = APIRouter()


class ParseRequest(BaseModel):
    text: str = Field(max_length=20_000)
    message_id: str | None = None


@router.post("/model/parse")
def model_parse(body: ParseRequest, request: Request) -> dict[str, Any]:
    result: dict[str, Any] = request.app.state.runtime.nlu.parse(body.text[:2000])
    return result
