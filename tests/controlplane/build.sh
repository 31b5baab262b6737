#!/usr/bin/env bash
# Builds the control-plane binaries used by the integration tests from Go modules:
#   kube-apiserver, kubectl  (k8s.io/kubernetes)
#   etcd                     (go.etcd.io/etcd/server/v3)
#   helm                     (helm.sh/helm/v3)
#   promtool                 (github.com/prometheus/prometheus)
# Versions are pinned by kube/go.mod and promtool/go.mod next to this script.
#
# Binaries go to a cache outside the repository, keyed on the pinned versions and on a
# hash of the inputs, so every clone on a machine shares one build and a version bump
# builds into a new directory:
#   ${BRICKWARDEN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/brickwarden}/controlplane/<key>/bin
# When all binaries are already there the script returns at once.
# The last line printed on stdout is the bin directory; build progress goes to stderr.
#
# Needs only a Go toolchain (>= 1.26.7) and the Go module proxy. See README.md.
set -euo pipefail

K8S_VERSION=v1.37.2    # k8s.io/kubernetes; staging modules k8s.io/* at v0.37.2
ETCD_VERSION=v3.7.0    # the etcd that k8s.io/kubernetes v1.37.2 itself pins
HELM_VERSION=v3.22.0
PROM_VERSION=v0.316.0  # Prometheus 3.16.0
PROMTOOL_VERSION=3.16.0
BINARIES=(kube-apiserver kubectl etcd helm promtool)

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# Linker flags: the version stamps that the upstream release builds set.
k8s_minor=${K8S_VERSION#v1.}
k8s_minor=${k8s_minor%%.*}
ldflags_kube="-s -w"
for pkg in k8s.io/client-go/pkg/version k8s.io/component-base/version; do
  ldflags_kube+=" -X ${pkg}.gitVersion=${K8S_VERSION} -X ${pkg}.gitMajor=1 -X ${pkg}.gitMinor=${k8s_minor}"
  ldflags_kube+=" -X ${pkg}.gitTreeState=clean"
done
# helm: its version and the Kubernetes version it assumes for `helm template`/lint.
ldflags_kube+=" -X helm.sh/helm/v3/internal/version.version=${HELM_VERSION}"
ldflags_kube+=" -X helm.sh/helm/v3/internal/version.metadata="
ldflags_kube+=" -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
for pkg in helm.sh/helm/v3/pkg/lint/rules helm.sh/helm/v3/pkg/chartutil; do
  ldflags_kube+=" -X ${pkg}.k8sVersionMajor=1 -X ${pkg}.k8sVersionMinor=${k8s_minor}"
done
ldflags_prom="-s -w -X github.com/prometheus/common/version.Version=${PROMTOOL_VERSION}"
ldflags_prom+=" -X github.com/prometheus/common/version.Branch=HEAD"
# promtool's rule/alert commands need no service-discovery plugins; some plugins'
# modules are not available from the module proxy, so leave them all out.
tags_prom="remove_all_sd"

# Cache key: readable versions plus a hash of everything that decides the output.
key_input=$(
  cat "$here/kube/go.mod" "$here/kube/go.sum" "$here/promtool/go.mod" "$here/promtool/go.sum"
  printf '%s\n' "$ldflags_kube" "$ldflags_prom" "$tags_prom" "${BINARIES[*]}"
)
hash=$(printf '%s' "$key_input" | sha256sum)
hash=${hash:0:12}
cache_root=${BRICKWARDEN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/brickwarden}
version_dir="$cache_root/controlplane/${K8S_VERSION}-${hash}"
bin_dir="$version_dir/bin"

all_built() {
  local b
  for b in "${BINARIES[@]}"; do
    [[ -x "$bin_dir/$b" ]] || return 1
  done
}

if all_built; then
  echo "$bin_dir"
  exit 0
fi

if ! command -v go >/dev/null 2>&1; then
  echo "build.sh: the Go toolchain ('go') is not on PATH; install Go >= 1.26.7" >&2
  exit 1
fi

mkdir -p "$version_dir"
# One build at a time per key (parallel test processes, several clones).
exec 9>"$version_dir/.lock"
if command -v flock >/dev/null 2>&1; then
  flock 9
fi
if all_built; then
  echo "$bin_dir"
  exit 0
fi

export GOTOOLCHAIN=local CGO_ENABLED=0 GOWORK=off GOFLAGS="-mod=readonly -buildvcs=false"
unset GOOS GOARCH GOBIN

tmp=$(mktemp -d "$version_dir/bin.tmp.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

start=$SECONDS
echo "build.sh: building kube-apiserver ${K8S_VERSION}, kubectl ${K8S_VERSION}, etcd ${ETCD_VERSION}, helm ${HELM_VERSION} into $bin_dir" >&2
echo "build.sh: a cold build takes tens of minutes on 2 cores (see tests/controlplane/README.md)" >&2
(
  cd "$here/kube"
  # One invocation so that the shared Kubernetes packages are scheduled once.
  nice -n 10 go build -trimpath -ldflags "$ldflags_kube" -o "$tmp/" \
    k8s.io/kubernetes/cmd/kube-apiserver \
    k8s.io/kubernetes/cmd/kubectl \
    helm.sh/helm/v3/cmd/helm \
    go.etcd.io/etcd/server/v3
)
# `go build -o dir/` names the etcd main package (…/server/v3) after its last
# non-version path element.
mv "$tmp/server" "$tmp/etcd"
echo "build.sh: building promtool ${PROMTOOL_VERSION} ($((SECONDS - start))s so far)" >&2
(
  cd "$here/promtool"
  nice -n 10 go build -trimpath -tags "$tags_prom" -ldflags "$ldflags_prom" -o "$tmp/promtool" \
    github.com/prometheus/prometheus/cmd/promtool
)
for b in "${BINARIES[@]}"; do
  [[ -x "$tmp/$b" ]] || { echo "build.sh: $b was not built" >&2; exit 1; }
done

chmod 755 "$tmp"
rm -rf "$bin_dir"
mv "$tmp" "$bin_dir"
trap - EXIT
echo "build.sh: done in $((SECONDS - start))s" >&2
echo "$bin_dir"
