"""Entry point for uvicorn workers (`uvicorn --factory bot.asgi:app`); each worker reads the settings."""

from fastapi import FastAPI

from bot.app import create_app
from bot.settings import load_settings


def app() -> FastAPI:
    return create_app(load_settings())
