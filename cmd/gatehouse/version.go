package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// Set at link time by release builds (the Dockerfile does):
//
//	go build -ldflags "-X main.buildVersion=v1.4.0 -X main.buildCommit=$(git rev-parse HEAD)"
//
// Without them the module version and VCS revision that the Go toolchain
// stamps into the binary are used (go install, go build in a checkout).
var (
	buildVersion string
	buildCommit  string
)

// buildInfo is what a binary knows about its own build: printed by
// gatehouse --version and exported as the gatehouse_build_info metric.
type buildInfo struct {
	Version   string
	Commit    string
	GoVersion string
}

func readBuildInfo() buildInfo {
	b := buildInfo{Version: buildVersion, Commit: buildCommit, GoVersion: runtime.Version()}
	if info, ok := debug.ReadBuildInfo(); ok {
		if v := info.Main.Version; b.Version == "" && v != "" && v != "(devel)" {
			b.Version = v
		}
		var modified bool
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				if b.Commit == "" {
					b.Commit = s.Value
				}
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
		if modified && buildCommit == "" && b.Commit != "" {
			b.Commit += "-dirty"
		}
	}
	if b.Version == "" {
		b.Version = "devel"
	}
	if b.Commit == "" {
		b.Commit = "unknown"
	}
	return b
}

// version is the release version, or "devel" for a development build.
func version() string { return readBuildInfo().Version }

func (b buildInfo) String() string {
	return fmt.Sprintf("gatehouse %s (commit %s, %s)", b.Version, b.Commit, b.GoVersion)
}
