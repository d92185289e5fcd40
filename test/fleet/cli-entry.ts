/** The `tether` CLI with `sim` registered, for the CLI test (the lead registers it in tools/cli.ts). */
import { isMainThread } from "node:worker_threads";
import { main, registerCommand } from "../../tools/cli";
import { runSim } from "../../tools/commands/sim";

registerCommand("sim", runSim);
// Shard workers load this same bundle: only the main thread runs the command line.
if (isMainThread) process.exitCode = await main(process.argv.slice(2));
