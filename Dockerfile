# One image for the api, worker, beat and migrate services of docker-compose.yml.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
RUN groupadd --system solvent && useradd --system --gid solvent --home /srv solvent
WORKDIR /srv

COPY pyproject.toml README.md ./
COPY app ./app
COPY workers ./workers
COPY solvers ./solvers
COPY migrations ./migrations
RUN pip install --upgrade pip && pip install ".[monitoring]"

USER solvent
EXPOSE 8000
CMD ["uvicorn", "app.main:create_app", "--factory", "--host", "0.0.0.0", "--port", "8000"]
