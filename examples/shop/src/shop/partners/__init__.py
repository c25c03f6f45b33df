"""Partner integration: API keys and audit, feed ingest, stock webhooks, the upload page."""
