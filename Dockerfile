# The operator image: the package and its console scripts (and nginx's binary, for
# the nginx-reloader sidecar's config test).
# Build: docker build -t <your-registry>/diagnosis-operator:0.1.0 .
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY operator ./operator
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
# nginx's binary only, for the nginx-reloader sidecar's config test (docs/nginx.md).
RUN apt-get update && apt-get install -y --no-install-recommends nginx-light \
    && rm -rf /var/lib/apt/lists/*
RUN useradd --uid 65532 --no-create-home --shell /usr/sbin/nologin operator
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
USER 65532
ENTRYPOINT ["diagnosis-operator"]
CMD ["run", "--all-namespaces"]
