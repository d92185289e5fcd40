import { isMainThread } from "node:worker_threads";
import { main, registerCommand } from "../../tools/cli";
import { runSim } from "../../tools/commands/sim";
registerCommand("sim", runSim);
if (isMainThread) process.exitCode = await main(process.argv.slice(2));
