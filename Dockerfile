# One image for the api, worker, beat and migrate services of docker-compose.yml.
# The base image is pinned to an exact tag and every Python package to an exact version (constraints.txt);
# see "Pinned deployment" in docs/operations.md for how to bump them and pin the base by digest.
FROM python:3.11.11-slim-bookworm

# NUMBA_CACHE_DIR: where numba keeps the compiled annealing loop of task_allocation's learned solver; it is
# compiled below, at build time, into a folder the unprivileged user owns (the source tree is not its own)
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 NUMBA_CACHE_DIR=/srv/.numba-cache
RUN groupadd --system solvent && useradd --system --gid solvent --home /srv solvent
WORKDIR /srv

COPY pyproject.toml README.md constraints.txt ./
COPY app ./app
COPY workers ./workers
COPY solvers ./solvers
COPY migrations ./migrations
# PyTorch (the "learned" extra, for xva's deep_bsde) from its CPU wheel index, so no CUDA libraries are pulled;
# the project install below then finds torch==2.13.0 already satisfied
RUN pip install pip==26.3 \
 && pip install -c constraints.txt --index-url https://download.pytorch.org/whl/cpu torch==2.13.0 \
 && pip install -c constraints.txt ".[monitoring,learned]" \
 && python -c "import solvers.task_allocation.learned.anneal" \
 && chown -R solvent:solvent /srv/.numba-cache

USER solvent
EXPOSE 8000
CMD ["uvicorn", "app.main:create_app", "--factory", "--host", "0.0.0.0", "--port", "8000"]
