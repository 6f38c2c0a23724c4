/** Assertions on the IpcError a call raises: by `code`, never by message text. */

import { expect } from 'vitest';
import { IpcError } from '../host/errors.js';

export async function rejectsWith(promise: Promise<unknown>, code: string): Promise<void> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(IpcError);
  expect((error as IpcError).code).toBe(code);
}

export function throwsWith(fn: () => unknown, code: string): void {
  let error: unknown;
  try { fn(); } catch (e) { error = e; }
  expect(error).toBeInstanceOf(IpcError);
  expect((error as IpcError).code).toBe(code);
}
