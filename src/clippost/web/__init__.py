"""Web: FastAPI routes and server-rendered pages."""
