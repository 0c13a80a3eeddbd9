"""ASGI entry point for uvicorn (`hourglass serve`, or any process manager).

Each API process configures its logs; with HOURGLASS_BACKGROUND_WORKER on (`hourglass serve`
turns it on) it works on billing runs in a thread, and with HOURGLASS_AUTO_BILLING=true that
thread also starts each month's run once the month has ended everywhere.
"""

from app.main import create_app
from app.observability.logs import configure_logging
from app.settings import load_settings

settings = load_settings()
configure_logging(settings.log_format)
app = create_app(settings)
