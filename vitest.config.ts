import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 180_000,
    // Two cores: keep worker count small so real-broker and XS tests are not starved.
    maxWorkers: 2,
  },
});
