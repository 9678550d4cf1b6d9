export * from './codec.js';
export * from './facts.js';
export * from './limits.js';
export * from './messages.js';
export * from './responses.js';
export * from './rpc.js';
export * from './vip.js';
