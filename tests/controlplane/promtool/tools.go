//go:build tools

// Package tools records the main package that ../build.sh compiles.
package tools

import (
	_ "github.com/prometheus/prometheus/cmd/promtool"
)
