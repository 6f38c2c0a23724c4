#!/usr/bin/env node
/**
 * The `ipcemu` command. Subcommands live in one table, so later ones (fuzz,
 * sim, ipcs) are one entry each.
 */

import { realpathSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { conformanceCommand, type CommandIO } from './conformance/command.js';
import { fuzzMain } from './fuzz/cli.js';

interface Command {
  summary: string;
  run(argv: readonly string[], io: CommandIO): Promise<number>;
}

// From host/cli.ts (tests) and from dist/cli.js (the package) alike, the scenarios are ../test/conformance.
const SCENARIOS = fileURLToPath(new URL('../test/conformance', import.meta.url));

const COMMANDS: Readonly<Record<string, Command>> = {
  conformance: {
    summary: 'run the conformance scenarios on every backend available',
    run: (argv, io) => conformanceCommand(argv, io, { paths: [SCENARIOS] }),
  },
  fuzz: {
    summary: 'run random message-queue operations on the emulator and the kernel and compare every answer',
    run: (argv, io) => fuzzMain([...argv], io),
  },
};

function help(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
  return [
    'usage: ipcemu COMMAND [ARG...]',
    '',
    'Linux System V and POSIX IPC on an exact wasm kernel model (emu) or the real kernel (native).',
    '',
    'commands:',
    ...Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`),
    '',
    "Run 'ipcemu COMMAND --help' for a command's options.",
  ].join('\n');
}

/** Runs the command line (without node and the script); resolves to the exit status. */
export async function main(argv: readonly string[], io: CommandIO): Promise<number> {
  const [name, ...rest] = argv;
  if (name === '--help' || name === '-h' || name === 'help') {
    io.out(help());
    return 0;
  }
  const command = name === undefined ? undefined : COMMANDS[name];
  if (command === undefined) {
    if (name !== undefined) io.err(`ipcemu: unknown command ${JSON.stringify(name)}`);
    io.err(help());
    return 2;
  }
  return command.run(rest, io);
}

function isEntryPoint(): boolean {
  const script = process.argv[1];
  if (script === undefined) return false;
  try {
    return pathToFileURL(realpathSync(script)).href === import.meta.url;
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  const io: CommandIO = { out: (l) => process.stdout.write(l + '\n'), err: (l) => process.stderr.write(l + '\n') };
  main(process.argv.slice(2), io).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      process.stderr.write(`ipcemu: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      process.exitCode = 1;
    },
  );
}
