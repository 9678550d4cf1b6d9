/**
 * The protocol version both sides must speak; bumped on any incompatible change only. New request
 * types are additive: they are negotiated with hello `features` (REQUEST_FEATURES in messages.ts),
 * so agents of an older build keep their sessions (decision recorded in vip.ts).
 */
export const PROTOCOL_VERSION = 1;

/**
 * Frames above this size get a coded `BALLAST_ERR_FRAME_TOO_LARGE` reply and are dropped.
 * 1 MiB holds the largest facts message of a big host with room to spare.
 */
export const MAX_FRAME_BYTES = 1024 * 1024;

/**
 * Tighter bounds for frame types that are stored as they come (issue 16 point 6): an `event` is one
 * row in the event log, and a few KB describe any repair or VIP move (message ≤ 4 KiB, the rest
 * for `data`). Before, a 1 MiB event frame was accepted and stored, ~50 MB/s from one agent.
 */
export const MAX_FRAME_BYTES_BY_TYPE: Readonly<Partial<Record<string, number>>> = { event: 16 * 1024 };

/**
 * The websocket layer refuses anything above this outright (ws `maxPayload`, close code 1009), so a
 * peer can never make the other buffer an unbounded message. Between MAX_FRAME_BYTES and this the
 * frame is read, answered with a coded error and counted.
 */
export const HARD_MAX_FRAME_BYTES = 4 * 1024 * 1024;

/** Websocket path the agents connect to. */
export const AGENT_WS_PATH = '/v1/agent/ws';
