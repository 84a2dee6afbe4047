// Package buildinfo tells which build of oidcd is running: module version,
// version-control commit and Go version, from the information the Go
// toolchain embeds in every binary (runtime/debug.ReadBuildInfo). It has no
// dependencies of ours.
package buildinfo

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"sync"
)

// Info identifies a build.
type Info struct {
	// Version is the main module's version: a tag such as "v1.2.0" for
	// "go install …@v1.2.0", a pseudo-version, or "(devel)" for a build
	// from a working tree.
	Version string `json:"version"`
	// Commit is the version-control revision the binary was built from
	// ("" when the build did not record it, e.g. with -buildvcs=false).
	Commit string `json:"commit,omitempty"`
	// CommitTime is the commit's time (RFC 3339), when recorded.
	CommitTime string `json:"commit_time,omitempty"`
	// Modified is true when the working tree had uncommitted changes.
	Modified bool `json:"modified,omitempty"`
	// GoVersion is the toolchain that built the binary ("go1.26.8").
	GoVersion string `json:"go_version"`
	// Platform is GOOS/GOARCH.
	Platform string `json:"platform"`
}

var (
	once sync.Once
	info Info
)

// Read returns the running binary's build information.
func Read() Info {
	once.Do(func() {
		bi, _ := debug.ReadBuildInfo()
		info = From(bi)
	})
	return info
}

// From extracts an Info from the toolchain's build information (nil when
// the binary has none).
func From(bi *debug.BuildInfo) Info {
	info := Info{Version: "(unknown)", GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if bi == nil {
		return info
	}
	{
		if bi.Main.Version != "" {
			info.Version = bi.Main.Version
		}
		if bi.GoVersion != "" {
			info.GoVersion = bi.GoVersion
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				info.Commit = s.Value
			case "vcs.time":
				info.CommitTime = s.Value
			case "vcs.modified":
				info.Modified = s.Value == "true"
			}
		}
	}
	return info
}

// String is the one-line form: "v1.2.0 (commit 0123abcd, 2026-01-02T…Z,
// modified) go1.26.8 linux/amd64".
func (i Info) String() string {
	s := i.Version
	if i.Commit != "" {
		c := i.Commit
		if len(c) > 12 {
			c = c[:12]
		}
		s += " (commit " + c
		if i.CommitTime != "" {
			s += ", " + i.CommitTime
		}
		if i.Modified {
			s += ", modified"
		}
		s += ")"
	}
	return fmt.Sprintf("%s %s %s", s, i.GoVersion, i.Platform)
}
