/**
 * The part of the WebAssembly JS API the emulator uses, typed here: the
 * project's TypeScript libs (ES2023 + Node 20 types) do not declare the
 * WebAssembly namespace, and pulling in the DOM lib for it would change the
 * globals of every file.
 */

export interface WasmMemory {
  readonly buffer: ArrayBuffer;
}

/** An opaque compiled module. */
export interface WasmModule {
  readonly __brand?: 'WebAssembly.Module';
}

export interface WasmInstance {
  readonly exports: Record<string, unknown>;
}

interface WasmApi {
  compile(bytes: Uint8Array): Promise<WasmModule>;
  compileStreaming(source: Promise<unknown>): Promise<WasmModule>;
  instantiate(module: WasmModule, imports: Record<string, Record<string, unknown>>): Promise<WasmInstance>;
}

export const wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

/** fetch() where the platform has it (browsers); file URLs are read with node:fs instead. */
export const fetchUrl = (globalThis as unknown as { fetch?: (url: URL) => Promise<unknown> }).fetch;
