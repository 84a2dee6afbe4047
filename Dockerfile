# The oidcd container image: the static, CGO-free binary on an empty base,
# running as an unprivileged user, with a health check.
#
# It is built from the binary, so it needs no base image from a registry:
#
#   ./scripts/image.sh            # builds dist/ and then this image (docker build -t oidcd:dev .)
#
# dist/rootfs holds /oidcd, the CA bundle (for outgoing https) and an
# /etc/passwd naming the user; dist/data is the empty /data volume.
FROM scratch
COPY dist/rootfs/ /
COPY --chown=65532:65532 dist/data/ /data/
USER 65532:65532
WORKDIR /data
ENV OIDCD_ADDR=:8000 \
    OIDCD_DATABASE=sqlite:/data/oidcd.db \
    OIDCD_LOG_FORMAT=json
EXPOSE 8000
VOLUME ["/data"]
# No shell in the image: the binary probes itself (GET /readyz).
HEALTHCHECK --interval=10s --timeout=5s --start-period=10s --retries=3 CMD ["/oidcd", "healthcheck"]
ENTRYPOINT ["/oidcd"]
CMD ["serve"]
