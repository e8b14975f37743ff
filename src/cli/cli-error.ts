/** A command's failure: one line for stderr, and the exit code (1 the server or the network, 2 bad input). */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}
