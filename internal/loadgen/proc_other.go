//go:build !linux

package loadgen

import "os/exec"

// setParentDeathSignal does nothing where the kernel has no such signal;
// Server.Stop remains the way to end the child.
func setParentDeathSignal(*exec.Cmd) {}
