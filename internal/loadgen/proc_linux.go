package loadgen

import (
	"os/exec"
	"syscall"
)

// setParentDeathSignal makes the kernel send the child SIGTERM if the load
// generator dies without stopping it, so no benchmark server outlives it.
func setParentDeathSignal(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}
