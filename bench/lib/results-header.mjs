// The head every bench/results/<name>.json starts with: what ran, when, on which Node and machine.
import os from "node:os";

export function resultsHeader(name) {
  const cpus = os.cpus();
  return {
    name,
    date: new Date().toISOString(),
    node: process.version,
    host: { cpus: cpus.length, model: cpus[0]?.model?.trim() ?? "unknown" },
  };
}
