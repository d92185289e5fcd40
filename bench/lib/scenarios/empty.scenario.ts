import type { ScenarioHost } from "../../../test/xs/scenario-host";

/** The floor: what calling and settling run() costs. */
export function run(_host: ScenarioHost): void {}
