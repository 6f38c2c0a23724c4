/**
 * Finding, compiling and instantiating the kernel model. The wasm is
 * compiled once per process (per build variant) and instantiated once per
 * kernel: AssemblyScript's runtime state is per instance, so kernels share
 * nothing.
 *
 * Plain WebAssembly.instantiate, not asc's generated bindings: the ABI is
 * integers only, so the bindings would add nothing but their abort() import,
 * and that one must turn into the poisoning below anyway.
 */

import { ABI_VERSION, type KernelExports } from './abi.js';
import { fetchUrl, wasm, type WasmMemory, type WasmModule } from './wasm.js';

/** Which build of assembly/: release (optimised, no assertions) or debug (assertions, names). */
export type KernelBuild = 'release' | 'debug';

const compiled = new Map<KernelBuild, Promise<WasmModule>>();

/**
 * The wasm/ file of a build: beside host/ in the source tree, beside dist/
 * once built. Literal URLs, so that bundlers see and ship the files.
 */
function wasmUrl(build: KernelBuild): URL {
  return build === 'debug'
    ? new URL('../../wasm/kernel.debug.wasm', import.meta.url)
    : new URL('../../wasm/kernel.wasm', import.meta.url);
}

async function compile(build: KernelBuild): Promise<WasmModule> {
  const url = wasmUrl(build);
  try {
    if (url.protocol === 'file:') {
      const { readFile } = await import('node:fs/promises');
      return await wasm.compile(await readFile(url));
    }
    if (fetchUrl === undefined) throw new Error('no fetch() here to load it with');
    return await wasm.compileStreaming(fetchUrl(url));
  } catch (error) {
    throw new Error(`ipcemu: cannot load the kernel model ${url.href} (npm run build:wasm builds it): ${String(error)}`, { cause: error });
  }
}

/** The compiled module of a build, compiled on first use. */
export function kernelModule(build: KernelBuild): Promise<WasmModule> {
  let module = compiled.get(build);
  if (module === undefined) {
    module = compile(build);
    compiled.set(build, module);
    module.catch(() => compiled.delete(build)); // a later call may succeed once the file is built
  }
  return module;
}

/** What the core's abort() reports: an assertion that failed inside it, a bug. */
export class KernelAbort extends Error {
  override readonly name = 'KernelAbort';
}

/** A fresh, initialised instance of the core. */
export async function instantiateKernel(build: KernelBuild): Promise<KernelExports> {
  const module = await kernelModule(build);
  let memory: WasmMemory | undefined;
  const imports = {
    env: {
      abort(message: number, file: number, line: number, column: number): never {
        const text = memory === undefined ? 'abort' : `${liftString(memory, message)} in ${liftString(memory, file)}:${line}:${column}`;
        throw new KernelAbort(text);
      },
    },
  };
  const instance = await wasm.instantiate(module, imports);
  const exports = instance.exports as unknown as KernelExports;
  memory = exports.memory;
  if (exports.abi_version() !== ABI_VERSION) {
    throw new Error(`ipcemu: ${wasmUrl(build).href} speaks ABI ${exports.abi_version()}, this host ${ABI_VERSION}: rebuild it (npm run build:wasm)`);
  }
  const status = exports.init();
  if (status !== 0) throw new Error(`ipcemu: the kernel model failed to start (errno ${-status})`);
  return exports;
}

/** An AssemblyScript string (UTF-16, its byte length in the word before it), or '?' for none. */
function liftString(memory: WasmMemory, pointer: number): string {
  const at = pointer >>> 0;
  if (at === 0 || at < 4 || at > memory.buffer.byteLength) return '?';
  const bytes = new Uint32Array(memory.buffer, (at - 4) & ~3, 1)[0] ?? 0;
  const units = new Uint16Array(memory.buffer, at, Math.min(bytes >>> 1, (memory.buffer.byteLength - at) >>> 1));
  return String.fromCharCode(...units);
}
