#!/usr/bin/env node
// The `armillaria` command: parse, run, and turn typed errors into one readable line and an exit code.
import { isArmillariaError } from '@armillaria/core';
import { CommanderError } from 'commander';
import { buildProgram } from './program.js';

const program = buildProgram();
try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    // Help and version exit 0; usage errors were already printed by commander.
    process.exitCode = err.exitCode;
  } else if (isArmillariaError(err)) {
    process.stderr.write(`error [${err.code}]: ${err.message}\n`);
    process.exitCode = 1;
  } else {
    process.stderr.write(`error: ${(err as Error)?.stack ?? String(err)}\n`);
    process.exitCode = 1;
  }
}
