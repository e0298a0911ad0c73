# syntax=docker/dockerfile:1
# One image for every Gantral process; the command picks the role:
#   api     uvicorn --factory gantral.api.app:create_app --host 0.0.0.0 --port 8000   (default;
#           the only holder of the attestation key it signs every call to Temporal with)
#   worker  python -m gantral.workers.worker     (instance workflows; no database credentials; verifies
#           the API's calls with its public attestation key)
#   sink    python -m gantral.workers.sink       (audit writer; the only holder of the checkpoint key)
# Configuration comes only from GANTRAL_* environment variables (gantral/settings.py).
ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/gantral \
 && /opt/gantral/bin/pip install --upgrade pip
WORKDIR /src
# Exactly the pinned, hash-checked runtime dependencies of requirements.lock (`make lock`;
# `make release-artifacts` refreshes it and writes its SBOM): no [dev], no [local], and a
# dependency that is not in the lock, or whose file does not match its hash, fails the build.
COPY requirements.lock ./
RUN /opt/gantral/bin/pip install --require-hashes --no-deps -r requirements.lock
COPY sdk/python ./sdk/python
COPY pyproject.toml README.md LICENSE NOTICE ./
COPY gantral ./gantral
# The SDK (gantral-sdk, a dependency of the server) and Gantral itself, with no dependency
# resolution of their own; `pip check` fails the build if the lock is missing anything
# either pyproject.toml requires.
RUN /opt/gantral/bin/pip install --no-deps ./sdk/python \
 && /opt/gantral/bin/pip install --no-deps . \
 && /opt/gantral/bin/pip check \
 && /opt/gantral/bin/python -c "import gantral, gantral_sdk, gantral.api.app, gantral.workers.worker, gantral.workers.sink"
# Package data (e.g. gantral/identity/default_permissions.yaml) is not declared in
# pyproject.toml yet, so the wheel omits it: copy every non-Python file next to its module.
# Harmless once `[tool.setuptools.package-data]` covers them.
RUN site="$(/opt/gantral/bin/python -c 'import sysconfig; print(sysconfig.get_path("purelib"))')" \
 && find gantral -type f ! -name '*.py' ! -path '*/__pycache__/*' \
      -exec install -D -m 0644 {} "$site/{}" \;

FROM ${PYTHON_IMAGE} AS runtime
LABEL org.opencontainers.image.title="gantral" \
      org.opencontainers.image.description="AI execution control plane" \
      org.opencontainers.image.licenses="Apache-2.0"
# Production unless told otherwise: no interactive docs, no development token issuer, no
# ephemeral signing key, nothing published that was not mounted. Only a development stack
# (docker-compose.yml) sets GANTRAL_PROFILE=development, explicitly.
ENV PATH=/opt/gantral/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    GANTRAL_PROFILE=production \
    GANTRAL_WORKFLOWS_DIR=/etc/gantral/workflows \
    GANTRAL_API__HOST=0.0.0.0 \
    GANTRAL_API__PORT=8000
# A fixed numeric uid/gid so Kubernetes can check runAsNonRoot without a passwd lookup.
RUN groupadd --system --gid 10001 gantral \
 && useradd --system --uid 10001 --gid gantral --home-dir /app --shell /usr/sbin/nologin gantral
COPY --from=build /opt/gantral /opt/gantral
WORKDIR /app
# No example workflows in the image: templates and policies are mounted at
# /etc/gantral/workflows (the Helm chart's ConfigMap; the compose stack mounts examples/).
USER 10001:10001
EXPOSE 8000
# `gantral api`: drains on SIGTERM (readiness fails first, in-flight requests finish), exits 0.
CMD ["python", "-m", "gantral.api.serve"]
