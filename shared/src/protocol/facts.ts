import { type Static, Type } from '@sinclair/typebox';

const Str = (max = 256) => Type.String({ maxLength: max });
const Count = Type.Integer({ minimum: 0 });
const Bytes = Type.Number({ minimum: 0 });

/** One network interface of a host. */
export const NicSchema = Type.Object({
  name: Str(64),
  mac: Str(64),
  ipv4: Type.Array(Str(64), { maxItems: 64 }),
  ipv6: Type.Array(Str(64), { maxItems: 64 }),
  speedMbps: Type.Union([Type.Number(), Type.Null()]),
  virtual: Type.Boolean(),
});

/** One block device of a host. */
export const DiskSchema = Type.Object({
  device: Str(),
  type: Str(64),
  sizeBytes: Bytes,
  model: Str(),
});

/** What the agent reports about its host at connect (systeminformation). */
export const FactsSchema = Type.Object({
  hostname: Str(),
  os: Type.Object({
    platform: Str(64),
    distro: Str(),
    release: Str(),
    codename: Str(),
    kernel: Str(),
    arch: Str(64),
  }),
  cpu: Type.Object({
    manufacturer: Str(),
    brand: Str(),
    cores: Count,
    physicalCores: Count,
    speedGHz: Type.Number({ minimum: 0 }),
  }),
  memory: Type.Object({ totalBytes: Bytes }),
  disks: Type.Array(DiskSchema, { maxItems: 256 }),
  nics: Type.Array(NicSchema, { maxItems: 256 }),
  productUuid: Str(),
  bootId: Str(),
  /**
   * Present when this host fences itself (agent/src/self-fence.ts: an etcd member with self-fencing
   * on): the controller may then count it fenced without a fence agent, after its last heartbeat
   * + `deadlineMs` + `actionBoundMs` + `intervalMs` + its own margin (membership/self-fence-wait.ts).
   */
  selfFence: Type.Optional(
    Type.Object(
      {
        deadlineMs: Type.Integer({ minimum: 1000, maximum: 3_600_000 }),
        actionBoundMs: Type.Integer({ minimum: 0, maximum: 600_000 }),
        intervalMs: Type.Integer({ minimum: 100, maximum: 60_000 }),
      },
      { additionalProperties: false },
    ),
  ),
});
export type Facts = Static<typeof FactsSchema>;

/** The outcome of one local check the agent runs. */
export const CheckResultSchema = Type.Object({
  name: Str(128),
  ok: Type.Boolean(),
  message: Str(1024),
});
export type CheckResult = Static<typeof CheckResultSchema>;

/** A health snapshot, sent on change and at least every health interval. */
export const HealthSchema = Type.Object({
  /** Agent wall clock (ms since epoch) when the snapshot was taken. */
  ts: Type.Number(),
  load: Type.Tuple([Type.Number(), Type.Number(), Type.Number()]),
  memory: Type.Object({ totalBytes: Bytes, availableBytes: Bytes }),
  disks: Type.Array(Type.Object({ mount: Str(), sizeBytes: Bytes, usedBytes: Bytes }), { maxItems: 256 }),
  /** Offset of the host clock from the controller's, in ms, when known. */
  clockOffsetMs: Type.Union([Type.Number(), Type.Null()]),
  checks: Type.Array(CheckResultSchema, { maxItems: 128 }),
});
export type Health = Static<typeof HealthSchema>;
