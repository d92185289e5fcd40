/** Wall clock on Node: the host's clock is synced already. */
import type { WallClock } from "../../ports";

export const nodeWallClock: WallClock = {
  now: () => Date.now(),
};
