/**
 * Webhook action: HTTP POST of a JSON body to the configured URL. The delivery id travels in
 * the body and in the `Tether-Delivery` header, so the receiver can drop a redelivery (the
 * outbox is at-least-once). Any 2xx is success; anything else, a timeout or a refused
 * connection is a failure that the outbox retries.
 */
import type { ActionConfig } from "../health/config";
import type { Delivery, Sender } from "./outbox";

const TIMEOUT_MS = 10_000;

export function webhookBody(d: Delivery): string {
  return JSON.stringify({ id: d.id, event: d.event, action: d.alert.action, alert: d.alert });
}

export const sendWebhook: Sender = async (d: Delivery, config: ActionConfig) => {
  if (config.type !== "webhook") throw new Error("not a webhook action");
  const res = await fetch(config.url, {
    method: "POST",
    headers: { "content-type": "application/json", "tether-delivery": d.id, "tether-event": d.event, ...config.headers },
    body: webhookBody(d),
    signal: AbortSignal.timeout(TIMEOUT_MS),
  });
  // Drain the body so the connection can be reused.
  await res.arrayBuffer().catch(() => undefined);
  if (res.status < 200 || res.status > 299) throw new Error(`webhook ${config.url} answered ${res.status}`);
};
