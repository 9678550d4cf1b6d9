import { defineConfig } from 'vitest/config';

// Three tiers (STYLE.md §12): fast unit tests, integration tests with real processes, sockets and
// SQLite files on loopback, and root-only lab tests on namespaced hosts.
export default defineConfig({
  test: {
    // Integration and lab files start real processes on fixed resources: one file at a time.
    fileParallelism: false,
    projects: [
      {
        test: {
          name: 'unit',
          include: ['agent/**/*.test.ts', 'controller/**/*.test.ts', 'shared/**/*.test.ts', 'test/unit/**/*.test.ts', 'test/security/**/*.test.ts'],
          testTimeout: 20_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
      {
        test: {
          name: 'lab',
          include: ['test/lab/**/*.test.ts'],
          testTimeout: 600_000,
          hookTimeout: 900_000,
        },
      },
    ],
  },
});
