import { Value } from '@sinclair/typebox/value';
import { describe, expect, it } from 'vitest';
import { AgentEventKindSchema, EventKindSchema } from './events.js';

describe('event kinds', () => {
  it("accepts the controller's own kinds and any forwarded agent kind", () => {
    for (const kind of ['state', 'enrolled', 'run.finished', 'op.paused', 'vip.moved', 'agent.vip.acquired', 'agent.some-future-kind']) {
      expect(Value.Check(EventKindSchema, kind), kind).toBe(true);
    }
  });

  it('refuses kinds nobody emits, and agent kinds without their prefix', () => {
    for (const kind of ['', 'started', 'op.done', 'vip.acquired', 'agent']) {
      expect(Value.Check(EventKindSchema, kind), kind).toBe(false);
    }
  });

  it("forwards every agent kind under the `agent.` prefix", () => {
    for (const { const: kind } of AgentEventKindSchema.anyOf) expect(Value.Check(EventKindSchema, `agent.${kind}`)).toBe(true);
  });
});
