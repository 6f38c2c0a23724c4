// @ts-check
/**
 * Benchmarks of the hot paths, each printed beside the same loop in C against
 * the kernel and beside plain JavaScript, as ratios measured in this one run.
 *
 *   npm run bench             a table
 *   npm run bench -- --json   one JSON object: { figures (ns per op), ratios, targets }
 *   npm run bench -- --quick  fewer iterations (a smoke run)
 *
 * It measures the built package (dist/, wasm/): run `npm run build` after a change.
 * Ratio names are stable; later benchmarks add their own.
 */

import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { IPC_CREAT, IPC_PRIVATE, IPC_RMID, openEmulator } from 'ipcemu';

const here = dirname(fileURLToPath(import.meta.url));
const args = new Set(process.argv.slice(2));
const json = args.has('--json');
const quick = args.has('--quick');
const scale = quick ? 0.05 : 1;

/** Runs `body(n)` (n iterations) for a few rounds and answers the median ns per iteration. */
function measure(body, iterations) {
  const n = Math.max(1000, Math.round(iterations * scale));
  body(Math.min(n, 20_000)); // warm up: let the JIT settle on the loop
  const rounds = [];
  for (let r = 0; r < 5; r++) {
    const start = process.hrtime.bigint();
    body(n);
    rounds.push(Number(process.hrtime.bigint() - start) / n);
  }
  rounds.sort((a, b) => a - b);
  return rounds[2];
}

async function measureAsync(body, iterations) {
  const n = Math.max(1000, Math.round(iterations * scale));
  await body(Math.min(n, 20_000));
  const rounds = [];
  for (let r = 0; r < 5; r++) {
    const start = process.hrtime.bigint();
    await body(n);
    rounds.push(Number(process.hrtime.bigint() - start) / n);
  }
  rounds.sort((a, b) => a - b);
  return rounds[2];
}

/** The C loops (bench/c/msgbench.c), compiled with the system's cc. */
function kernel() {
  const out = join(here, '.out');
  mkdirSync(out, { recursive: true });
  const exe = join(out, 'msgbench');
  execFileSync('cc', ['-O2', '-o', exe, join(here, 'c', 'msgbench.c')]);
  const run = (...a) => {
    const rounds = [];
    for (let r = 0; r < 3; r++) rounds.push(Number(execFileSync(exe, a.map(String)).toString().trim()));
    rounds.sort((x, y) => x - y);
    return rounds[1];
  };
  const sem = join(out, 'sembench');
  execFileSync('cc', ['-O2', '-o', sem, join(here, 'c', 'sembench.c')]);
  const semRounds = [];
  for (let r = 0; r < 3; r++) semRounds.push(Number(execFileSync(sem, [String(Math.round(1_000_000 * scale))]).toString().trim()));
  semRounds.sort((x, y) => x - y);
  const pipe = join(out, 'pipebench');
  execFileSync('cc', ['-O2', '-o', pipe, join(here, 'c', 'pipebench.c')]);
  const pipeRun = (size, n) => {
    const rounds = [];
    for (let r = 0; r < 3; r++) rounds.push(Number(execFileSync(pipe, [String(size), String(Math.max(1000, Math.round(n * scale)))]).toString().trim()));
    rounds.sort((x, y) => x - y);
    return rounds[1];
  };
  return {
    pipe64k: pipeRun(65536, 100_000),
    pipe8: pipeRun(8, 1_000_000),
    pair: run('pair', Math.round(1_000_000 * scale)),
    bytype10: run('bytype', 10, Math.round(200_000 * scale)),
    bytype10k: run('bytype', 10_000, Math.round(20_000 * scale)),
    semPair: semRounds[1],
  };
}

/** A plain JavaScript typed queue: the floor any queue in JS pays. */
class PlainQueue {
  items = [];
  send(mtype, data) { this.items.push({ mtype, data: data.slice() }); }
  receiveInto(buf) {
    const m = this.items.shift();
    buf.set(m.data);
    return m.data.length;
  }
}

async function emu() {
  const kernel = await openEmulator();
  const p = kernel.spawn();
  const q = p.msgget(IPC_PRIVATE, IPC_CREAT | 0o600);
  const data = new Uint8Array(64).fill(120);
  const buf = new Uint8Array(64);
  const figures = {};
  figures.emu_msg_pair_sync_into = measure((n) => {
    for (let i = 0; i < n; i++) {
      p.msgsndSync(q, 1, data);
      p.msgrcvInto(q, buf, 0);
    }
  }, 3_000_000);
  figures.emu_msg_pair_sync_copy = measure((n) => {
    for (let i = 0; i < n; i++) {
      p.msgsndSync(q, 1, data);
      p.msgrcvSync(q, 64, 0);
    }
  }, 3_000_000);
  figures.emu_msg_pair_async = await measureAsync(async (n) => {
    for (let i = 0; i < n; i++) {
      await p.msgsnd(q, 1, data);
      await p.msgrcv(q, 64, 0);
    }
  }, 1_000_000);
  const one = new Uint8Array(1);
  const small = new Uint8Array(8);
  for (const queued of [10, 10_000]) {
    const t = p.msgget(IPC_PRIVATE, IPC_CREAT | 0o600);
    for (let i = 0; i < queued; i++) p.msgsndSync(t, 2, one);
    figures[queued === 10 ? 'emu_bytype_10' : 'emu_bytype_10k'] = measure((n) => {
      for (let i = 0; i < n; i++) {
        p.msgsndSync(t, 1, one);
        p.msgrcvInto(t, small, 1);
      }
    }, 2_000_000);
    p.msgctl(t, IPC_RMID);
  }
  p.msgctl(q, IPC_RMID);
  const s = p.semget(IPC_PRIVATE, 1, IPC_CREAT | 0o600);
  const V = [[0, 1, 0]];
  const P = [[0, -1, 0]];
  figures.emu_semop_pair_sync = measure((n) => {
    for (let i = 0; i < n; i++) {
      p.semopSync(s, V);
      p.semopSync(s, P);
    }
  }, 3_000_000);
  p.semctl(s, 0, IPC_RMID);
  // pipes: write then read back, both never sleeping (writeSync / readInto), as pipebench.c does
  for (const size of [65536, 8]) {
    const [r, w] = p.pipe();
    const out = new Uint8Array(size).fill(120);
    const into = new Uint8Array(size);
    figures[size === 8 ? 'emu_pipe_8b_sync' : 'emu_pipe_64k_sync'] = measure((n) => {
      for (let i = 0; i < n; i++) {
        p.writeSync(w, out);
        p.readInto(r, into);
      }
    }, size === 8 ? 3_000_000 : 200_000);
    p.close(r);
    p.close(w);
  }
  const plain = new PlainQueue();
  figures.plain_js_pair = measure((n) => {
    for (let i = 0; i < n; i++) {
      plain.send(1, data);
      plain.receiveInto(buf);
    }
  }, 3_000_000);
  return figures;
}

/** The native backend's pair, where the addon is built (Linux). */
async function native() {
  let self;
  try {
    const { openNative } = await import('ipcemu');
    self = openNative().self();
  } catch (error) {
    return { unavailable: error instanceof Error ? error.message.split('\n')[0] : String(error) };
  }
  const q = self.msgget(IPC_PRIVATE, IPC_CREAT | 0o600);
  const data = new Uint8Array(64).fill(120);
  const buf = new Uint8Array(64);
  try {
    return {
      native_msg_pair_into: measure((n) => {
        for (let i = 0; i < n; i++) {
          self.msgsndSync(q, 1, data);
          self.msgrcvInto(q, buf, 0);
        }
      }, 1_000_000),
    };
  } finally {
    self.msgctl(q, IPC_RMID);
  }
}

const c = kernel();
const e = await emu();
const n = await native();
const figures = {
  kernel_msg_pair: c.pair, kernel_bytype_10: c.bytype10, kernel_bytype_10k: c.bytype10k, kernel_semop_pair: c.semPair,
  kernel_pipe_64k: c.pipe64k, kernel_pipe_8b: c.pipe8,
  ...e,
  ...(typeof n.native_msg_pair_into === 'number' ? n : {}),
};
const round = (x) => Math.round(x * 100) / 100;
const ratios = {
  emu_msg_pair_sync_speedup_vs_kernel: round(c.pair / e.emu_msg_pair_sync_into),
  emu_msg_pair_sync_copy_speedup_vs_kernel: round(c.pair / e.emu_msg_pair_sync_copy),
  emu_msg_pair_async_speedup_vs_kernel: round(c.pair / e.emu_msg_pair_async),
  emu_msgrcv_bytype_10k_over_10: round(e.emu_bytype_10k / e.emu_bytype_10),
  kernel_msgrcv_bytype_10k_over_10: round(c.bytype10k / c.bytype10),
  emu_msg_pair_sync_over_plain_js: round(e.emu_msg_pair_sync_into / e.plain_js_pair),
  emu_semop_speedup_vs_kernel: round(c.semPair / e.emu_semop_pair_sync),
  emu_pipe_64k_speedup_vs_kernel: round(c.pipe64k / e.emu_pipe_64k_sync),
  emu_pipe_8b_speedup_vs_kernel: round(c.pipe8 / e.emu_pipe_8b_sync),
  ...(typeof n.native_msg_pair_into === 'number'
    ? { native_msg_pair_over_c: round(n.native_msg_pair_into / c.pair) }
    : {}),
};
/** What each ratio should reach: [comparison, bound]. */
const targets = {
  emu_msg_pair_sync_speedup_vs_kernel: ['>=', 15],
  emu_msg_pair_async_speedup_vs_kernel: ['>=', 6],
  emu_msgrcv_bytype_10k_over_10: ['<=', 2],
  native_msg_pair_over_c: ['<=', 1.2],
  emu_semop_speedup_vs_kernel: ['>=', 5],
  emu_pipe_64k_speedup_vs_kernel: ['>=', 3],
  emu_pipe_8b_speedup_vs_kernel: ['>=', 3],
};

if (json) {
  const rounded = Object.fromEntries(Object.entries(figures).map(([k, v]) => [k, round(v)]));
  console.log(JSON.stringify({ figures: rounded, ratios, targets, ...(n.unavailable ? { native: n.unavailable } : {}) }, null, 2));
} else {
  console.log('ns per operation (median of 5 rounds; kernel figures from bench/c/msgbench.c, sembench.c, pipebench.c)');
  for (const [name, ns] of Object.entries(figures)) console.log(`  ${name.padEnd(34)} ${ns.toFixed(1).padStart(10)}`);
  if (n.unavailable) console.log(`  native backend unavailable: ${n.unavailable}`);
  console.log('ratios');
  for (const [name, value] of Object.entries(ratios)) {
    const t = targets[name];
    const met = t ? (t[0] === '>=' ? value >= t[1] : value <= t[1]) : undefined;
    const note = t ? `  target ${t[0]} ${t[1]}: ${met ? 'met' : 'NOT met'}` : '';
    console.log(`  ${name.padEnd(42)} ${String(value).padStart(8)}${note}`);
  }
}
