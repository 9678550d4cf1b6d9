// Command pause is Ballast's own pod sandbox ("infra container") process: a stand-in for upstream's
// C pause (kubernetes/build/pause/linux/pause.c) with the same behaviour, built from this repo
// because these machines cannot download upstream's image. It is a pod's PID 1 when the pod shares
// its PID namespace, so it reaps every child that exits, and it exits 0 on SIGINT or SIGTERM (which
// is how the runtime stops a sandbox). It needs no files, no libc and no network: one static binary
// in an image with nothing else (scripts/upstream/build.sh builds it; the lab's image builder,
// test/lab/tool/kube-images.ts, packs it as registry.k8s.io/pause:<tag>).
package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

// version is printed by -v, as upstream's pause does.
const version = "ballast-pause 1.0"

func main() {
	if len(os.Args) > 1 && os.Args[1] == "-v" {
		fmt.Println(version)
		return
	}
	if os.Getpid() != 1 {
		// Upstream warns too: outside a PID namespace, children of others are not ours to reap.
		fmt.Fprintln(os.Stderr, "Warning: pause should be the first process")
	}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	children := make(chan os.Signal, 16)
	signal.Notify(children, syscall.SIGCHLD)
	for {
		select {
		case <-stop:
			os.Exit(0)
		case <-children:
			reap()
		}
	}
}

// reap collects every exited child without blocking; SIGCHLD signals coalesce, so one may stand for many.
func reap() {
	for {
		var status syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &status, syscall.WNOHANG, nil)
		if pid <= 0 || err != nil {
			return
		}
	}
}
