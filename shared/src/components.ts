/**
 * Component registration files: what the controller's roles install under
 * /etc/ballast/components.d/NAME.json and the agent's component supervisor reads. One file names a
 * systemd unit the agent keeps running and how to probe its health (STYLE.md §1: a component has a
 * lifecycle and a health probe). The file is plain JSON so a human can read it on the host.
 */
import { type Static, Type } from '@sinclair/typebox';

/** Where component files live on a host. */
export const COMPONENTS_DIR = '/etc/ballast/components.d';

const AbsPath = Type.String({ pattern: '^/[^\\0]*$', maxLength: 4096 });
const Url = Type.String({ pattern: '^https?://[^\\s]+$', maxLength: 2048 });
const Timeout = Type.Integer({ minimum: 100, maximum: 60_000 });

/** How to tell that a component is healthy. Each kind is one small, bounded check. */
export const ComponentProbeSchema = Type.Union([
  /** containerd answers on its gRPC socket (the Version call). */
  Type.Object(
    { kind: Type.Literal('containerd'), socket: AbsPath, timeoutMs: Type.Optional(Timeout) },
    { additionalProperties: false },
  ),
  /** etcd's `/health` on its client URL, with mTLS (client certificate and the etcd CA). */
  Type.Object(
    {
      kind: Type.Literal('etcd'),
      url: Url,
      caFile: AbsPath,
      certFile: AbsPath,
      keyFile: AbsPath,
      timeoutMs: Type.Optional(Timeout),
    },
    { additionalProperties: false },
  ),
  /** kubelet's healthz (plain HTTP on localhost by default). */
  Type.Object({ kind: Type.Literal('kubelet'), url: Url, timeoutMs: Type.Optional(Timeout) }, { additionalProperties: false }),
  /** Any HTTP(S) endpoint answering 2xx (optionally with mTLS). */
  Type.Object(
    {
      kind: Type.Literal('http'),
      url: Url,
      caFile: Type.Optional(AbsPath),
      certFile: Type.Optional(AbsPath),
      keyFile: Type.Optional(AbsPath),
      timeoutMs: Type.Optional(Timeout),
    },
    { additionalProperties: false },
  ),
  /** A TCP port accepting connections. */
  Type.Object(
    {
      kind: Type.Literal('tcp'),
      host: Type.String({ minLength: 1, maxLength: 253 }),
      port: Type.Integer({ minimum: 1, maximum: 65535 }),
      timeoutMs: Type.Optional(Timeout),
    },
    { additionalProperties: false },
  ),
]);
export type ComponentProbe = Static<typeof ComponentProbeSchema>;

/** One component file. */
export const ComponentSpecSchema = Type.Object(
  {
    name: Type.String({ pattern: '^[a-z][a-z0-9-]{0,62}$' }),
    /** The systemd unit the agent starts and restarts (with backoff) when the probe fails. */
    unit: Type.String({ pattern: '^[A-Za-z0-9@._:-]+\\.service$', maxLength: 256 }),
    probe: ComponentProbeSchema,
    /** How often to probe; the agent's default when absent. */
    intervalMs: Type.Optional(Type.Integer({ minimum: 1000, maximum: 600_000 })),
    /**
     * Supervise only once this file exists (e.g. kubelet before `kubeadm init` wrote its config:
     * absent is not unhealthy, it is not configured yet).
     */
    requiresPath: Type.Optional(AbsPath),
  },
  { additionalProperties: false },
);
export type ComponentSpec = Static<typeof ComponentSpecSchema>;

/** The path of a component's file. */
export function componentFilePath(name: string): string {
  return `${COMPONENTS_DIR}/${name}.json`;
}
