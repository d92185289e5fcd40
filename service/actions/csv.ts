/**
 * CSV action: appends one line per alert event to a file (header written when the file is new).
 * The same rows come from GET /api/alerts.csv for a one-off export.
 */
import { appendFileSync, existsSync, statSync } from "node:fs";
import { alertCsvHeader, alertCsvRow } from "../health/alert-store";
import type { ActionConfig } from "../health/config";
import type { Delivery, Sender } from "./outbox";

export const sendCsv: Sender = async (d: Delivery, config: ActionConfig) => {
  if (config.type !== "csv") throw new Error("not a csv action");
  const fresh = !existsSync(config.file) || statSync(config.file).size === 0;
  appendFileSync(config.file, (fresh ? "event," + alertCsvHeader() : "") + `${d.event},` + alertCsvRow(d.alert));
};
