/**
 * Shapes of etcd's JSON gateway answers that both etcd clients read (shared/src/etcd/client.ts and
 * the VIP's agent/src/etcd/lease.ts). Only the fields read; the gateway omits fields at their default.
 */
import { Type } from '@sinclair/typebox';

/** int64/uint64: a decimal string from the gateway (an integer when small, from some versions). */
export const U64 = Type.Union([Type.String({ pattern: '^-?[0-9]{1,20}$' }), Type.Integer()]);

/** One key-value pair of a range answer (key and value base64). */
export const EtcdKvSchema = Type.Object({
  key: Type.String(),
  value: Type.Optional(Type.String()),
  create_revision: Type.Optional(U64),
  mod_revision: Type.Optional(U64),
  version: Type.Optional(U64),
  lease: Type.Optional(U64),
});

/** Keep-alive is a stream in gRPC; the gateway answers one request with one `{"result": …}` line. */
export const LeaseKeepAliveSchema = Type.Object({ result: Type.Object({ TTL: Type.Optional(U64) }) });
