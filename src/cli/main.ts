#!/usr/bin/env node
/** Entry point of the `patrol` executable. */
import { main } from "./run.js";

main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin }).then(
  (code) => {
    process.exitCode = code;
  },
);
