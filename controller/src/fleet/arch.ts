/**
 * Host architecture names. The agent's facts report Node's `os.arch()`; artifacts and Kubernetes
 * use Go's names, so every host view converts once, here.
 */

/** Node's `os.arch()` names (what the agent's facts report) → the Go names artifacts use. */
const GO_ARCH: Readonly<Record<string, string>> = { x64: 'amd64', ia32: '386', arm64: 'arm64', arm: 'arm', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' };

/** The artifact arch of a host whose facts say `arch`. */
export function goArch(arch: string): string {
  return GO_ARCH[arch] ?? arch.toLowerCase();
}
