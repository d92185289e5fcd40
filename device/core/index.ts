/** The device agent's public surface: what a platform entry point (ESP32, host-sim) needs. */
export { Agent, AgentConfigError, type AgentConfig, type AgentEvent } from "./agent";
export { FIRMWARE_VERSION } from "./version";
export type * from "../ports";
