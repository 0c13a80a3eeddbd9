"""ASGI entry point for uvicorn (`hourglass serve`, or any process manager).

Each API process configures its logs and, with HOURGLASS_AUTO_BILLING=true, runs a billing
worker thread for its lifespan.
"""

from app.auto_billing import install_background_billing
from app.main import create_app
from app.observability.logs import configure_logging
from app.settings import load_settings

settings = load_settings()
configure_logging(settings.log_format)
app = create_app(settings)
install_background_billing(app)
