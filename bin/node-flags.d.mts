// Types for bin/node-flags.mjs (plain JS: bin/tether.js imports it before anything is built).
export const SIM_NODE_FLAGS: readonly string[];
export function missingNodeFlags(wanted: readonly string[], execArgv?: readonly string[], nodeOptions?: string): string[];
export function rerunWithNodeFlags(script: string, args: readonly string[], flags: readonly string[]): Promise<number>;
