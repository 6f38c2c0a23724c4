/**
 * Where the addon cannot load, openNative() throws one Error that says so
 * and lists every place it looked with what went wrong there. Each case runs
 * in a child over a copy of the host whose build/ is empty or holds a file
 * that is not a shared object.
 */

import { describe, expect, it } from 'vitest';
import { runChild } from './child.js';

const attempt = `
  try {
    openNative();
    console.log('loaded');
  } catch (error) {
    console.log(error.message);
  }
`;

describe('loading the native addon', () => {
  it('without a build, names both candidates as not found and says how to build', async () => {
    const child = await runChild(attempt, { addon: 'missing' });
    expect(child.code).toBe(0);
    const lines = child.stdout.split('\n');
    expect(lines[0]).toBe('ipcemu: the native addon could not be loaded, so the native backend is unavailable.');
    expect(lines.filter((l) => /build\/Release\/ipcemu\.node: not found$/.test(l))).toHaveLength(1);
    expect(lines.filter((l) => /build\/Debug\/ipcemu\.node: not found$/.test(l))).toHaveLength(1);
    expect(child.stdout).toContain('npm run build:native');
    expect(child.stdout).toContain('IPCEMU_SKIP_NATIVE');
  });

  it('with a broken file, gives the loader\'s own message for it', async () => {
    const child = await runChild(attempt, { addon: 'corrupt' });
    expect(child.code).toBe(0);
    expect(child.stdout).toMatch(/build\/Release\/ipcemu\.node: .*(invalid ELF header|file too short)/);
    expect(child.stdout).toMatch(/build\/Debug\/ipcemu\.node: not found/);
  });

  it.skipIf(process.platform !== 'linux')('with the build, loads', async () => {
    const child = await runChild(attempt);
    expect(child.stdout).toBe('loaded\n');
  });
});
