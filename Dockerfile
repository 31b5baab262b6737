# syntax=docker/dockerfile:1
#
# brickwarden controller image.
#
#   docker build -t <your-registry>/brickwarden:0.1.0 .
#
# Builder: the official Rust image (Debian trixie, glibc). The binary links glibc dynamically
# (ring's assembly needs a C toolchain, which the builder has; no OpenSSL: TLS is rustls), so
# the runtime is distroless `cc` of the same Debian release, which carries glibc, libgcc and CA
# certificates and nothing else: no shell, no package manager. Builder and runtime must stay on
# the same Debian release (trixie / debian13), or the binary may need a newer glibc than the
# runtime has.
#
# Nothing here is built in this repository's CI (it has no container engine); tests/it/deploy.rs
# checks the manifests and the chart that run this image against a real kube-apiserver.

ARG RUST_VERSION=1.95

FROM rust:${RUST_VERSION}-trixie AS builder
WORKDIR /src
# The whole Cargo workspace comes with the context: the product crate (src/), the emulator crate
# it embeds for `brickwarden emulator` and `demo` (emulator/), and the files the binary embeds
# (src/ include_str!s deploy/baselines/, and may include crds/ or examples/); .dockerignore keeps
# out target/, tests/, charts/ and VCS data.
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/usr/local/cargo/git,sharing=locked \
    --mount=type=cache,target=/src/target,sharing=locked \
    cargo build --release --locked --bin brickwarden \
 && install -D -m 0755 target/release/brickwarden /out/brickwarden

FROM gcr.io/distroless/cc-debian13:nonroot
COPY --from=builder /out/brickwarden /usr/local/bin/brickwarden
# The distroless `nonroot` user; the Deployment and the chart also set runAsUser 65532.
USER 65532:65532
# /metrics, /healthz, /readyz
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/brickwarden"]
CMD ["run", "--log-format", "json"]
