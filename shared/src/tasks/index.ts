export * from './modules.js';
export * from './results.js';
export * from './task.js';
