# The app container: lighttpd + todos-fcgi, started by the same
# lighttpd/run and lighttpd/lighttpd.conf as `make run`, as a non-root user.
# Logs go to the container's stderr (lighttpd -D and its responders); on
# SIGTERM lighttpd/run stops lighttpd and the responders, well within a second.
# The healthcheck on /health is in docker-compose.yml.
FROM debian:bookworm-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends gcc make libc6-dev \
      libfcgi-dev libhiredis-dev libcurl4-openssl-dev libjansson-dev \
      libzopfli-dev zlib1g-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# The Makefile and every file it includes (make reads them all, even for
# the default target), then the sources.
COPY Makefile ./
COPY tests/fuzz/fuzz.mk tests/fuzz/
COPY tests/unit/tsan.mk tests/unit/
COPY tests/soak/soak.mk tests/soak/
COPY bench/bench.mk bench/
COPY fcgi/ fcgi/
RUN make

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends lighttpd ca-certificates \
      libfcgi0ldbl libhiredis0.14 libcurl4 libjansson4 libzopfli1 \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --home-dir /app --shell /usr/sbin/nologin app
WORKDIR /app
COPY lighttpd/ lighttpd/
COPY scripts/ scripts/
COPY --from=build /src/build/todos-fcgi build/todos-fcgi
USER app
ENV PORT=5000 BIND=0.0.0.0 RESPONDER=/app/build/todos-fcgi
EXPOSE 5000
CMD ["lighttpd/run"]
