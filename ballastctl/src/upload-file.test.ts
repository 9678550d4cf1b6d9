/**
 * `etcd snapshot import FILE` on the wire, against a real HTTP server on loopback: the file streams
 * with its Content-Length and arrives byte for byte, progress is printed for a large file, the
 * answer is printed as text or JSON, and a coded refusal becomes the command's error.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SnapshotImportResult } from '../../shared/src/etcd-api.js';
import { runCtl } from './testing.js';

const RESULT: SnapshotImportResult = {
  status: 'imported',
  snapshot: {
    id: '20261207T050000Z-3f9a1c', cluster: 'prod', createdAt: '2026-12-07T05:00:00.000Z', trigger: 'manual', host: 'cp-1', member: 'cp-1',
    sha256: 'a'.repeat(64), size: 1234, revision: '42', totalKeys: 7, etcdHash: '', durationMs: 0, encrypted: true,
    sealedSha256: 'b'.repeat(64), sealedSize: 2000, s3Key: null, verifiedAt: '2026-12-07T06:00:00.000Z', verifyError: null,
  },
  pki: { imported: ['etcd-ca', 'kubernetes-ca'], same: [], kept: [] },
};

describe('ballastctl etcd snapshot import FILE (real HTTP server)', () => {
  let dir = '';
  let server: http.Server;
  let url = '';
  const got: { path: string; length: string | undefined; sha256: string; size: number; auth: string | undefined }[] = [];
  let answer: { status: number; body: unknown } = { status: 200, body: RESULT };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ballast-upload-'));
    server = http.createServer((req, res) => {
      const hash = createHash('sha256');
      let size = 0;
      req.on('data', (d: Buffer) => {
        hash.update(d);
        size += d.length;
      });
      req.on('end', () => {
        got.push({ path: req.url ?? '', length: req.headers['content-length'], sha256: hash.digest('hex'), size, auth: req.headers.authorization });
        res.writeHead(answer.status, { 'content-type': 'application/json' }).end(JSON.stringify(answer.body));
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((r) => server.close(r));
    await rm(dir, { recursive: true, force: true });
  });

  it('streams a 9 MiB file with its length, prints progress and the result', async () => {
    const bytes = randomBytes(9 * 1024 * 1024);
    const file = join(dir, 'big.bsnap');
    await writeFile(file, bytes);
    answer = { status: 200, body: RESULT };
    const res = await runCtl(['etcd', 'snapshot', 'import', file, '--as', 'prod'], { server: url, token: 'blst_t', dir });
    expect(res.code, res.err).toBe(0);
    expect(got.at(-1)).toEqual({ path: '/v1/etcd/snapshots/import?cluster=prod', length: String(bytes.length), sha256: createHash('sha256').update(bytes).digest('hex'), size: bytes.length, auth: 'Bearer blst_t' });
    expect(res.err).toContain('uploading big.bsnap: 25%');
    expect(res.err).toContain('uploading big.bsnap: 100% (9Mi of 9Mi)');
    expect(res.err).toContain('uploaded; the controller is verifying the snapshot');
    expect(res.out).toContain('imported snapshot 20261207T050000Z-3f9a1c (cluster prod)');
    expect(res.out).toContain('PKI: 2 item(s) imported, 0 already stored');
    expect(res.out).toContain('next: ballastctl cluster recover prod --from-snapshot 20261207T050000Z-3f9a1c --check');
  });

  it('prints the API document with -o json; a small file shows no progress', async () => {
    const file = join(dir, 'small.bsnap');
    await writeFile(file, randomBytes(1000));
    const res = await runCtl(['etcd', 'snapshot', 'import', file, '-o', 'json'], { server: url, token: 'blst_t', dir });
    expect(res.code, res.err).toBe(0);
    expect(JSON.parse(res.out)).toEqual(RESULT);
    expect(res.err).toBe('');
    expect(got.at(-1)?.path).toBe('/v1/etcd/snapshots/import');
  });

  it('a coded refusal is the error, exit 1', async () => {
    const file = join(dir, 'bad.bsnap');
    await writeFile(file, randomBytes(100));
    answer = { status: 422, body: { code: 'BALLAST_ERR_SNAPSHOT_INVALID', message: 'failed to import the uploaded file: segment 0: authentication failed' } };
    const res = await runCtl(['etcd', 'snapshot', 'import', file], { server: url, token: 'blst_t', dir });
    expect(res.code).toBe(1);
    expect(res.err).toContain('BALLAST_ERR_SNAPSHOT_INVALID: failed to import the uploaded file: segment 0');
  });
});
