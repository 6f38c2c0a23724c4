/**
 * How results are printed: kref's lines (PASS / FAIL / SKIP, then the
 * totals) and its JSON report, so both runners read alike.
 */

import { showInLine } from './match.js';
import type { ScenarioResult, SuiteReport } from './runner.js';

/** One line per scenario: `PASS title`, `FAIL title: step N: expected X, got Y`, `SKIP title: reason`. */
export function resultLine(r: ScenarioResult): string {
  if (r.status === 'pass') return `PASS ${r.title}`;
  if (r.status === 'skip') return `SKIP ${r.title}: ${r.reason ?? ''}`;
  const where = r.step !== undefined ? `step ${r.step}: ` : '';
  if (r.reason !== undefined) return `FAIL ${r.title}: ${where}${r.reason}`;
  return `FAIL ${r.title}: ${where}expected ${showInLine(r.expected)}, got ${showInLine(r.actual)}`;
}

/** The closing line: `N passed, N failed, N skipped`. */
export function totalsLine(r: Pick<SuiteReport, 'passed' | 'failed' | 'skipped'>): string {
  return `${r.passed} passed, ${r.failed} failed, ${r.skipped} skipped`;
}

/** A backend's header line where a run covers several backends. */
export function backendHeader(name: string, unavailable?: string): string {
  return unavailable === undefined ? `# backend: ${name}` : `# backend: ${name} (unavailable: ${unavailable})`;
}

const BIG = '\u0000bigint:';

/** The suite report as JSON text; bigints (C longs beyond 2^53) are written as exact numbers. */
export function reportJson(r: SuiteReport): string {
  const text = JSON.stringify(
    { passed: r.passed, failed: r.failed, skipped: r.skipped, backends: r.backends },
    (_k, v: unknown) => (typeof v === 'bigint' ? BIG + v.toString() : v),
    2,
  );
  return text.replace(/"\\u0000bigint:(-?\d+)"/g, '$1');
}
