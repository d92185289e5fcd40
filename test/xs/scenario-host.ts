/**
 * What an XS-tier scenario receives. A scenario module exports
 * `run(host: ScenarioHost): void | Promise<void>`; the harness runs the same bundle
 * inside XS (xsnap) and inside Node and compares the emitted lines.
 */
export type ScenarioHost = {
  /** Appends one line to the event trace. The line must not contain "\n" or "\r". */
  emit(line: string): void;
  /**
   * XS: computrons (the engine's deterministic cost count) since the previous call, or
   * since `run` started. Node: always 0.
   */
  meter(): number;
};

/** The shape of a scenario module. */
export type ScenarioModule = {
  run(host: ScenarioHost): void | Promise<void>;
};
