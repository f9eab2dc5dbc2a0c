// The race the tutorial warns about, as an experiment: devices upload at once.
//
// Usage: node docs/tutorial/race.mjs BASE_URL [--devices N] [--doc ID]
//                                             [--fetch-first] [--json]
//
// Every device runs the tutorial's client code (tutorial_client.mjs) against
// BASE_URL (http://127.0.0.1:5000 for the tutorial's server, .../docs for ours):
//
// 1. Device 1 starts the list with one item and uploads it (updateDoc).
// 2. The other devices load it (loadFromRemote), so all hold the same list.
// 3. Every device adds one item of its own and uploads (updateDoc). All the
//    uploads start together: none has been answered when the last one is sent.
//    With --fetch-first every device first runs loadFromRemote again and merges
//    what the server holds (the client-side fix the tutorial mentions); all those
//    fetches are answered before the first upload starts.
// 4. A new device loads the list and looks for each device's item.
//
// It prints how many of the N edits the new device did not find ("lost K of N
// edits"), or with --json one JSON object with the details. DOC_ID defaults to a
// fresh random id, so every run starts from nothing.
import { randomBytes } from "node:crypto";

import { createDevice, describe, isMain, itemTexts, withItem } from "./tutorial_client.mjs";

/** Parse the command line into {baseUrl, devices, doc, fetchFirst, json}. */
function parseArgs(argv) {
  const options = { baseUrl: "", devices: 8, doc: "", fetchFirst: false, json: false };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--devices") options.devices = Number(argv[++i]);
    else if (argv[i] === "--doc") options.doc = argv[++i];
    else if (argv[i] === "--fetch-first") options.fetchFirst = true;
    else if (argv[i] === "--json") options.json = true;
    else if (!argv[i].startsWith("--") && !options.baseUrl) options.baseUrl = argv[i];
    else throw new Error(`unknown argument ${argv[i]}`);
  }
  if (!options.baseUrl) throw new Error("usage: node docs/tutorial/race.mjs BASE_URL [options]");
  if (!(options.devices >= 2)) throw new Error("--devices must be at least 2");
  options.baseUrl = options.baseUrl.replace(/\/$/, "");
  options.doc ||= `race-${randomBytes(4).toString("hex")}`;
  return options;
}

/**
 * Watch the uploads the tutorial's code makes through the global `fetch`.
 *
 * Counts how many POSTs were sent and not yet answered at once (the most), and
 * the status of every answer. The tutorial's saveToRemote ignores its answer,
 * so this is the only way to see it.
 */
function watchUploads() {
  const uploads = { inFlight: 0, maxInFlight: 0, statuses: [] };
  const realFetch = globalThis.fetch;
  globalThis.fetch = async (url, init = {}) => {
    if (String(init.method).toLowerCase() !== "post") return realFetch(url, init);
    uploads.inFlight += 1;
    uploads.maxInFlight = Math.max(uploads.maxInFlight, uploads.inFlight);
    try {
      const response = await realFetch(url, init);
      uploads.statuses.push(response.status);
      return response;
    } finally {
      uploads.inFlight -= 1;
    }
  };
  return uploads;
}

/** Run the experiment; return the report. */
export async function race({ baseUrl, devices: count, doc: docId, fetchFirst }) {
  const first = createDevice(baseUrl, docId);
  await first.updateDoc(withItem(first.doc, "The list, started by device 1"));
  const devices = [first];
  for (let i = 2; i <= count; i++) {
    const device = createDevice(baseUrl, docId);
    await device.loadFromRemote(docId);
    devices.push(device);
  }

  const uploads = watchUploads();
  if (fetchFirst) {
    await Promise.all(devices.map((device) => device.loadFromRemote(docId)));
  }
  const edits = devices.map((_, i) => `Edit from device ${i + 1}`);
  await Promise.all(devices.map((device, i) => device.updateDoc(withItem(device.doc, edits[i]))));

  const reader = createDevice(baseUrl, docId);
  await reader.loadFromRemote(docId);
  const items = itemTexts(reader.doc);
  const lost = edits.filter((edit) => !items.includes(edit));
  return {
    baseUrl,
    docId,
    devices: count,
    fetchFirst: Boolean(fetchFirst),
    maxUploadsInFlight: uploads.maxInFlight,
    statuses: uploads.statuses,
    edits,
    items,
    list: describe(reader.doc),
    lost,
  };
}

/** The report as the lines a person reads. */
function summary(report) {
  const n = report.devices;
  const statuses = [...new Set(report.statuses)].join(", ");
  return [
    `${n} devices hold ${report.docId} from ${report.baseUrl}; each ` +
      (report.fetchFirst ? "fetches the server's copy, " : "") +
      `adds an item and uploads, all at once`,
    `uploads in flight together: ${report.maxUploadsInFlight}; answered: ${statuses}`,
    `a new device loads the list:`,
    ...report.list.map((line) => `  ${line}`),
    `lost ${report.lost.length} of ${n} edits`,
  ].join("\n");
}

if (isMain(import.meta)) {
  const options = parseArgs(process.argv.slice(2));
  race(options).then(
    (report) => console.log(options.json ? JSON.stringify(report) : summary(report)),
    (error) => {
      console.error(error.stack || String(error));
      process.exit(1);
    },
  );
}
