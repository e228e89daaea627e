/**
 * Checks that the HTTP address is free before the server opens its database, so a second `patrol start` on a
 * busy port fails at once and never touches (or migrates) the store that the first one is using.
 */
import { createServer } from "node:net";

export async function assertAddressFree(host: string, port: number): Promise<void> {
  // Port 0 picks a free port at listen time: nothing to check.
  if (port === 0) return;
  const probe = createServer();
  await new Promise<void>((resolve, reject) => {
    probe.once("error", (error: NodeJS.ErrnoException) => {
      const why =
        error.code === "EADDRINUSE" ? "the address is in use (is patrol already running?)" : error.message;
      reject(new Error(`cannot listen on ${host}:${port}: ${why}`));
    });
    probe.listen({ host, port, exclusive: true }, () => probe.close(() => resolve()));
  });
}
