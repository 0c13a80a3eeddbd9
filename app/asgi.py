"""ASGI entry point for uvicorn (`hourglass serve`, or any process manager)."""

from app.main import create_app

app = create_app()
