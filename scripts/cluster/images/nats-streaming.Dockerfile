# nats-streaming:0.25.6 made from the server `make deps` go-installs (no registry
# here), so the operator's default `spec.image` runs unmodified. The server is
# dynamically linked against glibc, hence the Debian base rather than scratch.
# Context: a directory holding the stripped nats-streaming-server binary.
FROM debian:bookworm-slim
COPY nats-streaming-server /usr/local/bin/nats-streaming-server
# Non-root; /data/stan (file store) is a volume the pod mounts.
USER 65532:65532
EXPOSE 4222 8222
ENTRYPOINT ["/usr/local/bin/nats-streaming-server"]
CMD ["-m", "8222"]
