// Reads vitest's JSON report and prints the one line CI reads: "N passed, N failed".
// A missing or unreadable report counts as a failure, never as zero tests.
import { readFileSync } from "node:fs";

const file = process.argv[2] ?? "reports/vitest.json";
let report;
try {
  report = JSON.parse(readFileSync(file, "utf8"));
} catch (err) {
  console.error(`ci-summary: cannot read ${file}: ${err.message}`);
  console.log("0 passed, 1 failed");
  process.exit(1);
}
const files = report.testResults ?? [];
const passed = report.numPassedTests ?? 0;
// A file that failed without a failing test (it did not load, or a hook threw) counts as one
// failure, so it cannot hide. (numFailedTestSuites also counts every enclosing describe.)
const brokenFiles = files.filter((f) => f.status === "failed" && !(f.assertionResults ?? []).some((a) => a.status === "failed")).length;
const failed = (report.numFailedTests ?? 0) + brokenFiles;
const skipped = (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ""}`);
process.exit(failed > 0 || passed === 0 || report.success === false ? 1 : 0);
