/**
 * A scenario that is wrong, or asks for what the format does not allow: it
 * fails as "scenario error", whatever the backend. No kernel answer is
 * involved. `step` is 1-based, set where the error belongs to a step.
 */
export class ScenarioError extends Error {
  override readonly name = 'ScenarioError';
  constructor(
    message: string,
    readonly step?: number,
  ) {
    super(message);
  }

  /** The same error, attributed to step `n` unless it already names one. */
  at(n: number): ScenarioError {
    return this.step === undefined ? new ScenarioError(this.message, n) : this;
  }
}
