/** See shared/src/etcd/health.ts. */
export * from '../../../shared/src/etcd/health.js';
