// Command-line options for the Node scripts of the tests and benchmarks.

import { parseArgs } from "node:util";

/**
 * Read `--name value` options over `defaults`; an unknown option is an error.
 * Values come back as given (strings), or as the default where not given.
 */
export function readOptions(argv, defaults) {
  const options = Object.fromEntries(
    Object.keys(defaults).map((name) => [name, { type: "string" }]),
  );
  const { values } = parseArgs({ args: argv, options, strict: true });
  return { ...defaults, ...values };
}
