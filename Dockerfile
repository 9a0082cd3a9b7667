# SPDX-License-Identifier: Apache-2.0
#
# Images of cloudmap-sd (the default target) and of the demo web app
# (--target webapp). The build stage runs the same scripts as CI
# (scripts/setup.sh, scripts/build.sh, then the unit suite), so a green CI
# means these commands work; test/deploy/check-dockerfile.py holds the two
# in step. The runtime stages are FROM scratch: only the stripped binary,
# the shared libraries it loads, CA certificates and a passwd entry for the
# non-root user, assembled by deploy/docker/make-rootfs.sh. Nothing names an
# architecture: build for arm64 with `docker buildx build --platform
# linux/arm64`. deploy/README.md tells how the size was measured.
#
# dockerfilelint runs with deploy/docker/.dockerfilelintrc: its missing_tag
# rule misreads `FROM scratch AS name`, so test/deploy/check-dockerfile.py
# checks base image tags itself. HEALTHCHECK has no --start-period, which
# that linter cannot parse; the ECS task definitions set their own.
#
#   docker build -t cloudmap-sd .
#   docker build --target webapp -t cloudmap-sd-webapp .

FROM debian:bookworm AS build
WORKDIR /src
COPY scripts/setup.sh scripts/setup.sh
RUN scripts/setup.sh --build && rm -rf /var/lib/apt/lists/*
COPY . .
RUN scripts/build.sh build-ci && \
	meson test -C build-ci --suite unit --print-errorlogs
RUN deploy/docker/make-rootfs.sh /rootfs/cloudmap-sd build-ci/cloudmap-sd && \
	deploy/docker/make-rootfs.sh /rootfs/webapp build-ci/webapp/webapp

FROM scratch AS webapp
ARG VERSION=unknown
ARG REVISION=unknown
LABEL org.opencontainers.image.title="cloudmap-sd-webapp" \
	org.opencontainers.image.description="Demo web app instrumented with Prometheus metrics" \
	org.opencontainers.image.licenses="Apache-2.0" \
	org.opencontainers.image.version="${VERSION}" \
	org.opencontainers.image.revision="${REVISION}"
COPY --from=build /rootfs/webapp/ /
USER 65532:65532
EXPOSE 3000
HEALTHCHECK --interval=15s --timeout=3s --retries=3 \
	CMD ["/usr/local/bin/webapp", "--healthcheck"]
ENTRYPOINT ["/usr/local/bin/webapp"]

FROM scratch AS cloudmap-sd
ARG VERSION=unknown
ARG REVISION=unknown
LABEL org.opencontainers.image.title="cloudmap-sd" \
	org.opencontainers.image.description="Prometheus HTTP service discovery for AWS Cloud Map" \
	org.opencontainers.image.licenses="Apache-2.0" \
	org.opencontainers.image.version="${VERSION}" \
	org.opencontainers.image.revision="${REVISION}"
COPY --from=build /rootfs/cloudmap-sd/ /
USER 65532:65532
EXPOSE 9001
HEALTHCHECK --interval=15s --timeout=3s --retries=3 \
	CMD ["/usr/local/bin/cloudmap-sd", "--healthcheck"]
ENTRYPOINT ["/usr/local/bin/cloudmap-sd"]
