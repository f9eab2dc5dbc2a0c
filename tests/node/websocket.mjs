// Node 20 keeps its WebSocket client behind a flag (Node 22 enables it by default).

import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

/**
 * Make sure the global WebSocket exists: if not, run the script at `scriptUrl`
 * again with `--experimental-websocket` and exit with its status.
 */
export function ensureWebSocket(scriptUrl) {
  if (typeof WebSocket !== "undefined") return;
  const args = ["--experimental-websocket", "--no-warnings", ...process.execArgv];
  const child = spawnSync(
    process.execPath,
    [...args, fileURLToPath(scriptUrl), ...process.argv.slice(2)],
    { stdio: "inherit" },
  );
  process.exit(child.status ?? 1);
}
