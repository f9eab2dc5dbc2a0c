// 8 concurrent clients each send their share of N requests to one URL, one at a time.
//
// Usage: node benchmarks/request_floor.mjs --url URL [--requests N] [--clients C]
//                                          [--method GET|POST]
//
// A POST carries 100 bytes of application/octet-stream. Prints one JSON object:
// requests/s and this process's CPU (user + system) per request while they ran.
import { readOptions } from "../tests/node/options.mjs";

const options = readOptions(process.argv.slice(2), {
  url: "",
  requests: "400",
  clients: "8",
  method: "GET",
});
const requests = Number(options.requests);
const clients = Number(options.clients);
const post = options.method === "POST";
const init = post
  ? {
      method: "POST",
      body: new Uint8Array(100),
      headers: { "Content-Type": "application/octet-stream" },
    }
  : {};

async function client(count) {
  for (let i = 0; i < count; i++) {
    const response = await fetch(options.url, init);
    await response.arrayBuffer();
  }
}

const started = performance.now();
const cpuBefore = process.cpuUsage();
await Promise.all(Array.from({ length: clients }, () => client(requests / clients)));
const seconds = (performance.now() - started) / 1000;
const cpu = process.cpuUsage(cpuBefore);
console.log(
  JSON.stringify({
    perSecond: requests / seconds,
    clientCpuMs: (cpu.user + cpu.system) / 1000 / requests,
  }),
);
