/**
 * node-ops.ts's retries against a real HTTPS server on loopback that answers what kube-apiserver
 * answers through the VIP while its etcd member has just died: a 500 whose Status message is the
 * storage not answering (seen in the replacement lab: `rpc error: code = Unavailable desc =
 * keepalive ping failed to receive ACK within timeout`), then the real answer. A 500 that is a real
 * "no" and a PodDisruptionBudget's 429 are not retried; a server that stays unavailable is given up
 * on with the number of tries in the message.
 */
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createKubeNodeOps, type KubeNodeOps } from '../../controller/src/kube/node-ops.js';
import { createCa, issueClientCert, issueServerCert } from '../../controller/src/pki/ca.js';

const status = (code: number, reason: string, message: string) => ({ code, body: JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', reason, message, code }) });
const ETCD_GONE = status(500, 'InternalError', 'rpc error: code = Unavailable desc = keepalive ping failed to receive ACK within timeout');

let server: Server;
let ops: KubeNodeOps;
/** Answers, in order, for the next requests; then 200 `{}`. */
let script: Array<{ code: number; body: string }> = [];
let seen: string[] = [];

beforeAll(async () => {
  const ca = await createCa({ commonName: 'kubernetes' });
  const serving = await issueServerCert({ ca, commonName: 'kube-apiserver', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
  const admin = await issueClientCert({ ca, commonName: 'ballast-admin' });
  server = createServer({ key: serving.keyPem, cert: serving.certPem, ca: ca.certPem, requestCert: true, rejectUnauthorized: true }, (req, res) => {
    seen.push(`${req.method} ${req.url}`);
    req.resume();
    const next = script.shift() ?? { code: 200, body: '{"metadata":{"name":"cp-1"},"spec":{}}' };
    res.writeHead(next.code, { 'content-type': 'application/json' }).end(next.body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  ops = createKubeNodeOps({ server: `https://127.0.0.1:${port}`, caPem: ca.certPem, certPem: admin.certPem, keyPem: admin.keyPem }, { retryDelaysMs: [20, 20, 20] });
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));
beforeEach(() => {
  script = [];
  seen = [];
});

describe('kube node-ops retries transient answers', () => {
  it("a 500 that is etcd not answering is retried until the real answer (the lab's out-of-service taint)", async () => {
    script = [ETCD_GONE, ETCD_GONE];
    await ops.patchNodeSpec('cp-1', { taints: [{ key: 'node.kubernetes.io/out-of-service', value: 'nodeshutdown', effect: 'NoExecute' }] });
    expect(seen).toEqual(['PATCH /api/v1/nodes/cp-1', 'PATCH /api/v1/nodes/cp-1', 'PATCH /api/v1/nodes/cp-1']);
  });

  it('503 and 504 are retried too', async () => {
    script = [status(503, 'ServiceUnavailable', 'the server is currently unable to handle the request'), status(504, 'Timeout', 'the server was unable to return a response in the time allotted')];
    expect(await ops.getNode('cp-1')).toEqual({ name: 'cp-1', unschedulable: false, taints: [], labels: {}, ready: false });
    expect(seen).toHaveLength(3);
  });

  it('a 500 that says no is not retried', async () => {
    script = [status(500, 'InternalError', 'Internal error occurred: failed calling webhook "validate.example.com"')];
    await expect(ops.patchNodeSpec('cp-1', { unschedulable: true })).rejects.toMatchObject({ code: 'BALLAST_ERR_KUBE_REFUSED', status: 500 });
    expect(seen).toHaveLength(1);
  });

  it("an eviction's 429 (a PodDisruptionBudget) is the drain's to handle, not retried here", async () => {
    script = [status(429, 'TooManyRequests', 'Cannot evict pod as it would violate the pod\'s disruption budget.')];
    expect(await ops.evict({ namespace: 'shop', name: 'web-a' })).toMatchObject({ kind: 'blocked' });
    expect(seen).toHaveLength(1);
  });

  it('a server that stays unavailable is given up on, saying how often it was tried', async () => {
    script = [ETCD_GONE, ETCD_GONE, ETCD_GONE, ETCD_GONE, ETCD_GONE];
    await expect(ops.deleteNode('cp-1')).rejects.toThrow(/failed to delete Node cp-1: 500 InternalError: rpc error: code = Unavailable.*\(tried 4 times in \d+\.\d s\)/);
    expect(seen).toHaveLength(4);
  });
});
