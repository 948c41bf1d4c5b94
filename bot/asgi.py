"""Entry point for uvicorn workers: `uvicorn --factory bot.asgi:app`. Each worker reads the settings itself."""

from fastapi import FastAPI

from bot.app import create_app
from bot.settings import load_settings


def app() -> FastAPI:
    return create_app(load_settings())
