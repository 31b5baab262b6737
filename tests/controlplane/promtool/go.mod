// Pins promtool (alert/recording-rule unit tests) for the test harness.
// Built by ../build.sh with -tags remove_all_sd: promtool's rule commands need
// no service-discovery plugins, and some of those plugins' modules are not
// available from the module proxy. For the same reason, do not run
// `go mod tidy` here (it resolves every build tag); update with
// `go get github.com/prometheus/prometheus@vX && go build -tags remove_all_sd ...`.
module brickwarden.test/controlplane/promtool

go 1.26.7

require github.com/prometheus/prometheus v0.316.0
